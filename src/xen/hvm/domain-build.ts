// Building an HVM domain's vCPUs the way Xen does for the parts this model uses: the virtual LAPIC
// (vlapic_reset: APIC ID = 2 * vcpu_id), the per-vCPU posted-interrupt descriptor in Xen's memory, and
// construct_vmcs (vmcs.c:1094-1103, 1230-1237): with CPU posted interrupts, PI_DESC_ADDR and
// POSTED_INTR_NOTIFICATION_VECTOR = posted_intr_vector; with intpost, pi_desc_init sets NV =
// posted_intr_vector and NDST = APIC_INVALID_DEST. Each vCPU runs the idle-loop guest program (it
// enables its APIC, sets LDR = 1 << vcpu_id in flat mode, and halts). vCPUs start online and runnable,
// vCPU i on CPU i mod n.
import { APIC_INVALID_DEST, PI_DESC_SIZE, PiDesc } from '../../hw/iommu/vtd/pi-desc.js';
import { APIC_ID } from '../../hw/x86/apicdef.js';
import { Lapic, type LapicHooks } from '../../hw/x86/lapic.js';
import { Vmcs } from '../../hw/vmx/vmcs.js';
import { GuestCpu } from '../../guest/cpu.js';
import { GuestMailbox, idleLoopProgram } from '../../guest/idle-loop.js';
import { Domain, Vcpu } from '../domain.js';
import type { Xen } from '../xen.js';
import { NR_IRQS_GSI } from '../xen.js';
import { vcpuWake } from '../sched/core.js';

export interface HvmDomainConfig {
  readonly vcpus: number;
  /** nr_pirqs (nr_static_irqs + extra_domU_irqs). Default 56. */
  readonly nrPirqs?: number;
  /** Unpause at once (default true); false leaves it paused, as the toolstack creates domains, until unpaused. */
  readonly start?: boolean;
}

export function createHvmDomain(xen: Xen, id: number, cfg: HvmDomainConfig): Domain {
  if (!Number.isInteger(cfg.vcpus) || cfg.vcpus < 1 || cfg.vcpus > 8) throw new RangeError(`vcpus ${cfg.vcpus} is outside 1..8 (flat logical destinations)`);
  const d = new Domain(id, true, cfg.nrPirqs ?? NR_IRQS_GSI + 32);
  d.iommuEnabled = xen.iommuEnabled;
  const online = xen.cpus.filter((c) => c.online);
  const hw = { sched: xen.sched, trace: xen.trace };
  for (let i = 0; i < cfg.vcpus; i++) {
    const label = `d${id}v${i}`;
    let self: Vcpu | null = null;
    const hooks: LapicHooks = {
      eoi: () => {}, // vlapic_handle_EOI: hvm_dpci_msi_eoi has nothing to do for maskable MSI-X
      sendIpi: () => {}, // guest IPIs are not part of this model
      mapChanged: () => {},
      kick: () => {
        const c = self ? xen.cpus.find((x) => x.curr === self && x.hw.nonRoot) : undefined;
        c?.hw.wakeGuest();
      },
    };
    const apic = new Lapic(i, hooks, hw);
    apic.label = label;
    apic.writeReg(APIC_ID, (i * 2) << 24);
    const guest = new GuestCpu(i, hw);
    guest.label = label;
    const box = new GuestMailbox();
    guest.load(idleLoopProgram(`${label} idle loop`, box, 1 << i));
    const vmcs = new Vmcs(label, apic, guest);
    const pdr = xen.mem.alloc(PI_DESC_SIZE, 64);
    const pd = new PiDesc(pdr.bytes);
    vmcs.vid = xen.vid;
    vmcs.apicRegVirt = xen.apicRegVirt;
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
    const v = new Vcpu(d, i, online[i % online.length]!.id, vmcs, apic, guest, box, pd, pdr.addr);
    self = v;
    d.vcpus.push(v);
  }
  xen.domains.set(id, d);
  if (cfg.start === false) d.pauseCount = 1;
  else for (const v of d.vcpus) vcpuWake(xen, v, { cpu: null, inIrq: false });
  return d;
}
