// KVM's in-kernel 8259 pair (arch/x86/kvm/i8259.c): per-pin source bitmaps (line = OR of sources),
// ack notifiers on PIC EOIs (pic_clear_isr -> kvm_notify_acked_irq), waking a vCPU whose LAPIC accepts
// ExtINT when INTR rises (pic_unlock), the PIO devices at 0x20/0x21, 0xA0/0xA1 and 0x4D0/0x4D1, and
// KVM_GET/SET_IRQCHIP for chips 0 and 1. The chips themselves are src/hw/x86/i8259.ts.

import { PicPair, PIC_NUM_PINS, type PicHooks } from '../../hw/x86/i8259.js';
import { KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE } from '../../../include-ts/linux/kvm.js';
import type { IoDevice } from './io-bus.js';
import type { Kvm } from './vm.js';

export class KvmPic implements PicHooks {
  readonly chips: PicPair;
  readonly irqStates = new Uint32Array(PIC_NUM_PINS);

  constructor(private readonly kvm: Kvm) {
    this.chips = new PicPair(this, kvm.hw);
    this.chips.label = `vm${kvm.id} pic`;
    const ports = (base: number): IoDevice => ({
      read: (addr, len) => (addr >= base && addr < base + 2 ? this.chips.pioRead(addr, len) : -1),
      write: (addr, len, v) => {
        if (addr < base || addr >= base + 2) return false;
        this.chips.pioWrite(addr, len, v);
        return true;
      },
    });
    kvm.pioBus.register(0x20, 2, ports(0x20));
    kvm.pioBus.register(0xa0, 2, ports(0xa0));
    kvm.pioBus.register(0x4d0, 2, ports(0x4d0));
  }

  /** kvm_pic_set_irq(): `pin` 0-15 (slave pins 8-15). */
  setIrq(pin: number, sourceId: number, level: boolean): number {
    const st = level ? this.irqStates[pin]! | (1 << sourceId) : this.irqStates[pin]! & ~(1 << sourceId);
    this.irqStates[pin] = st;
    return this.chips.setIrq(pin, st !== 0);
  }

  get output(): boolean {
    return this.chips.output;
  }

  /** kvm_pic_read_irq(). */
  readIrq(): number {
    return this.chips.readIrq();
  }

  ack(irq: number): void {
    this.kvm.notifyAckedIrq(irq < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, irq);
  }

  /** pic_ioport_write() OCW1: an IMR bit changed; `irq` is 0-15 over both chips (kvm_fire_mask_notifiers). */
  maskChanged(irq: number, masked: boolean): void {
    this.kvm.fireMaskNotifiers(irq < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, irq, masked);
  }

  wakeup(): void {
    for (const v of this.kvm.vcpus) {
      if (v.lapic && v.lapic.acceptsPicInterrupt()) {
        v.kick();
        return;
      }
    }
  }

  anyCpuAcceptsPic(): boolean {
    return this.kvm.vcpus.some((v) => v.lapic !== null && v.lapic.acceptsPicInterrupt());
  }

  getState(chip: number, out: Uint8Array): void {
    this.chips.pics[chip]!.toBytes(out);
  }

  /** KVM_SET_IRQCHIP: loads the chip, then kvm_pic_update_irq(). */
  setState(chip: number, src: Uint8Array): void {
    this.chips.pics[chip]!.fromBytes(src);
    this.chips.update();
  }
}
