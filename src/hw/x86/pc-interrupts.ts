// The interrupt wiring of a PC as the board provides it (Intel 82093AA I/O APIC datasheet; VT-d spec
// 3.x ch. 5): the platform interrupt lines (GSIs 0-23) are the inputs of one I/O APIC; the I/O APIC's
// interrupt messages and every PCI function's MSI/MSI-X writes enter the VT-d unit, which remaps them
// (or, with remapping off, passes compatibility-format messages through) onto the APIC bus, where the
// CPUs' local APICs accept them. The operating system programs these parts (redirection entries,
// the remapping table, message addresses); this file only connects them.
//
// The I/O APIC is version 0x20, as Intel PCH IOxAPICs are: it has the EOI register.
//
// An I/O APIC redirection entry in remappable format (VT-d 5.1.5.1) carries the interrupt index in
// bits 63:49 and 11 with bit 48 set; the request it sends carries the I/O APIC's source-id (from the
// DMAR device scope) and selects that index, like a remappable MSI with SHV=0. A level entry's remote
// IRR stays set until software EOIs the pin; if the line is still high then, the entry fires again.
// The message leaves the I/O APIC (and sets remote IRR) before any CPU can act on it: requests are
// posted and sent once the I/O APIC operation that produced them has finished, so the entry points
// below (an input line changing, software writing an entry) each end by sending what was posted.

import type { Machine } from '../machine.js';
import { PhysMemory } from '../memory.js';
import type { IntxLine } from '../pci/intx.js';
import type { DrhdUnit } from '../iommu/vtd/drhd.js';
import { remappableMsiAddress } from '../iommu/vtd/msi-format.js';
import { VtdPlatform, type DrhdDescription } from '../iommu/vtd/vtd.js';
import { ApicBus } from './apic-bus.js';
import type { ApicIrq } from './apic-irq.js';
import { Ioapic, IOAPIC_NUM_PINS, IOAPIC_VERSION_EOI_REGISTER, type IoapicHooks } from './ioapic.js';

/** Redirection entry, high dword: bit 48 (interrupt format: remappable). */
export const IOAPIC_RTE_HI_FORMAT_REMAPPABLE = 1 << 16;
/** High dword bits 31:17 (entry bits 63:49): interrupt index bits 14:0. */
export const IOAPIC_RTE_HI_INDEX_SHIFT = 17;
/** Low dword bit 11: interrupt index bit 15 (remappable format). */
export const IOAPIC_RTE_LO_INDEX15 = 1 << 11;

/** The I/O APIC's source-id in the DMAR table's device scope (bus 0xf0, device 0x1f, function 0). */
export const IOAPIC_SOURCE_ID = 0xf0f8;

// Module-local copies for the per-interrupt path.
const HI_FORMAT_REMAPPABLE = IOAPIC_RTE_HI_FORMAT_REMAPPABLE;
const HI_INDEX_SHIFT = IOAPIC_RTE_HI_INDEX_SHIFT;
const LO_INDEX15 = IOAPIC_RTE_LO_INDEX15;
/** remappableMsiAddress() for a handle, precomputed parts (signed 32-bit, see MsiSink). */
const ADDR_REMAPPABLE = remappableMsiAddress(0) | 0;
const ADDR_HANDLE15 = remappableMsiAddress(0x8000) ^ remappableMsiAddress(0);

export class PcInterrupts implements IoapicHooks {
  /** Machine memory for structures the OS hands to hardware by address (the remapping table). */
  readonly mem = new PhysMemory();
  readonly bus = new ApicBus();
  readonly ioapic: Ioapic;
  readonly vtd: VtdPlatform;
  /** The unit the I/O APIC's requests go through (the INCLUDE_PCI_ALL one). */
  readonly ioapicUnit: DrhdUnit;
  /** Requests the I/O APIC sent (inspection). */
  ioapicMessages = 0;
  /** Posted requests (a ring): the interrupt index (remappable), or -1 - (vector | delivery mode | dest << 11). */
  private posted = new Int32Array(64);
  private postedHead = 0;
  private postedTail = 0;
  private sending = false;

  constructor(
    readonly machine: Machine,
    dmar: readonly DrhdDescription[] = [{ scope: 'all' }],
  ) {
    this.ioapic = new Ioapic(this, machine, IOAPIC_VERSION_EOI_REGISTER);
    this.ioapic.label = 'IO-APIC';
    this.vtd = new VtdPlatform(dmar, this.mem, this.bus, machine.sched, machine.trace, machine.pci);
    this.ioapicUnit = this.vtd.units[this.vtd.units.length - 1]!;
    machine.pci.msiRouter.target = this.vtd;
    machine.iommu.intRemap = this.vtd;
    for (const [gsi, line] of machine.pci.lines) if (gsi < IOAPIC_NUM_PINS) line.listener = this.onLine;
  }

  /** A platform line changed level: the I/O APIC input of the same number follows it. */
  private readonly onLine = (line: IntxLine, level: boolean): void => {
    this.ioapic.setIrq(line.gsi, level, level);
    if (this.postedTail !== this.postedHead) this.send();
  };

  /** Software writes one dword of a redirection entry (the indirect IOREGSEL/IOWIN access). */
  writeEntry(pin: number, half: 'lo' | 'hi', value: number): void {
    this.ioapic.writeEntry(pin, half, value);
    if (this.postedTail !== this.postedHead) this.send();
  }

  /** Software writes the I/O APIC's EOI register (a dword store at +0x40). */
  writeEoi(vector: number): void {
    this.ioapic.eoiRegister(vector);
    if (this.postedTail !== this.postedHead) this.send();
  }

  private post(m: number): void {
    if (this.postedTail - this.postedHead === this.posted.length) this.growPosted();
    const q = this.posted;
    q[this.postedTail++ & (q.length - 1)] = m;
  }

  private growPosted(): void {
    const q = this.posted;
    const bigger = new Int32Array(q.length * 2);
    for (let i = this.postedHead; i < this.postedTail; i++) bigger[i - this.postedHead] = q[i & (q.length - 1)]!;
    this.postedTail -= this.postedHead;
    this.postedHead = 0;
    this.posted = bigger;
  }

  /** Sends the posted requests to the remapping unit, in order (more may be posted meanwhile). */
  private send(): void {
    if (this.sending) return;
    this.sending = true;
    while (this.postedHead !== this.postedTail) {
      const q = this.posted;
      const m = q[this.postedHead++ & (q.length - 1)]!;
      if (m >= 0) this.ioapicUnit.deliverMsi(IOAPIC_SOURCE_ID, ADDR_REMAPPABLE | ((m & 0x7fff) << 5) | (m & 0x8000 ? ADDR_HANDLE15 : 0), 0, 0);
      else {
        const c = -1 - m;
        this.ioapicUnit.deliverMsi(IOAPIC_SOURCE_ID, (0xfee0_0000 | ((c >>> 11) << 12)) | 0, 0, c & 0x7ff);
      }
    }
    this.postedHead = this.postedTail = 0;
    this.sending = false;
  }

  // ---- IoapicHooks: what the board does with the I/O APIC's outputs ------------------------------

  deliver(irq: ApicIrq, pin: number): number {
    this.ioapicMessages++;
    const hi = this.ioapic.hi[pin]!;
    if (hi & HI_FORMAT_REMAPPABLE) {
      this.post(((hi >>> HI_INDEX_SHIFT) & 0x7fff) | (this.ioapic.lo[pin]! & LO_INDEX15 ? 0x8000 : 0));
    } else {
      this.post(-1 - (irq.vector | (irq.deliveryMode & 0x700) | ((irq.destId & 0xff) << 11)));
    }
    // The message left the I/O APIC: a level entry's remote IRR is set whatever the target did with it.
    return 1;
  }

  coalesced(): boolean {
    return false;
  }

  ack(): void {}

  maskChanged(): void {}

  resampleOnUnmask(): boolean {
    return false;
  }

  /** Remote IRR cleared by an EOI with the input still high: the entry fires again. */
  eoiDone(pin: number, pending: boolean): void {
    if (pending) this.ioapic.service(pin, true);
  }
}
