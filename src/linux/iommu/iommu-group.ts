// IOMMU groups (drivers/iommu/iommu.c): the smallest sets of devices the IOMMU can isolate from each
// other, computed from the PCI topology by pci_device_group() (drivers/iommu/iommu.c) with the ACS
// rules of pci_acs_enabled()/pci_acs_path_enabled() (drivers/pci/pci.c) and DMA aliases of
// pci_for_each_dma_alias() (drivers/pci/search.c):
//   1. walk the device's DMA aliases upstream (a PCIe-to-PCI bridge aliases everything behind it with
//      its secondary bus number, a conventional PCI bridge with its own ID); an alias that already has
//      a group gives the group;
//   2. from the last alias, walk upstream until a bridge whose path to the root is ACS-isolated; the
//      first bridge that is not isolated gives its group;
//   3. functions of a multifunction slot that lack ACS share a group;
//   4. otherwise a new group. Groups are numbered in the order devices are added (parents first).
// DMA ownership (iommu_device_use_default_domain / iommu_group_claim_dma_owner): every bound driver
// without driver_managed_dma counts as a DMA-API user; a userspace owner (VFIO) can claim the group
// only when there is none (EPERM otherwise), and while it owns the group such drivers cannot bind (EBUSY).

import { kerr } from '../errors.js';
import { attr, dynamicDir, symlink } from '../fs/vfs.js';
import type { Kernel } from '../kernel.js';
import type { PciDev } from '../pci/pci-dev.js';
import { IommuDomain } from '../../hw/iommu/domain.js';
import {
  PCI_ACS_CAP, PCI_ACS_CR, PCI_ACS_CTRL, PCI_ACS_EC, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF,
  PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_LEG_END, PCI_EXP_TYPE_PCIE_BRIDGE, PCI_EXP_TYPE_PCI_BRIDGE,
  PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_RC_END, PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM,
} from '../../../include-ts/linux/pci_regs.js';

/** REQ_ACS_FLAGS of drivers/iommu/iommu.c. */
export const REQ_ACS_FLAGS = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;

/** pci_acs_flags_enabled(): capabilities the port lacks are taken as hard-wired (except Egress Control). */
function acsFlagsEnabled(dev: PciDev, flags: number): boolean {
  const pos = dev.acsCap;
  if (!pos) return false;
  const cap = dev.readConfig(pos + PCI_ACS_CAP, 2);
  const want = flags & (cap | PCI_ACS_EC);
  return (dev.readConfig(pos + PCI_ACS_CTRL, 2) & want) === want;
}

/** pci_acs_enabled() */
export function pciAcsEnabled(dev: PciDev, flags = REQ_ACS_FLAGS): boolean {
  if (!dev.isPcie) return false;
  switch (dev.pcieType) {
    case PCI_EXP_TYPE_PCIE_BRIDGE:
    case PCI_EXP_TYPE_PCI_BRIDGE:
    case PCI_EXP_TYPE_RC_EC:
      return false;
    case PCI_EXP_TYPE_DOWNSTREAM:
    case PCI_EXP_TYPE_ROOT_PORT:
      return acsFlagsEnabled(dev, flags);
    case PCI_EXP_TYPE_ENDPOINT:
    case PCI_EXP_TYPE_UPSTREAM:
    case PCI_EXP_TYPE_LEG_END:
    case PCI_EXP_TYPE_RC_END:
      if (!dev.multifunction) break;
      return acsFlagsEnabled(dev, flags);
  }
  // PCIe 3.0 §6.12.1.3: ACS does not apply to single-function devices other than downstream ports.
  return true;
}

/** pci_acs_path_enabled(start, NULL): every device from `start` up to the root bus has ACS. */
export function pciAcsPathEnabled(start: PciDev, flags = REQ_ACS_FLAGS): boolean {
  for (let d: PciDev | null = start; d; d = d.parent) {
    if (!pciAcsEnabled(d, flags)) return false;
  }
  return true;
}

export interface DmaAlias {
  readonly dev: PciDev;
  readonly rid: number;
}

/** pci_for_each_dma_alias(): the device itself, then each bridge upstream that rewrites the requester ID. */
export function dmaAliases(dev: PciDev): DmaAlias[] {
  const out: DmaAlias[] = [{ dev, rid: dev.hw.rid }];
  for (let b = dev.parent; b; b = b.parent) {
    if (b.isPcie) {
      const t = b.pcieType;
      if (t === PCI_EXP_TYPE_PCI_BRIDGE) out.push({ dev: b, rid: b.subordinate!.secondary.number << 8 });
      else if (t === PCI_EXP_TYPE_PCIE_BRIDGE) out.push({ dev: b, rid: b.hw.rid });
    } else {
      out.push({ dev: b, rid: b.hw.rid });
    }
  }
  return out;
}

/** Who has claimed a group for userspace (a VFIO group), for messages. */
export interface DmaOwner {
  readonly ownerName: string;
}

export class IommuGroup {
  readonly devices: PciDev[] = [];
  /** DMA-API users plus the userspace owner (group->owner_cnt). */
  ownerCnt = 0;
  owner: DmaOwner | null = null;
  /** The default (DMA API) domain: host drivers' mappings live here; we model none. */
  readonly defaultDomain = new IommuDomain();
  domain: IommuDomain;

  constructor(
    readonly id: number,
    private readonly kernel: Kernel,
  ) {
    this.domain = this.defaultDomain;
  }

  /** Devices bound to drivers that use the kernel DMA API (what makes a group non-viable). */
  dmaApiUsers(): PciDev[] {
    return this.devices.filter((d) => d.driver && !d.driver.driverManagedDma);
  }

  /** Why the group is not viable, in the user's terms, or null. */
  notViableReason(): string | null {
    const users = this.dmaApiUsers();
    if (users.length === 0) {
      if (this.owner) return `group ${this.id} is already owned by ${this.owner.ownerName}`;
      return null;
    }
    return `group ${this.id} is not viable: ${users.map((d) => `${d.name} is bound to ${d.driver!.name}`).join(', ')}`;
  }

  /** iommu_group_dma_owner_claimed() */
  get dmaOwnerClaimed(): boolean {
    return this.ownerCnt !== 0;
  }

  /** iommu_device_use_default_domain(): a driver using the DMA API is about to bind. */
  useDefaultDomain(dev: PciDev, driver: string): void {
    if (this.ownerCnt && (this.owner || this.domain !== this.defaultDomain)) {
      throw kerr('EBUSY', `${driver} cannot bind ${dev.name}: its IOMMU group ${this.id} is owned by ${this.owner?.ownerName ?? 'a user'} (iommu_device_use_default_domain)`);
    }
    this.ownerCnt++;
  }

  unuseDefaultDomain(): void {
    if (this.ownerCnt > 0) this.ownerCnt--;
  }

  /** iommu_group_claim_dma_owner(): EPERM while any DMA-API driver is bound or another owner holds it. */
  claimDmaOwner(owner: DmaOwner): void {
    if (this.ownerCnt) {
      throw kerr('EPERM', this.notViableReason() ?? `group ${this.id} is in use`);
    }
    this.owner = owner;
    this.ownerCnt = 1;
    this.setDomain(null);
  }

  releaseDmaOwner(): void {
    this.owner = null;
    this.ownerCnt = 0;
    this.setDomain(this.defaultDomain);
  }

  /**
   * iommu_device_claim_dma_owner(): one device at a time (iommufd binds devices, not groups). The same
   * owner may claim again (another device of the group); anyone else, or a bound DMA-API driver, is EPERM.
   * The first claim puts the group in the blocking domain.
   */
  claimDeviceDmaOwner(owner: DmaOwner): void {
    if (this.ownerCnt) {
      if (this.owner !== owner) throw kerr('EPERM', this.notViableReason() ?? `group ${this.id} is in use`);
      this.ownerCnt++;
      return;
    }
    this.owner = owner;
    this.ownerCnt = 1;
    this.setDomain(null);
  }

  /** iommu_device_release_dma_owner(): the last release returns the group to its default domain. */
  releaseDeviceDmaOwner(): void {
    if (--this.ownerCnt === 0) this.releaseDmaOwner();
  }

  /**
   * Points every device's (and alias's) context entry at `domain`; null blocks DMA (the blocking
   * domain used while userspace owns the group without a container IOMMU).
   */
  setDomain(domain: IommuDomain | null): void {
    this.domain = domain ?? this.defaultDomain;
    const hw = this.kernel.machine.iommu;
    for (const d of this.devices) for (const a of dmaAliases(d)) hw.setContext(a.rid, domain);
  }
}

export class IommuCore {
  readonly groups: IommuGroup[] = [];

  constructor(private readonly kernel: Kernel) {}

  /** iommu_probe_device() for every PCI device, in bus order. */
  probeAll(devs: readonly PciDev[]): void {
    for (const d of devs) this.probeDevice(d);
    for (const g of this.groups) g.setDomain(g.defaultDomain);
  }

  private probeDevice(dev: PciDev): void {
    const g = this.pciDeviceGroup(dev);
    g.devices.push(dev);
    dev.group = g;
  }

  /** pci_device_group() */
  private pciDeviceGroup(dev: PciDev): IommuGroup {
    let pdev = dev;
    for (const a of dmaAliases(dev)) {
      pdev = a.dev;
      if (a.dev.group) return a.dev.group;
    }
    for (let p = pdev.parent; p; p = p.parent) {
      if (pciAcsPathEnabled(p)) break;
      pdev = p;
      if (p.group) return p.group;
    }
    // get_pci_function_alias_group(): non-ACS functions of a multifunction slot share a group.
    if (pdev.multifunction && !pciAcsEnabled(pdev)) {
      for (const t of this.kernel.pci.devices) {
        if (t === pdev || t.hw.bus !== pdev.hw.bus || t.hw.slot !== pdev.hw.slot || pciAcsEnabled(t)) continue;
        if (t.group) return t.group;
      }
    }
    const g = new IommuGroup(this.groups.length, this.kernel);
    this.groups.push(g);
    return g;
  }

  group(id: number): IommuGroup | undefined {
    return this.groups[id];
  }

  /** /sys/kernel/iommu_groups/<N>/{devices/<bdf> -> device, type, reserved_regions} */
  registerSysfs(linkTarget: (d: PciDev, fromDir: string) => string): void {
    const root = this.kernel.vfs.mkdirp('/sys/kernel/iommu_groups');
    for (const g of this.groups) {
      const dir = root.dir(String(g.id));
      const from = `/sys/kernel/iommu_groups/${g.id}/devices`;
      dir.set('devices', dynamicDir(
        () => g.devices.map((d) => d.name),
        (name) => {
          const d = g.devices.find((x) => x.name === name);
          return d ? symlink(linkTarget(d, from)) : undefined;
        },
      ));
      dir.set('type', attr('sysfs', () => 'DMA\n'));
      dir.set('reserved_regions', attr('sysfs', () => '0x00000000fee00000 0x00000000feefffff msi\n'));
    }
  }
}

