// Host: the modeled machine plus the Linux kernel running on it — the entry point of the public API.
//   const host = Host.create(); const proc = host.spawn(); proc.open('/dev/vfio/vfio', O_RDWR)

import { Control } from './control.js';
import { Machine, type MachineOptions } from './hw/machine.js';
import { namedPreset } from './hw/presets/default.js';
import { bootKernel } from './linux/boot.js';
import { Kernel, type KernelOptions } from './linux/kernel.js';
import { Process, type ProcessOptions } from './linux/process.js';
import type { Scheduler } from './sim/scheduler.js';
import type { TraceBus } from './sim/trace.js';
import { attachStrace, type StraceOptions } from './linux/trace/strace.js';

export interface HostOptions extends MachineOptions, KernelOptions {
  /** A machine built beforehand (its own preset); otherwise one is built from `preset` (default: the default host). */
  readonly machine?: Machine;
}

export class Host {
  readonly machine: Machine;
  readonly kernel: Kernel;
  readonly control: Control;

  private constructor(opts: HostOptions) {
    this.machine = opts.machine ?? new Machine(opts, namedPreset);
    this.kernel = new Kernel(this.machine, opts);
    bootKernel(this.kernel);
    this.control = new Control(this.kernel);
  }

  /** A booted host: the default preset machine, or the one `opts` describes. */
  static create(opts: HostOptions = {}): Host {
    return new Host(opts);
  }

  /** A new process (root unless `uid` is given), with /dev/null on fds 0-2. */
  spawn(opts: ProcessOptions = {}): Process {
    return new Process(this.kernel, opts);
  }

  /**
   * Prints every system call strace-style (and, with `irqs`, interrupt hops and kernel log lines) to
   * `sink`; returns the function that stops it.
   */
  strace(sink: (line: string) => void = (l) => console.log(l), opts: StraceOptions = {}): () => void {
    return attachStrace(this.kernel.trace, this.kernel.ioctlTables, sink, opts);
  }

  get trace(): TraceBus {
    return this.kernel.trace;
  }

  get sched(): Scheduler {
    return this.kernel.sched;
  }
}
