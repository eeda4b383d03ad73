// arch/x86/kernel/apic/io_apic.c with interrupt remapping (the "IR-IO-APIC" chip): every GSI a PCI
// interrupt pin is routed to (ACPI _PRT) is mapped at boot to Linux irq = GSI, level-triggered and
// active-low, with a vector, a remapping table entry (host vector, destination CPU, trigger level,
// the I/O APIC's source-id) and a redirection entry in remappable format whose vector field holds the
// pin number ("IO-APIC RTE will be configured with virtual vector"), masked until request_irq()
// starts the line up. The chip masks and unmasks by rewriting the entry; its EOI (ioapic_ir_ack_level)
// acknowledges the local APIC and then EOIs the pin itself with __eoi_ioapic_pin(): an I/O APIC of
// version 0x20 or later (mpc_ioapic_ver(), read from the version register at registration) has an EOI
// register, written with the entry's vector field, which under remapping holds the pin number
// (io_apic_eoi); an older one has none, so the entry is rewritten as masked edge (which clears remote
// IRR) and written back. Either way a line still asserted then fires again.

import { IOAPIC_REG_SELECT, IOAPIC_REG_VERSION, IOAPIC_REG_WINDOW, IOAPIC_RTE_LEVEL, IOAPIC_RTE_MASK, IOAPIC_RTE_POLARITY, IOAPIC_VERSION_EOI_REGISTER, type Ioapic } from '../../../hw/x86/ioapic.js';
import { IOAPIC_RTE_HI_FORMAT_REMAPPABLE, IOAPIC_RTE_HI_INDEX_SHIFT, IOAPIC_RTE_LO_INDEX15, IOAPIC_SOURCE_ID, type PcInterrupts } from '../../../hw/x86/pc-interrupts.js';
import { irteSid, type IntelIrqRemapping } from '../../iommu/intel-irq-remapping.js';
import type { IrqCore } from '../../irq/irq-core.js';
import { FLOW_FASTEOI, IrqDesc, type IrqChip } from '../../irq/irqdesc.js';

const MASK = IOAPIC_RTE_MASK;
const LEVEL = IOAPIC_RTE_LEVEL;

/** The per-line data of the chip (struct mp_chip_data). */
export interface IoapicPinData {
  readonly pin: number;
  readonly irte: number;
}

export class IoapicIrChip implements IrqChip {
  readonly name = 'IR-IO-APIC';
  private readonly ioapic: Ioapic;
  /** mpc_ioapic_ver(): the version register's low byte, read when the I/O APIC was registered. */
  version = 0;

  constructor(private readonly pc: PcInterrupts) {
    this.ioapic = pc.ioapic;
  }

  private pin(desc: IrqDesc): number {
    return (desc.chipData as IoapicPinData).pin;
  }

  mask(desc: IrqDesc): void {
    const pin = this.pin(desc);
    this.pc.writeEntry(pin, 'lo', (this.ioapic.lo[pin]! | MASK) >>> 0);
  }

  unmask(desc: IrqDesc): void {
    const pin = this.pin(desc);
    this.pc.writeEntry(pin, 'lo', (this.ioapic.lo[pin]! & ~MASK) >>> 0);
  }

  ack(): void {}

  /** ioapic_ir_ack_level(): apic_ack_irq(), then __eoi_ioapic_pin(). */
  eoi(desc: IrqDesc): void {
    const pin = this.pin(desc);
    // The entry's vector field holds the pin (remappable format).
    if (this.version >= IOAPIC_VERSION_EOI_REGISTER) return this.pc.writeEoi(pin);
    const entry = this.ioapic.lo[pin]!;
    this.pc.writeEntry(pin, 'lo', ((entry | MASK) & ~LEVEL) >>> 0);
    this.pc.writeEntry(pin, 'lo', entry);
  }

  retrigger(): boolean {
    return false;
  }
}

export class IoapicDomain {
  readonly chip: IoapicIrChip;

  private readonly ioapic: Ioapic;

  constructor(
    private readonly core: IrqCore,
    pc: PcInterrupts,
    private readonly ir: IntelIrqRemapping,
  ) {
    this.ioapic = pc.ioapic;
    this.chip = new IoapicIrChip(pc);
    this.ioapic.id = 8;
    // mp_register_ioapic(): io_apic_get_version().
    this.ioapic.mmioWrite(IOAPIC_REG_SELECT, 4, IOAPIC_REG_VERSION);
    this.chip.version = this.ioapic.mmioRead(IOAPIC_REG_WINDOW, 4) & 0xff;
  }

  /** __ioapic_write_entry(): high dword first, through IOREGSEL/IOWIN. */
  private writeRte(pin: number, lo: number, hi: number): void {
    const io = this.ioapic;
    io.mmioWrite(IOAPIC_REG_SELECT, 4, 0x10 + 2 * pin + 1);
    io.mmioWrite(IOAPIC_REG_WINDOW, 4, hi);
    io.mmioWrite(IOAPIC_REG_SELECT, 4, 0x10 + 2 * pin);
    io.mmioWrite(IOAPIC_REG_WINDOW, 4, lo);
  }

  /** mp_map_gsi_to_irq() for a PCI GSI: irq = gsi, level low, remapped, masked. */
  mapGsi(gsi: number): IrqDesc {
    const existing = this.core.desc(gsi);
    if (existing) return existing;
    const desc = new IrqDesc(gsi, gsi, this.chip, FLOW_FASTEOI, true, this.core.kstat);
    if (!this.core.matrix.assign(desc)) throw new Error(`no vector left for IO-APIC pin ${gsi}`);
    const irte = this.ir.alloc(1);
    desc.chipData = { pin: gsi, irte } satisfies IoapicPinData;
    this.ir.modify(irte, desc.vector, this.core.cpus[desc.cpu]!.apicId, true, irteSid(IOAPIC_SOURCE_ID)); // set_ioapic_sid()
    const hi = (((irte & 0x7fff) << IOAPIC_RTE_HI_INDEX_SHIFT) | IOAPIC_RTE_HI_FORMAT_REMAPPABLE) >>> 0;
    const lo = (gsi | LEVEL | IOAPIC_RTE_POLARITY | MASK | (irte & 0x8000 ? IOAPIC_RTE_LO_INDEX15 : 0)) >>> 0;
    this.writeRte(gsi, lo, hi);
    this.core.install(desc);
    return desc;
  }
}
