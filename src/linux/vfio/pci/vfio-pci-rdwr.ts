// drivers/vfio/pci/vfio_pci_rdwr.c: read()/write() of BARs, ROM and VGA through the device fd, and
// ioeventfds. Accesses are truncated at the end of the BAR and split into naturally aligned 4/2/1-byte
// accesses (vfio_pci_core_do_io_rw; 8-byte accesses came later). An MMIO BAR access while the virtual
// Memory Space Enable bit is clear fails with EIO (vfio_pci_ioread32 with test_mem). Bytes in the
// excluded range — the MSI-X table of the MSI-X BAR, or the part of the ROM BAR past the ROM image —
// read as 0xff and drop writes. An ioeventfd performs its write each time its eventfd is signalled
// (skipped silently while memory is disabled).

import { kerr } from '../../errors.js';
import type { EventFdCtx } from '../../eventfd.js';
import type { WaitEntry } from '../../waitqueue.js';
import { EPOLLHUP, EPOLLIN } from '../../../../include-ts/linux/poll.js';
import type { MmioHandler } from '../../../hw/mmio.js';

export const VFIO_PCI_OFFSET_SHIFT = 40;
export const VFIO_PCI_OFFSET_MASK = 2 ** VFIO_PCI_OFFSET_SHIFT - 1;
export const VFIO_PCI_IOEVENTFD_MAX = 1000;

export const offsetToIndex = (pos: number): number => Math.floor(pos / 2 ** VFIO_PCI_OFFSET_SHIFT);
export const indexToOffset = (index: number): number => index * 2 ** VFIO_PCI_OFFSET_SHIFT;

/**
 * vfio_pci_core_do_io_rw(): `io` is the window, [xStart, xEnd) the excluded range, `testMem` whether
 * each access checks memory enable (through `memEnabled`).
 */
export function doIoRw(
  io: MmioHandler,
  testMem: boolean,
  memEnabled: () => boolean,
  buf: Uint8Array,
  off: number,
  xStart: number,
  xEnd: number,
  write: boolean,
): number {
  let count = buf.length;
  let done = 0;
  while (count) {
    let fillable: number;
    if (off < xStart) fillable = Math.min(count, xStart - off);
    else if (off >= xEnd) fillable = count;
    else fillable = 0;
    let filled: number;
    let size: 0 | 1 | 2 | 4 = 0;
    if (fillable >= 4 && !(off % 4)) size = 4;
    else if (fillable >= 2 && !(off % 2)) size = 2;
    else if (fillable) size = 1;
    if (size) {
      if (testMem && !memEnabled()) throw kerr('EIO', 'Memory Space is disabled in the (virtual) Command register: MMIO BAR accesses fail');
      if (write) {
        let v = 0;
        for (let i = size - 1; i >= 0; i--) v = (v << 8) | buf[done + i]!;
        io.write(off, size, v >>> 0);
      } else {
        const v = io.read(off, size);
        for (let i = 0; i < size; i++) buf[done + i] = (v >>> (i * 8)) & 0xff;
      }
      filled = size;
    } else {
      filled = Math.min(count, xEnd - off);
      if (!write) buf.fill(0xff, done, done + filled);
    }
    count -= filled;
    done += filled;
    off += filled;
  }
  return done;
}

export interface IoeventfdOwner {
  memEnabled(): boolean;
  barIo(bar: number): MmioHandler;
}

/** struct vfio_pci_ioeventfd with its virqfd: an eventfd wait entry that performs the write. */
export class Ioeventfd implements WaitEntry {
  /** Writes performed (inspection). */
  fired = 0;
  /** Armed on the eventfd, holding a reference to it (the virqfd's, dropped at its shutdown). */
  private hooked = false;

  constructor(
    readonly bar: number,
    readonly pos: number,
    readonly data: bigint,
    readonly count: number,
    readonly ctx: EventFdCtx,
    private readonly owner: IoeventfdOwner,
    readonly testMem: boolean,
  ) {}

  /** virqfd_wakeup(): on EPOLLIN consume the counter and do the write; EPOLLHUP tears it down elsewhere. */
  wake(mask: number): void {
    if (mask & EPOLLIN && !this.ctx.isZero) {
      this.ctx.doRead();
      this.doWrite();
    }
    if (mask & EPOLLHUP) this.disarm();
  }

  private doWrite(): void {
    if (this.testMem && !this.owner.memEnabled()) return;
    const io = this.owner.barIo(this.bar);
    const v = Number(this.data & 0xffffffffn);
    if (this.count === 1 || this.count === 2 || this.count === 4) io.write(this.pos, this.count, this.count === 4 ? v >>> 0 : v & ((1 << (this.count * 8)) - 1));
    this.fired++;
  }

  arm(): void {
    this.ctx.get();
    this.hooked = true;
    this.ctx.wqh.add(this);
    // An eventfd already signalled fires at once, as virqfd does when it is armed.
    if (!this.ctx.isZero) this.wake(EPOLLIN);
  }

  disarm(): void {
    if (!this.hooked) return;
    this.hooked = false;
    this.ctx.wqh.remove(this);
    this.ctx.put();
  }
}
