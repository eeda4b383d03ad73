// A process's virtual address space (mm_struct + VMAs, mm/mmap.c): mmap/munmap with Linux's
// page-granular rules, top-down placement below mmap_base, MAP_FIXED replacement, VMA splitting, and
// resolution of user addresses for the kernel (copy_from_user, VFIO DMA pinning, KVM memory slots).
// A file mapping holds a reference on the file, so a mapped file stays open after close(fd).
// `lockedVm` is mm->locked_vm, the pages charged against RLIMIT_MEMLOCK (mm/util.c
// __account_locked_vm): by VFIO's DMA pinning and by mlock (mlock.ts, whose locked ranges live here).

import { kerr } from '../errors.js';
import type { KFile } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import { PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { Backing, IoBacking, MemoryFault, RamBacking, ioReadBytes, ioWriteBytes } from './backing.js';
import { MlockState } from './mlock.js';

export const PAGE_SIZE = 4096;
/** Deterministic mmap_base (no ASLR): mappings are placed top-down below it. */
export const MMAP_BASE = 0x7ff0_0000_0000;
/** TASK_SIZE for 4-level paging: the top of the user address space. */
export const TASK_SIZE = 0x7fff_ffff_f000;
/**
 * mmap_min_addr: the lowest address a hint is raised to and placement goes (this kernel's
 * CONFIG_LSM_MMAP_MIN_ADDR, 64 KiB, is above vm.mmap_min_addr); measured.
 */
const MMAP_MIN_ADDR = 0x10000;
/** vm.mmap_min_addr (dac_mmap_min_addr) as this machine has it: MAP_FIXED below it needs CAP_SYS_RAWIO. */
const DAC_MMAP_MIN_ADDR = 4096;

export class Vma {
  /** Set when the range is unmapped; accesses through old Mapping objects then fault. */
  dead = false;
  /** Shared anonymous memory's shmem inode number (shmem_zero_setup()'s "/dev/zero" file); 0 otherwise. */
  anonIno = 0;
  constructor(
    public start: number,
    public end: number,
    readonly prot: number,
    readonly flags: number,
    public backing: Backing,
    readonly file: KFile | null,
    /** The file offset of `start` (vm_pgoff, in bytes). */
    readonly pgoff = 0,
  ) {}
  get length(): number {
    return this.end - this.start;
  }
}

const pageAligned = (n: number): boolean => n % PAGE_SIZE === 0;
const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

export class AddressSpace {
  private readonly vmas: Vma[] = [];
  /** mm->locked_vm, in pages (VmLck in /proc/<pid>/status). */
  lockedVm = 0;
  /** VM_LOCKED ranges and MCL_FUTURE (mlock.ts). */
  readonly mlock = new MlockState();

  constructor(private readonly kernel: Kernel) {}

  list(): readonly Vma[] {
    return this.vmas;
  }

  find(addr: number): Vma | undefined {
    // VMAs are few (tens); a linear scan keeps this simple and allocation-free.
    const v = this.vmas;
    for (let i = 0; i < v.length; i++) {
      const m = v[i]!;
      if (addr >= m.start && addr < m.end) return m;
    }
    return undefined;
  }

  private free(start: number, end: number): boolean {
    return this.vmas.every((m) => m.end <= start || m.start >= end);
  }

  /**
   * get_unmapped_area(): the hint (round_hint_to_min(): rounded down to a page, raised to
   * mmap_min_addr) if it is free, else the highest free gap below mmap_base.
   */
  private place(hint: number, length: number): number {
    let h = hint - (hint % PAGE_SIZE);
    if (h && h < MMAP_MIN_ADDR) h = MMAP_MIN_ADDR;
    if (h && h + length <= TASK_SIZE && this.free(h, h + length)) return h;
    const sorted = [...this.vmas].sort((a, b) => b.start - a.start);
    let top = MMAP_BASE;
    for (const m of sorted) {
      if (m.start >= top) continue;
      if (m.end <= top - length) break;
      top = Math.min(top, m.start);
    }
    const addr = top - length;
    if (addr < MMAP_MIN_ADDR) throw kerr('ENOMEM', `no free range of ${length} bytes in the address space`);
    return addr;
  }

  /**
   * __get_unmapped_area(): where a mapping of `len` bytes goes — MAP_FIXED's address, which must end
   * inside the user address space (ENOMEM), be page aligned (EINVAL) and, below mmap_min_addr, be asked
   * for with CAP_SYS_RAWIO (cap_mmap_addr(): EPERM); else the hint or a free gap (ENOMEM if none).
   */
  area(hint: number, len: number, fixed: boolean, rawio: boolean): number {
    if (!fixed) return this.place(hint, len);
    if (hint > TASK_SIZE - len) throw kerr('ENOMEM', `MAP_FIXED range 0x${hint.toString(16)}+0x${len.toString(16)} is outside the user address space`);
    if (!pageAligned(hint)) throw kerr('EINVAL', `MAP_FIXED address 0x${hint.toString(16)} is not page aligned`);
    if (hint < DAC_MMAP_MIN_ADDR && !rawio) throw kerr('EPERM', `MAP_FIXED address 0x${hint.toString(16)} is below vm.mmap_min_addr (${DAC_MMAP_MIN_ADDR}) and the caller lacks CAP_SYS_RAWIO`);
    return hint;
  }

  /**
   * Inserts a mapping. The caller (the mmap syscall) has validated length/prot/flags and obtained the
   * backing from the file or made anonymous memory.
   */
  map(hint: number, length: number, prot: number, flags: number, fixed: boolean, backing: Backing, file: KFile | null, pgoff = 0): Vma {
    const len = pageUp(length);
    // The caller (do_mmap) ran area() with the caller's credentials first.
    const start = this.area(hint, len, fixed, true);
    if (fixed) this.unmap(start, len);
    const b = backing.length > len ? backing.slice(0, len) : backing;
    if (file) file.get();
    const vma = new Vma(start, start + len, prot, flags, b, file, pgoff);
    this.vmas.push(vma);
    this.vmas.sort((a, z) => a.start - z.start);
    // mmap_region(): with mm->def_flags' VM_LOCKED a new mapping is locked and counted (not a device one).
    if (this.mlock.future && b.ram !== null) this.lockedVm += this.mlock.add(start, start + len);
    return vma;
  }

  /** munmap(): removes [addr, addr+len), splitting VMAs it cuts; unmapping nothing is not an error. */
  unmap(addr: number, length: number): void {
    if (!pageAligned(addr)) throw kerr('EINVAL', `munmap address 0x${addr.toString(16)} is not page aligned`);
    if (length === 0) throw kerr('EINVAL', 'munmap length is 0');
    const end = addr + pageUp(length);
    if (end > TASK_SIZE) throw kerr('EINVAL', 'munmap range extends past the user address space');
    // The VM_LOCKED pages going away leave locked_vm.
    this.lockedVm -= this.mlock.remove(addr, end);
    const keep: Vma[] = [];
    for (const m of this.vmas) {
      if (m.end <= addr || m.start >= end) {
        keep.push(m);
        continue;
      }
      if (m.start < addr) {
        const left = new Vma(m.start, addr, m.prot, m.flags, m.backing.slice(0, addr - m.start), m.file, m.pgoff);
        left.anonIno = m.anonIno;
        if (m.file) m.file.get();
        keep.push(left);
      }
      if (m.end > end) {
        const right = new Vma(end, m.end, m.prot, m.flags, m.backing.slice(end - m.start, m.end - end), m.file, m.pgoff + (end - m.start));
        right.anonIno = m.anonIno;
        if (m.file) m.file.get();
        keep.push(right);
      }
      m.dead = true;
      if (m.file) m.file.put(this.kernel);
    }
    this.vmas.length = 0;
    this.vmas.push(...keep.sort((a, z) => a.start - z.start));
  }

  /** Drops every mapping (process exit). */
  teardown(): void {
    for (const m of this.vmas) {
      m.dead = true;
      if (m.file) m.file.put(this.kernel);
    }
    this.vmas.length = 0;
  }

  /**
   * The RAM bytes of [addr, addr+len) for the kernel to read or write in place (copy_from_user,
   * DMA pinning, memory slots). EFAULT if any part is unmapped, MMIO, or spans two mappings.
   */
  ram(addr: number, len: number): Uint8Array {
    const m = this.find(addr);
    if (!m) throw kerr('EFAULT', `user address 0x${addr.toString(16)} is not mapped`);
    if (addr + len > m.end) throw kerr('EFAULT', `user range 0x${addr.toString(16)}+0x${len.toString(16)} runs past the end of its mapping`);
    if (!(m.backing instanceof RamBacking)) throw kerr('EFAULT', `user address 0x${addr.toString(16)} is a device (MMIO) mapping, not memory`);
    const off = addr - m.start;
    return m.backing.bytes.subarray(off, off + len);
  }
}

/**
 * What mmap() returns to the caller: the address, and a view of the mapping. For memory, `bytes` is the
 * mapping itself; for a device BAR, `bytes` is null and the accessors reach the device (like ioread32).
 */
export class Mapping {
  constructor(private readonly vma: Vma) {}

  get addr(): number {
    return this.vma.start;
  }

  get length(): number {
    return this.vma.length;
  }

  get bytes(): Uint8Array | null {
    return this.vma.backing instanceof RamBacking ? this.vma.backing.bytes : null;
  }

  /**
   * The backing for an access of `size` bytes at `off`, or the fault it takes. On x86 any page that is
   * mapped at all is readable (PROT_WRITE and PROT_EXEC imply read); stores need PROT_WRITE.
   */
  private check(off: number, size: number, store: boolean): Backing {
    if (this.vma.dead) throw new MemoryFault('SIGSEGV', this.vma.start + off, 'the mapping was unmapped');
    if (off < 0 || off + size > this.vma.length) throw new MemoryFault('SIGSEGV', this.vma.start + off, 'access outside the mapping');
    const prot = this.vma.prot;
    if (store ? !(prot & PROT_WRITE) : prot === 0) throw new MemoryFault('SIGSEGV', this.vma.start + off, store ? 'a store to a mapping without PROT_WRITE' : 'a load from a PROT_NONE mapping');
    const b = this.vma.backing;
    if (b instanceof IoBacking) {
      const why = b.faultReason;
      if (why !== null) throw new MemoryFault('SIGBUS', this.vma.start + off, why);
    }
    return b;
  }

  private scratch = new Uint8Array(8);

  private load(off: number, size: number): Uint8Array {
    const b = this.check(off, size, false);
    if (b instanceof RamBacking) return b.bytes.subarray(off, off + size);
    const io = b as IoBacking;
    ioReadBytes(io.io, io.base + off, size, this.scratch, 0);
    return this.scratch;
  }

  private store(off: number, size: number, src: Uint8Array): void {
    const b = this.check(off, size, true);
    if (b instanceof RamBacking) {
      b.bytes.set(src.subarray(0, size), off);
      return;
    }
    const io = b as IoBacking;
    ioWriteBytes(io.io, io.base + off, size, src, 0);
  }

  read8(off: number): number {
    return this.load(off, 1)[0]!;
  }
  read16(off: number): number {
    const b = this.load(off, 2);
    return b[0]! | (b[1]! << 8);
  }
  read32(off: number): number {
    const b = this.load(off, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
  read64(off: number): bigint {
    const b = this.load(off, 8);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }
  write8(off: number, v: number): void {
    this.scratch[0] = v & 0xff;
    this.store(off, 1, this.scratch);
  }
  write16(off: number, v: number): void {
    this.scratch[0] = v & 0xff;
    this.scratch[1] = (v >>> 8) & 0xff;
    this.store(off, 2, this.scratch);
  }
  write32(off: number, v: number): void {
    for (let i = 0; i < 4; i++) this.scratch[i] = (v >>> (i * 8)) & 0xff;
    this.store(off, 4, this.scratch);
  }
  write64(off: number, v: bigint): void {
    const x = BigInt.asUintN(64, v);
    for (let i = 0; i < 8; i++) this.scratch[i] = Number((x >> BigInt(i * 8)) & 0xffn);
    this.store(off, 8, this.scratch);
  }
}
