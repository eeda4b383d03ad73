// Shared setup for the Xen tests: a host, an HVM guest, the NIC's MSI-X entries mapped to pirqs through
// the toolstack path (libxc -> /dev/xen/privcmd -> PHYSDEVOP_map_pirq), and guest-MSI bindings
// (XEN_DOMCTL_bind_pt_irq) built the way QEMU builds gflags from the guest's MSI address/data.
import { XEN_DOMCTL_VMSI_X86_UNMASKED } from '../../include-ts/xen/domctl.js';
import { APIC_DM_FIXED, APIC_DM_LOWEST } from '../../src/hw/x86/apicdef.js';
import { msiAddress, msiData } from '../../src/hw/x86/msi.js';
import type { SchedPolicy } from '../../src/sim/scheduler.js';
import type { XenHardware } from '../../src/xen/hardware.js';
import { XenHost } from '../../src/xen/host.js';
import {
  msiGflags, sbdf, xc_assign_device, xc_domain_unbind_msi_irq, xc_domain_update_msi_irq, xc_interface_open, xc_physdev_map_pirq_msi, type XcInterface,
} from '../../src/xen/libxc.js';
import type { XenMode } from '../../src/xen/xen.js';

export const NIC_SBDF = sbdf(0, 1, 0, 0);

export interface RigOptions {
  readonly cmdline?: string;
  readonly mode?: XenMode;
  readonly seed?: number;
  readonly policy?: SchedPolicy;
  readonly hardware?: XenHardware;
  readonly vcpus?: number;
  /** MSI-X entries to map to pirqs. Default 2. */
  readonly entries?: number;
  /** 'before-start': assigned while the domain is paused (what libxl does); 'after-start': hot-plugged; 'none'. */
  readonly assign?: 'before-start' | 'after-start' | 'none';
}

export interface Rig {
  readonly host: XenHost;
  readonly dom: number;
  readonly xch: XcInterface;
  readonly pirqs: number[];
  readonly tableBase: number;
}

export function rig(o: RigOptions = {}): Rig {
  const host = XenHost.create({ cmdline: o.cmdline ?? 'iommu=intpost', mode: o.mode ?? 'fixed', seed: o.seed ?? 1, policy: o.policy ?? 'eager', hardware: o.hardware ?? { cpus: 3 } });
  const assign = o.assign ?? 'before-start';
  const dom = host.createHvmDomain({ vcpus: o.vcpus ?? 2, start: assign !== 'before-start' });
  const xch = xc_interface_open(host.spawnDom0Process());
  if (assign === 'before-start') {
    xc_assign_device(xch, dom, NIC_SBDF);
    host.control.unpause(dom);
  }
  host.control.settle();
  if (assign === 'after-start') xc_assign_device(xch, dom, NIC_SBDF);
  const nic = host.control.device();
  const tableBase = nic.barAddress(nic.msix!.tableBar) + nic.msix!.tableOffset;
  const pirqs: number[] = [];
  for (let e = 0; e < (o.entries ?? 2); e++) {
    const p = { value: -1 };
    xc_physdev_map_pirq_msi(xch, dom, -1, p, (0 << 3) | 0, 1, e, tableBase);
    pirqs.push(p.value);
  }
  host.control.settle();
  return { host, dom, xch, pirqs, tableBase };
}

export type Target =
  | { readonly kind: 'vcpu'; readonly vcpu: number }
  | { readonly kind: 'multicast' }
  | { readonly kind: 'lowest' };

/** The gflags QEMU passes for a guest MSI aimed at `t` (vCPU i has APIC ID 2i and logical ID 1 << i). */
export function gflagsFor(t: Target, vector: number): number {
  if (t.kind === 'vcpu') return msiGflags(msiAddress(t.vcpu * 2), msiData(vector, APIC_DM_FIXED));
  if (t.kind === 'multicast') return msiGflags(msiAddress(0x3, true), msiData(vector, APIC_DM_FIXED));
  return msiGflags(msiAddress(0x3, true), msiData(vector, APIC_DM_LOWEST));
}

export function bindMsi(r: Rig, entry: number, vector: number, t: Target): void {
  xc_domain_update_msi_irq(r.xch, r.dom, vector, r.pirqs[entry]!, gflagsFor(t, vector) | XEN_DOMCTL_VMSI_X86_UNMASKED, r.tableBase);
}

export function unbindMsi(r: Rig, entry: number, vector: number, t: Target): void {
  xc_domain_unbind_msi_irq(r.xch, r.dom, vector, r.pirqs[entry]!, gflagsFor(t, vector));
}
