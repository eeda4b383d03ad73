// A generic MSI-X guest driver, the way Linux's pci_msix_enable + request_irq sequence touches the
// device: set MSI-X Enable with Function Mask in the capability's Message Control, write each table
// entry's address, upper address and data, clear its Vector Control mask bit, clear Function Mask;
// then idle in `sti; hlt`. Each vector's handler counts (the CPU's per-vector counter, plus an optional
// acknowledge register write the device wants) and EOIs. Table writes are MMIO to the BAR that holds
// the table: they reach the device directly when the BAR is a memory slot, or exit to the VMM
// (KVM_EXIT_MMIO) when the VMM traps the table, as real VMMs do. Helpers are exported for programs
// that mask and unmask entries at run time.

import { GuestAsm, GuestProgram, r14, type GuestCpuView } from '../program.js';
import { enableLapic, maskPic } from '../x86.js';
import { pciConfigWrite, type Bdf } from '../pci.js';
import { msiAddress, msiData } from '../../hw/x86/msi.js';

export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0x0;
export const PCI_MSIX_ENTRY_UPPER_ADDR = 0x4;
export const PCI_MSIX_ENTRY_DATA = 0x8;
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 0xc;
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;

export interface MsixVector {
  /** Table entry index. */
  readonly entry: number;
  /** CPU vector the entry's message carries and the handler is installed on. */
  readonly vector: number;
  /** Destination APIC ID (physical). */
  readonly dest?: number;
  /** Leave the entry masked after setup. */
  readonly masked?: boolean;
}

export interface MsixDriverOptions {
  /** Guest-physical address of the MSI-X table. */
  readonly tableAddr: number;
  readonly vectors: readonly MsixVector[];
  /** Config-space location of the MSI-X capability; without it the enable step is left to the VMM. */
  readonly cap?: { readonly bdf: Bdf; readonly offset: number };
  /** A device register the handler writes the vector to before EOI (an interrupt acknowledge). */
  readonly ackAddr?: number;
  /** Runs in the handler (e.g. to record the order of deliveries). */
  readonly onInterrupt?: (cpu: GuestCpuView) => void;
  /**
   * Mask the entry for the duration of the handler, as Linux does for oneshot/threaded MSI-X handlers
   * and under interrupt storms (seed 004): msi_set_mask_bit() writes Vector Control and reads the
   * table back to flush the write; the unmask write follows the EOI.
   */
  readonly maskInHandler?: boolean;
}

export function msixEntryAddr(table: number, entry: number, field: number): number {
  return table + entry * PCI_MSIX_ENTRY_SIZE + field;
}

/** Writes an entry's message (address, upper address, data). */
export function msixProgramEntry(a: GuestAsm, table: number, entry: number, address: number, data: number): GuestAsm {
  a.store32(msixEntryAddr(table, entry, PCI_MSIX_ENTRY_LOWER_ADDR), address >>> 0);
  a.store32(msixEntryAddr(table, entry, PCI_MSIX_ENTRY_UPPER_ADDR), 0);
  return a.store32(msixEntryAddr(table, entry, PCI_MSIX_ENTRY_DATA), data >>> 0);
}

/** Sets or clears an entry's Vector Control mask bit. */
export function msixMaskEntry(a: GuestAsm, table: number, entry: number, masked: boolean): GuestAsm {
  return a.store32(msixEntryAddr(table, entry, PCI_MSIX_ENTRY_VECTOR_CTRL), masked ? 1 : 0);
}

export function msixDriver(o: MsixDriverOptions): GuestProgram {
  const a = new GuestAsm('msix');
  a.label('start');
  maskPic(a);
  enableLapic(a);
  if (o.cap) {
    pciConfigWrite(a, o.cap.bdf, 0x04, 2, 0x0006);
    pciConfigWrite(a, o.cap.bdf, o.cap.offset + 2, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  }
  for (const v of o.vectors) {
    msixProgramEntry(a, o.tableAddr, v.entry, msiAddress(v.dest ?? 0), msiData(v.vector));
    msixMaskEntry(a, o.tableAddr, v.entry, v.masked ?? false);
  }
  if (o.cap) pciConfigWrite(a, o.cap.bdf, o.cap.offset + 2, 2, PCI_MSIX_FLAGS_ENABLE);
  a.sti();
  a.label('idle');
  a.hlt();
  a.jmp('idle');
  const seen = new Set<number>();
  for (const v of o.vectors) {
    if (seen.has(v.vector)) continue;
    seen.add(v.vector);
    const l = `isr_${v.vector}`;
    a.handler(v.vector, l);
    a.label(l);
    const ctrl = msixEntryAddr(o.tableAddr, v.entry, PCI_MSIX_ENTRY_VECTOR_CTRL);
    if (o.maskInHandler) a.store32(ctrl, 1).load32(r14, ctrl);
    if (o.onInterrupt) a.js(o.onInterrupt);
    if (o.ackAddr !== undefined) a.store32(o.ackAddr, v.vector);
    a.eoi();
    if (o.maskInHandler) a.store32(ctrl, 0);
    a.iret();
  }
  return a.build();
}
