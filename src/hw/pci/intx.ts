// Legacy PCI interrupts (PCI Local Bus 3.0 §2.2.6, §6.2.4): INTA#-INTD# are level-sensitive, active-low,
// wired-OR lines. A function drives its pin while it requests service; the platform routes each pin
// (after the bridge swizzle, see topology.ts) to an interrupt controller input, here an IntxLine, which
// several pins may share. The host side (IOAPIC, Linux's IRQ core) attaches to a line's `listener`.

import type { Scheduler } from '../../sim/scheduler.js';
import type { TraceBus } from '../../sim/trace.js';

/** What an interrupt controller input hears: called when the wired-OR level changes. */
export type IntxListener = (line: IntxLine, level: boolean) => void;

/** One platform interrupt input (a GSI) with every PCI INTx pin routed to it wired-OR'ed together. */
export class IntxLine {
  /** How many pins currently assert the line. */
  asserted = 0;
  /** The interrupt controller's hook (issue 4: the host IRQ core / IOAPIC). */
  listener: IntxListener | null = null;
  readonly pins: IntxPin[] = [];

  constructor(readonly gsi: number) {}

  get level(): boolean {
    return this.asserted > 0;
  }
}

/** A function's INTx output as wired to its line. */
export class IntxPin {
  asserted = false;
  /** Times the pin went high (inspection). */
  assertions = 0;

  constructor(
    readonly line: IntxLine,
    /** The function's BDF, for traces. */
    readonly at: string,
    private readonly trace: TraceBus,
    private readonly sched: Scheduler,
  ) {
    line.pins.push(this);
  }

  /** Drives the pin; the line's listener hears only changes of the wired-OR level. */
  set(level: boolean): void {
    if (level === this.asserted) return;
    this.asserted = level;
    if (level) this.assertions++;
    const line = this.line;
    const before = line.asserted > 0;
    line.asserted += level ? 1 : -1;
    if (this.trace.active) this.traceLevel(level);
    const after = line.asserted > 0;
    if (before !== after && line.listener !== null) line.listener(line, after);
  }

  private traceLevel(level: boolean): void {
    this.trace.emit({ type: 'irq', t: this.sched.now, hop: level ? 'intx-assert' : 'intx-deassert', at: this.at, gsi: this.line.gsi });
  }
}
