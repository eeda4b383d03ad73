// KVM's in-kernel IOAPIC (arch/x86/kvm/ioapic.c): the KVM parts around the hypervisor-neutral
// 82093AA model of src/hw/x86/ioapic.ts —
// - per-pin source bitmaps: a pin's line is the OR of its sources (__kvm_irq_line_state); source 0 is
//   userspace (KVM_IRQ_LINE, plain irqfds), source 1 all resampling irqfds;
// - delivery through kvm_irq_delivery_to_apic;
// - ack notifiers on EOI (kvm_notify_acked_irq: irqfd resamplers), run before remote IRR is cleared;
// - the v6.3 rule for a guest unmasking a level pin with irr latched: if a resampler exists for the
//   pin's GSI, signal its resamplefds and clear irr without injecting (kvm_notify_irqfd_resampler);
//   otherwise inject at once (commit fef8f2b90edb);
// - the EOI storm guard: the 10,000th successive immediate re-delivery is instead delayed by HZ/100;
// - RTC coalescing for KVM_IRQ_LINE_STATUS on GSI 8 (rtc_status.pending_eoi, dest_map);
// - its part of each vCPU's set of vectors whose EOI must reach the IOAPIC (kvm_ioapic_scan_entry,
//   scan-ioapic.ts), and the scan requests a redirection entry write makes;
// - the MMIO device at 0xFEC00000 on the VM's MMIO bus; KVM_GET/SET_IRQCHIP state.

import { Ioapic, IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_MEM_LENGTH, IOAPIC_NUM_PINS, IOAPIC_REG_WINDOW, IOAPIC_RTE_DELIVERY_MODE, IOAPIC_RTE_DEST_LOGICAL, type IoapicHooks } from '../../hw/x86/ioapic.js';
import type { ApicIrq } from '../../hw/x86/apic-irq.js';
import { APIC_DEST_LOGICAL, APIC_DEST_NOSHORT, APIC_DEST_PHYSICAL, APIC_IRR, APIC_ISR } from '../../hw/x86/apicdef.js';
import { apicMatchDest } from './lapic.js';
import { Timer } from '../../sim/scheduler.js';
import { KVM_IRQCHIP_IOAPIC } from '../../../include-ts/linux/kvm.js';
import { IOAPIC_STORM_DELAY_NS, IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT, KVM_MAX_VCPU_IDS, RTC_GSI } from './kvm-host.js';
import { deliverToApic } from './lapic.js';
import { requestScanIoapic, scanIoapicIrq, setHandled } from './scan-ioapic.js';
import type { IoDevice } from './io-bus.js';
import type { KvmVcpu } from './vcpu.js';
import type { Kvm } from './vm.js';

export class KvmIoapic implements IoapicHooks, IoDevice {
  readonly chip: Ioapic;
  /** irq_states[pin]: bitmap of asserting sources. */
  readonly irqStates = new Uint32Array(IOAPIC_NUM_PINS);
  /** irq_eoi[pin]: successive immediate re-deliveries (storm guard). */
  readonly irqEoi = new Uint32Array(IOAPIC_NUM_PINS);
  /** Storm guard re-injections that were delayed (inspection). */
  delayedEoiInjections = 0;
  private readonly eoiInject: Timer;
  /** rtc_status: pending_eoi and dest_map (vCPU id -> vector, -1 = not pending). */
  rtcPendingEoi = 0;
  private readonly rtcDest = new Int16Array(KVM_MAX_VCPU_IDS).fill(-1);

  constructor(private readonly kvm: Kvm) {
    this.chip = new Ioapic(this, kvm.hw);
    this.chip.label = `vm${kvm.id} ioapic`;
    this.eoiInject = new Timer(`vm${kvm.id} ioapic eoi_inject`, () => this.eoiInjectWork());
    kvm.mmioBus.register(IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_MEM_LENGTH, this);
  }

  // ---------------------------------------------------------------------------------------------
  // Lines

  /** kvm_ioapic_set_irq(). */
  setIrq(pin: number, sourceId: number, level: boolean, lineStatus: boolean): number {
    const st = level ? this.irqStates[pin]! | (1 << sourceId) : this.irqStates[pin]! & ~(1 << sourceId);
    this.irqStates[pin] = st;
    return this.chip.setIrq(pin, st !== 0, lineStatus);
  }

  // ---------------------------------------------------------------------------------------------
  // IoapicHooks

  deliver(irq: ApicIrq, pin: number, lineStatus: boolean): number {
    if (pin === RTC_GSI && lineStatus) {
      const ret = deliverToApic(this.kvm, null, irq, this);
      this.rtcPendingEoi = ret < 0 ? 0 : ret;
      return ret;
    }
    return deliverToApic(this.kvm, null, irq, null);
  }

  coalesced(pin: number, lineStatus: boolean): boolean {
    return pin === RTC_GSI && lineStatus && this.rtcPendingEoi > 0;
  }

  ack(pin: number): void {
    this.kvm.notifyAckedIrq(KVM_IRQCHIP_IOAPIC, pin);
  }

  /** ioapic_write_indirect(): a redirection entry's mask bit changed (kvm_fire_mask_notifiers). */
  maskChanged(pin: number, masked: boolean): void {
    this.kvm.fireMaskNotifiers(KVM_IRQCHIP_IOAPIC, pin, masked);
  }

  resampleOnUnmask(pin: number): boolean {
    return this.kvm.irqfds.notifyResampler(KVM_IRQCHIP_IOAPIC, pin);
  }

  eoiDone(pin: number, pending: boolean): void {
    if (!pending) {
      this.irqEoi[pin] = 0;
      return;
    }
    if (++this.irqEoi[pin]! === IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT) {
      // Real hardware does not re-deliver instantly on EOI broadcast; a guest that never handles its
      // level interrupt still makes slow progress.
      if (!this.eoiInject.pending) this.kvm.sched.armAfter(this.eoiInject, IOAPIC_STORM_DELAY_NS);
      this.irqEoi[pin] = 0;
      this.delayedEoiInjections++;
      if (this.kvm.trace.active) this.kvm.trace.emit({ type: 'irq', t: this.kvm.sched.now, hop: 'ioapic', at: `${this.chip.label} pin ${pin}`, detail: `interrupt storm: ${IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT} successive re-deliveries on EOI, next one delayed 10 ms` });
    } else {
      this.chip.service(pin, false);
    }
  }

  /** kvm_ioapic_eoi_inject_work(). */
  private eoiInjectWork(): void {
    const c = this.chip;
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      if (!c.isLevel(pin)) continue;
      if (c.irr & (1 << pin) && !c.remoteIrr(pin)) c.service(pin, false);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // EOI from a LAPIC

  /** kvm_ioapic_update_eoi(). */
  updateEoi(vcpu: KvmVcpu, vector: number, trigLevel: boolean): void {
    this.rtcIrqEoi(vcpu, vector);
    this.chip.eoi(vector, trigLevel, vcpu.lapic!.directedEoi);
  }

  /** kvm_ioapic_scan_entry(): this IOAPIC's part of `vcpu`'s ioapic_handled_vectors. */
  scanEntry(vcpu: KvmVcpu): void {
    // A missed RTC EOI is still awaited from this vCPU.
    const rtc = this.rtcDest[vcpu.vcpuId]!;
    if (rtc !== -1) setHandled(vcpu, rtc);
    const c = this.chip;
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      if (c.isLevel(pin) || pin === RTC_GSI || this.kvm.hasAckNotifier(KVM_IRQCHIP_IOAPIC, pin)) {
        const lo = c.lo[pin]!;
        scanIoapicIrq(vcpu, c.hi[pin]! >>> 24, lo & IOAPIC_RTE_DEST_LOGICAL ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL, lo & 0xff);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // RTC coalescing (rtc_status)

  rtcDestSet(vcpu: KvmVcpu, vector: number): void {
    this.rtcDest[vcpu.vcpuId] = vector;
  }

  /** rtc_irq_eoi(). */
  private rtcIrqEoi(vcpu: KvmVcpu, vector: number): void {
    if (this.rtcDest[vcpu.vcpuId] === vector) {
      this.rtcDest[vcpu.vcpuId] = -1;
      if (this.rtcPendingEoi > 0) this.rtcPendingEoi--;
    }
  }

  /** __rtc_irq_eoi_tracking_restore_one(): after KVM_SET_LAPIC. */
  rtcRestoreOne(vcpu: KvmVcpu): void {
    const c = this.chip;
    const apic = vcpu.lapic!;
    const lo = c.lo[RTC_GSI]!;
    const dest = c.hi[RTC_GSI]! >>> 24;
    if (!apicMatchDest(this.kvm, vcpu, null, APIC_DEST_NOSHORT, dest, lo & (1 << 11) ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL)) return;
    const v = lo & 0xff;
    const now = apic.testVector(APIC_ISR, v) || apic.testVector(APIC_IRR, v);
    const was = this.rtcDest[vcpu.vcpuId] !== -1;
    if (now === was) return;
    if (now) {
      this.rtcDest[vcpu.vcpuId] = v;
      this.rtcPendingEoi++;
    } else {
      this.rtcDest[vcpu.vcpuId] = -1;
      if (this.rtcPendingEoi > 0) this.rtcPendingEoi--;
    }
  }

  private rtcRestoreAll(): void {
    this.rtcPendingEoi = 0;
    this.rtcDest.fill(-1);
    for (const v of this.kvm.vcpus) if (v.lapic) this.rtcRestoreOne(v);
  }

  // ---------------------------------------------------------------------------------------------
  // MMIO device (ioapic_mmio_read/write)

  read(addr: number, len: number): number {
    if (!this.chip.inRange(addr)) return -1;
    return this.chip.mmioRead(addr - this.chip.baseAddress, len);
  }

  write(addr: number, len: number, value: number): boolean {
    const c = this.chip;
    if (!c.inRange(addr)) return false;
    const off = addr - c.baseAddress;
    // ioapic_write_indirect(): a write of either half of a redirection entry asks for scans.
    const pin = (off & 0xff) === IOAPIC_REG_WINDOW && (len === 1 || len === 2 || len === 4 || len === 8) ? (c.ioregsel - 0x10) >> 1 : -1;
    const oldHi = pin >= 0 && pin < IOAPIC_NUM_PINS ? c.hi[pin]! : 0;
    const oldLo = pin >= 0 && pin < IOAPIC_NUM_PINS ? c.lo[pin]! : 0;
    c.mmioWrite(off, len, value);
    if (pin >= 0 && pin < IOAPIC_NUM_PINS) this.requestScanForEntry(pin, oldLo, oldHi);
    return true;
  }

  /**
   * The scan requests of an entry write: with fixed delivery, the vCPUs the new destination names and,
   * if the destination changed, those the old destination ID names under the new destination mode
   * (kvm_bitmap_or_dest_vcpus + kvm_make_scan_ioapic_request_mask); every vCPU otherwise.
   */
  private requestScanForEntry(pin: number, oldLo: number, oldHi: number): void {
    const c = this.chip;
    const lo = c.lo[pin]!;
    if ((lo & IOAPIC_RTE_DELIVERY_MODE) !== 0) return requestScanIoapic(this.kvm);
    const mode = lo & IOAPIC_RTE_DEST_LOGICAL ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL;
    const dest = c.hi[pin]! >>> 24;
    const oldDest = oldHi >>> 24;
    const changed = oldDest !== dest || (oldLo ^ lo) & IOAPIC_RTE_DEST_LOGICAL;
    for (const v of this.kvm.vcpus) {
      const apic = v.lapic;
      if (apic === null) continue;
      if (apicMatchDest(this.kvm, v, null, APIC_DEST_NOSHORT, dest, mode) || (changed && apicMatchDest(this.kvm, v, null, APIC_DEST_NOSHORT, oldDest, mode))) v.scanIoapicRequested = true;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // KVM_GET_IRQCHIP / KVM_SET_IRQCHIP (struct kvm_ioapic_state)

  /** kvm_get_ioapic(): fills the 0x98-byte struct. */
  getState(out: Uint8Array): void {
    const s = this.chip.getState();
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    dv.setBigUint64(0, BigInt(s.baseAddress), true);
    dv.setUint32(8, s.ioregsel, true);
    dv.setUint32(12, s.id, true);
    dv.setUint32(16, s.irr, true);
    dv.setUint32(20, 0, true);
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) {
      dv.setUint32(24 + i * 8, s.lo[i]!, true);
      dv.setUint32(28 + i * 8, s.hi[i]!, true);
    }
  }

  /** kvm_set_ioapic(): loads the state and re-injects `irr`, then restores RTC tracking. */
  setState(src: Uint8Array): void {
    const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    const lo: number[] = [];
    const hi: number[] = [];
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) {
      lo.push(dv.getUint32(24 + i * 8, true));
      hi.push(dv.getUint32(28 + i * 8, true));
    }
    this.rtcPendingEoi = 0;
    this.rtcDest.fill(-1);
    this.chip.setState(Number(dv.getBigUint64(0, true)), dv.getUint32(8, true), dv.getUint32(12, true), dv.getUint32(16, true), lo, hi);
    this.rtcRestoreAll();
    requestScanIoapic(this.kvm);
  }

  destroy(): void {
    this.kvm.sched.cancel(this.eoiInject);
  }
}
