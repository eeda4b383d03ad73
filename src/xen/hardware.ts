// The machine Xen boots on, as a hardware description: physical CPUs (APIC IDs, x2APIC), the VMX
// features that decide CPU-side posted interrupts (TPR shadow, virtual-interrupt delivery, "process
// posted interrupts"), the ACPI DMAR table's VT-d units (CAP bit 59 posted interrupts, ECAP interrupt
// remapping and queued invalidation), and the PCI devices (a preset; default: an MSI-X NIC).
import type { Preset } from '../hw/machine.js';
import { HostBridge, PciBridge } from '../hw/pci/bridge.js';
import { MsixNic } from '../hw/devices/msix-nic.js';
import type { VmxCaps } from '../hw/vmx/cpu.js';
import type { DrhdDescription } from '../hw/iommu/vtd/vtd.js';

export interface XenHardware {
  /** Physical CPUs: a count (APIC IDs 0, 2, 4, ...) or their APIC IDs. Default 4. */
  readonly cpus?: number | readonly number[];
  /** x2APIC mode (32-bit destinations; with IR, Xen enables it). Default true. */
  readonly x2apic?: boolean;
  /** VMX capabilities of every CPU (all default true). */
  readonly vmx?: Partial<VmxCaps>;
  /** The DMAR table's units; `false`: no DMAR table (no IOMMU). Default: one INCLUDE_PCI_ALL unit with every capability. */
  readonly dmar?: false | readonly DrhdDescription[];
  /** The PCI devices. Default: a root port with an MSI-X NIC (4 queues) at 0000:01:00.0. */
  readonly preset?: Preset;
}

export const DEFAULT_NIC_BDF = '0000:01:00.0';

/** A host bridge and one root port with an MSI-X NIC of `queues` vectors behind it. */
export function nicPreset(queues = 4): Preset {
  return (m) => {
    m.pci.root.add(0, 0, new HostBridge());
    const rp = m.pci.root.add(1, 0, new PciBridge({ kind: 'root-port', acs: true, slot: 1 }));
    rp.secondary.add(0, 0, new MsixNic({ queues }));
  };
}

export interface ResolvedHardware {
  readonly apicIds: readonly number[];
  readonly x2apic: boolean;
  readonly vmx: VmxCaps;
  readonly dmar: readonly DrhdDescription[] | null;
  readonly preset: Preset;
}

export function resolveHardware(h: XenHardware = {}): ResolvedHardware {
  const cpus = h.cpus ?? 4;
  const apicIds = typeof cpus === 'number' ? Array.from({ length: cpus }, (_, i) => i * 2) : [...cpus];
  if (apicIds.length === 0) throw new RangeError('a host needs at least one CPU');
  if (new Set(apicIds).size !== apicIds.length) throw new RangeError('APIC IDs must be distinct');
  return {
    apicIds,
    x2apic: h.x2apic ?? true,
    vmx: { tprShadow: true, apicRegVirt: true, virtualIntrDelivery: true, postedIntrProcessing: true, ...h.vmx },
    dmar: h.dmar === false ? null : (h.dmar ?? [{ scope: 'all' }]),
    preset: h.preset ?? nicPreset(),
  };
}
