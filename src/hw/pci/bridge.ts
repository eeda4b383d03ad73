// PCI-to-PCI bridges and PCI Express ports (PCI-to-PCI Bridge Architecture 1.2 ch. 3: the type 1
// header; PCIe Base 4.0 §7.5.1.3): root ports, switch upstream and downstream ports, PCIe-to-PCI
// bridges and conventional PCI-to-PCI bridges. Each owns a secondary bus. The Primary, Secondary and
// Subordinate Bus Number registers route configuration cycles; firmware numbers them depth-first
// (topology.ts). Setting Secondary Bus Reset in Bridge Control resets everything below the bridge.

import {
  PCI_BRIDGE_CONTROL, PCI_BRIDGE_CTL_BUS_RESET, PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_PCI_BRIDGE, PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM, PCI_IO_BASE, PCI_MEMORY_BASE, PCI_PREF_MEMORY_BASE, PCI_PRIMARY_BUS, PCI_SEC_STATUS,
} from '../../../include-ts/linux/pci_regs.js';
import { addAcsCap, addAerCap, addL1ssCap, addMsiCap, addPcieCap, addPmCap } from './caps.js';
import { PciFunction, type PciIdentity } from './function.js';
import { PciBus } from './topology.js';

export type BridgeKind = 'root-port' | 'switch-up' | 'switch-down' | 'pcie-to-pci' | 'pci-to-pci';

export interface BridgeOptions {
  readonly kind: BridgeKind;
  readonly id?: Partial<PciIdentity>;
  /** Whether the port implements ACS (only meaningful for PCIe ports). Default true for root and downstream ports. */
  readonly acs?: boolean;
  /** Physical slot number for root/downstream ports. */
  readonly slot?: number;
  /** An L1 PM Substates extended capability (PCIe ports only). Default false. */
  readonly l1ss?: boolean;
}

const KIND_TYPE: Record<BridgeKind, number> = {
  'root-port': PCI_EXP_TYPE_ROOT_PORT,
  'switch-up': PCI_EXP_TYPE_UPSTREAM,
  'switch-down': PCI_EXP_TYPE_DOWNSTREAM,
  'pcie-to-pci': PCI_EXP_TYPE_PCI_BRIDGE,
  'pci-to-pci': -1,
};

const DEFAULT_IDS: Record<BridgeKind, PciIdentity> = {
  'root-port': { vendor: 0x8086, device: 0xa33c, revision: 0xf0, classCode: 0x060400, name: 'PCI Express Root Port' },
  'switch-up': { vendor: 0x10b5, device: 0x8747, revision: 0xca, classCode: 0x060400, name: 'PCIe switch upstream port' },
  'switch-down': { vendor: 0x10b5, device: 0x8747, revision: 0xca, classCode: 0x060400, name: 'PCIe switch downstream port' },
  'pcie-to-pci': { vendor: 0x1b21, device: 0x1080, revision: 0x04, classCode: 0x060401, name: 'PCIe to PCI bridge' },
  'pci-to-pci': { vendor: 0x8086, device: 0x244e, revision: 0xa5, classCode: 0x060401, name: 'PCI-to-PCI bridge' },
};

export class PciBridge extends PciFunction {
  readonly kind: BridgeKind;
  readonly secondary: PciBus;
  readonly acs: boolean;
  /** Secondary bus resets performed (inspection). */
  busResets = 0;
  /** Whether Secondary Bus Reset is set (the secondary side is held in reset). */
  private sbrHeld = false;

  constructor(opts: BridgeOptions) {
    const base = DEFAULT_IDS[opts.kind];
    const pcie = opts.kind !== 'pci-to-pci';
    super({ id: { ...base, ...opts.id }, pcie, headerType: 1, pin: opts.kind === 'root-port' || opts.kind === 'switch-down' ? 1 : 0 });
    this.kind = opts.kind;
    const port = opts.kind === 'root-port' || opts.kind === 'switch-down';
    this.acs = pcie && (opts.acs ?? port);
    const cs = this.cfg;
    cs.writable(PCI_PRIMARY_BUS, 4, 0xffffffff);
    cs.u8(PCI_IO_BASE, 0x01).u8(PCI_IO_BASE + 1, 0x01).writable(PCI_IO_BASE, 2, 0xf0f0);
    cs.writable(PCI_MEMORY_BASE, 4, 0xfff0fff0);
    cs.u16(PCI_PREF_MEMORY_BASE, 0x0001).u16(PCI_PREF_MEMORY_BASE + 2, 0x0001).writable(PCI_PREF_MEMORY_BASE, 4, 0xfff0fff0);
    cs.writable(0x28, 4, 0xffffffff).writable(0x2c, 4, 0xffffffff);
    cs.w1c(PCI_SEC_STATUS, 2, 0xf900);
    cs.writable(PCI_BRIDGE_CONTROL, 2, 0x0fff);
    if (pcie) {
      addPmCap(cs);
      addMsiCap(cs, { vectors: 1, is64: true, maskable: false });
      addPcieCap(cs, { type: KIND_TYPE[opts.kind], width: opts.kind === 'pcie-to-pci' ? 1 : 4, ...(port && opts.slot !== undefined ? { slot: opts.slot } : {}) });
      addAerCap(cs, 0x100);
      if (this.acs) addAcsCap(cs, 0x148);
      if (opts.l1ss) addL1ssCap(cs, 0x150);
    }
    this.finish();
    this.secondary = new PciBus(this);
    this.configPort.afterWrite = (off, size) => this.afterBridgeWrite(off, size);
  }

  /** Bridge Control: asserting Secondary Bus Reset resets the secondary side. */
  private afterBridgeWrite(off: number, size: number): void {
    const ctl = PCI_BRIDGE_CONTROL;
    if (off >= ctl + 2 || off + size <= ctl) return;
    const held = (this.cfg.get16(ctl) & PCI_BRIDGE_CTL_BUS_RESET) !== 0;
    const asserted = held && !this.sbrHeld;
    this.sbrHeld = held;
    if (asserted) {
      // Setting Secondary Bus Reset resets every function below, which stays in reset until software
      // clears it: rewriting Bridge Control with the bit still set is not a second reset.
      this.busResets++;
      for (const f of this.secondary.allBelow()) f.reset();
    }
  }

  protected override onReset(): void {
    this.sbrHeld = false; // Bridge Control is back at its power-on value
  }
}

/** The host bridge at 00:00.0: a type 0 function (class 0600) with no BARs. */
export class HostBridge extends PciFunction {
  constructor(id: Partial<PciIdentity> = {}) {
    super({ id: { vendor: 0x8086, device: 0x3e30, revision: 0x0d, classCode: 0x060000, name: 'Host bridge', ...id }, pcie: false });
    this.finish();
  }
}
