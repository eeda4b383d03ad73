// Hardware configuration-space behaviour (PCI Local Bus 3.0 §6.2.5 BAR sizing, §6.2.3 RW1C status,
// §6.7 capability lists; PCIe Base 4.0 §7.5.1.1.14 the Initiate FLR bit reads 0).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/host.js';
import { Gm107Gpu } from '../../../src/hw/devices/gm107.js';
import { EduDevice } from '../../../src/hw/devices/edu.js';
import { capabilityLines } from '../../../src/cli/lspci.js';
import { GM107_CAPS_LSPCI_V } from '../../support/gm107.js';

describe('BAR sizing in hardware', () => {
  it('writing all ones reads back ~(size-1) with the type bits (32-bit MMIO, I/O, 64-bit prefetchable)', () => {
    const gpu = new Gm107Gpu();
    gpu.configWrite(0x10, 4, 0xffffffff);
    expect(gpu.configRead(0x10, 4) >>> 0).toBe(0xff000000); // 16 MiB, 32-bit, non-prefetchable
    gpu.configWrite(0x14, 4, 0xffffffff);
    gpu.configWrite(0x18, 4, 0xffffffff);
    expect(gpu.configRead(0x14, 4) >>> 0).toBe(0xf000000c); // 256 MiB, 64-bit, prefetchable
    expect(gpu.configRead(0x18, 4) >>> 0).toBe(0xffffffff); // upper half: all address bits writable
    gpu.configWrite(0x24, 4, 0xffffffff);
    expect(gpu.configRead(0x24, 4) >>> 0).toBe(0xffffff81); // 128-byte I/O
    gpu.configWrite(0x30, 4, 0xffffffff);
    expect(gpu.configRead(0x30, 4) >>> 0).toBe(0xfff80001); // 512 KiB ROM, enable bit writable
  });

  it('an unimplemented BAR reads 0 and ignores writes', () => {
    const edu = new EduDevice();
    edu.configWrite(0x14, 4, 0xffffffff);
    expect(edu.configRead(0x14, 4)).toBe(0);
  });
});

describe('read-only and RW1C registers', () => {
  it('vendor/device/class ignore writes; status error bits clear on 1', () => {
    const edu = new EduDevice();
    edu.configWrite(0, 4, 0);
    expect(edu.configRead(0, 4) >>> 0).toBe(0x11e81234);
    edu.cfg.bytes[7] = 0xf9; // all error bits set
    edu.configWrite(6, 2, 0x4000 << 0 | 0x8000);
    expect(edu.configRead(6, 2) & 0xc000).toBe(0);
    expect(edu.configRead(6, 2) & 0x3900).toBe(0x3900);
  });
});

describe('capability chain of the GM107 model (seed 000)', () => {
  it('PM 0x60, MSI 0x68, PCIe 0x78; extended 100, 250, 258, 128, 600, 900 in that order', () => {
    const host = Host.create();
    const gpu = host.machine.pci.find('0000:01:00.0')!;
    expect(capabilityLines(gpu.cfg.bytes)).toEqual(GM107_CAPS_LSPCI_V);
  });
});

describe('Function Level Reset', () => {
  it('Initiate FLR reads 0 and resets the function to its power-on state (BARs included)', () => {
    const host = Host.create();
    const nic = host.machine.pci.find('0000:06:00.0')!;
    expect(nic.barAddress(0)).not.toBe(0);
    const exp = 0x60;
    nic.configWrite(exp + 8, 2, nic.configRead(exp + 8, 2) | 0x8000);
    expect(nic.configRead(exp + 8, 2) & 0x8000).toBe(0);
    expect(nic.resets).toBe(1);
    expect(nic.barAddress(0)).toBe(0);
  });
});
