// The default host: one machine with every kind of device the project models, laid out like a small
// Intel desktop (see README.md, "Default host", for the table of BDFs, groups and drivers).
//
//   00:00.0 host bridge
//   00:01.0 PCIe root port (PEG) without ACS
//     01:00.0 NVIDIA GM107 VGA        01:00.1 GM107 HDMI audio        (one slot, multifunction)
//   00:03.0 QEMU edu (conventional PCI, INTx + 1 MSI)
//   00:05.0 legacy INTx device (no PCI 2.3 masking)
//   00:1c.0 PCIe root port with ACS
//     02:00.0 PCIe-to-PCI bridge
//       03:00.0 conventional PCI test card    03:01.0 conventional RTL8169 NIC
//   00:1d.0 PCIe root port with ACS
//     04:00.0 switch upstream port
//       05:00.0 switch downstream port (ACS)  → 06:00.0 MSI-X NIC, 2048 queues
//       05:01.0 switch downstream port (ACS)  → 07:00.0 / 07:00.1 dual-function NIC without ACS
//   00:1f.0 LPC bridge   00:1f.3 HD audio   00:1f.6 Ethernet (PCH: multifunction, no ACS)

import type { Machine, Preset } from '../machine.js';
import { HostBridge, PciBridge } from '../pci/bridge.js';
import { EduDevice } from '../devices/edu.js';
import { Gm107Audio, Gm107Gpu } from '../devices/gm107.js';
import { LegacyIntxDevice } from '../devices/legacy-intx.js';
import { MsixNic } from '../devices/msix-nic.js';
import { SimpleDevice } from '../devices/simple.js';

export interface DefaultPresetOptions {
  /** Queues (= MSI-X vectors) of the NIC at 06:00.0. Default 2048. */
  readonly nicQueues?: number;
}

export function defaultPreset(opts: DefaultPresetOptions = {}): Preset {
  return (m: Machine) => {
    const root = m.pci.root;
    root.add(0x00, 0, new HostBridge());

    const peg = root.add(0x01, 0, new PciBridge({ kind: 'root-port', acs: false, slot: 1, id: { device: 0x1901, revision: 0x07, name: 'PCIe root port (PEG)' } }));
    peg.secondary.add(0, 0, new Gm107Gpu());
    peg.secondary.add(0, 1, new Gm107Audio());

    root.add(0x03, 0, new EduDevice());
    root.add(0x05, 0, new LegacyIntxDevice());

    const rp1 = root.add(0x1c, 0, new PciBridge({ kind: 'root-port', acs: true, slot: 4, id: { device: 0xa338 } }));
    const p2p = rp1.secondary.add(0, 0, new PciBridge({ kind: 'pcie-to-pci' }));
    p2p.secondary.add(0, 0, new SimpleDevice({
      id: { vendor: 0x1234, device: 0x0c01, revision: 0x01, classCode: 0x078000, name: 'conventional PCI test card' },
      pcie: false, pin: 1, bars: [{ kind: 'mem32', size: 0x1000 }, { kind: 'io', size: 64 }], pm: false,
      msi: { vectors: 4, is64: false, maskable: true },
    }));
    p2p.secondary.add(1, 0, new SimpleDevice({
      id: { vendor: 0x10ec, device: 0x8169, revision: 0x10, classCode: 0x020000, subVendor: 0x10ec, subDevice: 0x8169, name: 'RTL8169 Gigabit Ethernet (conventional PCI)' },
      pcie: false, pin: 1, bars: [{ kind: 'io', size: 256 }, { kind: 'mem32', size: 256 }],
    }));

    const rp2 = root.add(0x1d, 0, new PciBridge({ kind: 'root-port', acs: true, slot: 8, id: { device: 0xa330 } }));
    const up = rp2.secondary.add(0, 0, new PciBridge({ kind: 'switch-up' }));
    const dn0 = up.secondary.add(0, 0, new PciBridge({ kind: 'switch-down', acs: true, slot: 16 }));
    const dn1 = up.secondary.add(1, 0, new PciBridge({ kind: 'switch-down', acs: true, slot: 17 }));
    dn0.secondary.add(0, 0, new MsixNic({ queues: opts.nicQueues ?? 2048 }));
    for (const fn of [0, 1]) {
      dn1.secondary.add(0, fn, new SimpleDevice({
        id: { vendor: 0x8086, device: 0x1521, revision: 0x01, classCode: 0x020000, subVendor: 0x8086, subDevice: 0x0001, name: `I350-like port ${fn}` },
        pcie: 'endpoint', pin: fn + 1, bars: [{ kind: 'mem32', size: 0x20000 }], msi: { vectors: 1, is64: true, maskable: true }, aer: true,
      }));
    }

    root.add(0x1f, 0, new SimpleDevice({
      id: { vendor: 0x8086, device: 0xa306, revision: 0x10, classCode: 0x060100, subVendor: 0x1043, subDevice: 0x8694, name: 'PCH LPC/eSPI controller' },
      pcie: false, pin: 0, pm: false,
    }));
    root.add(0x1f, 3, new SimpleDevice({
      id: { vendor: 0x8086, device: 0xa348, revision: 0x10, classCode: 0x040300, subVendor: 0x1043, subDevice: 0x8724, name: 'PCH cAVS (HD audio)' },
      pcie: false, pin: 1, bars: [{ kind: 'mem64', size: 0x4000 }, undefined, undefined, undefined, { kind: 'mem64', size: 0x10000 }],
      msi: { vectors: 1, is64: true, maskable: false },
    }));
    root.add(0x1f, 6, new SimpleDevice({
      id: { vendor: 0x8086, device: 0x15bc, revision: 0x10, classCode: 0x020000, subVendor: 0x1043, subDevice: 0x8672, name: 'PCH Ethernet Connection (I219-V)' },
      pcie: false, pin: 1, bars: [{ kind: 'mem32', size: 0x20000 }], msi: { vectors: 1, is64: true, maskable: false },
    }));
  };
}

/** A machine with nothing but the host bridge. */
export const emptyPreset: Preset = (m) => {
  m.pci.root.add(0, 0, new HostBridge());
};

export function namedPreset(name: 'default' | 'empty'): Preset {
  return name === 'empty' ? emptyPreset : defaultPreset();
}
