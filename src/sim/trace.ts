// The trace event bus every syscall, every interrupt hop and every log line reports to; shared by the
// hardware, the Linux kernel and the Xen hypervisor models. Emitters guard with
// `if (bus.active)` before building an event, so with no listener tracing costs one property read.

/** One system call, reported when it returns (successfully or not). */
export interface SyscallEvent {
  readonly type: 'syscall';
  readonly t: number;
  readonly pid: number;
  readonly syscall: string;
  /** The fd the call operated on, and the kind of file behind it (how ioctls are named). */
  readonly fd?: number;
  readonly fileKind?: string;
  /** Call-specific arguments, already in a printable form where strace prints symbols. */
  readonly args: readonly unknown[];
  /** ioctl only: the request and its argument bytes before and after the call (copies). */
  readonly request?: number;
  readonly argIn?: Uint8Array;
  readonly argOut?: Uint8Array;
  readonly argValue?: number | bigint;
  readonly ret: number | bigint;
  /** 0 on success. */
  readonly errno: number;
  readonly reason?: string;
}

/**
 * The hops of an interrupt's path, device to guest and back (design.md, "Observable"):
 * device line/message -> host IRQ -> VFIO mask -> eventfd -> irqfd -> route -> IOAPIC/MSI ->
 * LAPIC IRR/ISR -> guest handler -> EOI -> resampler -> unmask. Xen adds the posting hops.
 */
export type IrqHop =
  | 'intx-assert'
  | 'intx-deassert'
  | 'msi-send'
  | 'msi-pending'
  | 'iommu-remap'
  | 'host-irq'
  | 'host-irq-unhandled'
  | 'vfio-mask'
  | 'vfio-unmask'
  | 'eventfd-signal'
  | 'irqfd-inject'
  | 'route'
  | 'pic'
  | 'ioapic'
  | 'lapic-irr'
  | 'lapic-isr'
  | 'guest-handler'
  | 'eoi'
  | 'resample'
  | 'pi-post'
  | 'pi-notify'
  | 'pi-wakeup'
  | 'vm-exit'
  | 'softirq'
  | 'ipi'
  | 'dropped';

export interface IrqEvent {
  readonly type: 'irq';
  readonly t: number;
  readonly hop: IrqHop;
  /** Where it happened: a BDF, "gsi 10", "vcpu0", "irq 24"... */
  readonly at: string;
  readonly vector?: number;
  readonly gsi?: number;
  readonly vcpu?: number;
  readonly detail?: string;
}

/** A kernel log line (printk). */
export interface LogEvent {
  readonly type: 'log';
  readonly t: number;
  readonly level: number;
  readonly text: string;
}

export type TraceEvent = SyscallEvent | IrqEvent | LogEvent;
export type TraceListener = (ev: TraceEvent) => void;

export class TraceBus {
  private listeners: TraceListener[] = [];
  /** True while at least one listener is attached; emitters check this before building events. */
  active = false;

  on(l: TraceListener): () => void {
    this.listeners = [...this.listeners, l];
    this.active = true;
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
      this.active = this.listeners.length > 0;
    };
  }

  emit(ev: TraceEvent): void {
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) ls[i]!(ev);
  }
}
