// The 8259A PIC pair (master at 0x20/0x21, slave at 0xA0/0xA1 cascaded on master pin 2, ELCR at
// 0x4D0/0x4D1) as KVM models it (arch/x86/kvm/i8259.c: pic_set_irq1, pic_get_irq, pic_update_irq,
// pic_intack, kvm_pic_read_irq, pic_ioport_read/write, kvm_pic_reset). Hypervisor-neutral: acks (for
// resamplers), mask changes and the INTR output go through hooks.
//
// KVM creates the pair zeroed: IMR = 0x00 (every pin unmasked!), ELCR = 0 (edge), vector base 0, and
// only ICW1 runs kvm_pic_reset. The ELCR masks are 0xF8 (master) and 0xDE (slave).
// pic_set_irq1 return convention (used by KVM_IRQ_LINE_STATUS): edge pin rising while not latched
// -> 1 if it was not already in irr, 0 if it was (coalesced); a repeated high level on an edge pin
// returns 1 without latching; a falling edge returns 1; a masked pin returns -1.

import type { HwContext } from './lapic.js';

export const PIC_NUM_PINS = 16;

export interface PicHooks {
  /** pic_clear_isr(): an EOI (or auto-EOI) of `irq` (0-15): ack notifiers. */
  ack(irq: number): void;
  /** OCW1 changed the mask bit of `irq` (0-15). */
  maskChanged(irq: number, masked: boolean): void;
  /** The INTR output went from low to high: wake a vCPU that accepts PIC interrupts. */
  wakeup(): void;
  /** Whether some CPU accepts PIC interrupts (kvm_pic_reset clears edge ISR bits only then). */
  anyCpuAcceptsPic(): boolean;
}

/** One 8259 (struct kvm_kpic_state; the fields of struct kvm_pic_state, in that order). */
export class PicChip {
  lastIrr = 0;
  irr = 0;
  imr = 0;
  isr = 0;
  priorityAdd = 0;
  irqBase = 0;
  readRegSelect = 0;
  poll = 0;
  specialMask = 0;
  initState = 0;
  autoEoi = 0;
  rotateOnAutoEoi = 0;
  specialFullyNestedMode = 0;
  init4 = 0;
  elcr = 0;
  elcrMask: number;

  constructor(
    readonly pair: PicPair,
    readonly master: boolean,
  ) {
    this.elcrMask = master ? 0xf8 : 0xde;
  }

  /** The 16 bytes of struct kvm_pic_state. */
  toBytes(out: Uint8Array, at = 0): void {
    const f = [this.lastIrr, this.irr, this.imr, this.isr, this.priorityAdd, this.irqBase, this.readRegSelect, this.poll, this.specialMask, this.initState, this.autoEoi, this.rotateOnAutoEoi, this.specialFullyNestedMode, this.init4, this.elcr, this.elcrMask];
    for (let i = 0; i < 16; i++) out[at + i] = f[i]! & 0xff;
  }

  fromBytes(b: Uint8Array, at = 0): void {
    [this.lastIrr, this.irr, this.imr, this.isr, this.priorityAdd, this.irqBase, this.readRegSelect, this.poll, this.specialMask, this.initState, this.autoEoi, this.rotateOnAutoEoi, this.specialFullyNestedMode, this.init4, this.elcr, this.elcrMask] = Array.from(b.subarray(at, at + 16));
  }

  /** pic_set_irq1(): returns 1 (delivered or de-asserted), 0 (coalesced) or -1 (masked). */
  setIrq1(irq: number, level: boolean): number {
    const mask = 1 << irq;
    let ret = 1;
    if (this.elcr & mask) {
      if (level) {
        ret = this.irr & mask ? 0 : 1;
        this.irr |= mask;
        this.lastIrr |= mask;
      } else {
        this.irr &= ~mask;
        this.lastIrr &= ~mask;
      }
    } else if (level) {
      if ((this.lastIrr & mask) === 0) {
        ret = this.irr & mask ? 0 : 1;
        this.irr |= mask;
      }
      this.lastIrr |= mask;
    } else {
      this.lastIrr &= ~mask;
    }
    return this.imr & mask ? -1 : ret;
  }

  /** get_priority(): 8 if `mask` is empty. */
  priority(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while ((mask & (1 << ((p + this.priorityAdd) & 7))) === 0) p++;
    return p;
  }

  /** pic_get_irq(): the pin this chip wants to raise, or -1. */
  getIrq(): number {
    let mask = this.irr & ~this.imr;
    const p = this.priority(mask);
    if (p === 8) return -1;
    mask = this.isr;
    if (this.specialFullyNestedMode && this.master) mask &= ~(1 << 2);
    const cur = this.priority(mask);
    return p < cur ? (p + this.priorityAdd) & 7 : -1;
  }

  /** pic_intack(). */
  intack(irq: number): void {
    this.isr |= 1 << irq;
    if (!(this.elcr & (1 << irq))) this.irr &= ~(1 << irq);
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
      this.clearIsr(irq);
    }
  }

  /** pic_clear_isr(): clears the ISR bit and runs the ack hook (slave pins are 8-15). */
  clearIsr(irq: number): void {
    this.isr &= ~(1 << irq);
    this.pair.hooks.ack(this.master ? irq : irq + 8);
  }

  /** kvm_pic_reset() (ICW1). */
  reset(): void {
    const edgeIrr = this.irr & ~this.elcr;
    this.lastIrr = 0;
    this.irr &= this.elcr;
    this.imr = 0;
    this.priorityAdd = 0;
    this.specialMask = 0;
    this.readRegSelect = 0;
    if (!this.init4) {
      this.specialFullyNestedMode = 0;
      this.autoEoi = 0;
    }
    this.initState = 1;
    if (!this.pair.hooks.anyCpuAcceptsPic()) return;
    for (let irq = 0; irq < 8; irq++) if (edgeIrr & (1 << irq)) this.clearIsr(irq);
  }

  /** pic_ioport_write(): `addr` bit 0 selects command (0) or data (1). */
  ioportWrite(addr: number, val: number): void {
    if ((addr & 1) === 0) {
      if (val & 0x10) {
        this.init4 = val & 1;
        this.reset();
      } else if (val & 0x08) {
        if (val & 0x04) this.poll = 1;
        if (val & 0x02) this.readRegSelect = val & 1;
        if (val & 0x40) this.specialMask = (val >> 5) & 1;
      } else {
        const cmd = val >> 5;
        switch (cmd) {
          case 0:
          case 4:
            this.rotateOnAutoEoi = cmd >> 2;
            break;
          case 1:
          case 5: {
            const p = this.priority(this.isr);
            if (p !== 8) {
              const irq = (p + this.priorityAdd) & 7;
              if (cmd === 5) this.priorityAdd = (irq + 1) & 7;
              this.clearIsr(irq);
              this.pair.update();
            }
            break;
          }
          case 3:
            this.clearIsr(val & 7);
            this.pair.update();
            break;
          case 6:
            this.priorityAdd = (val + 1) & 7;
            this.pair.update();
            break;
          case 7: {
            const irq = val & 7;
            this.priorityAdd = (irq + 1) & 7;
            this.clearIsr(irq);
            this.pair.update();
            break;
          }
          default:
            break;
        }
      }
      return;
    }
    switch (this.initState) {
      case 0: {
        const diff = this.imr ^ val;
        this.imr = val & 0xff;
        const off = this.master ? 0 : 8;
        for (let irq = 0; irq < 8; irq++) if (diff & (1 << irq)) this.pair.hooks.maskChanged(irq + off, (this.imr & (1 << irq)) !== 0);
        this.pair.update();
        break;
      }
      case 1:
        this.irqBase = val & 0xf8;
        this.initState = 2;
        break;
      case 2:
        this.initState = this.init4 ? 3 : 0;
        break;
      case 3:
        this.specialFullyNestedMode = (val >> 4) & 1;
        this.autoEoi = (val >> 1) & 1;
        this.initState = 0;
        break;
    }
  }

  /** pic_poll_read(). */
  private pollRead(addr1: number): number {
    let ret = this.getIrq();
    if (ret >= 0) {
      const m = this.pair.pics[0];
      if (addr1 >> 7) {
        m.isr &= ~(1 << 2);
        m.irr &= ~(1 << 2);
      }
      this.irr &= ~(1 << ret);
      this.clearIsr(ret);
      if (addr1 >> 7 || ret !== 2) this.pair.update();
      ret |= 0x80;
    } else {
      ret = 0x07;
      this.pair.update();
    }
    return ret;
  }

  /** pic_ioport_read(). */
  ioportRead(addr: number): number {
    if (this.poll) {
      const r = this.pollRead(addr);
      this.poll = 0;
      return r;
    }
    if ((addr & 1) === 0) return this.readRegSelect ? this.isr : this.irr;
    return this.imr;
  }
}

export class PicPair {
  readonly pics: [PicChip, PicChip];
  /** The INTR line to the CPUs (kvm_pic.output). */
  output = false;
  label = 'pic';

  constructor(
    readonly hooks: PicHooks,
    private readonly hw: HwContext,
  ) {
    this.pics = [new PicChip(this, true), new PicChip(this, false)];
  }

  /** kvm_pic_set_irq() below the source bitmap: `level` is the combined line of pin `irq` (0-15). */
  setIrq(irq: number, level: boolean): number {
    const ret = this.pics[irq >> 3]!.setIrq1(irq & 7, level);
    if (this.hw.trace.active) this.hw.trace.emit({ type: 'irq', t: this.hw.sched.now, hop: 'pic', at: `${this.label} pin ${irq}`, detail: `${level ? 'assert' : 'deassert'} -> ${ret === -1 ? 'masked' : ret === 0 ? 'coalesced' : 'latched'}` });
    this.update();
    return ret;
  }

  /** pic_update_irq(): cascades the slave into master pin 2 and recomputes INTR. */
  update(): void {
    const irq2 = this.pics[1].getIrq();
    if (irq2 >= 0) {
      this.pics[0].setIrq1(2, true);
      this.pics[0].setIrq1(2, false);
    }
    const irq = this.pics[0].getIrq();
    const level = irq >= 0;
    const wake = level && !this.output;
    this.output = level;
    if (wake) this.hooks.wakeup();
  }

  /** kvm_pic_read_irq(): INTA cycle; returns the vector. */
  readIrq(): number {
    this.output = false;
    const [m, s] = this.pics;
    let intno: number;
    const irq = m.getIrq();
    if (irq >= 0) {
      m.intack(irq);
      if (irq === 2) {
        let irq2 = s.getIrq();
        if (irq2 >= 0) s.intack(irq2);
        else irq2 = 7;
        intno = s.irqBase + irq2;
      } else {
        intno = m.irqBase + irq;
      }
    } else {
      intno = m.irqBase + 7;
    }
    this.update();
    return intno;
  }

  /** The PIO ports the pair decodes. */
  static handles(port: number): boolean {
    return port === 0x20 || port === 0x21 || port === 0xa0 || port === 0xa1 || port === 0x4d0 || port === 0x4d1;
  }

  /** picdev_read(): only byte accesses; other sizes read 0. */
  pioRead(port: number, len: number): number {
    if (len !== 1) return 0;
    switch (port) {
      case 0x20: case 0x21: return this.pics[0].ioportRead(port);
      case 0xa0: case 0xa1: return this.pics[1].ioportRead(port);
      case 0x4d0: return this.pics[0].elcr;
      case 0x4d1: return this.pics[1].elcr;
      default: return 0;
    }
  }

  /** picdev_write(): only byte accesses; other sizes are ignored. */
  pioWrite(port: number, len: number, val: number): void {
    if (len !== 1) return;
    switch (port) {
      case 0x20: case 0x21: this.pics[0].ioportWrite(port, val & 0xff); break;
      case 0xa0: case 0xa1: this.pics[1].ioportWrite(port, val & 0xff); break;
      case 0x4d0: this.pics[0].elcr = val & this.pics[0].elcrMask; break;
      case 0x4d1: this.pics[1].elcr = val & this.pics[1].elcrMask; break;
    }
  }
}
