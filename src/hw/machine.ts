// The modeled machine: the clock and scheduler everything runs on, the trace bus hardware reports to,
// and (added by the hardware models) the devices and buses. It knows nothing of Linux or Xen: a kernel
// or hypervisor model is built on top of a Machine.

import { Scheduler, type SchedPolicy } from '../sim/scheduler.js';
import { TraceBus } from '../sim/trace.js';

export interface MachineOptions {
  /** Seed for every choice made under the scheduler (interleavings). Default 1. */
  readonly seed?: number;
  readonly policy?: SchedPolicy;
}

export class Machine {
  readonly sched: Scheduler;
  readonly trace: TraceBus;

  constructor(opts: MachineOptions = {}) {
    this.sched = new Scheduler({ seed: opts.seed ?? 1, policy: opts.policy ?? 'eager' });
    this.trace = new TraceBus();
  }
}
