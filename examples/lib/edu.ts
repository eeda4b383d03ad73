// QEMU's edu device as a guest driver sees it (hw/misc/edu.c; ../shared/reference/peers.md has the
// register map): its BDF in the model, BAR0 registers the examples use, and the DMA engine's sequence.
import type { Host } from 'vfio-kvm-shim';
import type { Mapping } from '../../src/linux/mm/address-space.js';

export const EDU_BDF = '0000:00:03.0';
export const EDU_FACT = 0x08;
export const EDU_STATUS = 0x20;
export const EDU_IRQ_STATUS = 0x24;
export const EDU_IRQ_RAISE = 0x60;
export const EDU_IRQ_ACK = 0x64;
/** Status bit 7: raise an interrupt when a factorial is done. */
export const EDU_STATUS_IRQFACT = 0x80;
const EDU_DMA_SRC = 0x80;
const EDU_DMA_DST = 0x88;
const EDU_DMA_CNT = 0x90;
const EDU_DMA_CMD = 0x98;
/** The device's 4 KiB DMA buffer, as a DMA address on the device side. */
export const EDU_DMA_BUF = 0x40000;
const DMA_RUN = 1;
const DMA_TO_RAM = 2;

/**
 * One DMA transfer of `count` bytes through BAR0 (`bar0`, the mmap of region 0): into the device's
 * buffer from `src`, or from it to `dst` with `toRam`; then the host's clock moves past edu's 100 ms
 * DMA timer so the transfer is done when this returns.
 */
export function eduDma(host: Host, bar0: Mapping, src: number, dst: number, count: number, toRam: boolean): void {
  bar0.write32(EDU_DMA_SRC, src);
  bar0.write32(EDU_DMA_DST, dst);
  bar0.write32(EDU_DMA_CNT, count);
  bar0.write32(EDU_DMA_CMD, toRam ? DMA_RUN | DMA_TO_RAM : DMA_RUN);
  host.control.advance(100_000_000);
}
