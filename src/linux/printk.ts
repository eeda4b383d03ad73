// The kernel log (kernel/printk): lines with a virtual timestamp, readable as `dmesg` through the
// control API, and reported on the trace bus. Used for messages users look for in real logs
// ("irq 16: nobody cared", "vfio-pci 0000:01:00.0: ...", Xen's boot lines).

import type { Scheduler } from '../sim/scheduler.js';
import type { TraceBus } from '../sim/trace.js';

export const KERN_EMERG = 0;
export const KERN_ERR = 3;
export const KERN_WARNING = 4;
export const KERN_NOTICE = 5;
export const KERN_INFO = 6;
export const KERN_DEBUG = 7;

export interface LogLine {
  readonly t: number;
  readonly level: number;
  readonly text: string;
}

const MAX_LINES = 4096;

export class KernelLog {
  private readonly lines: LogLine[] = [];

  constructor(
    private readonly sched: Scheduler,
    private readonly trace: TraceBus,
  ) {}

  printk(level: number, text: string): void {
    const line = { t: this.sched.now, level, text };
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) this.lines.shift();
    if (this.trace.active) this.trace.emit({ type: 'log', t: line.t, level, text });
  }

  info(text: string): void {
    this.printk(KERN_INFO, text);
  }

  warn(text: string): void {
    this.printk(KERN_WARNING, text);
  }

  err(text: string): void {
    this.printk(KERN_ERR, text);
  }

  /** Lines as `dmesg` prints them: `[    1.234567] text`. */
  dmesg(): string[] {
    return this.lines.map((l) => `[${formatStamp(l.t)}] ${l.text}`);
  }

  all(): readonly LogLine[] {
    return this.lines;
  }
}

function formatStamp(ns: number): string {
  const us = Math.floor(ns / 1000);
  const s = Math.floor(us / 1_000_000);
  return `${String(s).padStart(5, ' ')}.${String(us % 1_000_000).padStart(6, '0')}`;
}
