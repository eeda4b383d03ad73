// drivers/vfio/virqfd.c: an eventfd whose signal runs a kernel function. vfio-pci registers one as
// the INTx *unmask* eventfd (SET_IRQS INTX ACTION_UNMASK DATA_EVENTFD): each signal — a write from
// userspace, or KVM signalling it as an irqfd resamplefd on the guest's EOI — is consumed by the wakeup
// (eventfd_ctx_do_read) and runs the handler there, in atomic context; if the handler asks for it
// (returns non-zero: the device is still asserting), the thread function (re-signal the trigger)
// runs later from a work item, because signalling an eventfd from inside an eventfd wakeup would
// deadlock. A signal already pending at registration is handled as if it had just arrived (but not
// consumed). A slot holds at most one virqfd (EBUSY otherwise). Unregistering, or closing the
// eventfd (EPOLLHUP), queues the shutdown work, which unhooks it and flushes a pending inject;
// vfio_virqfd_disable() waits for that.

import { kerr } from '../errors.js';
import { eventfdCtxFdget, type EventFdCtx } from '../eventfd.js';
import type { FileContext } from '../fs/file.js';
import type { WaitEntry } from '../waitqueue.js';
import { WorkItem, type Scheduler } from '../../sim/scheduler.js';
import { EPOLLHUP, EPOLLIN } from '../../../include-ts/linux/poll.js';

const POLL_IN = EPOLLIN;
const POLL_HUP = EPOLLHUP;

/** Where a virqfd is registered (struct virqfd **pvirqfd: vfio_pci_irq_ctx.unmask / .mask). */
export class VirqfdSlot {
  current: Virqfd | null = null;
}

export class Virqfd implements WaitEntry {
  readonly inject: WorkItem;
  readonly shutdown: WorkItem;
  /** Signals consumed (inspection). */
  signals = 0;

  constructor(
    readonly eventfd: EventFdCtx,
    /** Runs in the wakeup; non-zero asks for the thread function. */
    private readonly handler: () => number,
    private readonly thread: () => void,
    private readonly slot: VirqfdSlot,
    private readonly sched: Scheduler,
    name: string,
  ) {
    this.inject = new WorkItem(`virqfd_inject ${name}`, this.thread);
    this.shutdown = new WorkItem(`virqfd_shutdown ${name}`, () => this.doShutdown());
  }

  /** virqfd_wakeup() */
  wake(mask: number): void {
    if (mask & POLL_IN) {
      this.eventfd.doRead();
      this.signals++;
      if (this.handler() !== 0) this.sched.queueWork(this.inject);
    }
    if (mask & POLL_HUP) {
      if (this.slot.current === this) {
        this.slot.current = null;
        this.sched.queueWork(this.shutdown);
      }
    }
  }

  /** virqfd_shutdown(): unhook from the eventfd (consuming its count) and flush a queued inject. */
  private doShutdown(): void {
    this.eventfd.wqh.remove(this);
    this.eventfd.doRead();
    this.sched.flushWork(this.inject);
    this.eventfd.put();
  }
}

/** vfio_virqfd_enable(): EBADF/EINVAL for a bad fd, EBUSY if the slot is taken. */
export function virqfdEnable(ctx: FileContext, slot: VirqfdSlot, fd: number, handler: () => number, thread: () => void, name: string): Virqfd {
  const efd = eventfdCtxFdget(ctx, fd, 'unmask eventfd');
  if (slot.current !== null) throw kerr('EBUSY', `an unmask eventfd (eventfd#${slot.current.eventfd.id}) is already registered for ${name}; unregister it with fd -1 first`);
  const sched = ctx.kernel.sched;
  const v = new Virqfd(efd.get(), handler, thread, slot, sched, name);
  slot.current = v;
  efd.wqh.add(v);
  if (!efd.isZero && handler() !== 0) sched.queueWork(v.inject);
  return v;
}

/** vfio_virqfd_disable(): deactivate and wait for the shutdown work. */
export function virqfdDisable(sched: Scheduler, slot: VirqfdSlot): void {
  const v = slot.current;
  if (v !== null) {
    slot.current = null;
    sched.queueWork(v.shutdown);
    sched.flushWork(v.shutdown);
  }
}
