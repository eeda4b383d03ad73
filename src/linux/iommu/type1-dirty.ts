// drivers/vfio/vfio_iommu_type1.c: the dirty page bitmaps of VFIO_IOMMU_DIRTY_PAGES and
// VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP — struct vfio_dma's `bitmap` (vfio_dma_bitmap_alloc: one bit per
// smallest IOMMU page, plus one spare u64 for the shift), DIRTY_BITMAP_BYTES/verify_bitmap_size, and
// update_user_bitmap(), which merges one vfio_dma's bits into the user's u64 bitmap.
//
// The bit operations are the kernel's, including its edges, because they are visible in the user's bytes:
//  - a vfio_dma whose first page is not on a 64-page boundary of the requested range is shifted left in
//    place (bitmap_shift_left over nbits+shift bits, the last word not masked), and the user's u64 at
//    that boundary is read back and OR-ed in whole (bitmap_or of `shift` bits ORs the full first word);
//  - the copy out writes DIRTY_BITMAP_BYTES(nbits + shift) bytes: whole u64 words, so the tail of the
//    last word is overwritten with the dma's bits above its end;
//  - after reporting, the caller clears only bits [0, nbits) (vfio_iova_dirty_bitmap's bitmap_clear),
//    so the top `shift` bits of a shifted bitmap stay set and travel further up on the next report: they
//    can show up as dirty pages in a hole of the range, or past its end inside the last u64 word.
//  - copy_to_user stores every byte before a fault, so an EFAULT leaves a partly written bitmap, and the
//    dma's own bitmap shifted (nothing undoes it).

import { kerr } from '../errors.js';
import type { AddressSpace } from '../mm/address-space.js';
import { copyFromUser, copyToUser } from '../uaccess.js';

/** DIRTY_BITMAP_PAGES_MAX: INT_MAX pages (bitmap_set() takes an int). */
export const DIRTY_BITMAP_PAGES_MAX = 0x7fff_ffff;
/** DIRTY_BITMAP_SIZE_MAX = DIRTY_BITMAP_BYTES(INT_MAX) = 256 MiB. */
export const DIRTY_BITMAP_SIZE_MAX = 0x1000_0000;

/** DIRTY_BITMAP_BYTES(n): ALIGN(n, 64) / 8, computed in u64 (so it wraps to 0 for n near 2^64). */
export function dirtyBitmapBytes(n: bigint): bigint {
  return BigInt.asUintN(64, (n + 63n) & ~63n) / 8n;
}

/** verify_bitmap_size(): EINVAL unless 0 < npages, 0 < size <= DIRTY_BITMAP_SIZE_MAX and size covers npages. */
export function verifyBitmapSize(npages: bigint, size: bigint): string | null {
  if (!npages) return 'the range holds no page of bitmap.pgsize';
  if (!size) return 'bitmap.size is 0';
  if (size > BigInt(DIRTY_BITMAP_SIZE_MAX)) return `bitmap.size 0x${size.toString(16)} is above the maximum 0x${DIRTY_BITMAP_SIZE_MAX.toString(16)} (DIRTY_BITMAP_SIZE_MAX)`;
  const need = dirtyBitmapBytes(npages);
  if (size < need) return `bitmap.size ${size} is too small for ${npages} pages (${need} bytes, whole u64 words)`;
  return null;
}

/**
 * `size >> __ffs(pgsize)`, the page count verify_bitmap_size() is given, as x86-64 computes it: __ffs is
 * tzcnt (64 for a pgsize of 0) and a shift count is taken mod 64. A pgsize other than 4 KiB fails EINVAL
 * later anyway; this only decides which of the EINVAL checks sees it first.
 */
export function bitmapPages(size: bigint, pgsize: bigint): bigint {
  let n = 0;
  if (pgsize) while (!((pgsize >> BigInt(n)) & 1n)) n++;
  return size >> BigInt(n & 63);
}

/** A vfio_dma's dirty bitmap (unsigned long *bitmap), as 32-bit halves of the kernel's u64 words. */
export class DmaBitmap {
  readonly words: Uint32Array;

  constructor(npages: number) {
    // DIRTY_BITMAP_BYTES(npages) + sizeof(u64), zeroed (kvzalloc).
    this.words = new Uint32Array((Math.ceil(npages / 64) + 1) * 2);
  }

  /** bitmap_set(bitmap, start, n) */
  set(start: number, n: number): void {
    this.fill(start, n, true);
  }

  /** bitmap_clear(bitmap, start, n) */
  clear(start: number, n: number): void {
    this.fill(start, n, false);
  }

  private fill(start: number, n: number, on: boolean): void {
    const w = this.words;
    let i = start;
    const end = start + n;
    while (i < end && i & 31) this.bit(i++, on);
    for (; i + 32 <= end; i += 32) w[i >>> 5] = on ? 0xffff_ffff : 0;
    while (i < end) this.bit(i++, on);
  }

  private bit(i: number, on: boolean): void {
    const m = 1 << (i & 31);
    const k = i >>> 5;
    this.words[k] = on ? this.words[k]! | m : this.words[k]! & ~m;
  }

  test(i: number): boolean {
    return ((this.words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  /**
   * bitmap_shift_left(bitmap, bitmap, shift, nbits) for shift < 64 (__bitmap_shift_left): the first
   * BITS_TO_LONGS(nbits) u64 words shifted up as one bit string; bits leaving the last word are lost and
   * the last word is not masked to nbits.
   */
  shiftLeft(shift: number, nbits: number): void {
    const w = this.words;
    const n32 = Math.ceil(nbits / 64) * 2;
    const ws = shift >>> 5;
    const bs = shift & 31;
    for (let k = n32 - 1; k >= 0; k--) {
      const j = k - ws;
      const hi = j >= 0 ? w[j]! << bs : 0;
      const lo = bs && j - 1 >= 0 ? w[j - 1]! >>> (32 - bs) : 0;
      w[k] = (hi | lo) >>> 0;
    }
  }

  /** bitmap_or(bitmap, bitmap, &leftover, shift) with shift < 64: the whole first u64 word. */
  orFirstWord(leftover: Uint8Array): void {
    const dv = new DataView(leftover.buffer, leftover.byteOffset, 8);
    this.words[0] = (this.words[0]! | dv.getUint32(0, true)) >>> 0;
    this.words[1] = (this.words[1]! | dv.getUint32(4, true)) >>> 0;
  }

  /** The first `n` bytes (a multiple of 8) as the kernel's little-endian u64 words. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    const dv = new DataView(out.buffer);
    for (let k = 0; k * 4 < n; k++) dv.setUint32(k * 4, this.words[k]!, true);
    return out;
  }
}

/** What update_user_bitmap needs of a vfio_dma. */
export interface DirtyDma {
  readonly iova: number;
  readonly size: number;
  bitmap: DmaBitmap | null;
}

/**
 * update_user_bitmap(): merges `dma`'s bits into the user's bitmap at `data` (a user address in `mm`)
 * whose bit 0 is `baseIova`. `allDirty`: some IOMMU-backed group can write memory without telling
 * (num_non_pinned_groups) and the dma is mapped, so every page is reported dirty. Throws EFAULT after
 * doing what the kernel did up to the fault.
 */
export function updateUserBitmap(mm: AddressSpace, data: number, dma: DirtyDma, baseIova: number, pgsize: number, allDirty: boolean): void {
  const bm = dma.bitmap!;
  const nbits = dma.size / pgsize;
  const bitOffset = (dma.iova - baseIova) / pgsize;
  const copyOffset = Math.floor(bitOffset / 64);
  const shift = bitOffset % 64;
  const at = data + copyOffset * 8;
  if (allDirty) bm.set(0, nbits);
  if (shift) {
    bm.shiftLeft(shift, nbits + shift);
    const leftover = new Uint8Array(8);
    if (copyFromUser(mm, leftover, at)) {
      throw kerr('EFAULT', `cannot read the bitmap word at 0x${at.toString(16)} (merging the mapping at iova 0x${dma.iova.toString(16)}, bit ${bitOffset})`);
    }
    bm.orFirstWord(leftover);
  }
  const out = bm.bytes(Number(dirtyBitmapBytes(BigInt(nbits + shift))));
  const left = copyToUser(mm, at, out);
  if (left) {
    throw kerr('EFAULT', `cannot write the bitmap at 0x${(at + out.length - left).toString(16)} (${out.length} bytes for the mapping at iova 0x${dma.iova.toString(16)} start at 0x${at.toString(16)})`);
  }
}
