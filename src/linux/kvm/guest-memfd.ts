// guest_memfd: guest memory that KVM owns (virt/kvm/guest_memfd.c: kvm_gmem_create, __kvm_gmem_create,
// kvm_gmem_fallocate, kvm_gmem_punch_hole, kvm_gmem_allocate, kvm_gmem_mmap, kvm_gmem_fault_user_mapping,
// kvm_gmem_bind, kvm_gmem_unbind, kvm_gmem_get_pfn, kvm_gmem_release; virt/kvm/kvm_main.c: the
// KVM_CREATE_GUEST_MEMFD case of kvm_vm_ioctl, KVM_CAP_GUEST_MEMFD(_FLAGS)). As this machine's 6.18
// kernel offers it to default VMs ([E]: measured with test/linux/kvm/guest-memfd-oracle.c):
//
// - KVM_CREATE_GUEST_MEMFD copies struct kvm_create_guest_memfd (64 bytes; EFAULT), then flags outside
//   kvm_gmem_get_supported_flags() (MMAP | INIT_SHARED on a default VM) -> EINVAL, then size <= 0 as a
//   loff_t or not page aligned -> EINVAL. reserved[] is not checked, INIT_SHARED without MMAP is
//   accepted, and no size limit applies (1 << 62 gets an fd: pages are allocated on use) [E].
// - The fd: "anon_inode:[kvm-gmem]" on anon_inodefs, an inode of its own (anon_inode_make_secure_inode:
//   S_IFREG|0600, i_size = size, owned by the creator's fsuid/fsgid, times of its creation), O_RDWR|
//   O_LARGEFILE without O_CLOEXEC (get_unused_fd_flags(0)) [E]. st_blocks stays 0 whatever is allocated;
//   a successful fallocate moves mtime and ctime (file_modified) [E].
//   It holds the VM (kvm_get_kvm) until released.
// - kvm_gmem_fops has only mmap, open, release and fallocate: read/write -> EINVAL, pread/pwrite and
//   lseek -> ESPIPE, ioctl -> ENOTTY, ftruncate/fchmod -> EINVAL (kvm_gmem_setattr) [E].
// - mmap: ENODEV without GUEST_MEMFD_FLAG_MMAP, EINVAL unless shared; the mapping may reach past i_size,
//   but a fault there, or any fault without GUEST_MEMFD_FLAG_INIT_SHARED, is SIGBUS [E]. Faulted pages
//   are zeroed on first use (clear_highpage) and shared with the guest.
// - fallocate: vfs_fallocate's checks (fallocate.ts), then without FALLOC_FL_KEEP_SIZE, or with a mode
//   other than KEEP_SIZE[|PUNCH_HOLE] -> EOPNOTSUPP; offset/len not page aligned -> EINVAL. Allocation
//   past i_size -> EINVAL ("immutable" size); punching is not limited to i_size and frees the pages,
//   so the next access reads zeroes [E].
// - Binding (KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD, memslot.ts): fd not open -> EBADF, not a
//   guest_memfd or another VM's -> EINVAL, offset negative, unaligned or offset + slot size past i_size
//   -> EINVAL, a file range another slot binds -> EINVAL [E]. A guest_memfd made with MMAP makes the slot
//   KVM_MEMSLOT_GMEM_ONLY: guest faults take the page from the guest_memfd (kvm_mmu_faultin_pfn_gmem),
//   not from userspace_addr. Without MMAP a default VM has no private memory, so the slot faults through
//   userspace_addr as any other.
// - Closing the last reference (kvm_gmem_release) cuts every binding: a gmem-only slot then faults with
//   EFAULT (kvm_gmem_get_pfn finds no file); the pages live with the inode, which an mmap keeps.

import { kerr } from '../errors.js';
import { KFile, type AnonInodeAttrs, type FileContext, type MmapRequest } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import { IoBacking, MemoryFault, type Backing } from '../mm/backing.js';
import type { UserArg } from '../uaccess.js';
import { getU64 } from '../../../abi/bytes.js';
import { O_LARGEFILE, O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { MAP_PRIVATE, MAP_TYPE } from '../../../include-ts/linux/mman.js';
import { S_IFREG } from '../../../include-ts/linux/stat.js';
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, kvm_create_guest_memfd } from '../../../include-ts/linux/kvm.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../../include-ts/linux/falloc.js';
import { PAGE_SIZE } from './kvm-host.js';
import type { MemSlot } from './memslot.js';
import type { Kvm } from './vm.js';

/** kvm_gmem_get_supported_flags() for a default VM (kvm_arch_supports_gmem_init_shared: no private memory). */
export const KVM_GMEM_SUPPORTED_FLAGS = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

/** A slot's binding to a guest_memfd (memslot->gmem): the file, cleared when it is released, and its first page. */
export interface GmemBinding {
  file: GuestMemfdFile | null;
  readonly pgoff: number;
  /** KVM_MEMSLOT_GMEM_ONLY: the guest_memfd was made with GUEST_MEMFD_FLAG_MMAP. */
  readonly gmemOnly: boolean;
}

/** A guest_memfd file: its inode's pages and size, and this VM's bindings (struct gmem_file). */
export class GuestMemfdFile extends KFile {
  readonly kind = 'kvm-gmem' as const;
  readonly path = 'anon_inode:[kvm-gmem]';
  /** The inode's folios by page index, allocated on first use and zeroed then (no huge pages). */
  private readonly pages = new Map<number, Uint8Array>();
  /** f->bindings: the slots binding file pages, with the range each binds. */
  private readonly bindings: { start: number; end: number; slot: MemSlot; binding: GmemBinding }[] = [];

  constructor(
    readonly kvm: Kvm,
    /** i_size: fixed at creation (kvm_gmem_setattr refuses changes). */
    readonly size: number,
    /** GMEM_I(inode)->flags. */
    readonly gflags: number,
    /** i_ino: get_next_ino() of its own secure anon inode. */
    private readonly inodeNo: number,
    /** alloc_anon_inode(): i_uid/i_gid are the creator's fsuid/fsgid. */
    private readonly owner: { readonly uid: number; readonly gid: number },
    /** The inode's times: all its creation (simple_inode_init_ts), then mtime/ctime of the last fallocate. */
    private readonly times: { atimeNs: number; mtimeNs: number; ctimeNs: number },
  ) {
    super();
    this.flags = O_RDWR | O_LARGEFILE;
  }

  override get ino(): number {
    return this.inodeNo;
  }

  /** The inode's i_mode and i_size as fstat reports them (__kvm_gmem_create: i_mode |= S_IFREG). */
  override get anonAttrs(): AnonInodeAttrs {
    return { mode: S_IFREG | 0o600, size: this.size, ...this.owner, ...this.times };
  }

  /** kvm_gmem_get_folio(): the page at `index`, allocated zeroed on first use. */
  page(index: number): Uint8Array {
    let p = this.pages.get(index);
    if (p === undefined) {
      p = new Uint8Array(PAGE_SIZE);
      this.pages.set(index, p);
    }
    return p;
  }

  /** kvm_gmem_mmap(), with kvm_gmem_fault_user_mapping() on each access. */
  override mmap(_ctx: FileContext, req: MmapRequest): Backing {
    if (!(this.gflags & GUEST_MEMFD_FLAG_MMAP)) throw kerr('ENODEV', 'this guest_memfd was created without GUEST_MEMFD_FLAG_MMAP, so it cannot be mapped');
    if ((req.flags & MAP_TYPE) === MAP_PRIVATE) throw kerr('EINVAL', 'a guest_memfd can only be mapped shared (MAP_SHARED): its pages are the guest\'s');
    const at = (o: number): [Uint8Array, number] => {
      if (o >= this.size) throw new MemoryFault('SIGBUS', o, `offset 0x${o.toString(16)} is past the guest_memfd's size 0x${this.size.toString(16)} (kvm_gmem_fault_user_mapping)`);
      if (!(this.gflags & GUEST_MEMFD_FLAG_INIT_SHARED)) throw new MemoryFault('SIGBUS', o, 'the guest_memfd was created without GUEST_MEMFD_FLAG_INIT_SHARED: its pages are not shared with userspace');
      return [this.page(Math.floor(o / PAGE_SIZE)), o % PAGE_SIZE];
    };
    return new IoBacking(
      {
        read: (o, size) => {
          let x = 0;
          for (let i = size - 1; i >= 0; i--) {
            const [p, off] = at(o + i);
            x = x * 256 + p[off]!;
          }
          return x;
        },
        write: (o, size, value) => {
          for (let i = 0; i < size; i++) {
            const [p, off] = at(o + i);
            p[off] = Math.floor(value / 2 ** (i * 8)) & 0xff;
          }
        },
      },
      req.offset,
      req.length,
    );
  }

  /** kvm_gmem_fallocate(), after vfs_fallocate() (fallocate.ts) checked the arguments. */
  override fallocate(ctx: FileContext, mode: number, offset: number, len: number): number {
    if (!(mode & FALLOC_FL_KEEP_SIZE)) throw kerr('EOPNOTSUPP', 'a guest_memfd\'s size is fixed: fallocate needs FALLOC_FL_KEEP_SIZE');
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) throw kerr('EOPNOTSUPP', `fallocate mode 0x${mode.toString(16)}: a guest_memfd allocates or punches holes (FALLOC_FL_KEEP_SIZE[|FALLOC_FL_PUNCH_HOLE]) only`);
    if (offset % PAGE_SIZE || len % PAGE_SIZE) throw kerr('EINVAL', `offset 0x${offset.toString(16)} and length 0x${len.toString(16)} must be page aligned`);
    const start = offset / PAGE_SIZE;
    const end = (offset + len) / PAGE_SIZE;
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      // kvm_gmem_punch_hole(): the pages go (guest mappings are zapped first); the next access gets a zeroed one.
      for (const i of [...this.pages.keys()]) if (i >= start && i < end) this.pages.delete(i);
    } else {
      if (offset + len > this.size) throw kerr('EINVAL', `allocating 0x${offset.toString(16)}+0x${len.toString(16)} would reach past the guest_memfd's size 0x${this.size.toString(16)}`);
      for (let i = start; i < end; i++) this.page(i);
    }
    // file_modified().
    this.times.mtimeNs = this.times.ctimeNs = ctx.kernel.sched.now;
    return 0;
  }

  /**
   * kvm_gmem_bind()'s checks once the fd resolved to this file: the VM, the offset and the file range
   * (offset is the u64 guest_memfd_offset; the slot is `npages` pages).
   */
  checkBind(kvm: Kvm, offset: bigint, npages: number): void {
    if (this.kvm !== kvm) throw kerr('EINVAL', 'the guest_memfd belongs to another VM');
    const size = BigInt(npages * PAGE_SIZE);
    if (offset >= 1n << 63n || offset % BigInt(PAGE_SIZE) !== 0n || offset + size > BigInt(this.size)) {
      throw kerr('EINVAL', `guest_memfd_offset 0x${offset.toString(16)} + 0x${size.toString(16)} bytes is not a page-aligned range inside the guest_memfd (size 0x${this.size.toString(16)})`);
    }
    const start = Number(offset) / PAGE_SIZE;
    const end = start + npages;
    const other = this.bindings.find((b) => b.start < end && start < b.end);
    if (other) throw kerr('EINVAL', `guest_memfd pages 0x${start.toString(16)}-0x${(end - 1).toString(16)} overlap the ones slot ${other.slot.id} binds`);
  }

  /** kvm_gmem_bind()'s commit: `slot` now takes pages from here. */
  bind(slot: MemSlot, offset: bigint): GmemBinding {
    const start = Number(offset) / PAGE_SIZE;
    const binding: GmemBinding = { file: this, pgoff: start, gmemOnly: (this.gflags & GUEST_MEMFD_FLAG_MMAP) !== 0 };
    this.bindings.push({ start, end: start + slot.npages, slot, binding });
    return binding;
  }

  /** kvm_gmem_unbind(): the slot is deleted. */
  unbind(slot: MemSlot): void {
    const i = this.bindings.findIndex((b) => b.slot === slot);
    if (i >= 0) this.bindings.splice(i, 1);
  }

  /** kvm_gmem_release(): every binding loses the file; the VM reference goes. */
  override release(_kernel: Kernel): void {
    for (const b of this.bindings) b.binding.file = null;
    this.bindings.length = 0;
    this.kvm.put();
  }
}

/** KVM_CREATE_GUEST_MEMFD (kvm_vm_ioctl -> kvm_gmem_create -> __kvm_gmem_create). */
export function createGuestMemfd(ctx: FileContext, kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_create_guest_memfd.size);
  const size = BigInt.asIntN(64, getU64(b, 0));
  const flags = getU64(b, 8);
  if (flags & ~BigInt(KVM_GMEM_SUPPORTED_FLAGS)) {
    throw kerr('EINVAL', `guest_memfd flags 0x${flags.toString(16)} have bits other than GUEST_MEMFD_FLAG_MMAP|GUEST_MEMFD_FLAG_INIT_SHARED`);
  }
  if (size <= 0n || size % BigInt(PAGE_SIZE) !== 0n) throw kerr('EINVAL', `guest_memfd size ${size} is not a positive multiple of the page size`);
  // get_unused_fd_flags(0): no O_CLOEXEC.
  ctx.proc.fds.reserveCheck();
  // alloc_anon_inode() numbers it with get_next_ino(), the counter pipe inodes draw from too.
  const now = ctx.kernel.sched.now;
  const f = new GuestMemfdFile(kvm, Number(size), Number(flags), ctx.kernel.ids.next('pipe-ino'), { uid: ctx.proc.uid, gid: ctx.proc.gid }, { atimeNs: now, mtimeNs: now, ctimeNs: now });
  kvm.get();
  return ctx.proc.fds.install(f, false);
}

/**
 * kvm_gmem_bind()'s lookup: fget(fd) (EBADF), then the file must be a guest_memfd (EINVAL); the rest
 * is GuestMemfdFile.checkBind.
 */
export function gmemFileOf(file: KFile | undefined, fd: number): GuestMemfdFile {
  if (file === undefined) throw kerr('EBADF', `guest_memfd ${fd} is not an open file descriptor`);
  if (!(file instanceof GuestMemfdFile)) throw kerr('EINVAL', `fd ${fd} (${file.path}) is not a guest_memfd`);
  return file;
}
