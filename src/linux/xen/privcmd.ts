// drivers/xen/privcmd.c: /dev/xen/privcmd, through which dom0 userspace (the toolstack, QEMU) issues
// hypercalls. IOCTL_PRIVCMD_HYPERCALL copies struct privcmd_hypercall from the user and calls the
// hypervisor with its op and arguments (pointers stay user virtual addresses, read by Xen in place);
// the ioctl returns the hypercall's result, a negative one becoming -1/errno. A fd restricted with
// IOCTL_PRIVCMD_RESTRICT refuses arbitrary hypercalls (EPERM).
import { getU16, getU64n } from '../../../abi/bytes.js';
import { IOCTL_PRIVCMD_HYPERCALL, IOCTL_PRIVCMD_RESTRICT, privcmd_hypercall } from '../../../include-ts/xen/privcmd.js';
import { DOMID_INVALID } from '../../../include-ts/xen/xen.js';
import { KernelError, kerr } from '../errors.js';
import { KFile, type FileContext } from '../fs/file.js';
import { chardev } from '../fs/vfs.js';
import { MISC_DYNAMIC_MINOR, miscRegister } from '../fs/char-dev.js';
import type { Kernel } from '../kernel.js';
import { ioctlTable } from '../trace/ioctl-desc.js';
import type { UserArg } from '../uaccess.js';
import { HypercallFailure, type XenHypervisorPort } from './hypervisor.js';

export const PRIVCMD_IOCTLS = ioctlTable([
  [IOCTL_PRIVCMD_HYPERCALL, { name: 'IOCTL_PRIVCMD_HYPERCALL', arg: 'struct', layout: privcmd_hypercall, hex: ['arg'] }],
  [IOCTL_PRIVCMD_RESTRICT, { name: 'IOCTL_PRIVCMD_RESTRICT', arg: 'int-ptr' }],
]);

const HYPERCALL_NAMES: Readonly<Record<number, string>> = { 33: '__HYPERVISOR_physdev_op', 36: '__HYPERVISOR_domctl' };

export class PrivcmdFile extends KFile {
  readonly kind = 'xen-privcmd' as const;
  readonly path = '/dev/xen/privcmd';
  /** privcmd_data.domid: DOMID_INVALID until restricted. */
  domid = DOMID_INVALID;

  constructor(private readonly port: XenHypervisorPort) {
    super();
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    switch (req) {
      case IOCTL_PRIVCMD_HYPERCALL: {
        if (this.domid !== DOMID_INVALID) throw kerr('EPERM', `this privcmd fd is restricted to domain ${this.domid}: arbitrary hypercalls are not allowed`);
        const b = arg.user(privcmd_hypercall.size);
        const op = getU64n(b, 0);
        const args = [getU64n(b, 8), getU64n(b, 16), getU64n(b, 24), getU64n(b, 32), getU64n(b, 40)];
        const mm = ctx.proc.mm;
        try {
          return this.port.hypercall(op, args, (addr, len) => mm.ram(addr, len));
        } catch (e) {
          if (e instanceof HypercallFailure) throw new KernelError(e.errno, `${HYPERCALL_NAMES[op] ?? `hypercall ${op}`}: ${e.reason}`);
          throw e;
        }
      }
      case IOCTL_PRIVCMD_RESTRICT: {
        const dom = getU16(arg.user(2), 0);
        if (this.domid === DOMID_INVALID) this.domid = dom;
        else if (this.domid !== dom) throw kerr('EINVAL', `this privcmd fd is already restricted to domain ${this.domid}`);
        return 0;
      }
      default:
        throw kerr('ENOTTY', `ioctl 0x${(req >>> 0).toString(16)} is not a privcmd ioctl`);
    }
  }
}

/** Registers /dev/xen/privcmd when the kernel runs as a Xen domain. */
export function initPrivcmd(kernel: Kernel): void {
  const port = kernel.xen;
  if (port === null) return;
  kernel.ioctlTables.set('xen-privcmd', PRIVCMD_IOCTLS);
  kernel.vfs.mkdirp('/dev/xen').set('privcmd', chardev(() => new PrivcmdFile(port), 0o600, 0, 0, miscRegister(kernel, 'xen/privcmd', MISC_DYNAMIC_MINOR)));
}
