// An 82093AA-style I/O APIC as KVM models it (arch/x86/kvm/ioapic.c: ioapic_set_irq, ioapic_service,
// ioapic_write_indirect, ioapic_read_indirect, kvm_ioapic_update_eoi_one, kvm_ioapic_reset,
// kvm_get_ioapic/kvm_set_ioapic), hypervisor-neutral: how a request reaches the LAPICs, what happens on
// an ack (resamplers), on a mask change, on an unmask with a latched request, and how soon an EOI
// re-delivers (KVM's storm guard) are hooks.
//
// 24 pins; MMIO at 0xFEC00000: IOREGSEL (+0x00, 8-bit index) and IOWIN (+0x10). Index 0 = ID (bits
// 27:24), 1 = version 0x00170011 (max redirection entry 23, version 0x11, no EOI register: KVM's), 2 =
// arbitration (reads as the ID), 0x10+2n / 0x11+2n = low / high dword of pin n; indexes past pin 23 read
// all ones. Redirection entries reset to 0x0000000000010000 (masked). A version 0x20 part (the Intel
// PCH IOxAPIC a host has) also has the EOI register at +0x40: writing a vector clears remote IRR of
// every entry with that vector (Intel PCH datasheet, IOxAPIC EOI register); KVM's ignores the offset.
//
// Pin state machine (`irr` is the latched request per pin, `remote IRR` the level-triggered in-service
// bit; line levels arrive already combined by the caller):
// - line 0: clear irr; return 1.
// - line 1, edge: if irr was already set return 0 (coalesced) else latch and service.
// - line 1, level: latch and service.
// - service: masked, or level with remote IRR set -> -1 (request stays in irr); otherwise deliver and
//   return the number of CPUs that accepted (the hook's answer); a level pin gets remote IRR = 1 unless
//   the answer was 0.
// - EOI of vector V (trigger from the LAPIC's TMR): for every pin with vector V, the ack hook runs
//   first, then (level EOI, no directed EOI) remote IRR is cleared and, if the pin is unmasked with irr
//   still set, the redelivery hook decides when to service it again.
// - guest write of an entry: delivery status and remote IRR are read-only; writing it edge-triggered
//   clears remote IRR; a mask change fires the mask hook; a level pin left unmasked with irr set and no
//   remote IRR either resamples (hook returns true: irr cleared, nothing injected) or is serviced.

import type { HwContext } from './lapic.js';
import { ApicIrq } from './apic-irq.js';
import { APIC_DEST_LOGICAL, APIC_DEST_PHYSICAL } from './apicdef.js';

export const IOAPIC_NUM_PINS = 24;
export const IOAPIC_DEFAULT_BASE_ADDRESS = 0xfec0_0000;
export const IOAPIC_MEM_LENGTH = 0x100;
export const IOAPIC_VERSION_ID = 0x11;
export const IOAPIC_REG_SELECT = 0x00;
export const IOAPIC_REG_WINDOW = 0x10;
export const IOAPIC_REG_APIC_ID = 0x00;
export const IOAPIC_REG_VERSION = 0x01;
export const IOAPIC_REG_ARB_ID = 0x02;
/** The EOI register's MMIO offset (version 0x20 and later). */
export const IOAPIC_REG_EOI = 0x40;
/** The first version with the EOI register (Linux: mpc_ioapic_ver() >= 0x20). */
export const IOAPIC_VERSION_EOI_REGISTER = 0x20;

/** Low-dword redirection entry fields. */
export const IOAPIC_RTE_VECTOR = 0xff;
export const IOAPIC_RTE_DELIVERY_MODE = 0x700;
export const IOAPIC_RTE_DEST_LOGICAL = 1 << 11;
export const IOAPIC_RTE_DELIVERY_STATUS = 1 << 12;
export const IOAPIC_RTE_POLARITY = 1 << 13;
export const IOAPIC_RTE_REMOTE_IRR = 1 << 14;
export const IOAPIC_RTE_LEVEL = 1 << 15;
export const IOAPIC_RTE_MASK = 1 << 16;

export interface IoapicHooks {
  /** Sends a request to the LAPICs; returns the number of CPUs that accepted it, or -1 if none could. */
  deliver(irq: ApicIrq, pin: number, lineStatus: boolean): number;
  /** A level-1 request is about to latch: true to report it coalesced without touching the pin (KVM's RTC tracking). */
  coalesced(pin: number, lineStatus: boolean): boolean;
  /** An EOI reached the pin (before remote IRR is cleared): ack notifiers. */
  ack(pin: number): void;
  /** The guest changed the pin's mask bit. */
  maskChanged(pin: number, masked: boolean): void;
  /** The guest unmasked a level pin whose irr is latched: true if the hypervisor resampled the line instead of injecting. */
  resampleOnUnmask(pin: number): boolean;
  /** After a level EOI cleared remote IRR: `pending` = unmasked with irr set (service it now or later). */
  eoiDone(pin: number, pending: boolean): void;
}

export interface IoapicPinState {
  readonly pin: number;
  readonly entry: bigint;
  readonly vector: number;
  readonly deliveryMode: number;
  readonly logical: boolean;
  readonly dest: number;
  readonly level: boolean;
  readonly masked: boolean;
  readonly remoteIrr: boolean;
  readonly irr: boolean;
}

export class Ioapic {
  /** Low dwords of the redirection entries. Read freely; a store that may change the vector goes
   *  through setLo (pinsOfVector follows it); other bits (remote IRR) may be stored directly. */
  readonly lo = new Uint32Array(IOAPIC_NUM_PINS);
  readonly hi = new Uint32Array(IOAPIC_NUM_PINS);
  irr = 0;
  /** Edge pins already delivered: hidden from KVM_GET_IRQCHIP's irr. */
  irrDelivered = 0;
  ioregsel = 0;
  id = 0;
  baseAddress = IOAPIC_DEFAULT_BASE_ADDRESS;
  label = 'ioapic';
  private readonly scratch = new ApicIrq();
  /** The pins programmed with each vector (bit n: pin n), kept with `lo`, so an EOI visits only those
   *  pins instead of testing all 24. Entries start zeroed: every pin has vector 0. */
  // Int32Array, not Uint32Array: the EOI loops' bit set stays an int32 (a Uint32 load merged with an
  // int32 in a loop phi makes TurboFan carry it as a double).
  private readonly pinsOfVector = new Int32Array(256).fill((1 << IOAPIC_NUM_PINS) - 1, 0, 1);

  constructor(
    readonly hooks: IoapicHooks,
    private readonly hw: HwContext,
    /** The version register's low byte: 0x11 (KVM's, the 82093AA's) or 0x20 (with the EOI register). */
    readonly version = IOAPIC_VERSION_ID,
  ) {
    this.reset();
  }

  /** kvm_ioapic_reset(): every entry masked (entries start zeroed), irr and ID cleared. */
  reset(): void {
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) this.setLo(i, this.lo[i]! | IOAPIC_RTE_MASK);
    this.baseAddress = IOAPIC_DEFAULT_BASE_ADDRESS;
    this.ioregsel = 0;
    this.irr = 0;
    this.irrDelivered = 0;
    this.id = 0;
  }

  isLevel(pin: number): boolean {
    return (this.lo[pin]! & IOAPIC_RTE_LEVEL) !== 0;
  }

  isMasked(pin: number): boolean {
    return (this.lo[pin]! & IOAPIC_RTE_MASK) !== 0;
  }

  remoteIrr(pin: number): boolean {
    return (this.lo[pin]! & IOAPIC_RTE_REMOTE_IRR) !== 0;
  }

  vector(pin: number): number {
    return this.lo[pin]! & IOAPIC_RTE_VECTOR;
  }

  /** Stores the low dword of pin's entry, keeping `pinsOfVector` current. */
  private setLo(pin: number, lo: number): void {
    const old = this.lo[pin]!;
    this.lo[pin] = lo >>> 0;
    if ((old ^ lo) & IOAPIC_RTE_VECTOR) {
      this.pinsOfVector[old & IOAPIC_RTE_VECTOR] &= ~(1 << pin);
      this.pinsOfVector[lo & IOAPIC_RTE_VECTOR] |= 1 << pin;
    }
  }

  /** The 64-bit redirection entry as a bigint (inspection). */
  entry(pin: number): bigint {
    return (BigInt(this.hi[pin]!) << 32n) | BigInt(this.lo[pin]!);
  }

  pinState(pin: number): IoapicPinState {
    const lo = this.lo[pin]!;
    return {
      pin,
      entry: this.entry(pin),
      vector: lo & IOAPIC_RTE_VECTOR,
      deliveryMode: lo & IOAPIC_RTE_DELIVERY_MODE,
      logical: (lo & IOAPIC_RTE_DEST_LOGICAL) !== 0,
      dest: this.hi[pin]! >>> 24,
      level: (lo & IOAPIC_RTE_LEVEL) !== 0,
      masked: (lo & IOAPIC_RTE_MASK) !== 0,
      remoteIrr: (lo & IOAPIC_RTE_REMOTE_IRR) !== 0,
      irr: (this.irr & (1 << pin)) !== 0,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Input lines

  /** ioapic_set_irq(): the combined line level of `pin` changed or was re-asserted. */
  setIrq(pin: number, level: boolean, lineStatus: boolean): number {
    const mask = 1 << pin;
    if (!level) {
      this.irr &= ~mask;
      return 1;
    }
    if (this.hooks.coalesced(pin, lineStatus)) return 0;
    const old = this.irr;
    this.irr |= mask;
    if (!this.isLevel(pin)) {
      this.irrDelivered &= ~mask;
      if (old === this.irr) {
        if (this.hw.trace.active) this.trace(pin, 'coalesced: edge already latched');
        return 0;
      }
    }
    return this.service(pin, lineStatus);
  }

  /** ioapic_service(): tries to deliver pin's latched request. */
  service(pin: number, lineStatus: boolean): number {
    const lo = this.lo[pin]!;
    const level = (lo & IOAPIC_RTE_LEVEL) !== 0;
    if (lo & IOAPIC_RTE_MASK || (level && lo & IOAPIC_RTE_REMOTE_IRR)) {
      if (this.hw.trace.active) this.trace(pin, lo & IOAPIC_RTE_MASK ? 'pending: pin masked' : 'pending: remote IRR set');
      return -1;
    }
    const irq = this.scratch.set(lo & IOAPIC_RTE_VECTOR, lo & IOAPIC_RTE_DELIVERY_MODE, lo & IOAPIC_RTE_DEST_LOGICAL ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL, level ? 1 : 0, this.hi[pin]! >>> 24);
    if (!level) this.irrDelivered |= 1 << pin;
    if (this.hw.trace.active) this.traceDeliver(pin, irq);
    const ret = this.hooks.deliver(irq, pin, lineStatus);
    if (ret !== 0 && level) this.lo[pin] = (this.lo[pin]! | IOAPIC_RTE_REMOTE_IRR) >>> 0;
    return ret;
  }

  // ---------------------------------------------------------------------------------------------
  // EOI

  /** kvm_ioapic_update_eoi(): a LAPIC EOI of `vector`; `trigLevel` from TMR, `directedEoi` from the LAPIC's SPIV. */
  eoi(vector: number, trigLevel: boolean, directedEoi: boolean): void {
    // Pins with the vector in ascending order; the set is re-read after each pin, because a hook may
    // reprogram entries and KVM's loop reads each entry when it reaches it.
    const pins = this.pinsOfVector;
    for (let pin = -1, m = pins[vector]!; m !== 0; m = pins[vector]! & ~((2 << pin) - 1)) {
      pin = 31 - Math.clz32(m & -m);
      this.hooks.ack(pin);
      if (!trigLevel || directedEoi) continue;
      this.lo[pin] = (this.lo[pin]! & ~IOAPIC_RTE_REMOTE_IRR) >>> 0;
      const pending = !this.isMasked(pin) && (this.irr & (1 << pin)) !== 0;
      if (this.hw.trace.active) this.trace(pin, pending ? 'EOI: remote IRR cleared, line still high' : 'EOI: remote IRR cleared');
      this.hooks.eoiDone(pin, pending);
    }
  }

  /** A write of the EOI register (version 0x20; an older part has none): remote IRR of every level
   *  entry with the vector in bits 7:0 clears; an entry whose line is still high and unmasked fires again. */
  eoiRegister(value: number): void {
    if (this.version < IOAPIC_VERSION_EOI_REGISTER) return;
    const vector = value & 0xff;
    const pins = this.pinsOfVector;
    for (let pin = -1, m = pins[vector]!; m !== 0; m = pins[vector]! & ~((2 << pin) - 1)) {
      pin = 31 - Math.clz32(m & -m);
      const lo = this.lo[pin]!;
      if ((lo & IOAPIC_RTE_REMOTE_IRR) === 0) continue;
      this.lo[pin] = (lo & ~IOAPIC_RTE_REMOTE_IRR) >>> 0;
      const pending = (lo & IOAPIC_RTE_MASK) === 0 && (this.irr & (1 << pin)) !== 0;
      if (this.hw.trace.active) this.trace(pin, pending ? 'EOI register: remote IRR cleared, line still high' : 'EOI register: remote IRR cleared');
      this.hooks.eoiDone(pin, pending);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // MMIO

  inRange(addr: number): boolean {
    return addr >= this.baseAddress && addr < this.baseAddress + IOAPIC_MEM_LENGTH;
  }

  /** ioapic_mmio_read(): `offset` within the window. */
  mmioRead(offset: number, len: number): number {
    let result: number;
    switch (offset & 0xff) {
      case IOAPIC_REG_SELECT:
        result = this.ioregsel;
        break;
      case IOAPIC_REG_WINDOW:
        result = this.readIndirect();
        break;
      default:
        result = 0;
    }
    return len >= 4 ? result >>> 0 : result & ((1 << (len * 8)) - 1);
  }

  /** ioapic_mmio_write(): 8-byte writes use their low dword. */
  mmioWrite(offset: number, len: number, value: number): void {
    let data: number;
    switch (len) {
      case 8:
      case 4:
        data = value >>> 0;
        break;
      case 2:
        data = value & 0xffff;
        break;
      case 1:
        data = value & 0xff;
        break;
      default:
        return;
    }
    switch (offset & 0xff) {
      case IOAPIC_REG_SELECT:
        this.ioregsel = data & 0xff;
        break;
      case IOAPIC_REG_WINDOW:
        this.writeIndirect(data);
        break;
      case IOAPIC_REG_EOI:
        this.eoiRegister(data);
        break;
      default:
        break;
    }
  }

  private readIndirect(): number {
    switch (this.ioregsel) {
      case IOAPIC_REG_VERSION:
        return (((IOAPIC_NUM_PINS - 1) & 0xff) << 16) | (this.version & 0xff);
      case IOAPIC_REG_APIC_ID:
      case IOAPIC_REG_ARB_ID:
        return ((this.id & 0xf) << 24) >>> 0;
      default: {
        const index = (this.ioregsel - 0x10) >> 1;
        if (index < 0 || index >= IOAPIC_NUM_PINS) return 0xffff_ffff;
        return this.ioregsel & 1 ? this.hi[index]! : this.lo[index]!;
      }
    }
  }

  /** ioapic_write_indirect(). */
  private writeIndirect(val: number): void {
    switch (this.ioregsel) {
      case IOAPIC_REG_VERSION:
        return;
      case IOAPIC_REG_APIC_ID:
        this.id = (val >>> 24) & 0xf;
        return;
      case IOAPIC_REG_ARB_ID:
        return;
      default: {
        const index = (this.ioregsel - 0x10) >> 1;
        if (index < 0 || index >= IOAPIC_NUM_PINS) return;
        this.writeEntry(index, this.ioregsel & 1 ? 'hi' : 'lo', val);
      }
    }
  }

  /** A guest write of one dword of a redirection entry, with the read-only and side-effect rules. */
  writeEntry(pin: number, half: 'lo' | 'hi', val: number): void {
    const oldLo = this.lo[pin]!;
    const maskBefore = (oldLo & IOAPIC_RTE_MASK) !== 0;
    if (half === 'hi') {
      this.hi[pin] = val >>> 0;
    } else {
      const ro = oldLo & (IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_DELIVERY_STATUS);
      this.setLo(pin, (val & ~(IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_DELIVERY_STATUS)) | ro);
    }
    let lo = this.lo[pin]!;
    // Linux and Xen rely on an edge write clearing remote IRR (the 82093AA has no EOI register).
    if (!(lo & IOAPIC_RTE_LEVEL)) {
      lo &= ~IOAPIC_RTE_REMOTE_IRR;
      this.lo[pin] = lo >>> 0;
    }
    const maskAfter = (lo & IOAPIC_RTE_MASK) !== 0;
    if (maskBefore !== maskAfter) this.hooks.maskChanged(pin, maskAfter);
    lo = this.lo[pin]!;
    if (lo & IOAPIC_RTE_LEVEL && this.irr & (1 << pin) && !(lo & IOAPIC_RTE_MASK) && !(lo & IOAPIC_RTE_REMOTE_IRR)) {
      if (this.hooks.resampleOnUnmask(pin)) {
        this.irr &= ~(1 << pin);
        if (this.hw.trace.active) this.trace(pin, 'unmasked with irr latched: resampled, not injected');
      } else {
        this.service(pin, false);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Save/restore (kvm_ioapic_state)

  /** kvm_get_ioapic(): irr is reported without edge requests already delivered. */
  getState(): { baseAddress: number; ioregsel: number; id: number; irr: number; lo: Uint32Array; hi: Uint32Array } {
    return { baseAddress: this.baseAddress, ioregsel: this.ioregsel, id: this.id, irr: (this.irr & ~this.irrDelivered) >>> 0, lo: this.lo.slice(), hi: this.hi.slice() };
  }

  /** kvm_set_ioapic(): loads the state, then re-asserts every pin in `irr` (line_status = true). */
  setState(baseAddress: number, ioregsel: number, id: number, irr: number, lo: ArrayLike<number>, hi: ArrayLike<number>): void {
    this.baseAddress = baseAddress;
    this.ioregsel = ioregsel;
    this.id = id;
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) {
      this.setLo(i, lo[i]!);
      this.hi[i] = hi[i]! >>> 0;
    }
    this.irr = 0;
    this.irrDelivered = 0;
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) if (irr & (1 << pin)) this.setIrq(pin, true, true);
  }

  private traceDeliver(pin: number, irq: ApicIrq): void {
    this.trace(pin, `deliver vector 0x${irq.vector.toString(16)} ${irq.trigMode ? 'level' : 'edge'} to ${irq.destMode ? 'logical' : 'apic'} 0x${irq.destId.toString(16)}`);
  }

  private trace(pin: number, detail: string): void {
    this.hw.trace.emit({ type: 'irq', t: this.hw.sched.now, hop: 'ioapic', at: `${this.label} pin ${pin}`, vector: this.vector(pin), detail });
  }
}

