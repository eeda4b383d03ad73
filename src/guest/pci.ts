// Guest-side PCI configuration access through configuration mechanism #1 (ports 0xCF8/0xCFC), as a
// guest kernel reaches a passed-through device's config space: the VMM sees KVM_EXIT_IO and emulates
// it (forwarding to VFIO's config region). Register r15 is scratch.

import type { GuestAsm, Reg } from './program.js';

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;

export interface Bdf {
  readonly bus: number;
  readonly dev: number;
  readonly fn: number;
}

/** The CONFIG_ADDRESS value for a register (enable bit | bus | device | function | dword offset). */
export function configAddress(b: Bdf, reg: number): number {
  return (0x8000_0000 | ((b.bus & 0xff) << 16) | ((b.dev & 0x1f) << 11) | ((b.fn & 7) << 8) | (reg & 0xfc)) >>> 0;
}

/** Writes `size` bytes at config offset `reg` (the data port is 0xCFC + (reg & 3)). */
export function pciConfigWrite(a: GuestAsm, b: Bdf, reg: number, size: 1 | 2 | 4, value: number | Reg): GuestAsm {
  return a.out(PCI_CONFIG_ADDRESS, configAddress(b, reg), 4).out(PCI_CONFIG_DATA + (reg & 3), value, size);
}

export function pciConfigRead(a: GuestAsm, dst: Reg, b: Bdf, reg: number, size: 1 | 2 | 4): GuestAsm {
  return a.out(PCI_CONFIG_ADDRESS, configAddress(b, reg), 4).in(dst, PCI_CONFIG_DATA + (reg & 3), size);
}
