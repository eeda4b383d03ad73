// An NVIDIA GM107 (GeForce GTX 750) and its HDMI audio function, the pair of seed 000: one slot,
// function 0 the VGA controller and function 1 the audio controller. The GPU's configuration space
// follows the seed's `lspci -v` listing: PM at 0x60, MSI at 0x68 (1/1 vectors, 64-bit, no per-vector
// masking), PCIe Legacy Endpoint at 0x78; extended capabilities Virtual Channel 0x100, LTR 0x250,
// L1 PM Substates 0x258, Power Budgeting 0x128, Vendor Specific (ID=0001 Rev=1 Len=024) 0x600 and
// capability #19 (Secondary PCI Express) 0x900, linked in that order; BAR0 16 MiB MMIO, BAR1 256 MiB
// and BAR3 32 MiB 64-bit prefetchable, BAR5 128 bytes of I/O, a 512 KiB expansion ROM.
// Like the real part, neither function advertises FLR, so a reset needs the secondary bus reset.

import { PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_LEG_END } from '../../../include-ts/linux/pci_regs.js';
import {
  addL1ssCap, addLtrCap, addMsiCap, addPcieCap, addPmCap, addPowerBudgetCap, addRawExtCap, addVcCap, addVsecCap,
} from '../pci/caps.js';
import { PciFunction } from '../pci/function.js';
import { SparseMemory } from './sparse-memory.js';

/** PMC_BOOT_0 of a GM107 rev a2: chip id 0x117. */
export const GM107_BOOT0 = 0x117000a2;

function vbiosImage(size: number): Uint8Array {
  // A minimal PCI expansion ROM: 0x55AA signature, PCIR data structure naming the device, code type 0.
  const rom = new Uint8Array(size).fill(0);
  rom[0] = 0x55;
  rom[1] = 0xaa;
  rom[2] = size / 512 > 255 ? 255 : size / 512; // image length in 512-byte units
  rom[0x18] = 0x40;
  const p = 0x40;
  rom.set([0x50, 0x43, 0x49, 0x52], p); // "PCIR"
  rom[p + 4] = 0xde;
  rom[p + 5] = 0x10;
  rom[p + 6] = 0x81;
  rom[p + 7] = 0x13;
  rom[p + 0x0a] = 0x18;
  rom[p + 0x10] = (size / 512) & 0xff;
  rom[p + 0x11] = (size / 512) >> 8;
  rom[p + 0x0d] = 0x00;
  rom[p + 0x0e] = 0x00;
  rom[p + 0x0f] = 0x03; // class 030000
  rom[p + 0x15] = 0x80; // last image
  return rom;
}

export class Gm107Gpu extends PciFunction {
  readonly regs = new SparseMemory(16 << 20);
  readonly vram = new SparseMemory(256 << 20);
  readonly bar3 = new SparseMemory(32 << 20);

  constructor() {
    super({
      id: { vendor: 0x10de, device: 0x1381, revision: 0xa2, classCode: 0x030000, subVendor: 0x3842, subDevice: 0x2753, name: 'NVIDIA GM107 [GeForce GTX 750]' },
      pcie: true,
      pin: 1,
      bars: [
        { kind: 'mem32', size: 16 << 20 },
        { kind: 'mem64', size: 256 << 20, prefetch: true },
        undefined,
        { kind: 'mem64', size: 32 << 20, prefetch: true },
        undefined,
        { kind: 'io', size: 128 },
      ],
      rom: vbiosImage(96 * 1024),
      romBarSize: 512 * 1024,
    });
    const cs = this.cfg;
    addPmCap(cs, 0x60);
    addMsiCap(cs, { vectors: 1, is64: true, maskable: false }, 0x68);
    addPcieCap(cs, { type: PCI_EXP_TYPE_LEG_END, width: 16, speed: 3 }, 0x78);
    // Legacy endpoints have no FLR; clear the bit addPcieCap set for endpoints.
    cs.bytes[0x78 + 4 + 3] = cs.bytes[0x78 + 4 + 3]! & ~0x10;
    addVcCap(cs, 0x100);
    addLtrCap(cs, 0x250);
    addL1ssCap(cs, 0x258);
    addPowerBudgetCap(cs, 0x128);
    addVsecCap(cs, 0x600, 0x0001, 1, 0x024);
    addRawExtCap(cs, 0x900, 0x19, 1, 0x2c);
    this.finish();
  }

  protected override mmioRead(bar: number, off: number, size: 1 | 2 | 4): number {
    switch (bar) {
      case 0: return off === 0 && size === 4 ? GM107_BOOT0 : this.regs.read(off, size);
      case 1: return this.vram.read(off, size);
      case 3: return this.bar3.read(off, size);
      default: return 0;
    }
  }

  protected override mmioWrite(bar: number, off: number, size: 1 | 2 | 4, v: number): void {
    if (bar === 0 && off !== 0) this.regs.write(off, size, v);
    else if (bar === 1) this.vram.write(off, size, v);
    else if (bar === 3) this.bar3.write(off, size, v);
  }

  protected override onReset(): void {
    this.regs.clear();
  }
}

export class Gm107Audio extends PciFunction {
  readonly regs = new SparseMemory(0x4000);

  constructor() {
    super({
      id: { vendor: 0x10de, device: 0x0fbc, revision: 0xa1, classCode: 0x040300, subVendor: 0x3842, subDevice: 0x2753, name: 'NVIDIA GM107 High Definition Audio Controller' },
      pcie: true,
      pin: 2,
      bars: [{ kind: 'mem32', size: 0x4000 }],
    });
    addPmCap(this.cfg, 0x60);
    addMsiCap(this.cfg, { vectors: 1, is64: true, maskable: false }, 0x68);
    addPcieCap(this.cfg, { type: PCI_EXP_TYPE_ENDPOINT, width: 16, speed: 3 }, 0x78);
    this.cfg.bytes[0x78 + 4 + 3] = this.cfg.bytes[0x78 + 4 + 3]! & ~0x10;
    this.finish();
  }

  protected override mmioRead(_bar: number, off: number, size: 1 | 2 | 4): number {
    return this.regs.read(off, size);
  }

  protected override mmioWrite(_bar: number, off: number, size: 1 | 2 | 4, v: number): void {
    this.regs.write(off, size, v);
  }

  protected override onReset(): void {
    this.regs.clear();
  }
}
