// QEMU's `edu` teaching device (hw/misc/edu.c, docs/specs/edu.rst; ../shared/reference/peers.md §4b):
// PCI 1234:11e8 rev 0x10, class 00ff, INTA, BAR0 = 1 MiB MMIO, one MSI vector (64-bit, no per-vector
// mask). Deterministic on the virtual clock: a factorial completes EDU_FACT_NS after it is started
// (QEMU computes it in a thread) and a DMA transfer completes 100 ms later, as QEMU's timer on
// QEMU_CLOCK_VIRTUAL does. INTx is level: asserted while the interrupt status is non-zero and MSI is
// disabled. DMA goes through the IOMMU; addresses are clamped to the 28-bit DMA mask as edu does.

import { Timer } from '../../sim/scheduler.js';
import { addMsiCap } from '../pci/caps.js';
import { PciFunction } from '../pci/function.js';

export const EDU_VENDOR = 0x1234;
export const EDU_DEVICE = 0x11e8;
export const EDU_STATUS_COMPUTING = 0x01;
export const EDU_STATUS_IRQFACT = 0x80;
export const EDU_DMA_RUN = 0x1;
export const EDU_DMA_DIR_TO_RAM = 0x2;
export const EDU_DMA_IRQ = 0x4;
export const EDU_FACT_IRQ = 0x1;
export const EDU_DMA_IRQ_BIT = 0x100;
export const EDU_DMA_BUF_START = 0x40000;
export const EDU_DMA_BUF_SIZE = 4096;
/** Virtual time a factorial takes. */
export const EDU_FACT_NS = 10_000;
/** Virtual time a DMA transfer takes (100 ms, as in hw/misc/edu.c). */
export const EDU_DMA_NS = 100_000_000;
const DMA_MASK = (1 << 28) - 1;

export class EduDevice extends PciFunction {
  liveness = 0;
  fact = 0;
  status = 0;
  irqStatus = 0;
  dmaSrc = 0;
  dmaDst = 0;
  dmaCnt = 0;
  dmaCmd = 0;
  readonly dmaBuf = new Uint8Array(EDU_DMA_BUF_SIZE);
  /** DMA transfers whose range fell outside the device buffer and were dropped (inspection). */
  dmaErrors = 0;
  private readonly factTimer = new Timer('edu-fact', () => this.factDone());
  private readonly dmaTimer = new Timer('edu-dma', () => this.dmaDone());

  constructor() {
    super({
      id: { vendor: EDU_VENDOR, device: EDU_DEVICE, revision: 0x10, classCode: 0x00ff00, subVendor: 0x1af4, subDevice: 0x1100, name: 'QEMU edu teaching device' },
      pcie: false,
      pin: 1,
      bars: [{ kind: 'mem32', size: 1 << 20 }],
    });
    addMsiCap(this.cfg, { vectors: 1, is64: true, maskable: false }, 0x40);
    this.finish();
  }

  private get msiEnabled(): boolean {
    return this.msi!.enabled;
  }

  raiseIrq(val: number): void {
    this.irqStatus = (this.irqStatus | val) >>> 0;
    if (this.irqStatus) {
      if (this.msiEnabled) this.msi!.notify(0);
      else this.setIrqLevel(true);
    }
  }

  lowerIrq(val: number): void {
    this.irqStatus = (this.irqStatus & ~val) >>> 0;
    if (!this.irqStatus && !this.msiEnabled) this.setIrqLevel(false);
  }

  protected override mmioRead(_bar: number, off: number, size: 1 | 2 | 4): number {
    if (size !== 4) return size === 1 ? 0xff : 0xffff;
    switch (off) {
      case 0x00: return 0x010000ed;
      case 0x04: return this.liveness;
      case 0x08: return this.fact;
      case 0x20: return this.status;
      case 0x24: return this.irqStatus;
      case 0x80: return this.dmaSrc >>> 0;
      case 0x88: return this.dmaDst >>> 0;
      case 0x90: return this.dmaCnt >>> 0;
      case 0x98: return this.dmaCmd >>> 0;
      default: return 0xffffffff;
    }
  }

  protected override mmioRead64(_bar: number, off: number): bigint | null {
    if (off < 0x80) return 0xffffffffffffffffn;
    switch (off) {
      case 0x80: return BigInt(this.dmaSrc);
      case 0x88: return BigInt(this.dmaDst);
      case 0x90: return BigInt(this.dmaCnt);
      case 0x98: return BigInt(this.dmaCmd);
      default: return 0xffffffffffffffffn;
    }
  }

  protected override mmioWrite(_bar: number, off: number, size: 1 | 2 | 4, val: number): void {
    if (size !== 4) return;
    this.reg(off, val >>> 0);
  }

  protected override mmioWrite64(_bar: number, off: number, value: bigint): boolean {
    if (off >= 0x80) this.reg(off, Number(BigInt.asUintN(53, value)));
    return true;
  }

  private reg(off: number, val: number): void {
    switch (off) {
      case 0x04: this.liveness = ~val >>> 0; break;
      case 0x08:
        if (this.status & EDU_STATUS_COMPUTING) break;
        this.fact = val;
        this.status |= EDU_STATUS_COMPUTING;
        this.sched.armAfter(this.factTimer, EDU_FACT_NS);
        break;
      case 0x20:
        if (val & EDU_STATUS_IRQFACT) this.status |= EDU_STATUS_IRQFACT;
        else this.status &= ~EDU_STATUS_IRQFACT;
        break;
      case 0x60: this.raiseIrq(val); break;
      case 0x64: this.lowerIrq(val); break;
      case 0x80: if (!(this.dmaCmd & EDU_DMA_RUN)) this.dmaSrc = val; break;
      case 0x88: if (!(this.dmaCmd & EDU_DMA_RUN)) this.dmaDst = val; break;
      case 0x90: if (!(this.dmaCmd & EDU_DMA_RUN)) this.dmaCnt = val; break;
      case 0x98:
        if (this.dmaCmd & EDU_DMA_RUN) break;
        this.dmaCmd = val;
        if (val & EDU_DMA_RUN) this.sched.armAfter(this.dmaTimer, EDU_DMA_NS);
        break;
      default: break;
    }
  }

  private factDone(): void {
    let n = this.fact;
    let r = 1;
    while (n > 0) r = Math.imul(r, n--) >>> 0;
    this.fact = r;
    this.status &= ~EDU_STATUS_COMPUTING;
    if (this.status & EDU_STATUS_IRQFACT) this.raiseIrq(EDU_FACT_IRQ);
  }

  private inBuf(addr: number, len: number): boolean {
    return addr >= EDU_DMA_BUF_START && addr + len <= EDU_DMA_BUF_START + EDU_DMA_BUF_SIZE;
  }

  private dmaDone(): void {
    const cnt = this.dmaCnt;
    if (this.dmaCmd & EDU_DMA_DIR_TO_RAM) {
      if (this.inBuf(this.dmaSrc, cnt)) {
        const s = this.dmaSrc - EDU_DMA_BUF_START;
        this.dmaWrite(this.dmaDst & DMA_MASK, this.dmaBuf.subarray(s, s + cnt));
      } else this.dmaErrors++;
    } else if (this.inBuf(this.dmaDst, cnt)) {
      const d = this.dmaDst - EDU_DMA_BUF_START;
      this.dmaRead(this.dmaSrc & DMA_MASK, this.dmaBuf.subarray(d, d + cnt));
    } else this.dmaErrors++;
    this.dmaCmd &= ~EDU_DMA_RUN;
    if (this.dmaCmd & EDU_DMA_IRQ) this.raiseIrq(EDU_DMA_IRQ_BIT);
  }

  protected override onReset(): void {
    this.sched?.cancel(this.factTimer);
    this.sched?.cancel(this.dmaTimer);
    this.liveness = this.fact = this.status = this.irqStatus = 0;
    this.dmaSrc = this.dmaDst = this.dmaCnt = this.dmaCmd = 0;
    this.dmaBuf.fill(0);
  }
}
