// A guest driver for QEMU's `edu` teaching device (docs/specs/edu.rst, hw/misc/edu.c), doing only what
// the register map allows: 0x24 interrupt status (RO), 0x60 raise (status |= value), 0x64 ack
// (status &= ~value); INTx is level-triggered and asserted while status != 0; MSI is one vector, sent
// on every raise. Accesses below 0x80 are 32-bit.
//
// Setup (as a guest OS would): mask the 8259s, enable the LAPIC, enable memory decoding and bus
// mastering in the PCI command register, then either program the IOAPIC pin the device's INTx is
// routed to (level, unmasked) or the MSI capability (address, data, enable). Then idle in `sti; hlt`.
// The handler reads the status, acks exactly those bits, counts, and EOIs before IRET — so for INTx the
// line is already low when the EOI reaches KVM's resampler. Optionally the guest raises interrupts
// itself (`selfTest` cycles of: write 1 to 0x60, wait in HLT until the handler has counted it).
//
// Registers: r0 status scratch, r1 self-test cycles done, r2 interrupts acked with status != 0,
// r3 handler entries that found status 0 (spurious), r4 scratch.

import { GuestAsm, GuestProgram, r0, r1, r2, r3, r4 } from '../program.js';
import { enableLapic, ioapicRoute, maskPic } from '../x86.js';
import { pciConfigWrite, type Bdf } from '../pci.js';
import { msiAddress, msiData } from '../../hw/x86/msi.js';

export const EDU_ID = 0x00;
export const EDU_STATUS = 0x20;
export const EDU_IRQ_STATUS = 0x24;
export const EDU_IRQ_RAISE = 0x60;
export const EDU_IRQ_ACK = 0x64;

export interface EduDriverOptions {
  /** Guest-physical address of BAR0. */
  readonly bar0: number;
  readonly mode: 'intx' | 'msi';
  /** The vector the handler is installed on (and programmed into the IOAPIC pin or MSI data). */
  readonly vector: number;
  /** INTx: the IOAPIC pin (GSI) the device's INTA# reaches. */
  readonly ioapicPin?: number;
  /** Destination APIC ID. */
  readonly dest?: number;
  /** The device's address, for config-space setup (command register, MSI capability). */
  readonly bdf?: Bdf;
  /** Config offset of the MSI capability (QEMU places edu's at 0x40). */
  readonly msiCapOffset?: number;
  /** Skip the PCI command-register write (the VMM pre-enabled the device). */
  readonly skipCommand?: boolean;
  /** Raise-and-wait cycles the guest runs itself before idling. */
  readonly selfTest?: number;
}

export function eduDriver(o: EduDriverOptions): GuestProgram {
  const a = new GuestAsm(`edu-${o.mode}`);
  const bdf = o.bdf ?? { bus: 0, dev: 4, fn: 0 };
  a.label('start');
  maskPic(a);
  enableLapic(a);
  if (!o.skipCommand) pciConfigWrite(a, bdf, 0x04, 2, 0x0006); // PCI_COMMAND: MEMORY | MASTER
  if (o.mode === 'intx') {
    ioapicRoute(a, o.ioapicPin ?? 16, { vector: o.vector, level: true, dest: o.dest ?? 0 });
  } else {
    const cap = o.msiCapOffset ?? 0x40;
    pciConfigWrite(a, bdf, cap + 4, 4, msiAddress(o.dest ?? 0));
    pciConfigWrite(a, bdf, cap + 8, 4, 0);
    pciConfigWrite(a, bdf, cap + 12, 2, msiData(o.vector));
    pciConfigWrite(a, bdf, cap + 2, 2, 0x0081); // 64-bit capable | MSI enable
  }
  a.sti();
  const cycles = o.selfTest ?? 0;
  if (cycles > 0) {
    // Raise, then wait for the handler to count it: `cli; test; sti; hlt` so an interrupt that
    // arrives before the HLT is not slept through (STI's shadow makes `sti; hlt` atomic).
    a.label('selftest');
    a.mov(r4, r2);
    a.store32(o.bar0 + EDU_IRQ_RAISE, 1);
    a.label('wait');
    a.cli();
    a.jne(r2, r4, 'raised');
    a.sti();
    a.hlt();
    a.jmp('wait');
    a.label('raised');
    a.sti();
    a.add(r1, 1);
    a.jlt(r1, cycles, 'selftest');
  }
  a.label('idle');
  a.hlt();
  a.jmp('idle');

  a.handler(o.vector, 'isr');
  a.label('isr');
  a.load32(r0, o.bar0 + EDU_IRQ_STATUS);
  a.jz(r0, 'spurious');
  a.store32(o.bar0 + EDU_IRQ_ACK, r0);
  a.add(r2, 1);
  a.eoi();
  a.iret();
  a.label('spurious');
  a.add(r3, 1);
  a.eoi();
  a.iret();
  return a.build();
}
