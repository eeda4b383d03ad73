// A function's INTx request logic (PCI Local Bus 3.0 §6.2.2 Command.Interrupt Disable, §6.2.3
// Status.Interrupt Status, §6.8.1.3 / §6.8.2.3 MSI and MSI-X Enable): the device's request, which
// Interrupt Status follows on PCI 2.3 functions, and the wire, which is driven while the request is
// up unless Interrupt Disable is set or MSI/MSI-X is enabled.
//
// Its own object, not fields of PciFunction, because it runs on every INTx level change and every
// Command write: PciFunction has a subclass per device model, so property accesses in its methods see
// many object shapes (megamorphic, a hash probe each); this class has one.

import { PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_INTERRUPT_PIN, PCI_STATUS, PCI_STATUS_INTERRUPT } from '../../../include-ts/linux/pci_regs.js';
import type { IntxPin } from './intx.js';

// Module-local copies for the interrupt path (imported bindings are getter calls under tsx/vite).
const CMD_HI = PCI_COMMAND + 1;
const CMD_HI_INTX_DISABLE = PCI_COMMAND_INTX_DISABLE >> 8;
const STATUS = PCI_STATUS;
const STATUS_INTX = PCI_STATUS_INTERRUPT;
const INT_PIN = PCI_INTERRUPT_PIN;

export class IntxRequest {
  /** The device's interrupt request (what Interrupt Status reports). */
  level = false;
  /** Wired by the platform. */
  pin: IntxPin | null = null;
  /** The byte holding MSI Enable (bit 0) and the one holding MSI-X Enable (bit 7); -1 without the capability. */
  msiEnableAt = -1;
  msixEnableAt = -1;

  constructor(
    /** The function's configuration space bytes. */
    private readonly cfg: Uint8Array,
    private readonly pci23: boolean,
  ) {}

  /** The device requests (or withdraws) an interrupt; the wire follows. */
  set(level: boolean): void {
    this.level = level;
    if (this.pci23) {
      const b = this.cfg;
      b[STATUS] = level ? b[STATUS]! | STATUS_INTX : b[STATUS]! & ~STATUS_INTX;
    }
    this.update();
  }

  /** The wire as the function drives it now. */
  get asserted(): boolean {
    if (!this.level) return false;
    const b = this.cfg;
    if (b[INT_PIN] === 0) return false;
    if (this.pci23 && (b[CMD_HI]! & CMD_HI_INTX_DISABLE) !== 0) return false;
    if (this.msiEnableAt >= 0 && (b[this.msiEnableAt]! & 1) !== 0) return false;
    if (this.msixEnableAt >= 0 && (b[this.msixEnableAt]! & 0x80) !== 0) return false;
    return true;
  }

  /** Drives the pin with the wire level (after a register that gates it changed). */
  update(): void {
    const pin = this.pin;
    if (pin !== null) pin.set(this.asserted);
  }
}
