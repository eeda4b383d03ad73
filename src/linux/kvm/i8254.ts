// KVM's in-kernel PIT (arch/x86/kvm/i8254.c: kvm_create_pit, kvm_free_pit, pit_do_work, pit_timer_fn,
// kvm_pit_ack_irq, kvm_pit_set_reinject, kvm_vm_ioctl_get/set_pit(2), kvm_vm_ioctl_reinject; and the
// x86.c cases KVM_CREATE_PIT(2), KVM_GET/SET_PIT(2), KVM_REINJECT_CONTROL) around the 8254 of
// src/hw/x86/i8254.ts.
// - KVM_CREATE_PIT2 copies kvm_pit_config (EFAULT), then ENOENT without the full in-kernel irqchip
//   (none or split) [E 6.18; older x86.c had no such check], EEXIST when the VM has a PIT. Flags other
//   than KVM_PIT_SPEAKER_DUMMY are ignored [E]. KVM_CREATE_PIT is KVM_CREATE_PIT2 with the dummy
//   speaker. The PIT sits on the PIO bus at 0x40-0x43, its speaker (with the flag) at 0x61-0x64
//   (handling only 0x61).
// - KVM_GET_PIT2 checks for a PIT (ENXIO) before touching the argument; KVM_GET_PIT, KVM_SET_PIT(2)
//   and KVM_REINJECT_CONTROL read the argument first (EFAULT), then ENXIO [E].
// - An expiry of channel 0 queues the PIT's work, which pulses GSI 0 (kvm_set_irq 1 then 0) with the
//   PIT's IRQ source ID. The PIT is created in reinject mode: an ack notifier on GSI 0; each expiry
//   counts as pending, a pulse waits until the previous one was acked, and an ack with ticks still
//   pending queues the work again, so missed ticks are delivered one per ack.
// - While the guest has not acked a pulse, further expiries only count: the model stops the host timer
//   then and counts the expiries it skipped when the ack comes (the same pending count, and no timer
//   firing for nobody, so a vCPU halted with the interrupt masked gets EINTR instead of spinning).
// - Unmasking the pin GSI 0 routes to (IOAPIC entry, or PIC master IMR) drops the pending ticks and
//   re-arms the ack (pit_mask_notifer), so a guest that masked the timer mid-pulse gets ticks again.
// Not modelled: the NMI watchdog route (PIT -> LVT0 in NMI mode), the APICv inhibit. With reinjection off, the
// timer fires on every period, as KVM's does: a vCPU halted where no tick can wake it keeps virtual
// time running until its caller's deadline.

import { Pit, PIT_BASE, PIT_LENGTH, SPEAKER_PORT, type PitHooks } from '../../hw/x86/i8254.js';
import { WorkItem } from '../../sim/scheduler.js';
import { getU16, getU32, getU64, setU16, setU32, setU64 } from '../../../abi/bytes.js';
import { kvm_pit_channel_state, kvm_pit_state, kvm_pit_state2, KVM_PIT_FLAGS_HPET_LEGACY } from '../../../include-ts/asm/kvm.js';
import { KVM_PIT_SPEAKER_DUMMY, kvm_pit_config, kvm_reinject_control } from '../../../include-ts/linux/kvm.js';
import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import type { IoDevice } from './io-bus.js';
import { kvmSetIrq } from './irqchip.js';
import { KVM_IRQCHIP_KERNEL, KVM_IRQCHIP_NONE } from './kvm-host.js';
import { KVM_MIN_TIMER_PERIOD_US } from './vcpu.js';
import type { AckNotifier, Kvm, MaskNotifier } from './vm.js';

/** KVM_PIT_IRQ_SOURCE_ID: the source ID the PIT's pulses use on the GSI 0 pins (after userspace 0 and resample 1). */
export const KVM_PIT_IRQ_SOURCE_ID = 2;

export class KvmPit implements PitHooks {
  readonly pit: Pit;
  readonly minPeriodNs = KVM_MIN_TIMER_PERIOD_US * 1000;
  /** pit_state.reinject, .pending, .irq_ack. */
  reinject = false;
  pending = 0;
  irqAck = 1;
  readonly ackNotifier: AckNotifier = { gsi: 0, irqAcked: () => this.ackIrq() };
  /** pit_mask_notifer(): unmasking GSI 0 drops the ticks still pending and re-arms the ack. */
  readonly maskNotifier: MaskNotifier = {
    gsi: 0,
    maskChanged: (masked) => {
      if (masked) return;
      this.catchUp(); // a held timer fires again from its next expiry
      this.resetReinject();
    },
  };
  private readonly work = new WorkItem('kvm-pit', () => this.doWork());
  private readonly dev: IoDevice;
  private readonly speaker: IoDevice | null;

  constructor(
    private readonly kvm: Kvm,
    flags: number,
  ) {
    this.pit = new Pit(this, kvm.sched);
    this.pit.reset();
    this.resetReinject();
    this.setReinject(true);
    kvm.registerMaskNotifier(this.maskNotifier);
    this.dev = {
      read: (addr) => (addr >= PIT_BASE && addr < PIT_BASE + PIT_LENGTH ? this.pit.read(addr) : -1),
      write: (addr, _len, v) => {
        if (addr < PIT_BASE || addr >= PIT_BASE + PIT_LENGTH) return false;
        this.pit.write(addr, v);
        return true;
      },
    };
    kvm.pioBus.register(PIT_BASE, PIT_LENGTH, this.dev);
    this.speaker = null;
    if (flags & KVM_PIT_SPEAKER_DUMMY) {
      this.speaker = {
        read: (addr) => (addr === SPEAKER_PORT ? this.pit.speakerRead() : -1),
        write: (addr, _len, v) => {
          if (addr !== SPEAKER_PORT) return false;
          this.pit.speakerWrite(v);
          return true;
        },
      };
      kvm.pioBus.register(SPEAKER_PORT, 4, this.speaker);
    }
  }

  // PitHooks: create_pit_timer() runs only with an in-kernel IOAPIC and outside HPET legacy mode.
  timerAllowed(): boolean {
    return this.kvm.irqchipMode === KVM_IRQCHIP_KERNEL && !(this.pit.flags & KVM_PIT_FLAGS_HPET_LEGACY);
  }

  /** destroy_pit_timer() / create_pit_timer(): an expiry's work still queued runs now. */
  timerCancelled(): void {
    this.kvm.sched.flushWork(this.work);
  }

  timerProgrammed(): void {
    this.resetReinject();
  }

  /** pit_timer_fn(). */
  expired(): void {
    if (this.reinject) {
      this.pending++;
      // Unacked: the work would find irq_ack 0 and return; hold the timer until the ack counts the rest.
      if (this.irqAck === 0 && !this.work.queued) {
        this.pit.suspend();
        return;
      }
    }
    this.kvm.sched.queueWork(this.work);
  }

  /** kvm_pit_reset_reinject(). */
  private resetReinject(): void {
    this.pending = 0;
    this.irqAck = 1;
  }

  /** Ticks a held timer skipped, counted as pit_timer_fn would have. */
  private catchUp(): void {
    if (this.pit.suspended) this.pending += this.pit.resume();
  }

  /** kvm_pit_ack_irq(). */
  private ackIrq(): void {
    this.catchUp();
    this.irqAck = 1;
    if (this.pending > 0 && --this.pending > 0) this.kvm.sched.queueWork(this.work);
  }

  /** pit_do_work(). */
  private doWork(): void {
    if (this.reinject) {
      if (this.irqAck === 0) return;
      this.irqAck = 0;
    }
    kvmSetIrq(this.kvm, KVM_PIT_IRQ_SOURCE_ID, 0, true, false);
    kvmSetIrq(this.kvm, KVM_PIT_IRQ_SOURCE_ID, 0, false, false);
  }

  /** kvm_pit_set_reinject(). */
  setReinject(on: boolean): void {
    if (this.reinject === on) return;
    if (on) {
      this.resetReinject();
      this.kvm.registerAckNotifier(this.ackNotifier);
    } else {
      this.kvm.unregisterAckNotifier(this.ackNotifier);
      // Without reinjection every expiry pulses: a held timer fires again.
      this.pit.resume();
    }
    this.reinject = on;
  }

  /** kvm_free_pit(). */
  destroy(): void {
    this.kvm.pioBus.unregister(this.dev);
    if (this.speaker) this.kvm.pioBus.unregister(this.speaker);
    this.setReinject(false);
    this.kvm.unregisterMaskNotifier(this.maskNotifier);
    this.kvm.sched.cancelWork(this.work);
    this.pit.stopTimer();
  }

  /** The three channels as struct kvm_pit_state. */
  getChannels(out: Uint8Array): void {
    for (let i = 0; i < 3; i++) {
      const c = this.pit.channels[i]!;
      const o = i * CH_SIZE;
      setU32(out, o + F_COUNT, c.count);
      setU16(out, o + F_LATCHED_COUNT, c.latchedCount);
      const b = [c.countLatched, c.statusLatched, c.status, c.readState, c.writeState, c.writeLatch, c.rwMode, c.mode, c.bcd, c.gate];
      for (let k = 0; k < b.length; k++) out[o + F_COUNT_LATCHED + k] = b[k]!;
      out[o + F_COUNT_LATCHED + b.length] = 0;
      out[o + F_COUNT_LATCHED + b.length + 1] = 0;
      setU64(out, o + F_LOAD_TIME, BigInt.asUintN(64, BigInt(c.countLoadTime)));
    }
  }

  /** memcpy of struct kvm_pit_state into the channels. */
  private setChannels(src: Uint8Array): void {
    for (let i = 0; i < 3; i++) {
      const c = this.pit.channels[i]!;
      const o = i * CH_SIZE;
      c.count = getU32(src, o + F_COUNT);
      c.latchedCount = getU16(src, o + F_LATCHED_COUNT);
      let k = o + F_COUNT_LATCHED;
      c.countLatched = src[k++]!;
      c.statusLatched = src[k++]!;
      c.status = src[k++]!;
      c.readState = src[k++]!;
      c.writeState = src[k++]!;
      c.writeLatch = src[k++]!;
      c.rwMode = src[k++]!;
      c.mode = src[k++]!;
      c.bcd = src[k++]!;
      c.gate = src[k++]!;
      c.countLoadTime = Number(BigInt.asIntN(64, getU64(src, o + F_LOAD_TIME)));
    }
  }

  /** kvm_vm_ioctl_set_pit(): the channels as given, then every count loaded again. */
  setPit(src: Uint8Array): void {
    this.setChannels(src);
    for (let i = 0; i < 3; i++) this.pit.loadCountHpet(i, this.pit.channels[i]!.count, false);
  }

  /** kvm_vm_ioctl_set_pit2(): as SET_PIT, with the flags; entering HPET legacy mode stops channel 0's timer. */
  setPit2(src: Uint8Array): void {
    const flags = getU32(src, PS2_FLAGS);
    const start = !(this.pit.flags & KVM_PIT_FLAGS_HPET_LEGACY) && (flags & KVM_PIT_FLAGS_HPET_LEGACY) !== 0;
    this.setChannels(src);
    this.pit.flags = flags;
    for (let i = 0; i < 3; i++) this.pit.loadCountHpet(i, this.pit.channels[i]!.count, start && i === 0);
  }
}

const CH_SIZE = kvm_pit_channel_state.size;
const F_COUNT = kvm_pit_channel_state.offsetof('count');
const F_LATCHED_COUNT = kvm_pit_channel_state.offsetof('latched_count');
const F_COUNT_LATCHED = kvm_pit_channel_state.offsetof('count_latched');
const F_LOAD_TIME = kvm_pit_channel_state.offsetof('count_load_time');
const PS2_FLAGS = kvm_pit_state2.offsetof('flags');
const PS2_RESERVED = kvm_pit_state2.offsetof('reserved');

function needPit(kvm: Kvm, what: string): KvmPit {
  if (kvm.pit === null) throw kerr('ENXIO', `${what}: the VM has no in-kernel PIT (KVM_CREATE_PIT2 first)`);
  return kvm.pit;
}

/** KVM_CREATE_PIT2 (`arg` null: KVM_CREATE_PIT, which asks for the dummy speaker). */
export function createPit(kvm: Kvm, arg: UserArg | null): number {
  const flags = arg === null ? KVM_PIT_SPEAKER_DUMMY : getU32(arg.user(kvm_pit_config.size), 0);
  if (kvm.irqchipMode !== KVM_IRQCHIP_KERNEL) {
    throw kerr('ENOENT', kvm.irqchipMode === KVM_IRQCHIP_NONE ? 'the in-kernel PIT needs the in-kernel irqchip (KVM_CREATE_IRQCHIP first)' : 'the in-kernel PIT needs the full in-kernel irqchip, not a split one');
  }
  if (kvm.pit !== null) throw kerr('EEXIST', 'the VM already has an in-kernel PIT');
  kvm.pit = new KvmPit(kvm, flags);
  return 0;
}

/** KVM_GET_PIT2: ENXIO before the argument is touched; reserved comes back zeroed. */
export function getPit2(kvm: Kvm, arg: UserArg): number {
  const pit = needPit(kvm, 'KVM_GET_PIT2');
  const b = arg.user(kvm_pit_state2.size);
  pit.getChannels(b);
  setU32(b, PS2_FLAGS, pit.pit.flags);
  b.fill(0, PS2_RESERVED, kvm_pit_state2.size);
  return 0;
}

export function setPit2(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_pit_state2.size);
  needPit(kvm, 'KVM_SET_PIT2').setPit2(b);
  return 0;
}

/** KVM_GET_PIT: the argument is copied in first (EFAULT before ENXIO). */
export function getPit(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_pit_state.size);
  needPit(kvm, 'KVM_GET_PIT').getChannels(b);
  return 0;
}

export function setPit(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_pit_state.size);
  needPit(kvm, 'KVM_SET_PIT').setPit(b);
  return 0;
}

/** KVM_REINJECT_CONTROL: pit_reinject is a bool (any non-zero byte enables); reserved is ignored. */
export function reinjectControl(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_reinject_control.size);
  needPit(kvm, 'KVM_REINJECT_CONTROL').setReinject(b[0] !== 0);
  return 0;
}
