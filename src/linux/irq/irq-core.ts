// The host's generic interrupt layer as one object (kernel.irq): the irq descriptors (kernel/irq/irqdesc.c,
// sparse irqs: GSIs 0-23 are the I/O APIC's, dynamic irqs from 24 up, allocated as contiguous
// ranges), the CPUs and their vector space (arch/x86), the interrupt-remapping driver, the I/O APIC
// and PCI MSI domains, and the request/free/disable/enable entry points of kernel/irq/manage.c.

import type { PcInterrupts } from '../../hw/x86/pc-interrupts.js';
import type { Scheduler } from '../../sim/scheduler.js';
import { WorkItem } from '../../sim/scheduler.js';
import type { TraceBus } from '../../sim/trace.js';
import { HostCpu } from '../arch/x86/irq.js';
import { IoapicDomain } from '../arch/x86/io-apic.js';
import { VectorMatrix } from '../arch/x86/vector.js';
import { IntelIrqRemapping } from '../iommu/intel-irq-remapping.js';
import type { KernelLog } from '../printk.js';
import { handleIrq } from './chip.js';
import { KstatIrqs, type IrqAction, type IrqDesc, type IrqHandler } from './irqdesc.js';
import { disableIrq, enableIrq, freeIrq, requestIrq } from './manage.js';
import { IRQ_DISABLE_UNLAZY } from './irqdesc.js';

/** Irqs below this are the I/O APIC's GSIs (gsi_top); dynamic (MSI) irqs start here. */
export const NR_IRQS_GSI = 24;

export interface IrqCoreOptions {
  /** Host CPUs (APIC IDs 0..n-1). */
  readonly cpus: number;
}

export class IrqCore {
  readonly cpus: HostCpu[];
  readonly matrix: VectorMatrix;
  /** kstat_irqs of every descriptor. */
  readonly kstat: KstatIrqs;
  readonly ir: IntelIrqRemapping;
  readonly ioapic: IoapicDomain;
  private readonly descs: (IrqDesc | undefined)[] = [];
  /** Nesting of localIrqSave(): while non-zero, CPUs hold arriving vectors in IRR. */
  irqsOff = 0;
  /** Vectors held back that way (so that a restore with nothing held costs one compare). */
  deferred = 0;
  private readonly resendWork = new Map<IrqDesc, WorkItem>();

  constructor(
    readonly platform: PcInterrupts,
    readonly sched: Scheduler,
    readonly trace: TraceBus,
    readonly log: KernelLog,
    opts: IrqCoreOptions,
  ) {
    this.cpus = [];
    this.kstat = new KstatIrqs(opts.cpus);
    for (let i = 0; i < opts.cpus; i++) {
      const c = new HostCpu(i, i, this);
      this.cpus.push(c);
      platform.bus.attach(c);
    }
    this.matrix = new VectorMatrix(this.cpus);
    this.ir = new IntelIrqRemapping(platform, log);
    this.ioapic = new IoapicDomain(this, platform, this.ir);
  }

  /** spin_lock_irqsave() of a lock interrupt handlers also take: handlers wait until the matching restore. */
  localIrqSave(): void {
    this.irqsOff++;
  }

  localIrqRestore(): void {
    if (--this.irqsOff !== 0 || this.deferred === 0) return;
    this.deferred = 0;
    const cpus = this.cpus;
    for (let i = 0; i < cpus.length; i++) cpus[i]!.flushPending();
  }

  // ---- descriptors ------------------------------------------------------------------------------

  desc(irq: number): IrqDesc | undefined {
    return this.descs[irq];
  }

  /** Every descriptor, in irq order. */
  all(): IrqDesc[] {
    return this.descs.filter((d): d is IrqDesc => d !== undefined);
  }

  /** The highest irq number ever in use plus one (nr_irqs as /proc/interrupts sizes its column). */
  get nrIrqs(): number {
    return this.descs.length;
  }

  install(desc: IrqDesc): void {
    this.descs[desc.irq] = desc;
  }

  /** irq_alloc_descs(-1, NR_IRQS_GSI, n): the first free range of `n` dynamic irq numbers. */
  allocIrqRange(n: number): number {
    let start = NR_IRQS_GSI;
    for (;;) {
      let ok = true;
      for (let i = start; i < start + n; i++) {
        if (this.descs[i] !== undefined) {
          start = i + 1;
          ok = false;
          break;
        }
      }
      if (ok) return start;
    }
  }

  /**
   * irq_free_descs(). What the descriptor accumulated goes to its row now: the row is zeroed when the
   * number is reused, and a stale reference flushing later must not add to the new descriptor's counts.
   */
  remove(desc: IrqDesc): void {
    this.kstat.flush(desc);
    this.matrix.release(desc);
    this.descs[desc.irq] = undefined;
    while (this.descs.length > 0 && this.descs[this.descs.length - 1] === undefined) this.descs.length--;
  }

  // ---- kernel/irq/manage.c ------------------------------------------------------------------------

  requestIrq(irq: number, handler: IrqHandler, flags: number, name: string, devId: unknown): IrqAction {
    return requestIrq(this, irq, handler, flags, name, devId);
  }

  freeIrq(irq: number, devId: unknown): IrqAction | null {
    return freeIrq(this, irq, devId);
  }

  disableIrqNosync(irq: number): void {
    disableIrq(this, irq);
  }

  disableIrq(irq: number): void {
    disableIrq(this, irq);
  }

  enableIrq(irq: number): void {
    enableIrq(this, irq);
  }

  /** irq_set_status_flags() / irq_clear_status_flags() for IRQ_DISABLE_UNLAZY. */
  setDisableUnlazy(irq: number, on: boolean): void {
    const d = this.descs[irq];
    if (!d) return;
    d.settings = on ? d.settings | IRQ_DISABLE_UNLAZY : d.settings & ~IRQ_DISABLE_UNLAZY;
  }

  /** irq_sw_resend(): the flow handler runs again from a tasklet (architectures without retrigger). */
  swResend(desc: IrqDesc): void {
    let w = this.resendWork.get(desc);
    if (!w) {
      w = new WorkItem(`irq ${desc.irq} resend`, () => handleIrq(this, desc, Math.max(0, desc.cpu)));
      this.resendWork.set(desc, w);
    }
    this.sched.queueWork(w);
  }
}
