// irqfd and resamplefd (virt/kvm/eventfd.c, as of v6.17+: kvm_irqfd, kvm_irqfd_assign,
// kvm_irqfd_register, irqfd_wakeup, irqfd_inject, irqfd_update, irqfd_resampler_ack,
// irqfd_resampler_shutdown, kvm_notify_irqfd_resampler, kvm_irqfd_deassign, irqfd_shutdown,
// kvm_irqfd_release, kvm_irq_routing_update).
//
// An irqfd is a priority, exclusive waiter on an eventfd: when the eventfd is signalled (by a write
// from userspace or eventfd_signal() from a kernel driver such as VFIO's interrupt handler) its wakeup
// runs first, consumes the counter, and stops the wakeup, so poll() on a bound eventfd never reports it
// readable and the eventfd may be bound to at most one irqfd anywhere (EBUSY otherwise, also across
// VMs since v6.17). The wakeup injects MSI routes at once (kvm_arch_set_irq_inatomic); anything else,
// and any signal to an irqfd already deactivated (off kvm->irqfds.items, so its cached route no longer
// follows KVM_SET_GSI_ROUTING: v6.19, b4d37cdb77a0), goes through the irqfd's inject work item, which
// reads the routing table current when it runs:
// a plain irqfd pulses its GSI on source 0 (1 then 0 — so it also clears a level userspace set with
// KVM_IRQ_LINE), a resampling irqfd asserts source 1 and leaves it asserted. One resampler per GSI,
// shared by every resampling irqfd on it, is an ack notifier: on the guest's EOI (IOAPIC pin or PIC)
// it de-asserts source 1 once and then signals every resamplefd on the GSI; the IOAPIC clears remote
// IRR only after that. Assign checks, in order: flags (EINVAL), no irqchip / RESAMPLE without the full
// irqchip (EINVAL), fd (EBADF), not an eventfd (EINVAL), resamplefd (EBADF/EINVAL), eventfd already
// bound (EBUSY). GSI numbers are never checked. Deassign matches (eventfd, gsi), returns 0 for any
// valid eventfd, and waits for the shutdown work so no interrupt arrives after it returns (it leaves
// the cached route alone: the wakeup's active test covers a signal in between). Closing the
// eventfd (EPOLLHUP) detaches the irqfd asynchronously.

import { kerr } from '../errors.js';
import { eventfdCtxFdget, type EventFdCtx } from '../eventfd.js';
import type { FileContext } from '../fs/file.js';
import type { WaitEntry } from '../waitqueue.js';
import { WorkItem } from '../../sim/scheduler.js';
import { EPOLLHUP, EPOLLIN, EPOLLOUT } from '../../../include-ts/linux/poll.js';
import { KVM_IRQ_ROUTING_MSI, KVM_IRQFD_FLAG_DEASSIGN, KVM_IRQFD_FLAG_RESAMPLE } from '../../../include-ts/linux/kvm.js';
import { EWOULDBLOCK, KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID, KVM_USERSPACE_IRQ_SOURCE_ID } from './kvm-host.js';
import { kvmArchIrqfdAllowed, kvmSetIrqInatomic } from './irq.js';
import { kvmSetIrq, routeName } from './irqchip.js';
import { ApicIrq } from '../../hw/x86/apic-irq.js';
import { msiToApicIrq } from '../../hw/x86/msi.js';
import type { AckNotifier, Kvm } from './vm.js';

// Module-local copies for the wakeup path.
const POLL_IN = EPOLLIN;
const POLL_HUP = EPOLLHUP;
const MSI = KVM_IRQ_ROUTING_MSI;

export class Irqfd implements WaitEntry {
  /** The cached routing entry (irq_entry): type 0 when the GSI has 0 or several entries. */
  entryType = 0;
  msiLo = 0;
  msiHi = 0;
  msiData = 0;
  /** The cached MSI route decoded (kvm_set_msi_irq), for the x2APIC format `msiFormat` (-1: stale). */
  readonly msiIrq = new ApicIrq();
  msiFormat = -1;
  /** The in-kernel MSI-X entry gating this GSI (proposed KVM_SET_MSIX_ENTRY_IRQ), -1 if none. */
  gate = -1;
  /** On kvm->irqfds.items. */
  active = false;
  /** Still hooked on the eventfd's wait queue (until the shutdown work ran). */
  hooked = false;
  readonly inject: WorkItem;
  readonly shutdown: WorkItem;
  /** Signals consumed (inspection). */
  signals = 0;

  constructor(
    readonly kvm: Kvm,
    readonly gsi: number,
    readonly eventfd: EventFdCtx,
    readonly resamplefd: EventFdCtx | null,
    public resampler: Resampler | null,
  ) {
    this.inject = new WorkItem(`irqfd_inject gsi ${gsi}`, () => this.doInject());
    this.shutdown = new WorkItem(`irqfd_shutdown gsi ${gsi}`, () => this.doShutdown());
  }

  /** irqfd_wakeup(): called with the poll mask of the event. */
  wake(mask: number): boolean {
    let ret = false;
    if (mask & POLL_IN) {
      this.eventfd.doRead();
      this.signals++;
      const kvm = this.kvm;
      if (kvm.trace.active) this.traceWakeup();
      // Being deassigned: the cached route may be stale, so the work item reads the current one.
      if (!this.active) kvm.sched.queueWork(this.inject);
      else if (this.gate >= 0) kvm.msix.raiseGate(this.gate);
      else {
        // The cached route's message is decoded once (kvm_set_msi_irq), again only if the format changed.
        if (this.msiFormat !== (kvm.x2apicFormat ? 1 : 0) && this.entryType === MSI) this.decodeMsi();
        if (kvmSetIrqInatomic(kvm, this.entryType, this.msiHi, this.msiIrq) === -EWOULDBLOCK) kvm.sched.queueWork(this.inject);
      }
      ret = true;
    }
    if (mask & POLL_HUP) {
      // The eventfd is being released: detach from KVM (the shutdown work unhooks us).
      if (this.active) this.kvm.irqfds.deactivate(this);
    }
    return ret;
  }

  private decodeMsi(): void {
    const x2 = this.kvm.x2apicFormat;
    msiToApicIrq(this.msiLo, this.msiHi, this.msiData, x2, this.msiIrq);
    this.msiFormat = x2 ? 1 : 0;
  }

  /** The wakeup's trace hop (out of line: the wakeup must stay small enough to inline). */
  private traceWakeup(): void {
    this.traceInject(!this.active ? 'irqfd being deassigned: queue irqfd_inject work (current route)' : this.gate >= 0 ? 'GSI bound to an in-kernel MSI-X entry: raise it from the wakeup' : this.entryType === MSI ? 'MSI route: inject from the wakeup' : 'queue irqfd_inject work');
  }

  private traceInject(detail: string): void {
    const kvm = this.kvm;
    kvm.trace.emit({ type: 'irq', t: kvm.sched.now, hop: 'irqfd-inject', at: `vm${kvm.id} irqfd eventfd#${this.eventfd.id}`, gsi: this.gsi, detail });
  }

  /** irqfd_inject(): the work item. */
  private doInject(): void {
    const kvm = this.kvm;
    if (kvm.trace.active) this.traceInject(this.resampler ? 'assert source 1 (resampling)' : 'pulse source 0');
    if (!this.resampler) {
      kvmSetIrq(kvm, KVM_USERSPACE_IRQ_SOURCE_ID, this.gsi, true, false);
      kvmSetIrq(kvm, KVM_USERSPACE_IRQ_SOURCE_ID, this.gsi, false, false);
    } else {
      kvmSetIrq(kvm, KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID, this.gsi, true, false);
    }
  }

  /** irqfd_shutdown(): unhook (consuming the counter), flush injection, leave the resampler. */
  private doShutdown(): void {
    this.kvm.module.cleanupDone(this.shutdown);
    if (this.hooked) {
      // eventfd_ctx_remove_wait_queue(): unhook and consume the counter (waking writers if it held any).
      this.eventfd.wqh.remove(this);
      this.hooked = false;
      if (this.eventfd.doRead() !== 0) this.eventfd.wqh.wake(EPOLLOUT);
    }
    this.kvm.sched.flushWork(this.inject);
    if (this.resampler) this.kvm.irqfds.resamplerShutdown(this);
    // The references kvm_irqfd_assign() kept: the eventfds' ids stay taken until now, not until close().
    this.resamplefd?.put();
    this.eventfd.put();
  }

  /** irqfd_update(): caches the GSI's route iff it has exactly one entry (and the GSI's MSI-X gate). */
  update(): void {
    this.gate = this.kvm.msix.gateOf(this.gsi);
    const es = this.kvm.routing.entries(this.gsi);
    if (es.length === 1) {
      const e = es[0]!;
      this.entryType = e.type;
      // Kept as int32 so the 0xFEExxxxx address stays a small integer (no boxing on the wakeup path).
      this.msiLo = e.msiLo | 0;
      this.msiHi = e.msiHi | 0;
      this.msiData = e.msiData | 0;
      this.msiFormat = -1;
    } else {
      this.entryType = 0;
    }
  }

  describe(): string {
    const es = this.kvm.routing.entries(this.gsi);
    return es.length ? es.map(routeName).join(' + ') : 'no route';
  }
}

/** struct kvm_kernel_irqfd_resampler: one per GSI with resampling irqfds. */
export class Resampler implements AckNotifier {
  readonly list: Irqfd[] = [];
  /** Acks seen (inspection). */
  acks = 0;

  constructor(
    readonly kvm: Kvm,
    readonly gsi: number,
  ) {}

  /** irqfd_resampler_notify(): signal every resamplefd on the GSI. */
  notify(): void {
    const l = this.list;
    for (let i = 0; i < l.length; i++) l[i]!.resamplefd!.signal();
  }

  /** irqfd_resampler_ack(): de-assert source 1 once, then signal every resamplefd. */
  irqAcked(): void {
    const kvm = this.kvm;
    this.acks++;
    if (kvm.trace.active) kvm.trace.emit({ type: 'irq', t: kvm.sched.now, hop: 'resample', at: `vm${kvm.id} gsi ${this.gsi}`, gsi: this.gsi, detail: `EOI: de-assert source 1, signal ${this.list.length} resamplefd(s)` });
    kvmSetIrq(kvm, KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID, this.gsi, false, false);
    this.notify();
  }
}

/** A VM's irqfds (kvm->irqfds). */
export class IrqfdRegistry {
  readonly items: Irqfd[] = [];
  readonly resamplers: Resampler[] = [];

  constructor(private readonly kvm: Kvm) {}

  /** kvm_irqfd(): the KVM_IRQFD ioctl. */
  ioctl(ctx: FileContext, fd: number, gsi: number, flags: number, resamplefd: number): number {
    if (flags & ~(KVM_IRQFD_FLAG_DEASSIGN | KVM_IRQFD_FLAG_RESAMPLE)) throw kerr('EINVAL', `flags 0x${flags.toString(16)} has bits other than KVM_IRQFD_FLAG_DEASSIGN|KVM_IRQFD_FLAG_RESAMPLE`);
    if (flags & KVM_IRQFD_FLAG_DEASSIGN) return this.deassign(ctx, fd, gsi);
    return this.assign(ctx, fd, gsi, flags, resamplefd);
  }

  /** kvm_irqfd_assign(). */
  private assign(ctx: FileContext, fd: number, gsi: number, flags: number, resamplefdNum: number): number {
    const kvm = this.kvm;
    const why = kvmArchIrqfdAllowed(kvm, flags);
    if (why) throw kerr('EINVAL', why);
    const eventfd = eventfdCtxFdget(ctx, fd, 'fd');
    let resamplefd: EventFdCtx | null = null;
    let resampler: Resampler | null = null;
    if (flags & KVM_IRQFD_FLAG_RESAMPLE) {
      resamplefd = eventfdCtxFdget(ctx, resamplefdNum, 'resamplefd');
      resampler = this.resamplers.find((r) => r.gsi === gsi) ?? null;
      if (!resampler) {
        resampler = new Resampler(kvm, gsi);
        this.resamplers.push(resampler);
        kvm.registerAckNotifier(resampler);
      }
    }
    const irqfd = new Irqfd(kvm, gsi, eventfd, resamplefd, resampler);
    if (resampler) resampler.list.push(irqfd);
    // kvm_irqfd_register(): route first, then the exclusive priority waiter (-EBUSY if one exists).
    irqfd.update();
    if (!eventfd.wqh.addPriority(irqfd)) {
      const other = kvm.module.boundIrqfd(eventfd);
      if (resampler) {
        resampler.list.splice(resampler.list.indexOf(irqfd), 1);
        this.resamplerEmptyCheck(resampler);
      }
      throw kerr('EBUSY', `eventfd fd ${fd} is already bound to an irqfd${other ? ` (VM ${other.kvm.id}, gsi ${other.gsi})` : ''}; an eventfd may feed only one irqfd`);
    }
    irqfd.hooked = true;
    irqfd.active = true;
    eventfd.get();
    resamplefd?.get();
    this.items.push(irqfd);
    kvm.module.bind(eventfd, irqfd);
    // An event already pending on the eventfd is injected as if we had not missed it (counter kept).
    if (!eventfd.isZero) kvm.sched.queueWork(irqfd.inject);
    return 0;
  }

  /** The fail path's irqfd_resampler_shutdown(): a resampler left empty is removed and source 1 dropped. */
  private resamplerEmptyCheck(r: Resampler): void {
    if (r.list.length !== 0) return;
    this.resamplers.splice(this.resamplers.indexOf(r), 1);
    this.kvm.unregisterAckNotifier(r);
    kvmSetIrq(this.kvm, KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID, r.gsi, false, false);
  }

  /** irqfd_resampler_shutdown() from the shutdown work. */
  resamplerShutdown(irqfd: Irqfd): void {
    const r = irqfd.resampler!;
    const i = r.list.indexOf(irqfd);
    if (i >= 0) r.list.splice(i, 1);
    this.resamplerEmptyCheck(r);
  }

  /** irqfd_deactivate(): off the list, shutdown work queued on the cleanup workqueue. */
  deactivate(irqfd: Irqfd): void {
    const i = this.items.indexOf(irqfd);
    if (i >= 0) this.items.splice(i, 1);
    irqfd.active = false;
    this.kvm.module.unbind(irqfd.eventfd, irqfd);
    this.kvm.module.queueCleanup(irqfd.shutdown);
  }

  /** kvm_irqfd_deassign(). */
  private deassign(ctx: FileContext, fd: number, gsi: number): number {
    const eventfd = eventfdCtxFdget(ctx, fd, 'fd');
    for (const irqfd of [...this.items]) {
      if (irqfd.eventfd === eventfd && irqfd.gsi === gsi) this.deactivate(irqfd);
    }
    // Block until every queued shutdown has run: no interrupt on this GSI after we return.
    this.kvm.module.flushCleanup();
    return 0;
  }

  /** kvm_irqfd_release(): the VM fd is closing. */
  release(): void {
    for (const irqfd of [...this.items]) this.deactivate(irqfd);
    this.kvm.module.flushCleanup();
  }

  /** kvm_irq_routing_update(): every irqfd re-reads its GSI's route. */
  routingUpdate(): void {
    for (const irqfd of this.items) irqfd.update();
  }

  /** kvm_notify_irqfd_resampler(): signal the resamplefds of the GSI behind (irqchip, pin); false if none. */
  notifyResampler(irqchip: number, pin: number): boolean {
    const gsi = this.kvm.routing.gsiOf(irqchip, pin);
    if (gsi === -1) return false;
    for (const r of this.resamplers) {
      if (r.gsi === gsi) {
        if (this.kvm.trace.active) this.kvm.trace.emit({ type: 'irq', t: this.kvm.sched.now, hop: 'resample', at: `vm${this.kvm.id} gsi ${gsi}`, gsi, detail: `unmask with irr latched: signal ${r.list.length} resamplefd(s), no injection` });
        r.notify();
        return true;
      }
    }
    return false;
  }
}
