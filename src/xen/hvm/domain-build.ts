// Building an HVM domain's vCPUs the way Xen does for the parts this model uses: vlapic_reset (APIC
// ID = 2 * vcpu_id, software-enabled by the guest's firmware), the per-vCPU posted-interrupt
// descriptor in Xen's memory, and construct_vmcs (vmcs.c:1094-1103, 1230-1237): with CPU posted
// interrupts, PI_DESC_ADDR and POSTED_INTR_NOTIFICATION_VECTOR = posted_intr_vector; with intpost,
// pi_desc_init sets NV = posted_intr_vector and NDST = APIC_INVALID_DEST. vCPUs start online and
// runnable, vCPU i on CPU i mod n, the guest in its idle loop.
import { APIC_INVALID_DEST, PI_DESC_SIZE, PiDesc } from '../../hw/iommu/vtd/pi-desc.js';
import { ApicRegs } from '../../hw/x86/lapic-standin.js';
import { Vmcs } from '../../hw/vmx/vmcs.js';
import { IdleGuest } from '../../guest/idle-guest.js';
import { Domain, Vcpu } from '../domain.js';
import type { Xen } from '../xen.js';
import { NR_IRQS_GSI } from '../xen.js';
import { vcpuWake } from '../sched/core.js';

export interface HvmDomainConfig {
  readonly vcpus: number;
  /** Logical destinations: LDR = 1 << vcpu_id in flat mode (what Linux programs). Default true. */
  readonly flatLogical?: boolean;
  /** nr_pirqs (nr_static_irqs + extra_domU_irqs). Default 56. */
  readonly nrPirqs?: number;
}

export function createHvmDomain(xen: Xen, id: number, cfg: HvmDomainConfig): Domain {
  if (!Number.isInteger(cfg.vcpus) || cfg.vcpus < 1 || cfg.vcpus > 128) throw new RangeError(`vcpus ${cfg.vcpus} is outside 1..128`);
  const d = new Domain(id, true, cfg.nrPirqs ?? NR_IRQS_GSI + 32);
  d.iommuEnabled = xen.iommuEnabled;
  const online = xen.cpus.filter((c) => c.online);
  for (let i = 0; i < cfg.vcpus; i++) {
    const apic = new ApicRegs(i * 2, false);
    if (cfg.flatLogical ?? true) apic.ldr = i < 8 ? (1 << i) << 24 : 0;
    const guest = new IdleGuest(apic);
    const vmcs = new Vmcs(`d${id}v${i}`, apic, guest);
    const pdr = xen.mem.alloc(PI_DESC_SIZE, 64);
    const pd = new PiDesc(pdr.bytes);
    vmcs.vid = xen.vid;
    if (xen.cpuPi) {
      if (xen.intpost) {
        pd.setNv(xen.postedIntrVector);
        pd.setNdst(APIC_INVALID_DEST);
      }
      vmcs.postedIntr = true;
      vmcs.piDescAddr = pdr.addr;
      vmcs.piDesc = pdr.bytes;
      vmcs.pinv = xen.postedIntrVector;
    }
    const v = new Vcpu(d, i, online[i % online.length]!.id, vmcs, apic, guest, pd, pdr.addr);
    d.vcpus.push(v);
  }
  xen.domains.set(id, d);
  for (const v of d.vcpus) vcpuWake(xen, v, { cpu: null, inIrq: false });
  return d;
}
