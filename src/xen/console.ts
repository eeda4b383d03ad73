// The Xen console ring (xen/drivers/char/console.c): printk lines as `xl dmesg` shows them, each with
// the "(XEN) " prefix, also reported on the trace bus as log events.
import type { Scheduler } from '../sim/scheduler.js';
import type { TraceBus } from '../sim/trace.js';

export class XenConsole {
  readonly lines: string[] = [];

  constructor(
    private readonly sched: Scheduler,
    private readonly trace: TraceBus,
  ) {}

  printk(text: string): void {
    const line = `(XEN) ${text}`;
    this.lines.push(line);
    if (this.lines.length > 4096) this.lines.shift();
    if (this.trace.active) this.trace.emit({ type: 'log', t: this.sched.now, level: 6, text: line });
  }

  /** `xl dmesg` */
  dmesg(): string[] {
    return [...this.lines];
  }
}
