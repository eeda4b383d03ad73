// A function whose registers are plain storage: used for the platform's supporting cast (the PCH's
// LPC bridge, HD audio and Ethernet, conventional cards behind the PCIe-to-PCI bridge) whose behaviour
// matters only through their identity, BARs, capabilities and driver bindings. Each BAR is a
// read/write register file; `raise()`/`lower()` drive INTx and `msi(v)` signals MSI for tests.

import { PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_RC_END } from '../../../include-ts/linux/pci_regs.js';
import { addAcsCap, addAerCap, addMsiCap, addPcieCap, addPmCap, type MsiCapOptions } from '../pci/caps.js';
import { PciFunction, type BarDef, type PciIdentity } from '../pci/function.js';
import { SparseMemory } from './sparse-memory.js';

export interface SimpleDeviceOptions {
  readonly id: PciIdentity;
  readonly pcie?: 'endpoint' | 'rc-endpoint' | false;
  readonly pin?: number;
  readonly pci23?: boolean;
  readonly bars?: ReadonlyArray<BarDef | undefined>;
  readonly pm?: boolean;
  readonly msi?: MsiCapOptions;
  readonly aer?: boolean;
  /** An ACS extended capability (PCIe functions only). */
  readonly acs?: boolean;
}

export class SimpleDevice extends PciFunction {
  private readonly mems: (SparseMemory | undefined)[];

  constructor(opts: SimpleDeviceOptions) {
    super({
      id: opts.id,
      pcie: !!opts.pcie,
      pin: opts.pin ?? 1,
      pci23: opts.pci23 ?? true,
      ...(opts.bars ? { bars: opts.bars } : {}),
    });
    if (opts.pm ?? true) addPmCap(this.cfg);
    if (opts.msi) addMsiCap(this.cfg, opts.msi);
    if (opts.pcie) addPcieCap(this.cfg, { type: opts.pcie === 'endpoint' ? PCI_EXP_TYPE_ENDPOINT : PCI_EXP_TYPE_RC_END });
    if (opts.pcie && opts.aer) addAerCap(this.cfg, 0x100);
    if (opts.pcie && opts.acs) addAcsCap(this.cfg, opts.aer ? 0x148 : 0x100);
    this.mems = this.bars.map((b) => (b ? new SparseMemory(b.size) : undefined));
    this.finish();
  }

  raise(): void {
    this.setIrqLevel(true);
  }

  lower(): void {
    this.setIrqLevel(false);
  }

  /** Signals MSI vector `v` (false when MSI is disabled). */
  signalMsi(v = 0): boolean {
    return this.msi?.notify(v) ?? false;
  }

  protected override mmioRead(bar: number, off: number, size: 1 | 2 | 4): number {
    return this.mems[bar]?.read(off, size) ?? 0;
  }

  protected override mmioWrite(bar: number, off: number, size: 1 | 2 | 4, v: number): void {
    this.mems[bar]?.write(off, size, v);
  }

  protected override onReset(): void {
    for (const m of this.mems) m?.clear();
  }
}
