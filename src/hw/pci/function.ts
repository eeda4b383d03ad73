// A PCI function as hardware (PCI Local Bus 3.0 ch. 6; PCIe Base 4.0 ch. 7): its configuration space
// with the registers' hardware behaviour, its BARs (memory 32/64-bit, prefetchable, I/O) with sizing,
// its expansion ROM, INTx with the PCI 2.3 Interrupt Status / Interrupt Disable bits, MSI and MSI-X, a
// DMA port through the IOMMU, and Function Level Reset. Device models subclass it and implement
// mmioRead/mmioWrite for their registers.
//
// Outward interfaces (so interrupt plumbing can be added without touching device models):
// - INTx: `intx` (an IntxPin on a platform IntxLine) is driven with the wire level;
// - MSI/MSI-X: messages go to `msiSink`;
// - DMA: `dma` (the IOMMU) translates requester-id + IOVA.

import { getU16, getU32, setU32 } from '../../../abi/bytes.js';
import type { Scheduler } from '../../sim/scheduler.js';
import type { TraceBus } from '../../sim/trace.js';
import type { MmioHandler } from '../mmio.js';
import {
  PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAP_ID_EXP, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX, PCI_CAP_ID_PM, PCI_CLASS_REVISION, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_FLR, PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR, PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_TYPE, PCI_HEADER_TYPE, PCI_INTERRUPT_PIN, PCI_ROM_ADDRESS, PCI_STATUS,
  PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID,
} from '../../../include-ts/linux/pci_regs.js';
import { ConfigPort, type CapabilityWrites } from './config-port.js';
import { ConfigSpace } from './config-space.js';
import type { IntxPin } from './intx.js';
import { IntxRequest } from './intx-request.js';
import { MsiState } from './msi.js';
import type { MsiSink } from './msi-sink.js';
import { MsixState } from './msix.js';
import type { PciBus } from './topology.js';

export type BarKind = 'mem32' | 'mem64' | 'io';

export interface BarDef {
  readonly kind: BarKind;
  /** Power of two; at least 16 for memory, 4 for I/O. */
  readonly size: number;
  readonly prefetch?: boolean;
}

export interface PciIdentity {
  readonly vendor: number;
  readonly device: number;
  readonly revision: number;
  /** 24-bit class code: base class, subclass, programming interface. */
  readonly classCode: number;
  readonly subVendor?: number;
  readonly subDevice?: number;
  /** A human description (lspci-like names are looked up by lspci itself; this is for our listings). */
  readonly name: string;
}

/** Where DMA goes: the IOMMU (or, without one, memory). Returns false on a fault (nothing was transferred). */
export interface DmaPort {
  read(source: PciFunction, iova: number, dst: Uint8Array): boolean;
  write(source: PciFunction, iova: number, src: Uint8Array): boolean;
}

const NO_DMA: DmaPort = {
  read: () => false,
  write: () => false,
};

const NULL_SINK: MsiSink = { deliver: () => {} };

export interface FunctionOptions {
  readonly id: PciIdentity;
  /** PCI Express function: 4096-byte configuration space. */
  readonly pcie: boolean;
  /** Header type 0 (endpoint) or 1 (bridge). */
  readonly headerType?: 0 | 1;
  /** Interrupt Pin: 0 none, 1-4 INTA-INTD. */
  readonly pin?: number;
  /** PCI 2.3 INTx masking: Interrupt Status and Interrupt Disable implemented. Default true. */
  readonly pci23?: boolean;
  readonly bars?: ReadonlyArray<BarDef | undefined>;
  /** Expansion ROM image. */
  readonly rom?: Uint8Array;
  /** ROM BAR size (power of two); default the image size rounded up (at least 2 KiB). */
  readonly romBarSize?: number;
}

export abstract class PciFunction implements CapabilityWrites {
  readonly cfg: ConfigSpace;
  readonly id: PciIdentity;
  readonly pcie: boolean;
  readonly headerType: 0 | 1;
  readonly pci23: boolean;
  /** BAR definitions by register index (a 64-bit BAR's upper half is `undefined`). */
  readonly bars: (BarDef | undefined)[];
  readonly rom: Uint8Array | null;
  readonly romSize: number;
  msi: MsiState | null = null;
  msix: MsixState | null = null;
  /** Set when plugged into a bus. */
  bus: PciBus | null = null;
  devfn = 0;
  /** INTx request, Interrupt Status and the wire (see intx-request.ts for why it is its own object). */
  readonly intxRequest: IntxRequest;
  /** The configuration write path (see config-port.ts for why it is its own object). */
  readonly configPort: ConfigPort;
  msiSink: MsiSink = NULL_SINK;
  dma: DmaPort = NO_DMA;
  trace!: TraceBus;
  sched!: Scheduler;
  /** The requester ID its DMA and messages carry upstream after bridge aliasing (set by enumeration). */
  upstreamRid = -1;
  /** Function-level resets performed (inspection). */
  resets = 0;
  private powerOn: Uint8Array | null = null;
  /** The PCI Express capability's offset (0: none), found once when the capabilities are final. */
  private expCap = 0;
  private readonly barHandlers: MmioHandler[] = [];
  private bdfCache = '';

  constructor(opts: FunctionOptions) {
    this.id = opts.id;
    this.pcie = opts.pcie;
    this.headerType = opts.headerType ?? 0;
    this.pci23 = opts.pci23 ?? true;
    this.cfg = new ConfigSpace(opts.pcie ? 4096 : 256);
    this.intxRequest = new IntxRequest(this.cfg.bytes, this.pci23);
    this.configPort = new ConfigPort(this.cfg, this.intxRequest, this);
    const nbars = this.headerType === 0 ? 6 : 2;
    this.bars = [];
    for (let i = 0; i < nbars; i++) this.bars.push(opts.bars?.[i]);
    this.rom = opts.rom ?? null;
    this.romSize = this.rom ? (opts.romBarSize ?? Math.max(2048, 2 ** Math.ceil(Math.log2(this.rom.length)))) : 0;
    const cs = this.cfg;
    cs.u16(0x00, this.id.vendor).u16(0x02, this.id.device);
    cs.u32(PCI_CLASS_REVISION, ((this.id.classCode << 8) | this.id.revision) >>> 0);
    cs.u8(PCI_HEADER_TYPE, this.headerType);
    // Command: I/O, Memory, Bus Master, Parity, SERR, (Interrupt Disable for PCI 2.3 functions).
    cs.writable(PCI_COMMAND, 2, 0x0147 | (this.pci23 ? PCI_COMMAND_INTX_DISABLE : 0));
    cs.u16(PCI_STATUS, this.pcie ? 0 : 0x0200); // DEVSEL medium for conventional PCI
    cs.w1c(PCI_STATUS, 2, 0xf900);
    cs.writable(0x0c, 1, 0xff).writable(0x0d, 1, this.pcie ? 0 : 0xff).writable(0x3c, 1, 0xff);
    cs.u8(PCI_INTERRUPT_PIN, opts.pin ?? 0);
    if (this.headerType === 0) {
      cs.u16(PCI_SUBSYSTEM_VENDOR_ID, this.id.subVendor ?? 0).u16(PCI_SUBSYSTEM_ID, this.id.subDevice ?? 0);
    }
    for (let i = 0; i < this.bars.length; i++) {
      const b = this.bars[i];
      if (!b) continue;
      if (b.size & (b.size - 1) || b.size < (b.kind === 'io' ? 4 : 16)) throw new RangeError(`BAR${i} size ${b.size} is not a valid power of two`);
      const reg = PCI_BASE_ADDRESS_0 + i * 4;
      if (b.kind === 'io') {
        cs.u32(reg, PCI_BASE_ADDRESS_SPACE_IO);
        cs.writable(reg, 4, (~(b.size - 1) & 0xfffffffc) >>> 0);
      } else {
        const flags = (b.kind === 'mem64' ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (b.prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
        cs.u32(reg, flags);
        cs.writable(reg, 4, (~(b.size - 1) & 0xfffffff0) >>> 0);
        if (b.kind === 'mem64') {
          if (i === this.bars.length - 1 || this.bars[i + 1]) throw new RangeError(`64-bit BAR${i} needs BAR${i + 1} free for its upper half`);
          const hiMask = b.size > 0x1_0000_0000 ? (~(b.size / 0x1_0000_0000 - 1)) >>> 0 : 0xffffffff;
          cs.writable(reg + 4, 4, hiMask);
        }
      }
    }
    if (this.rom) {
      const romReg = this.headerType === 0 ? PCI_ROM_ADDRESS : 0x38;
      cs.writable(romReg, 4, ((~(this.romSize - 1) & 0xfffff800) | 1) >>> 0);
    }
    for (let i = 0; i < 6; i++) this.barHandlers.push(this.makeBarHandler(i));
  }

  /** Called by subclasses once their capabilities are added: binds MSI/MSI-X state, snapshots power-on values. */
  protected finish(): void {
    const msi = this.cfg.findCap(PCI_CAP_ID_MSI);
    if (msi) this.msi = new MsiState(this, this.cfg, msi.offset);
    const msix = this.cfg.findCap(PCI_CAP_ID_MSIX);
    if (msix) this.msix = new MsixState(this, this.cfg, msix.offset);
    this.intxRequest.msiEnableAt = msi ? msi.offset + 2 : -1;
    this.intxRequest.msixEnableAt = msix ? msix.offset + 3 : -1;
    this.expCap = this.cfg.findCap(PCI_CAP_ID_EXP)?.offset ?? 0;
    this.powerOn = this.cfg.bytes.slice();
  }

  // ---- identity -------------------------------------------------------------------------------

  get busNumber(): number {
    return this.bus ? this.bus.number : 0;
  }

  get slot(): number {
    return this.devfn >> 3;
  }

  get fn(): number {
    return this.devfn & 7;
  }

  /** pci_name(): "0000:01:00.0". */
  get bdf(): string {
    if (!this.bdfCache) this.bdfCache = formatBdf(this.busNumber, this.devfn);
    return this.bdfCache;
  }

  /** Forgets the cached name (bus numbers were (re)assigned). */
  renumbered(): void {
    this.bdfCache = '';
  }

  /** Requester ID of this function's own transactions: bus << 8 | devfn. */
  get rid(): number {
    return (this.busNumber << 8) | this.devfn;
  }

  get multifunction(): boolean {
    return (this.cfg.bytes[PCI_HEADER_TYPE]! & 0x80) !== 0;
  }

  /** The PCIe device/port type (PCI_EXP_TYPE_*), or -1 for conventional PCI. */
  get pcieType(): number {
    const c = this.cfg.findCap(PCI_CAP_ID_EXP);
    if (!c) return -1;
    return (getU16(this.cfg.bytes, c.offset + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4;
  }

  get isBridge(): boolean {
    return this.headerType === 1;
  }

  get interruptPin(): number {
    return this.cfg.bytes[PCI_INTERRUPT_PIN]!;
  }

  get command(): number {
    return getU16(this.cfg.bytes, PCI_COMMAND);
  }

  /** Whether a Function Level Reset is advertised (PCIe DevCap FLR). */
  get flrCapable(): boolean {
    const c = this.cfg.findCap(PCI_CAP_ID_EXP);
    return !!c && (getU32(this.cfg.bytes, c.offset + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR) !== 0;
  }

  get pmOffset(): number {
    return this.cfg.findCap(PCI_CAP_ID_PM)?.offset ?? 0;
  }

  /** The BAR's current base address as programmed in config space (0 if unassigned). */
  barAddress(i: number): number {
    const b = this.bars[i];
    if (!b) return 0;
    const reg = PCI_BASE_ADDRESS_0 + i * 4;
    const lo = getU32(this.cfg.bytes, reg) & (b.kind === 'io' ? ~3 : ~0xf);
    const hi = b.kind === 'mem64' ? getU32(this.cfg.bytes, reg + 4) : 0;
    return (lo >>> 0) + hi * 0x1_0000_0000;
  }

  // ---- configuration space ----------------------------------------------------------------------

  configRead(off: number, size: number): number {
    return this.cfg.read(off, size);
  }

  /** A configuration write as the function sees it: masks, then register side effects (config-port.ts). */
  configWrite(off: number, size: number, value: number): void {
    this.configPort.write(off, size, value);
  }

  /** Side effects of a write reaching the capabilities (MSI/MSI-X control, PCIe Device Control). */
  afterCapabilityWrite(off: number, end: number): void {
    const cs = this.cfg;
    const msi = this.msi;
    if (msi && off < msi.offset + 24 && end > msi.offset) {
      msi.afterWrite();
      this.intxRequest.update();
    }
    const msix = this.msix;
    if (msix && off < msix.offset + 4 && end > msix.offset + 2) {
      msix.afterControlWrite();
      this.intxRequest.update();
    }
    const exp = this.powerOn !== null ? this.expCap : (cs.findCap(PCI_CAP_ID_EXP)?.offset ?? 0);
    if (exp && off < exp + PCI_EXP_DEVCTL + 2 && end > exp + PCI_EXP_DEVCTL) {
      const ctl = getU16(cs.bytes, exp + PCI_EXP_DEVCTL);
      if (ctl & PCI_EXP_DEVCTL_BCR_FLR) {
        // Initiate FLR always reads 0; on a function that advertises FLR it resets the function.
        cs.bytes[exp + PCI_EXP_DEVCTL + 1] = cs.bytes[exp + PCI_EXP_DEVCTL + 1]! & 0x7f;
        if (this.flrCapable) this.reset();
      }
    }
  }

  // ---- INTx -------------------------------------------------------------------------------------

  /**
   * The device requests (or withdraws) an interrupt. Interrupt Status follows the request on PCI 2.3
   * functions; the wire is driven unless Interrupt Disable is set or MSI/MSI-X is enabled.
   */
  setIrqLevel(level: boolean): void {
    this.intxRequest.set(level);
  }

  /** The device's interrupt request (what Interrupt Status reports). */
  get irqLevel(): boolean {
    return this.intxRequest.level;
  }

  /** The function's INTx pin, wired by the platform. */
  get intx(): IntxPin | null {
    return this.intxRequest.pin;
  }

  set intx(pin: IntxPin | null) {
    this.intxRequest.pin = pin;
  }

  /** The wire as the function drives it now. */
  get intxAsserted(): boolean {
    return this.intxRequest.asserted;
  }

  // ---- BARs -------------------------------------------------------------------------------------

  /** The window a BAR decodes (stable object: mmap'ed BARs and vfio-pci hold it). */
  barHandler(i: number): MmioHandler {
    return this.barHandlers[i]!;
  }

  private makeBarHandler(i: number): MmioHandler {
    return {
      read: (off, size) => this.barRead(i, off, size),
      write: (off, size, v) => this.barWrite(i, off, size, v),
      read64: (off) => this.barRead64(i, off),
      write64: (off, v) => this.barWrite64(i, off, v),
    };
  }

  private decodes(i: number): boolean {
    const b = this.bars[i];
    if (!b) return false;
    return (this.command & (b.kind === 'io' ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) !== 0;
  }

  /**
   * A read the BAR decodes. With its decode disabled in the Command register the function does not
   * respond (master abort: all ones). MSI-X table and PBA accesses go to the MSI-X logic.
   */
  barRead(i: number, off: number, size: 1 | 2 | 4): number {
    if (!this.decodes(i)) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    const x = this.msix;
    if (x !== null) {
      if (i === x.tableBar && off >= x.tableOffset && off < x.tableOffset + x.tableSize) return x.tableRead(off - x.tableOffset, size);
      if (i === x.pbaBar && off >= x.pbaOffset && off < x.pbaOffset + x.pbaSize) return x.pbaRead(off - x.pbaOffset, size);
    }
    return this.mmioRead(i, off, size);
  }

  barWrite(i: number, off: number, size: 1 | 2 | 4, value: number): void {
    if (!this.decodes(i)) return;
    const x = this.msix;
    if (x !== null) {
      if (i === x.tableBar && off >= x.tableOffset && off < x.tableOffset + x.tableSize) {
        x.tableWrite(off - x.tableOffset, size, value);
        return;
      }
      if (i === x.pbaBar && off >= x.pbaOffset && off < x.pbaOffset + x.pbaSize) {
        x.pbaWrite();
        return;
      }
    }
    this.mmioWrite(i, off, size, value);
  }

  /** An 8-byte access: devices with 64-bit registers override mmioRead64/mmioWrite64; others see two dwords. */
  barRead64(i: number, off: number): bigint {
    if (this.decodes(i) && !this.inMsix(i, off)) {
      const v = this.mmioRead64(i, off);
      if (v !== null) return v;
    }
    return BigInt(this.barRead(i, off, 4)) | (BigInt(this.barRead(i, off + 4, 4)) << 32n);
  }

  barWrite64(i: number, off: number, value: bigint): void {
    if (this.decodes(i) && !this.inMsix(i, off) && this.mmioWrite64(i, off, value)) return;
    this.barWrite(i, off, 4, Number(value & 0xffffffffn));
    this.barWrite(i, off + 4, 4, Number((value >> 32n) & 0xffffffffn));
  }

  private inMsix(i: number, off: number): boolean {
    const x = this.msix;
    return x !== null && ((i === x.tableBar && off >= x.tableOffset && off < x.tableOffset + x.tableSize) || (i === x.pbaBar && off >= x.pbaOffset && off < x.pbaOffset + x.pbaSize));
  }

  /** 64-bit register read; null means "not a 64-bit register" (split into dwords). */
  protected mmioRead64(_bar: number, _off: number): bigint | null {
    return null;
  }

  /** 64-bit register write; false means "split into dwords". */
  protected mmioWrite64(_bar: number, _off: number, _value: bigint): boolean {
    return false;
  }

  /** Device registers. Default: reads 0, writes ignored. */
  protected mmioRead(_bar: number, _off: number, _size: 1 | 2 | 4): number {
    return 0;
  }

  protected mmioWrite(_bar: number, _off: number, _size: 1 | 2 | 4, _value: number): void {}

  /** Reads the expansion ROM image (bytes past the image read as 0xff, as an erased flash does). */
  romRead(off: number, dst: Uint8Array): void {
    for (let i = 0; i < dst.length; i++) {
      const o = off + i;
      dst[i] = this.rom && o < this.rom.length ? this.rom[o]! : 0xff;
    }
  }

  // ---- DMA --------------------------------------------------------------------------------------

  dmaRead(iova: number, dst: Uint8Array): boolean {
    return this.dma.read(this, iova, dst);
  }

  dmaWrite(iova: number, src: Uint8Array): boolean {
    return this.dma.write(this, iova, src);
  }

  // ---- reset ------------------------------------------------------------------------------------

  /**
   * Function Level Reset / conventional reset: every register back to its power-on value (BARs and
   * Command included: software saves and restores them around a reset), MSI-X table masked, device
   * state cleared, the INTx wire released.
   */
  reset(): void {
    if (this.powerOn) this.cfg.bytes.set(this.powerOn);
    this.intxRequest.level = false;
    this.msi?.reset();
    this.msix?.reset();
    this.resets++;
    this.onReset();
    this.intxRequest.update();
  }

  /** Device-specific state reset. */
  protected onReset(): void {}

  /** Firmware BAR assignment (topology.ts): programs a BAR's base address. */
  assignBar(i: number, addr: number): void {
    const b = this.bars[i];
    if (!b) return;
    const reg = PCI_BASE_ADDRESS_0 + i * 4;
    const flags = getU32(this.cfg.bytes, reg) & (b.kind === 'io' ? 3 : 0xf);
    setU32(this.cfg.bytes, reg, ((addr % 0x1_0000_0000) | flags) >>> 0);
    if (b.kind === 'mem64') setU32(this.cfg.bytes, reg + 4, Math.floor(addr / 0x1_0000_0000) >>> 0);
  }

  assignRom(addr: number): void {
    if (!this.rom) return;
    setU32(this.cfg.bytes, this.headerType === 0 ? PCI_ROM_ADDRESS : 0x38, addr >>> 0);
  }

  /** Sets the Multi-Function bit of the Header Type register (a read-only bit, part of the power-on value). */
  markMultifunction(): void {
    this.cfg.bytes[PCI_HEADER_TYPE] = this.cfg.bytes[PCI_HEADER_TYPE]! | 0x80;
    if (this.powerOn) this.powerOn[PCI_HEADER_TYPE] = this.powerOn[PCI_HEADER_TYPE]! | 0x80;
  }
}

export function formatBdf(bus: number, devfn: number, domain = 0): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(domain, 4)}:${h(bus, 2)}:${h(devfn >> 3, 2)}.${devfn & 7}`;
}
