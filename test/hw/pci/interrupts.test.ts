// Device interrupt hardware against the PCI rules of ../shared/reference/kvm.md §6 (PCI Local Bus 3.0
// §6.2.2-6.2.3 Interrupt Disable / Interrupt Status, §6.8.1 MSI, §6.8.2 MSI-X).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../../support/runs.js';
import { Host } from '../../../src/host.js';
import { Machine } from '../../../src/hw/machine.js';
import { SimpleDevice } from '../../../src/hw/devices/simple.js';
import { MsixNic } from '../../../src/hw/devices/msix-nic.js';
import type { PciFunction } from '../../../src/hw/pci/function.js';
import type { MsiSink } from '../../../src/hw/pci/msi-sink.js';

function recorder(): MsiSink & { msgs: Array<{ lo: number; data: number }> } {
  const msgs: Array<{ lo: number; data: number }> = [];
  return { msgs, deliver: (_s: PciFunction, lo: number, _hi: number, data: number) => void msgs.push({ lo: lo >>> 0, data: data >>> 0 }) };
}

describe('INTx (PCI 2.3)', () => {
  it('Interrupt Status follows the request; Interrupt Disable releases the wire but not the status', () => {
    const host = Host.create();
    const edu = host.control.pci.edu();
    const line = edu.intx!.line;
    edu.setIrqLevel(true);
    expect(edu.configRead(6, 2) & 0x08).toBe(0x08);
    expect(line.level).toBe(true);
    edu.configWrite(4, 2, edu.configRead(4, 2) | 0x400);
    expect(line.level).toBe(false);
    expect(edu.configRead(6, 2) & 0x08).toBe(0x08);
    edu.configWrite(4, 2, edu.configRead(4, 2) & ~0x400);
    expect(line.level).toBe(true);
    edu.setIrqLevel(false);
    expect(line.level).toBe(false);
    expect(edu.configRead(6, 2) & 0x08).toBe(0);
  });

  it('a device without PCI 2.3 support has neither bit: Interrupt Disable does not stick and status stays 0', () => {
    const host = Host.create();
    const dev = host.control.pci.device('00:05.0');
    dev.configWrite(4, 2, 0x400);
    expect(dev.configRead(4, 2) & 0x400).toBe(0);
    dev.setIrqLevel(true);
    expect(dev.configRead(6, 2) & 0x08).toBe(0);
    expect(dev.intx!.line.level).toBe(true);
  });

  it('lines are wired-OR: two pins on one GSI keep it asserted until both deassert; the listener hears level changes only', () => {
    const host = Host.create();
    const a = host.control.pci.device('00:05.0');
    const b = host.control.pci.device('03:01.0');
    expect(a.intx!.line).toBe(b.intx!.line);
    const heard: boolean[] = [];
    a.intx!.line.listener = (_l, level) => void heard.push(level);
    a.setIrqLevel(true);
    b.setIrqLevel(true);
    a.setIrqLevel(false);
    expect(a.intx!.line.level).toBe(true);
    b.setIrqLevel(false);
    expect(heard).toEqual([true, false]);
  });

  it('the bridge swizzle: INTB of 01:00.1 arrives as INTB of root slot 1; devices behind two bridges rotate', () => {
    const host = Host.create();
    const t = host.machine.pci;
    expect(t.swizzle(host.control.pci.device('01:00.1'))).toEqual({ slot: 1, pin: 2 });
    // 07:00.1 (INTB) → downstream port 05:01.0 (device 1 on bus 5): pin ((2-1+0)%4)+1 = B at 05:01 →
    // switch up 04:00.0: ((2-1+1)%4)+1 = C → root port 00:1d.0: ((3-1+0)%4)+1 = C at slot 0x1d.
    expect(t.swizzle(host.control.pci.device('07:00.1'))).toEqual({ slot: 0x1d, pin: 3 });
  });
});

describe('MSI (§6.8.1)', () => {
  function msiDev(maskable: boolean) {
    const dev = new SimpleDevice({ id: { vendor: 1, device: 2, revision: 0, classCode: 0xff0000, name: 't' }, pcie: false, msi: { vectors: 4, is64: true, maskable } });
    const host = Host.create({ preset: (m) => void m.pci.root.add(1, 0, dev) });
    const sink = recorder();
    host.machine.pci.msiRouter.target = sink;
    const off = dev.msi!.offset;
    dev.configWrite(off + 4, 4, 0xfee00000);
    dev.configWrite(off + 0x0c, 2, 0x40);
    return { dev, sink, off };
  }

  it('disabled MSI sends nothing; Multiple Message Enable puts the vector in the low data bits', () => {
    const { dev, sink, off } = msiDev(false);
    expect(dev.msi!.notify(0)).toBe(false);
    dev.configWrite(off + 2, 2, 0x0021); // enable, MME = 2 (4 vectors)
    expect(dev.msi!.notify(3)).toBe(true);
    expect(sink.msgs).toEqual([{ lo: 0xfee00000, data: 0x43 }]);
  });

  it('a masked vector sets its pending bit instead of sending; unmasking sends it once and clears pending', () => {
    const { dev, sink, off } = msiDev(true);
    dev.configWrite(off + 2, 2, 0x0021);
    dev.configWrite(off + 0x10, 4, 0b0100);
    dev.msi!.notify(2);
    dev.msi!.notify(2);
    expect(sink.msgs).toHaveLength(0);
    expect(dev.configRead(off + 0x14, 4)).toBe(0b0100);
    dev.configWrite(off + 0x14, 4, 0); // pending bits are read-only
    expect(dev.configRead(off + 0x14, 4)).toBe(0b0100);
    dev.configWrite(off + 0x10, 4, 0);
    expect(sink.msgs).toEqual([{ lo: 0xfee00000, data: 0x42 }]);
    expect(dev.configRead(off + 0x14, 4)).toBe(0);
  });
});

describe('MSI-X (§6.8.2)', () => {
  function nic(queues = 8) {
    // The bare machine: no kernel, so no host driver answers the NIC's INTx.
    const machine = new Machine({ preset: (m) => void m.pci.root.add(1, 0, new MsixNic({ queues })) });
    const f = machine.pci.find('0000:00:01.0') as MsixNic;
    const sink = recorder();
    machine.pci.msiRouter.target = sink;
    f.configWrite(4, 2, 0x0006);
    return { f, sink, x: f.msix! };
  }
  const tableW = (f: MsixNic, v: number, o: number, val: number) => f.barWrite(3, v * 16 + o, 4, val);

  it('resets with every vector masked, Enable and Function Mask clear, nothing pending', () => {
    const { f, x } = nic();
    for (let v = 0; v < 8; v++) expect(f.barRead(3, v * 16 + 12, 4)).toBe(1);
    expect(x.enabled).toBe(false);
    expect(x.functionMasked).toBe(false);
    expect([...x.pba].every((b) => b === 0)).toBe(true);
  });

  it('a masked vector goes pending; unmasking the vector sends it once and clears the PBA bit', () => {
    const { f, sink, x } = nic();
    f.configWrite(x.offset + 2, 2, 0x8000);
    tableW(f, 5, 0, 0xfee01000);
    tableW(f, 5, 8, 0x55);
    f.ring(5);
    expect(sink.msgs).toHaveLength(0);
    expect(f.barRead(3, x.pbaOffset, 4)).toBe(1 << 5);
    tableW(f, 5, 12, 0);
    expect(sink.msgs).toEqual([{ lo: 0xfee01000, data: 0x55 }]);
    expect(f.barRead(3, x.pbaOffset, 4)).toBe(0);
  });

  it('Function Mask holds every vector pending; clearing it sends them', () => {
    const { f, sink, x } = nic();
    f.configWrite(x.offset + 2, 2, 0xc000);
    for (const v of [1, 2]) {
      tableW(f, v, 8, v);
      tableW(f, v, 12, 0);
      f.ring(v);
    }
    expect(sink.msgs).toHaveLength(0);
    f.configWrite(x.offset + 2, 2, 0x8000);
    expect(sink.msgs.map((m) => m.data)).toEqual([1, 2]);
  });

  it('table accesses of 1, 2 and 4 bytes land in their byte lanes (little-endian) and read back from any lane', () => {
    const { f, sink, x } = nic();
    f.configWrite(x.offset + 2, 2, 0x8000);
    // Vector 6's address low a byte at a time, its data as two words, the high address as a dword.
    for (let i = 0; i < 4; i++) f.barWrite(3, 6 * 16 + i, 1, [0x0c, 0x10, 0xe0, 0xfe][i]!);
    f.barWrite(3, 6 * 16 + 8, 2, 0x4321);
    f.barWrite(3, 6 * 16 + 10, 2, 0x0000);
    f.barWrite(3, 6 * 16 + 4, 4, 0);
    expect(f.barRead(3, 6 * 16, 4)).toBe(0xfee0100c);
    expect(f.barRead(3, 6 * 16 + 2, 2)).toBe(0xfee0);
    expect(f.barRead(3, 6 * 16 + 3, 1)).toBe(0xfe);
    expect(f.barRead(3, 6 * 16 + 8, 4)).toBe(0x4321);
    // A sub-dword write leaves the rest of its dword alone.
    f.barWrite(3, 6 * 16 + 9, 1, 0x55);
    expect(f.barRead(3, 6 * 16 + 8, 4)).toBe(0x5521);
    // The neighbours are untouched: vector 5's and 7's entries still read as reset.
    expect([f.barRead(3, 5 * 16 + 12, 4), f.barRead(3, 7 * 16, 4), f.barRead(3, 7 * 16 + 12, 4)]).toEqual([1, 0, 1]);
    f.barWrite(3, 6 * 16 + 12, 1, 0); // the Mask bit is in byte 0 of Vector Control
    f.ring(6);
    expect(sink.msgs).toEqual([{ lo: 0xfee0100c, data: 0x5521 }]);
  });

  it('Vector Control: bits 31:1 are reserved (§6.8.2.9: zero after reset) and stay zero, whichever lanes a write covers', () => {
    const { f, x } = nic();
    f.configWrite(x.offset + 2, 2, 0x8000);
    f.barWrite(3, 2 * 16 + 12, 4, 0xfffffffe);
    expect(f.barRead(3, 2 * 16 + 12, 4)).toBe(0);
    expect(x.vectorMasked(2)).toBe(false);
    f.barWrite(3, 2 * 16 + 12, 4, 0xffffffff);
    expect(f.barRead(3, 2 * 16 + 12, 4)).toBe(1);
    f.barWrite(3, 2 * 16 + 13, 1, 0xff);
    f.barWrite(3, 2 * 16 + 14, 2, 0xffff);
    expect(f.barRead(3, 2 * 16 + 12, 4)).toBe(1);
    expect(x.vectorMasked(2)).toBe(true);
    // An entry's data dword is not Vector Control: all 32 bits are kept.
    f.barWrite(3, 2 * 16 + 8, 4, 0xffffffff);
    expect(f.barRead(3, 2 * 16 + 8, 4)).toBe(0xffffffff);
  });

  it('the PBA is read-only: writes are ignored and counted', () => {
    const { f, x } = nic();
    f.configWrite(x.offset + 2, 2, 0x8000);
    f.ring(0);
    f.barWrite(3, x.pbaOffset, 4, 0);
    expect(f.barRead(3, x.pbaOffset, 4)).toBe(1);
    expect(x.pbaWrites).toBe(1);
  });

  it('with MSI-X enabled the function does not use INTx', () => {
    const { f, x } = nic();
    f.setIrqLevel(true);
    expect(f.intxAsserted).toBe(true);
    f.configWrite(x.offset + 2, 2, 0x8000);
    expect(f.intxAsserted).toBe(false);
  });

  it('property: every raise is delivered once or held pending until unmask; PBA = masked and undelivered', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(
          fc.record({ op: fc.constant('raise' as const), v: fc.nat(7) }),
          fc.record({ op: fc.constant('mask' as const), v: fc.nat(7), on: fc.boolean() }),
          fc.record({ op: fc.constant('fmask' as const), on: fc.boolean() }),
          fc.record({ op: fc.constant('enable' as const), on: fc.boolean() }),
        ), { maxLength: 40 }),
        (ops) => {
          const { f, sink, x } = nic();
          for (let v = 0; v < 8; v++) tableW(f, v, 8, v);
          const m = { en: false, fm: false, vm: new Array(8).fill(true), pend: new Array(8).fill(false), sent: 0 };
          const eff = (v: number) => m.fm || m.vm[v];
          const flush = () => { for (let v = 0; v < 8; v++) if (m.en && m.pend[v] && !eff(v)) { m.pend[v] = false; m.sent++; } };
          for (const o of ops) {
            if (o.op === 'raise') {
              f.ring(o.v);
              if (m.en) { if (eff(o.v)) m.pend[o.v] = true; else m.sent++; }
            } else if (o.op === 'mask') {
              tableW(f, o.v, 12, o.on ? 1 : 0);
              m.vm[o.v] = o.on;
              flush();
            } else {
              if (o.op === 'fmask') m.fm = o.on; else m.en = o.on;
              f.configWrite(x.offset + 2, 2, (m.en ? 0x8000 : 0) | (m.fm ? 0x4000 : 0));
              flush();
            }
            for (let v = 0; v < 8; v++) expect(x.pending(v)).toBe(m.pend[v]);
          }
          expect(sink.msgs.length).toBe(m.sent);
        },
      ),
      fcParams(200),
    );
  });
});

