// A function's configuration write path (PCI Local Bus 3.0 §6.1, §6.2; PCIe Base 4.0 §7.5): the value
// goes through the registers' write masks (config-space.ts), then what was written takes effect —
// Command gates the INTx wire (intx-request.ts), a write reaching the capabilities goes to the function
// (MSI/MSI-X control, PCIe Device Control), and a device model may react to its own registers (bridges:
// Bridge Control).
//
// Its own object for the reason IntxRequest is: vfio-pci's INTx automask and unmask write Command on
// every interrupt, and PciFunction has a subclass per device model, so property accesses and calls on
// it are megamorphic; this class has one shape.

import { PCI_COMMAND } from '../../../include-ts/linux/pci_regs.js';
import type { ConfigSpace } from './config-space.js';
import type { IntxRequest } from './intx-request.js';

// Module-local copies for the interrupt path (imported bindings are getter calls under tsx/vite).
const CMD = PCI_COMMAND;
/** Capabilities start here: a write below it touches only the header. */
const CAPS_START = 0x40;

/** The function's side of a write reaching its capabilities. */
export interface CapabilityWrites {
  afterCapabilityWrite(off: number, end: number): void;
}

export class ConfigPort {
  /** The device model's reaction to its own registers (bridges: Secondary Bus Reset); null for most. */
  afterWrite: ((off: number, size: number) => void) | null = null;

  constructor(
    private readonly cs: ConfigSpace,
    private readonly intx: IntxRequest,
    private readonly caps: CapabilityWrites,
  ) {}

  /** A configuration write as the function sees it: masks, then register side effects. */
  write(off: number, size: number, value: number): void {
    this.cs.write(off, size, value);
    const end = off + size;
    if (off < CMD + 2 && end > CMD) this.intx.update();
    if (end > CAPS_START) this.caps.afterCapabilityWrite(off, end);
    const after = this.afterWrite;
    if (after !== null) after(off, size);
  }
}
