// The configuration write path (src/hw/pci/config-port.ts) and the INTx wire it gates
// (src/hw/pci/intx-request.ts), checked on the pin the platform wired, not on the computed
// intxAsserted getter: each register that gates the wire must re-drive it when written.
// PCI Local Bus 3.0 §6.2.2 (Command.Interrupt Disable), §6.8.1.3 (MSI Enable: "the function is
// prohibited from using its INTx# pin"), §6.8.2.3 (MSI-X Enable, same rule); PCI-to-PCI Bridge
// Architecture 1.2 §3.2.5.17 (Bridge Control.Secondary Bus Reset: forces the secondary side to reset).
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/hw/machine.js';
import { defaultPreset } from '../../../src/hw/presets/default.js';
import type { PciBridge } from '../../../src/hw/pci/bridge.js';
import type { PciFunction } from '../../../src/hw/pci/function.js';

// The bare machine: no kernel, so no host driver touches the functions' registers.
function machine() {
  const m = new Machine({ preset: defaultPreset({ nicQueues: 8 }) });
  const find = (bdf: string) => m.pci.find(`0000:${bdf}`)!;
  return { m, find };
}

const pinUp = (f: PciFunction) => f.intx!.asserted;

type ConfigWrite = readonly [off: number, size: number, value: number];

/** With the function's request up, `mask` takes the wire down and `unmask` drives it again. */
function expectGates(f: PciFunction, mask: ConfigWrite, unmask: ConfigWrite): void {
  f.setIrqLevel(true);
  expect(pinUp(f)).toBe(true);
  f.configWrite(...mask);
  expect(pinUp(f)).toBe(false);
  f.configWrite(...unmask);
  expect(pinUp(f)).toBe(true);
}

describe('Command writes re-drive the INTx wire', () => {
  it('a dword write of Command+Status (offset 4, size 4) masks and unmasks the wire', () => {
    const { find } = machine();
    const edu = find('00:03.0');
    edu.setIrqLevel(true);
    expect(pinUp(edu)).toBe(true);
    edu.configWrite(4, 4, 0x400);
    expect(pinUp(edu)).toBe(false);
    expect(edu.configRead(6, 2) & 0x08).toBe(0x08); // Interrupt Status still reports the request
    edu.configWrite(4, 4, 0);
    expect(pinUp(edu)).toBe(true);
  });

  it('a byte write of Command\'s upper half (offset 5) reaches the gate', () => {
    const { find } = machine();
    expectGates(find('00:03.0'), [5, 1, 0x04], [5, 1, 0]);
  });
});

describe('MSI and MSI-X Enable gate the INTx wire (§6.8.1.3, §6.8.2.3)', () => {
  it('MSI Enable releases the wire, clearing it drives the wire again (word write of Message Control)', () => {
    const { find } = machine();
    const edu = find('00:03.0');
    const off = edu.msi!.offset;
    expectGates(edu, [off + 2, 2, 1], [off + 2, 2, 0]);
  });

  it('a dword write at the MSI capability header (ID, next, Message Control) gates the wire too', () => {
    const { find } = machine();
    const edu = find('00:03.0');
    const off = edu.msi!.offset;
    expectGates(edu, [off, 4, 1 << 16], [off, 4, 0]);
  });

  it('MSI-X Enable releases the wire and clearing it drives the wire again; Function Mask alone does not', () => {
    const { find } = machine();
    const nic = find('06:00.0');
    const off = nic.msix!.offset;
    nic.setIrqLevel(true);
    expect(pinUp(nic)).toBe(true);
    nic.configWrite(off + 2, 2, 0x4000); // Function Mask without Enable: INTx still in use
    expect(pinUp(nic)).toBe(true);
    nic.configWrite(off + 3, 1, 0x80); // byte write of Message Control's upper half
    expect(pinUp(nic)).toBe(false);
    nic.configWrite(off, 4, 0); // dword write at the capability header clears Enable
    expect(pinUp(nic)).toBe(true);
  });

  it('a function reset (FLR) with MSI-X enabled and the request up leaves the wire down and Enable clear', () => {
    const { find } = machine();
    const nic = find('06:00.0');
    nic.configWrite(nic.msix!.offset + 2, 2, 0x8000);
    nic.setIrqLevel(true);
    expect(pinUp(nic)).toBe(false);
    const exp = nic.cfg.findCap(0x10)!.offset; // PCI_CAP_ID_EXP
    nic.configWrite(exp + 8, 2, nic.configRead(exp + 8, 2) | 0x8000);
    expect(nic.resets).toBe(1);
    expect(nic.msix!.enabled).toBe(false);
    expect(nic.irqLevel).toBe(false);
    expect(pinUp(nic)).toBe(false);
  });
});

describe('Bridge Control Secondary Bus Reset (PCI-to-PCI Bridge 1.2 §3.2.5.17)', () => {
  it('setting it resets every function below, however the write reaches Bridge Control', () => {
    const { find } = machine();
    const port = find('00:1d.0') as PciBridge;
    const nic = find('06:00.0');
    const below = port.secondary.allBelow();
    const resets = () => below.map((f) => f.resets);
    const before = resets();
    port.configWrite(0x3e, 2, 0x40); // word write of Bridge Control
    expect(port.busResets).toBe(1);
    expect(resets()).toEqual(before.map((n) => n + 1));
    port.configWrite(0x3e, 2, 0); // software deasserts it
    port.configWrite(0x3c, 4, 0x40 << 16); // dword write (Interrupt Line/Pin + Bridge Control)
    expect(port.busResets).toBe(2);
    port.configWrite(0x3e, 2, 0);
    port.configWrite(0x3e, 1, 0x40); // byte write of the lower half
    expect(port.busResets).toBe(3);
    expect(nic.resets).toBe(3);
  });

  it('writes that do not reach Bridge Control reset nothing, even while the bit is set', () => {
    const { find } = machine();
    const port = find('00:1d.0') as PciBridge;
    port.configWrite(0x3e, 2, 0x40);
    expect(port.busResets).toBe(1);
    port.configWrite(0x3c, 2, 0x0b); // Interrupt Line (+ read-only Pin)
    port.configWrite(4, 2, port.configRead(4, 2)); // Command
    port.configWrite(0x18, 4, port.configRead(0x18, 4)); // bus numbers
    expect(port.busResets).toBe(1);
  });

  it('rewriting Bridge Control while the bit stays set is not a second reset; the next set after clearing is', () => {
    const { find } = machine();
    const port = find('00:1d.0') as PciBridge;
    const nic = find('06:00.0');
    port.configWrite(0x3e, 2, 0x40);
    port.configWrite(0x3e, 2, 0x41); // Parity Error Response on, SBR still set
    port.configWrite(0x3f, 1, 0); // the upper byte alone
    port.configWrite(0x3c, 4, port.configRead(0x3c, 4));
    expect(port.busResets).toBe(1);
    expect(nic.resets).toBe(1);
    port.configWrite(0x3e, 2, 0);
    port.configWrite(0x3e, 2, 0x40);
    expect(port.busResets).toBe(2);
    expect(nic.resets).toBe(2);
  });

  it('a reset of the bridge itself clears the bit, so setting it afterwards resets the secondary side again', () => {
    const { find } = machine();
    const up = find('04:00.0') as PciBridge;
    const dn = find('05:00.0') as PciBridge;
    dn.configWrite(0x3e, 2, 0x40);
    up.configWrite(0x3e, 2, 0x40); // resets 05:00.0 (Bridge Control back to 0) and everything below
    up.configWrite(0x3e, 2, 0);
    expect(dn.configRead(0x3e, 2) & 0x40).toBe(0);
    dn.configWrite(0x3e, 2, 0x40);
    expect(dn.busResets).toBe(2);
  });

  it('the bridge itself is not reset: the bit stays set until software clears it', () => {
    const { find } = machine();
    const port = find('00:1d.0') as PciBridge;
    port.configWrite(0x3e, 2, 0x40);
    expect(port.resets).toBe(0);
    expect(port.configRead(0x3e, 2) & 0x40).toBe(0x40);
  });
});
