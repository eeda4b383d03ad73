// drivers/iommu/iommufd/main.c: /dev/iommu (misc device "iommu", dynamic minor, mode 0660 root:root) and the
// iommufd_ctx behind each open: an object table whose ids come from an xarray allocating from 1 (the lowest
// free id, so destroyed ids are reused), the ioctl dispatcher and IOMMU_DESTROY.
// iommufd_fops_ioctl(): a number outside the command table goes to the VFIO compatibility layer
// (vfio_compat.c, not modelled here: ENOTTY); the leading u32 `size` is read (EFAULT), a number whose
// size/direction bits differ from the table's is ENOTTY, size < the struct's minimum (offsetofend of its last
// mandatory member) is EINVAL, and copy_struct_from_user() takes the user's bytes: a larger struct must be
// zero past what this kernel knows (E2BIG), a smaller one is zero-extended. Results go back with
// iommufd_ucmd_respond(): min(size, sizeof) bytes.
// iommufd_fops_release(): objects are destroyed leaves first; a bound device holds a reference on the file
// (iommufd_ctx_get), so the context lives until every device bound to it is unbound.
// Not modelled: the dirty-tracking, invalidation, fault, vIOMMU, MAP_FILE and CHANGE_PROCESS commands (ENOTTY;
// IOMMU_HWPT_ALLOC makes paging HWPTs only), and /dev/vfio/vfio provided by iommufd (CONFIG_IOMMUFD_VFIO_CONTAINER).

import { getU32 } from '../../../../abi/bytes.js';
import { kerr } from '../../errors.js';
import { KFile, type FileContext } from '../../fs/file.js';
import { chardev } from '../../fs/vfs.js';
import type { Kernel } from '../../kernel.js';
import type { Process } from '../../process.js';
import type { UserArg } from '../../uaccess.js';
import {
  IOMMU_DESTROY, IOMMU_GET_HW_INFO, IOMMU_HWPT_ALLOC, IOMMU_IOAS_ALLOC, IOMMU_IOAS_ALLOW_IOVAS, IOMMU_IOAS_COPY, IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP, IOMMU_OPTION, IOMMU_VFIO_IOAS, IOMMUFD_CMD_BASE, IOMMUFD_CMD_HW_QUEUE_ALLOC,
  iommu_destroy, iommu_hw_info, iommu_hwpt_alloc, iommu_ioas_alloc, iommu_ioas_allow_iovas, iommu_ioas_copy, iommu_ioas_iova_ranges,
  iommu_ioas_map, iommu_ioas_unmap, iommu_option, iommu_vfio_ioas,
} from '../../../../include-ts/linux/iommufd.js';
import { IOPT_PAGES_ACCOUNT_USER, type UserLockedVm } from './io-pagetable.js';
import type { IommufdIoas } from './ioas.js';
import { ioasAlloc, ioasAllowIovas, ioasCopy, ioasIovaRanges, ioasMap, ioasUnmap, iommufdOption, iommufdVfioIoas } from './ioas.js';
import type { IommufdDevice, IommufdHwpt, IommufdIgroup } from './device.js';
import { destroyDevice, destroyHwpt, getHwInfo, hwptAlloc } from './device.js';
import { IOMMUFD_IOCTLS } from '../../trace/decoders/iommufd.js';
import { MISC_DYNAMIC_MINOR, miscRegister } from '../../fs/char-dev.js';

export type IommufdObject = IommufdIoas | IommufdHwpt | IommufdDevice;

/** The ioctl being executed (struct iommufd_ucmd). */
export interface Ucmd {
  readonly ictx: IommufdCtx;
  readonly proc: Process;
  /** The kernel's copy of the struct (op->size bytes). */
  readonly cmd: Uint8Array;
  /** ucmd->user_size */
  readonly userSize: number;
  /** The user's struct, in place (userSize bytes). */
  readonly user: Uint8Array;
}

/** iommufd_ucmd_respond(): copies min(user_size, len) bytes of the command back. */
export function respond(u: Ucmd, len: number): void {
  const n = Math.min(u.userSize, len);
  u.user.set(u.cmd.subarray(0, n));
}

interface IoctlOp {
  readonly name: string;
  readonly size: number;
  readonly minSize: number;
  readonly num: number;
  readonly execute: (u: Ucmd) => number;
}

const op = (name: string, num: number, size: number, minSize: number, execute: (u: Ucmd) => number): IoctlOp => ({ name, num, size, minSize, execute });

const IOC_NR = (cmd: number): number => cmd & 0xff;

/**
 * iommufd_ioctl_ops[], indexed by _IOC_NR. Built on first use: the handlers live in modules that import
 * this one.
 */
let OPS: Map<number, IoctlOp> | null = null;
const ops = (): Map<number, IoctlOp> => (OPS ??= new Map<number, IoctlOp>(([
  [IOMMU_DESTROY, op('IOMMU_DESTROY', IOMMU_DESTROY, iommu_destroy.size, iommu_destroy.offsetofend('id'), (u) => u.ictx.destroyId(getU32(u.cmd, 4)))],
  [IOMMU_IOAS_ALLOC, op('IOMMU_IOAS_ALLOC', IOMMU_IOAS_ALLOC, iommu_ioas_alloc.size, iommu_ioas_alloc.offsetofend('out_ioas_id'), ioasAlloc)],
  [IOMMU_IOAS_ALLOW_IOVAS, op('IOMMU_IOAS_ALLOW_IOVAS', IOMMU_IOAS_ALLOW_IOVAS, iommu_ioas_allow_iovas.size, iommu_ioas_allow_iovas.offsetofend('allowed_iovas'), ioasAllowIovas)],
  [IOMMU_IOAS_COPY, op('IOMMU_IOAS_COPY', IOMMU_IOAS_COPY, iommu_ioas_copy.size, iommu_ioas_copy.offsetofend('src_iova'), ioasCopy)],
  [IOMMU_IOAS_IOVA_RANGES, op('IOMMU_IOAS_IOVA_RANGES', IOMMU_IOAS_IOVA_RANGES, iommu_ioas_iova_ranges.size, iommu_ioas_iova_ranges.offsetofend('out_iova_alignment'), ioasIovaRanges)],
  [IOMMU_IOAS_MAP, op('IOMMU_IOAS_MAP', IOMMU_IOAS_MAP, iommu_ioas_map.size, iommu_ioas_map.offsetofend('iova'), ioasMap)],
  [IOMMU_IOAS_UNMAP, op('IOMMU_IOAS_UNMAP', IOMMU_IOAS_UNMAP, iommu_ioas_unmap.size, iommu_ioas_unmap.offsetofend('length'), ioasUnmap)],
  [IOMMU_OPTION, op('IOMMU_OPTION', IOMMU_OPTION, iommu_option.size, iommu_option.offsetofend('val64'), iommufdOption)],
  [IOMMU_VFIO_IOAS, op('IOMMU_VFIO_IOAS', IOMMU_VFIO_IOAS, iommu_vfio_ioas.size, iommu_vfio_ioas.offsetofend('__reserved'), iommufdVfioIoas)],
  [IOMMU_GET_HW_INFO, op('IOMMU_GET_HW_INFO', IOMMU_GET_HW_INFO, iommu_hw_info.size, iommu_hw_info.offsetofend('__reserved'), getHwInfo)],
  [IOMMU_HWPT_ALLOC, op('IOMMU_HWPT_ALLOC', IOMMU_HWPT_ALLOC, iommu_hwpt_alloc.size, iommu_hwpt_alloc.offsetofend('__reserved'), hwptAlloc)],
] as Array<[number, IoctlOp]>).map(([num, o]) => [IOC_NR(num), o])));


/** struct iommufd_ctx */
export class IommufdCtx {
  /** ictx->objects: id -> object (a null entry is an id reserved by an object being created). */
  readonly objects = new Map<number, IommufdObject | null>();
  /** ictx->groups: per IOMMU group state of the devices bound here. */
  readonly groups = new Map<number, IommufdIgroup>();
  vfioIoas: IommufdIoas | null = null;
  accountMode = IOPT_PAGES_ACCOUNT_USER;

  constructor(
    readonly kernel: Kernel,
    readonly file: IommufdFile,
  ) {}

  /** As a DMA owner of IOMMU groups, in messages. */
  get ownerName(): string {
    return 'an iommufd (/dev/iommu)';
  }

  get userLockedVm(): UserLockedVm {
    return this.kernel.iommufd.userLockedVm;
  }

  /** xa_alloc() with XA_FLAGS_ALLOC1: the lowest free id from 1 (iommufd_object_alloc). */
  allocId(): number {
    let id = 1;
    while (this.objects.has(id)) id++;
    this.objects.set(id, null);
    return id;
  }

  /** iommufd_object_finalize() */
  finalize(obj: IommufdObject): void {
    this.objects.set(obj.id, obj);
  }

  /** iommufd_object_abort(): frees a reserved id. */
  abort(id: number): void {
    if (this.objects.get(id) === null) this.objects.delete(id);
  }

  /** iommufd_get_object(): ENOENT for a missing id or one of another type. */
  get<T extends IommufdObject>(id: number, type: T['type'] | null, what: string): T {
    const o = this.objects.get(id);
    if (!o || (type !== null && o.type !== type)) {
      throw kerr('ENOENT', o ? `object ${id} is ${o.type === 'ioas' ? 'an IOAS' : o.type === 'hwpt-paging' ? 'a HWPT' : 'a device'}, not ${what}` : `no ${what} with id ${id} in this iommufd`);
    }
    return o as T;
  }

  /** IOMMU_DESTROY (iommufd_object_remove): ENOENT, EBUSY while anything else holds the object. */
  destroyId(id: number): number {
    const o = this.objects.get(id);
    if (!o) throw kerr('ENOENT', `no object with id ${id} in this iommufd`);
    if (o.users !== 1) throw kerr('EBUSY', `object ${id} (${o.type}) is in use (${o.users - 1} reference(s): ${this.usersOf(o)})`);
    this.destroy(o);
    return 0;
  }

  private usersOf(o: IommufdObject): string {
    if (o.type === 'ioas') return 'an attached HWPT uses it';
    if (o.type === 'hwpt-paging') return 'devices are attached to it';
    return 'a VFIO device is bound through it';
  }

  /** Removes and destroys an object with no other users. */
  destroy(o: IommufdObject): void {
    this.objects.delete(o.id);
    if (this.vfioIoas === o) this.vfioIoas = null;
    if (o.type === 'ioas') o.destroy();
    else if (o.type === 'hwpt-paging') destroyHwpt(this, o);
    else destroyDevice(this, o);
  }

  ioctl(ctx: FileContext, cmd: number, arg: UserArg): number {
    const nr = IOC_NR(cmd);
    if (nr < IOMMUFD_CMD_BASE || nr > IOMMUFD_CMD_HW_QUEUE_ALLOC) {
      throw kerr('ENOTTY', `ioctl 0x${(cmd >>> 0).toString(16)} is not an iommufd command (the VFIO compatibility ioctls of vfio_compat.c are not modelled)`);
    }
    const userSize = getU32(arg.user(4), 0);
    const o = ops().get(nr);
    if (!o) throw kerr('ENOTTY', `iommufd command 0x${nr.toString(16)} is not modelled`);
    if (o.num !== cmd) throw kerr('ENOTTY', `0x${(cmd >>> 0).toString(16)} has the number of ${o.name} but not its encoding (_IO(';', 0x${nr.toString(16)}))`);
    if (userSize < o.minSize) throw kerr('EINVAL', `${o.name}: size ${userSize} is smaller than the ${o.minSize} bytes the command needs`);
    // copy_struct_from_user()
    const user = arg.user(userSize);
    if (userSize > o.size) {
      for (let i = o.size; i < userSize; i++) {
        if (user[i] !== 0) throw kerr('E2BIG', `${o.name}: size ${userSize} is larger than this kernel's struct (${o.size} bytes) and byte ${i} beyond it is not zero`);
      }
    }
    const k = new Uint8Array(o.size);
    k.set(user.subarray(0, Math.min(userSize, o.size)));
    return o.execute({ ictx: this, proc: ctx.proc, cmd: k, userSize, user });
  }

  /** iommufd_fops_release(): destroys every object, leaves (users == 1) first. */
  release(): void {
    while (this.objects.size) {
      let destroyed = 0;
      for (const o of [...this.objects.values()]) {
        if (!o || o.users !== 1) continue;
        this.destroy(o);
        destroyed++;
      }
      if (!destroyed) break;
    }
  }
}

export class IommufdFile extends KFile {
  readonly kind = 'iommufd' as const;
  readonly path = '/dev/iommu';
  readonly ictx: IommufdCtx;

  constructor(kernel: Kernel) {
    super();
    this.ictx = new IommufdCtx(kernel, this);
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    return this.ictx.ioctl(ctx, req, arg);
  }

  override release(): void {
    this.ictx.release();
  }
}

/** The iommufd module: /dev/iommu and the per-user pinned page counts its accounting uses. */
export class IommufdCore {
  readonly userLockedVm: UserLockedVm = new Map();

  constructor(kernel: Kernel) {
    kernel.params.declare('iommufd', 'allow_unsafe_interrupts', 'bool', false, true);
    // misc_register(&iommu_misc_dev): nodename "iommu", mode 0660, MISC_DYNAMIC_MINOR.
    kernel.vfs.mkdirp('/dev').set('iommu', chardev(() => new IommufdFile(kernel), 0o660, 0, 0, miscRegister(kernel, 'iommu', MISC_DYNAMIC_MINOR)));
  }

  /** iommufd_ctx_from_fd(): EBADF for a closed fd, EBADFD for a file that is not /dev/iommu. */
  ctxFromFd(proc: Process, fd: number): IommufdCtx {
    const f = proc.fileOrNull(fd);
    if (!f) throw kerr('EBADF', `fd ${fd} is not an open file descriptor`);
    if (!(f instanceof IommufdFile)) throw kerr('EBADFD', `fd ${fd} (${f.path}) is not an iommufd (/dev/iommu)`);
    return f.ictx;
  }
}

export function initIommufd(kernel: Kernel): void {
  kernel.iommufd = new IommufdCore(kernel);
  kernel.ioctlTables.set('iommufd', IOMMUFD_IOCTLS);
}
