// Xen's per-CPU state the interrupt path touches: the current vCPU (null: the idle vCPU) and the
// runqueue of the scheduler, pending softirqs (irq_stat.__softirq_pending), the per-CPU list of
// blocked vCPUs for posted-interrupt wakeup with its lock (vmx.c:81-90 `vmx_pi_blocking`), the dpci
// list of pirqs waiting for HVM_DPCI_SOFTIRQ (passthrough/x86/hvm.c `dpci_list`), the host vector to
// irq table (`vector_irq`), and the one root-mode execution thread of the CPU.
import type { VmxCpu } from '../hw/vmx/cpu.js';
import type { StepTask } from '../sim/scheduler.js';
import type { PirqDpci, Vcpu } from './domain.js';
import { SpinLock } from './spinlock.js';
import { NR_SOFTIRQS } from './softirq.js';

export class XenCpu {
  online = true;
  /** cpu_down() started: the CPU left the scheduler's online mask (no vCPU may move here). */
  dying = false;
  /** The running vCPU; null when the idle vCPU runs. */
  curr: Vcpu | null = null;
  /** Runnable vCPUs waiting for this CPU, in order. */
  readonly runq: Vcpu[] = [];
  softirqPending = 0;
  /** A scheduler tick asked schedule() to rotate the runqueue. */
  preempt = false;
  /** per_cpu(vmx_pi_blocking): the list and the lock a blocked vCPU's pi_blocking.lock points to. */
  readonly piBlocked: Vcpu[] = [];
  readonly piLock: SpinLock;
  readonly dpciList: PirqDpci[] = [];
  /** Guest timers due on this CPU (handled in TIMER_SOFTIRQ). */
  readonly timersDue: Vcpu[] = [];
  /** per_cpu(vector_irq): host vector -> irq. */
  readonly vectorIrq = new Int32Array(256).fill(-1);
  /** The root-mode thread (exit handling, softirqs, VM entry, idle loop), null when halted or in guest. */
  thread: StepTask | null = null;
  threadSeq = 0;
  /** The step-task name of the root-mode thread (built once: a VM exit spawns a thread). */
  readonly threadName: string;
  /** Softirqs raised on this CPU, per number; IPIs received; notification/wakeup handler runs. */
  readonly softirqsRaised = new Uint32Array(NR_SOFTIRQS);
  ipis = 0;
  piNotificationIrqs = 0;
  piWakeupIrqs = 0;

  constructor(
    readonly id: number,
    readonly hw: VmxCpu,
  ) {
    this.piLock = new SpinLock(`vmx_pi_blocking(${id}).lock`);
    this.threadName = `cpu${id}`;
  }

  /** In the scheduler's online mask. */
  get schedulable(): boolean {
    return this.online && !this.dying;
  }

  get apicId(): number {
    return this.hw.apicId;
  }
}
