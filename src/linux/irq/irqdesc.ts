// struct irq_desc, struct irqaction and struct irq_chip (include/linux/irqdesc.h, include/linux/interrupt.h,
// include/linux/irq.h, kernel/irq/internals.h), with the flag values of those headers. One IrqDesc per
// Linux irq number: its chip (how to mask, unmask, ack, EOI it), its flow handler (fasteoi for I/O APIC
// lines, edge for MSI), the chain of actions request_irq() installed, the disable depth, the state bits
// the flow handlers and the spurious detector use, and the per-CPU counts /proc/interrupts prints.

/** irqreturn_t */
export const IRQ_NONE = 0;
export const IRQ_HANDLED = 1;
export const IRQ_WAKE_THREAD = 2;

/** request_irq() flags (include/linux/interrupt.h). */
export const IRQF_TRIGGER_NONE = 0x0;
export const IRQF_TRIGGER_RISING = 0x1;
export const IRQF_TRIGGER_FALLING = 0x2;
export const IRQF_TRIGGER_HIGH = 0x4;
export const IRQF_TRIGGER_LOW = 0x8;
export const IRQF_TRIGGER_MASK = 0xf;
export const IRQF_SHARED = 0x80;
export const IRQF_PROBE_SHARED = 0x100;
export const IRQF_PERCPU = 0x400;
export const IRQF_ONESHOT = 0x2000;
export const IRQF_NO_AUTOEN = 0x80000;

/** IRQ_TYPE_* (include/linux/irq.h): what the interrupt controller is programmed for. */
export const IRQ_TYPE_EDGE_RISING = 0x1;
export const IRQ_TYPE_LEVEL_LOW = 0x8;

/** desc->istate bits (kernel/irq/internals.h). */
export const IRQS_SPURIOUS_DISABLED = 0x2;
export const IRQS_REPLAY = 0x40;
export const IRQS_WAITING = 0x80;
export const IRQS_PENDING = 0x200;

/** irq_set_status_flags() bits (include/linux/irq.h) the model uses. */
export const IRQ_NOAUTOEN = 1 << 12;
export const IRQ_DISABLE_UNLAZY = 1 << 19;

export const FLOW_FASTEOI = 0;
export const FLOW_EDGE = 1;

/** An interrupt handler: returns IRQ_NONE or IRQ_HANDLED. `devId` is what request_irq() was given. */
export type IrqHandler = (irq: number, devId: unknown) => number;

/** struct irqaction (the fields handle_irq_event() reads first). */
export class IrqAction {
  readonly handler: IrqHandler;
  readonly devId: unknown;
  /** Times this handler returned IRQ_HANDLED (inspection). */
  handled = 0;
  /** The next action on the same line (irqaction->next). */
  next: IrqAction | null = null;
  readonly irq: number;
  /** IRQF_* as installed (the trigger bits filled in from the line's type when the caller gave none). */
  readonly flags: number;
  /** What /proc/interrupts prints ("vfio-intx(0000:00:03.0)", "e1000e"). */
  readonly name: string;

  constructor(irq: number, handler: IrqHandler, flags: number, name: string, devId: unknown) {
    this.handler = handler;
    this.devId = devId;
    this.irq = irq;
    this.flags = flags;
    this.name = name;
  }
}

/** struct irq_chip: how the interrupt controller behind a descriptor is driven. */
export interface IrqChip {
  /** The controller name /proc/interrupts prints ("IR-IO-APIC", "IR-PCI-MSIX-0000:06:00.0"). */
  readonly name: string;
  mask(desc: IrqDesc): void;
  unmask(desc: IrqDesc): void;
  /** Edge flow: acknowledge at the start of handling (the local APIC EOI). */
  ack(desc: IrqDesc): void;
  /** Fasteoi flow: end of interrupt at the end of handling. */
  eoi(desc: IrqDesc): void;
  /** irq_retrigger: re-raise a pending edge interrupt in hardware (an IPI to self). True if done. */
  retrigger(desc: IrqDesc): boolean;
}

/**
 * kstat_irqs: the per-CPU interrupt counts of every descriptor, one flat table (row = irq, column =
 * CPU). Counting an interrupt touches only its descriptor: the descriptor accumulates the interrupts
 * taken on one CPU (its affinity, where they all arrive) and adds them to the table when one arrives on
 * another CPU or the counts are read. With 2048 vectors the table is 2 MiB and each row a separate
 * cache line; the descriptor is read by the interrupt anyway.
 */
export class KstatIrqs {
  counts: Uint32Array;

  constructor(readonly ncpus: number) {
    this.counts = new Uint32Array(ncpus * 64);
  }

  /** A new descriptor for `irq` starts with zero counts (growing the table if needed). */
  reset(irq: number): void {
    const end = (irq + 1) * this.ncpus;
    if (end > this.counts.length) {
      let n = this.counts.length;
      while (n < end) n *= 2;
      const bigger = new Uint32Array(n);
      bigger.set(this.counts);
      this.counts = bigger;
    }
    this.counts.fill(0, irq * this.ncpus, end);
  }

  /** Adds what `desc` accumulated to its row. */
  flush(desc: IrqDesc): void {
    if (desc.kstatPending === 0) return;
    const i = desc.irq * this.ncpus + desc.kstatCpu;
    this.counts[i] = this.counts[i]! + desc.kstatPending;
    desc.kstatPending = 0;
  }
}

/** kstat_incr_irqs_this_cpu(): one interrupt of `desc` taken on `cpu`. */
export function kstatIncr(desc: IrqDesc, cpu: number): void {
  if (desc.kstatCpu === cpu) {
    desc.kstatPending++;
    return;
  }
  desc.stats.flush(desc);
  desc.kstatCpu = cpu;
  desc.kstatPending = 1;
}

/**
 * struct irq_desc (and its irq_data). The fields every interrupt reads come first, so that with many
 * descriptors (2048 MSI-X vectors) one interrupt touches as few cache lines as possible.
 */
export class IrqDesc {
  // ---- read or written by every interrupt (flow handler, handle_irq_event, note_interrupt)
  /** FLOW_FASTEOI or FLOW_EDGE. */
  readonly flow: number;
  istate = 0;
  /** IRQD_IRQ_DISABLED */
  disabled = true;
  /** IRQD_IRQ_INPROGRESS */
  inProgress = false;
  /** IRQD_IRQ_MASKED: masked at the chip. */
  masked = true;
  /** desc->action: the chain of actions, in request order (linked through IrqAction.next). */
  action: IrqAction | null = null;
  /** Where the per-CPU counts live (row `irq`). */
  readonly stats: KstatIrqs;
  /** Interrupts taken on CPU `kstatCpu` and not yet added to the table (see KstatIrqs). */
  kstatPending = 0;
  kstatCpu = 0;
  readonly irq: number;
  chip: IrqChip;
  // note_interrupt() state (kernel/irq/spurious.c)
  irqCount = 0;
  irqsUnhandled = 0;
  // ---- the rest
  /** Nested disable depth; 1 until the first request_irq() starts the interrupt up. */
  depth = 1;
  /** IRQD_IRQ_STARTED */
  started = false;
  /** irq_settings bits (IRQ_DISABLE_UNLAZY, IRQ_NOAUTOEN). */
  settings = 0;
  /** IRQ_TYPE_* the line is configured for. */
  triggerType: number;
  /** Virtual ns of the last unhandled interrupt (the kernel keeps jiffies). */
  lastUnhandled = -1e18;
  /** Interrupts that found the line disabled or without an action (not counted in kstat). */
  spuriousArrivals = 0;
  /** The CPU and vector this interrupt is routed to (x86 vector domain). */
  cpu = -1;
  vector = -1;
  /** Controller-specific data (the I/O APIC pin, the MSI descriptor). */
  chipData: unknown = null;
  /** The controller's number for this interrupt (I/O APIC pin, MSI index): /proc/interrupts' hwirq. */
  readonly hwirq: number;
  /** Level-triggered (check_irq_resend never resends those: hardware does). */
  readonly level: boolean;

  constructor(irq: number, hwirq: number, chip: IrqChip, flow: number, level: boolean, stats: KstatIrqs) {
    this.flow = flow;
    this.stats = stats;
    stats.reset(irq);
    this.irq = irq;
    this.chip = chip;
    this.triggerType = level ? IRQ_TYPE_LEVEL_LOW : IRQ_TYPE_EDGE_RISING;
    this.hwirq = hwirq;
    this.level = level;
  }

  /** The action chain as an array (inspection; allocates). */
  get actions(): IrqAction[] {
    const out: IrqAction[] = [];
    for (let a = this.action; a !== null; a = a.next) out.push(a);
    return out;
  }

  /** The flow handler's name, as /proc/interrupts prints it after the hwirq. */
  get flowName(): string {
    return this.flow === FLOW_FASTEOI ? 'fasteoi' : 'edge';
  }

  /** Interrupts taken per CPU (kstat_irqs; a copy). */
  get kstat(): Uint32Array {
    const n = this.stats.ncpus;
    this.stats.flush(this);
    return this.stats.counts.slice(this.irq * n, this.irq * n + n);
  }

  /** Total interrupts taken on every CPU. */
  get count(): number {
    this.stats.flush(this);
    const { counts, ncpus } = this.stats;
    let n = 0;
    for (let i = this.irq * ncpus; i < this.irq * ncpus + ncpus; i++) n += counts[i]!;
    return n;
  }
}
