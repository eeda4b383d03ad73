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

/** struct irqaction */
export class IrqAction {
  /** Times this handler returned IRQ_HANDLED (inspection). */
  handled = 0;

  constructor(
    readonly irq: number,
    readonly handler: IrqHandler,
    /** IRQF_* as installed (the trigger bits filled in from the line's type when the caller gave none). */
    readonly flags: number,
    /** What /proc/interrupts prints ("vfio-intx(0000:00:03.0)", "e1000e"). */
    readonly name: string,
    readonly devId: unknown,
  ) {}
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

/** struct irq_desc (and its irq_data) */
export class IrqDesc {
  readonly actions: IrqAction[] = [];
  /** Nested disable depth; 1 until the first request_irq() starts the interrupt up. */
  depth = 1;
  /** IRQD_IRQ_DISABLED */
  disabled = true;
  /** IRQD_IRQ_MASKED: masked at the chip. */
  masked = true;
  /** IRQD_IRQ_STARTED */
  started = false;
  /** IRQD_IRQ_INPROGRESS */
  inProgress = false;
  istate = 0;
  /** irq_settings bits (IRQ_DISABLE_UNLAZY, IRQ_NOAUTOEN). */
  settings = 0;
  /** IRQ_TYPE_* the line is configured for. */
  triggerType: number;
  // note_interrupt() state (kernel/irq/spurious.c)
  irqCount = 0;
  irqsUnhandled = 0;
  /** Virtual ns of the last unhandled interrupt (the kernel keeps jiffies). */
  lastUnhandled = -1e18;
  /** Interrupts taken per CPU (kstat_irqs). */
  readonly kstat: Uint32Array;
  /** Interrupts that found the line disabled or without an action (not counted in kstat). */
  spuriousArrivals = 0;
  /** The CPU and vector this interrupt is routed to (x86 vector domain). */
  cpu = -1;
  vector = -1;
  /** Controller-specific data (the I/O APIC pin, the MSI descriptor). */
  chipData: unknown = null;

  constructor(
    readonly irq: number,
    /** The controller's number for this interrupt (I/O APIC pin, MSI index): /proc/interrupts' hwirq. */
    readonly hwirq: number,
    public chip: IrqChip,
    /** FLOW_FASTEOI or FLOW_EDGE. */
    readonly flow: number,
    /** Level-triggered (check_irq_resend never resends those: hardware does). */
    readonly level: boolean,
    ncpus: number,
  ) {
    this.triggerType = level ? IRQ_TYPE_LEVEL_LOW : IRQ_TYPE_EDGE_RISING;
    this.kstat = new Uint32Array(ncpus);
  }

  /** The flow handler's name, as /proc/interrupts prints it after the hwirq. */
  get flowName(): string {
    return this.flow === FLOW_FASTEOI ? 'fasteoi' : 'edge';
  }

  /** Total interrupts taken on every CPU. */
  get count(): number {
    let n = 0;
    for (let i = 0; i < this.kstat.length; i++) n += this.kstat[i]!;
    return n;
  }
}
