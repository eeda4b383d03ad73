// Guest memory slots (virt/kvm/kvm_main.c: kvm_vm_ioctl_set_memory_region, __kvm_set_memory_region,
// check_memory_region_flags, kvm_check_memslot_overlap). A slot maps guest-physical pages to the VMM
// process's virtual addresses; the mapping is resolved at access time through the process's mm, as
// KVM does with GUP and MMU notifiers, so a slot may cover anonymous memory (RAM) or a device BAR mmap
// (MMIO-backed VMA: guest accesses reach the device directly). KVM does not require the range to be
// mapped when the slot is created; a guest access to an unmapped address fails KVM_RUN with EFAULT.
//
// Rules (x86, 6.18, one address space — this build has no SMM), for KVM_SET_USER_MEMORY_REGION and
// KVM_SET_USER_MEMORY_REGION2 alike (user-memory-region.ts copies the struct and applies v1's flag limit):
// - slot id (low 16 bits) >= KVM_USER_MEM_SLOTS (32764) -> EINVAL, checked first
// - flags other than KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD -> EINVAL, and
//   KVM_MEM_GUEST_MEMFD with LOG_DIRTY_PAGES or READONLY -> EINVAL (check_memory_region_flags) [E]
// - with KVM_MEM_GUEST_MEMFD, guest_memfd_offset not page aligned or offset + size wrapping -> EINVAL
// - a KVM_MEM_GUEST_MEMFD slot cannot be changed, only deleted, nor can a slot gain the flag -> EINVAL [E];
//   a new one is bound last, once every rule below passed (kvm_gmem_bind: guest-memfd.ts, EBADF/EINVAL),
//   and deleting it unbinds its file range. A slot bound to a guest_memfd made with GUEST_MEMFD_FLAG_MMAP
//   is gmem-only: guest accesses reach the guest_memfd's pages, not userspace_addr (6.18's
//   __kvm_mmu_faultin_pfn; KVM's own accesses through the hva are not told apart here).
// - address space (slot >> 16) != 0 -> EINVAL
// - memory_size, guest_phys_addr or userspace_addr not page aligned -> EINVAL
// - userspace range past TASK_SIZE, gpa + size wrapping, more than 2^31-1 pages -> EINVAL
// - size 0 deletes: EINVAL if the slot does not exist
// - an existing slot may only move (new gpa) or change LOG_DIRTY_PAGES; a different size, userspace
//   address or READONLY bit -> EINVAL; identical -> 0
// - creating or moving onto pages another slot covers -> EEXIST
// - then (x86.c kvm_arch_prepare_memory_region) creating or moving a slot whose last page is above
//   kvm_mmu_max_gfn() -> EINVAL: 52 guest-physical bits on this machine's kvm_pvm, which has no TDP
//   (with TDP it would be the host's MAXPHYADDR) [E]; a flags-only change is not checked
// - KVM_MEM_LOG_DIRTY_PAGES gives the slot a dirty bitmap that every guest write through the slot
//   marks (dirty-log.ts reads and clears it); a move or flags change keeps it while logging stays on.
//   With the dirty ring (dirty-ring.ts) new slots get no bitmap and writes go to the writing vCPU's ring.

import { kerr } from '../errors.js';
import type { AddressSpace, Vma } from '../mm/address-space.js';
import { TASK_SIZE } from '../mm/address-space.js';
import { IoBacking, ioReadBytes, ioWriteBytes } from '../mm/backing.js';
import { KVM_DIRTY_LOG_INITIALLY_SET, KVM_MEM_GUEST_MEMFD, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY } from '../../../include-ts/linux/kvm.js';
import { KVM_MEM_MAX_NR_PAGES, KVM_USER_MEM_SLOTS, PAGE_SIZE } from './kvm-host.js';
import { getLE, setLE } from '../../../abi/bytes.js';
import type { DirtyRing } from './dirty-ring.js';
import type { GmemBinding } from './guest-memfd.js';

export const ACCESS_OK = 0;
/** The host address behind the slot is not mapped (KVM_RUN fails with EFAULT). */
export const ACCESS_FAULT = -2;
/** A hardware write's fault filled the dirty ring to its soft limit: the write runs after the exit. */
export const ACCESS_RETRY = -3;

export class MemSlot {
  /**
   * memslot->dirty_bitmap while KVM_MEM_LOG_DIRTY_PAGES is set: one bit per page in unsigned longs
   * (little-endian bytes, ALIGN(npages, 64) / 8 of them), null otherwise (dirty-log.ts reads it).
   */
  dirty: Uint8Array | null = null;
  /**
   * With the dirty ring, while the slot logs: the pages whose SPTE is writable, i.e. a hardware write
   * no longer faults (and is not logged) until KVM_RESET_DIRTY_RINGS write-protects the page again.
   */
  ringWritable: Uint8Array | null = null;
  /**
   * memslot->gmem: the guest_memfd pages the slot binds (KVM_MEM_GUEST_MEMFD), null otherwise. With
   * gmemOnly (KVM_MEMSLOT_GMEM_ONLY) guest accesses take their pages from it, not from userspace_addr.
   */
  gmem: GmemBinding | null = null;
  /** Last VMA the slot resolved to (re-checked on each access). */
  private vma: Vma | null = null;
  private readonly scratch = new Uint8Array(8);

  constructor(
    readonly id: number,
    public flags: number,
    public gpa: number,
    readonly size: number,
    readonly userspaceAddr: number,
    private readonly mm: AddressSpace,
  ) {}

  get end(): number {
    return this.gpa + this.size;
  }

  get readonly(): boolean {
    return (this.flags & KVM_MEM_READONLY) !== 0;
  }

  get npages(): number {
    return this.size / PAGE_SIZE;
  }

  /**
   * mark_page_dirty_in_slot() for every page a guest write of `len` bytes at `gpa` touched: into the
   * writing vCPU's dirty ring when the VM has rings (`ring`), else into the bitmap. True when a
   * hardware write (`hw`) must wait for the ring (see DirtyRing.logPages).
   */
  private logWrite(gpa: number, len: number, ring: DirtyRing | null, hw: boolean): boolean {
    const first = Math.floor((gpa - this.gpa) / PAGE_SIZE);
    const last = Math.floor((gpa + len - 1 - this.gpa) / PAGE_SIZE);
    if (ring !== null) return ring.logPages(this, first, last, hw);
    const d = this.dirty;
    if (d !== null) for (let pg = first; pg <= last; pg++) d[pg >> 3]! |= 1 << (pg & 7);
    return false;
  }

  /**
   * mark_page_dirty_in_slot() once KVM wrote the page of `gpa` itself (kvm_write_guest, a
   * gfn_to_pfn_cache): a push to the ring of the vCPU it wrote for. Its writes pass no ring, so
   * without rings the bitmap is marked by write().
   */
  markKernelWrite(gpa: number, ring: DirtyRing | null): void {
    if (ring !== null && this.flags & KVM_MEM_LOG_DIRTY_PAGES) ring.push(this.id, Math.floor((gpa - this.gpa) / PAGE_SIZE));
  }

  private resolve(hva: number, len: number): Vma | null {
    let v = this.vma;
    if (v === null || v.dead || hva < v.start || hva + len > v.end) {
      v = this.mm.find(hva) ?? null;
      if (v === null || hva + len > v.end) return null;
      this.vma = v;
    }
    return v;
  }

  /**
   * kvm_mmu_faultin_pfn_gmem() -> kvm_gmem_get_pfn(): the guest_memfd page behind `gpa` and the offset in
   * it, or null once the file was released (the fault is EFAULT).
   */
  private gmemPage(g: GmemBinding, gpa: number): Uint8Array | null {
    const f = g.file;
    if (f === null) return null;
    const rel = gpa - this.gpa;
    return f.page(g.pgoff + Math.floor(rel / PAGE_SIZE));
  }

  /** A gmem-only slot's access, byte by byte across a page boundary. */
  private gmemAccess(g: GmemBinding, gpa: number, len: number, value: number, write: boolean): number {
    let x = 0;
    for (let i = 0; i < len; i++) {
      const p = this.gmemPage(g, gpa + i);
      if (p === null) return ACCESS_FAULT;
      const off = (gpa + i - this.gpa) % PAGE_SIZE;
      if (write) p[off] = Math.floor(value / 2 ** (i * 8)) & 0xff;
      else x += p[off]! * 2 ** (i * 8);
    }
    return write ? ACCESS_OK : x;
  }

  /** Reads `len` bytes at guest address `gpa` (inside this slot); ACCESS_FAULT if unmapped. */
  read(gpa: number, len: number): number {
    const g = this.gmem;
    if (g !== null && g.gmemOnly) return this.gmemAccess(g, gpa, len, 0, false);
    const hva = this.userspaceAddr + (gpa - this.gpa);
    const v = this.resolve(hva, len);
    if (v === null) return ACCESS_FAULT;
    const off = hva - v.start;
    const b = v.backing;
    if (b.ram !== null) return getLE(b.ram, off, len);
    const io = b as IoBacking;
    // Up to 4 bytes the device's read is the value (little-endian, truncated to the access): no bytes
    // in between. 8-byte accesses go through the byte helpers (read64, or two dword reads).
    if (len === 4) return io.io.read(io.base + off, 4) >>> 0;
    if (len === 2 || len === 1) return io.io.read(io.base + off, len) & (len === 2 ? 0xffff : 0xff);
    ioReadBytes(io.io, io.base + off, len, this.scratch, 0);
    return getLE(this.scratch, 0, len);
  }

  /**
   * A write of `len` bytes at guest address `gpa` by the vCPU whose dirty ring is `ring` (null: the VM
   * has none): by the guest's own store (`hw`), or emulated / made by KVM. ACCESS_FAULT if unmapped,
   * ACCESS_RETRY if the write waits for the dirty ring.
   */
  write(gpa: number, len: number, value: number, ring: DirtyRing | null, hw: boolean): number {
    const g = this.gmem;
    // No dirty logging here: KVM_MEM_GUEST_MEMFD excludes KVM_MEM_LOG_DIRTY_PAGES.
    if (g !== null && g.gmemOnly) return this.gmemAccess(g, gpa, len, value, true);
    const hva = this.userspaceAddr + (gpa - this.gpa);
    const v = this.resolve(hva, len);
    if (v === null) return ACCESS_FAULT;
    const off = hva - v.start;
    const b = v.backing;
    // Dirty logging sees every guest write through the slot, RAM or a device's pages alike.
    if (this.flags & KVM_MEM_LOG_DIRTY_PAGES && this.logWrite(gpa, len, ring, hw)) return ACCESS_RETRY;
    if (b.ram !== null) {
      setLE(b.ram, off, len, value);
      return ACCESS_OK;
    }
    const io = b as IoBacking;
    if (len === 4) io.io.write(io.base + off, 4, value >>> 0);
    else if (len === 2 || len === 1) io.io.write(io.base + off, len, value & (len === 2 ? 0xffff : 0xff));
    else {
      setLE(this.scratch, 0, len, value);
      ioWriteBytes(io.io, io.base + off, len, this.scratch, 0);
    }
    return ACCESS_OK;
  }
}

export interface MemoryRegion {
  readonly slot: number;
  readonly flags: number;
  /** u64 fields as the ioctl carries them. */
  readonly guestPhysAddr: bigint;
  readonly memorySize: bigint;
  readonly userspaceAddr: bigint;
  /** With KVM_MEM_GUEST_MEMFD: guest_memfd_offset. */
  readonly guestMemfdOffset?: bigint;
  /**
   * With KVM_MEM_GUEST_MEMFD: kvm_gmem_bind() for the new slot (the fd lookup and every check; throws
   * before binding anything), called once every other rule passed.
   */
  readonly bindGmem?: (slot: MemSlot) => GmemBinding;
}

const PAGE = BigInt(PAGE_SIZE);
/** (kvm_mmu_max_gfn() + 1) * PAGE_SIZE: without TDP, 52 bits. */
const GPA_LIMIT = 1n << 52n;

export class MemSlots {
  private readonly byId = new Map<number, MemSlot>();
  /** Slots sorted by guest address (lookups on every guest memory access). */
  private sorted: MemSlot[] = [];
  private last: MemSlot | null = null;

  /** kvm->manual_dirty_log_protect (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2's args[0]). */
  manualDirtyLogProtect = 0;
  /** kvm->dirty_ring_size != 0: new logging slots get no bitmap (kvm_use_dirty_bitmap()). */
  dirtyRing = false;

  constructor(private readonly mm: AddressSpace) {}

  /** By slot id (KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG). */
  byIdOrNull(id: number): MemSlot | null {
    return this.byId.get(id) ?? null;
  }

  /**
   * kvm_prepare_memory_region(): a slot without KVM_MEM_LOG_DIRTY_PAGES has no bitmap; one with it
   * keeps the old slot's (a move or a flags change), or gets a new one unless the VM has dirty rings, all ones when manual protect
   * asked for KVM_DIRTY_LOG_INITIALLY_SET.
   */
  private dirtyBitmapFor(flags: number, npages: number, old: MemSlot): Uint8Array | null {
    if (!(flags & KVM_MEM_LOG_DIRTY_PAGES)) return null;
    if (old.dirty) return old.dirty;
    if (this.dirtyRing) return null;
    const d = new Uint8Array(Math.ceil(npages / 64) * 8);
    if (this.manualDirtyLogProtect & KVM_DIRTY_LOG_INITIALLY_SET) for (let pg = 0; pg < npages; pg++) d[pg >> 3]! |= 1 << (pg & 7);
    return d;
  }

  /**
   * The dirty log of a slot created, moved or with KVM_MEM_LOG_DIRTY_PAGES changed to `flags`: its
   * bitmap, and every page write-protected (kvm_mmu_slot_apply_flags; a move drops the old mappings).
   */
  private startLogging(slot: MemSlot, flags: number): void {
    slot.dirty = this.dirtyBitmapFor(flags, slot.npages, slot);
    slot.ringWritable = flags & KVM_MEM_LOG_DIRTY_PAGES ? new Uint8Array(Math.ceil(slot.npages / 8)) : null;
  }

  list(): readonly MemSlot[] {
    return this.sorted;
  }

  /** The slot containing [gpa, gpa+len), or null. */
  find(gpa: number, len: number): MemSlot | null {
    const l = this.last;
    if (l !== null && gpa >= l.gpa && gpa + len <= l.end) return l;
    const s = this.sorted;
    for (let i = 0; i < s.length; i++) {
      const m = s[i]!;
      if (gpa < m.gpa) break;
      if (gpa + len <= m.end) {
        this.last = m;
        return m;
      }
    }
    return null;
  }

  private overlaps(id: number, gpa: number, end: number): MemSlot | undefined {
    return this.sorted.find((m) => m.id !== id && m.gpa < end && gpa < m.end);
  }

  /** kvm_vm_ioctl_set_memory_region() for KVM_SET_USER_MEMORY_REGION(2). */
  set(r: MemoryRegion): number {
    const hex = (v: bigint): string => `0x${v.toString(16)}`;
    const asId = r.slot >>> 16;
    const id = r.slot & 0xffff;
    // kvm_vm_ioctl_set_memory_region() checks the id before check_memory_region_flags().
    if (id >= KVM_USER_MEM_SLOTS) throw kerr('EINVAL', `slot ${id} is not below KVM_USER_MEM_SLOTS (${KVM_USER_MEM_SLOTS})`);
    // check_memory_region_flags(): a guest_memfd slot can neither log dirty pages nor be read-only.
    const gm = (r.flags & KVM_MEM_GUEST_MEMFD) !== 0;
    if (gm && r.flags & (KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) throw kerr('EINVAL', 'KVM_MEM_GUEST_MEMFD cannot be combined with KVM_MEM_LOG_DIRTY_PAGES or KVM_MEM_READONLY');
    if (r.flags & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD)) throw kerr('EINVAL', `flags 0x${r.flags.toString(16)} has bits other than KVM_MEM_LOG_DIRTY_PAGES|KVM_MEM_READONLY|KVM_MEM_GUEST_MEMFD`);
    if (r.memorySize % PAGE !== 0n) throw kerr('EINVAL', `memory_size ${hex(r.memorySize)} is not a multiple of the page size`);
    if (r.guestPhysAddr % PAGE !== 0n) throw kerr('EINVAL', `guest_phys_addr ${hex(r.guestPhysAddr)} is not page aligned`);
    if (r.userspaceAddr % PAGE !== 0n || r.userspaceAddr + r.memorySize > BigInt(TASK_SIZE)) {
      throw kerr('EINVAL', `userspace_addr ${hex(r.userspaceAddr)} is not a page-aligned user address range of ${hex(r.memorySize)} bytes`);
    }
    const gmoff = r.guestMemfdOffset ?? 0n;
    if (gm && (gmoff % PAGE !== 0n || gmoff + r.memorySize >= 1n << 64n)) throw kerr('EINVAL', `guest_memfd_offset ${hex(gmoff)} is not page aligned, or the range wraps around`);
    if (asId >= 1) throw kerr('EINVAL', `address space ${asId} does not exist (this VM has one: no SMM)`);
    if (r.guestPhysAddr + r.memorySize > 1n << 64n) throw kerr('EINVAL', 'guest_phys_addr + memory_size wraps around');
    if (r.memorySize / PAGE > BigInt(KVM_MEM_MAX_NR_PAGES)) throw kerr('EINVAL', `memory_size is more than ${KVM_MEM_MAX_NR_PAGES} pages`);
    const size = Number(r.memorySize);
    const gpa = Number(r.guestPhysAddr);
    const uaddr = Number(r.userspaceAddr);
    const old = this.byId.get(id);
    if (size === 0) {
      if (!old) throw kerr('EINVAL', `slot ${id} does not exist, so it cannot be deleted`);
      this.byId.delete(id);
      // kvm_gmem_unbind(): the file range is free again.
      old.gmem?.file?.unbind(old);
      this.rebuild();
      return 0;
    }
    let move = false;
    if (old) {
      if (gm) throw kerr('EINVAL', `slot ${id} exists: a KVM_MEM_GUEST_MEMFD slot cannot be changed, only deleted`);
      if ((r.flags ^ old.flags) & KVM_MEM_GUEST_MEMFD) throw kerr('EINVAL', `slot ${id} is bound to a guest_memfd: it cannot be changed, only deleted`);
      if (uaddr !== old.userspaceAddr || size !== old.size || (r.flags ^ old.flags) & KVM_MEM_READONLY) {
        throw kerr('EINVAL', `slot ${id} exists: only its guest address or KVM_MEM_LOG_DIRTY_PAGES may change (delete it first to resize or remap it)`);
      }
      if (gpa !== old.gpa) move = true;
      else if (r.flags !== old.flags) {
        this.startLogging(old, r.flags);
        old.flags = r.flags;
        return 0;
      } else return 0;
    }
    const clash = this.overlaps(id, gpa, gpa + size);
    if (clash) {
      throw kerr('EEXIST', `guest range 0x${gpa.toString(16)}-0x${(gpa + size - 1).toString(16)} overlaps slot ${clash.id} (0x${clash.gpa.toString(16)}-0x${(clash.end - 1).toString(16)})`);
    }
    // kvm_set_memory_region() binds a new guest_memfd slot before kvm_set_memslot() (and the arch check
    // below), and unbinds it again when that fails.
    const slot = move ? null : new MemSlot(id, r.flags, gpa, size, uaddr, this.mm);
    if (slot !== null && gm) slot.gmem = r.bindGmem!(slot);
    if (r.guestPhysAddr + r.memorySize > GPA_LIMIT) {
      if (slot !== null) slot.gmem?.file?.unbind(slot);
      throw kerr('EINVAL', `guest range ${hex(r.guestPhysAddr)}+${hex(r.memorySize)} ends above the 52-bit guest-physical address space KVM can map`);
    }
    if (slot === null) {
      this.startLogging(old!, r.flags);
      old!.gpa = gpa;
      old!.flags = r.flags;
    } else {
      this.startLogging(slot, r.flags);
      this.byId.set(id, slot);
    }
    this.rebuild();
    return 0;
  }

  private rebuild(): void {
    this.sorted = [...this.byId.values()].sort((a, b) => a.gpa - b.gpa);
    this.last = null;
  }
}
