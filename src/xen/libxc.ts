// A typed wrapper in the style of libxc (tools/libs/ctrl/xc_domain.c:1680-1730, xc_physdev.c,
// xc_pci.c): each call builds the hypercall argument's bytes (include-ts/xen layouts) in a hypercall
// buffer mapped in the calling process, and issues IOCTL_PRIVCMD_HYPERCALL on /dev/xen/privcmd - the
// real path; this file is only sugar. Errors surface as the ioctl's SyscallError (-1/errno).
import { setU32, setU64n } from '../../abi/bytes.js';
import { O_RDWR } from '../../include-ts/linux/fcntl.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../include-ts/linux/mman.js';
import { IOCTL_PRIVCMD_HYPERCALL, privcmd_hypercall } from '../../include-ts/xen/privcmd.js';
import { __HYPERVISOR_domctl, __HYPERVISOR_physdev_op } from '../../include-ts/xen/xen.js';
import { MAP_PIRQ_TYPE_MSI, PHYSDEVOP_map_pirq, PHYSDEVOP_unmap_pirq, physdev_map_pirq, physdev_unmap_pirq } from '../../include-ts/xen/physdev.js';
import {
  PT_IRQ_TYPE_MSI, XEN_DOMCTL_assign_device, XEN_DOMCTL_bind_pt_irq, XEN_DOMCTL_deassign_device, XEN_DOMCTL_DEV_PCI, XEN_DOMCTL_INTERFACE_VERSION,
  XEN_DOMCTL_test_assign_device, XEN_DOMCTL_unbind_pt_irq, xen_domctl,
} from '../../include-ts/xen/domctl.js';
import type { Mapping } from '../linux/mm/address-space.js';
import type { Process } from '../linux/process.js';

const BUFFER_SIZE = 4096;

/** xc_interface: an open privcmd fd and a hypercall buffer (xencall_alloc_buffer) in the process. */
export class XcInterface {
  readonly fd: number;
  private readonly buf: Mapping;
  private readonly call = privcmd_hypercall.alloc();

  constructor(readonly proc: Process) {
    this.fd = proc.open('/dev/xen/privcmd', O_RDWR);
    this.buf = proc.mmap(null, BUFFER_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }

  /** The hypercall buffer's bytes (the argument structs are built here; their address is passed). */
  get bufferBytes(): Uint8Array {
    return this.buf.bytes!;
  }

  get bufferAddress(): number {
    return this.buf.addr;
  }

  /** The first `size` bytes of the hypercall buffer, zeroed: where an argument struct is built. */
  argBytes(size: number): Uint8Array {
    const bytes = this.bufferBytes.subarray(0, size);
    bytes.fill(0);
    return bytes;
  }

  /** xencall: IOCTL_PRIVCMD_HYPERCALL with op and arguments. */
  hypercall(op: number, ...args: number[]): number {
    const b = this.call.bytes;
    b.fill(0);
    setU64n(b, 0, op);
    args.forEach((a, i) => setU64n(b, 8 + 8 * i, a));
    return this.proc.ioctl(this.fd, IOCTL_PRIVCMD_HYPERCALL, this.call);
  }

  /** do_domctl(): interface_version filled in, the struct in the bounce buffer. */
  domctl(cmd: number, domid: number, fill: (d: ReturnType<typeof xen_domctl.view>) => void): number {
    const d = xen_domctl.view(this.argBytes(xen_domctl.size));
    d.cmd = cmd;
    d.interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    d.domain = domid;
    fill(d);
    return this.hypercall(__HYPERVISOR_domctl, this.bufferAddress);
  }

  close(): void {
    this.proc.close(this.fd);
  }
}

export function xc_interface_open(proc: Process): XcInterface {
  return new XcInterface(proc);
}

/** xc_physdev_map_pirq_msi(): `pirq.value` is IN (-1: allocate) and OUT. */
export function xc_physdev_map_pirq_msi(xch: XcInterface, domid: number, index: number, pirq: { value: number }, devfn: number, bus: number, entry_nr: number, table_base: number): number {
  const map = physdev_map_pirq.view(xch.argBytes(physdev_map_pirq.size));
  map.domid = domid;
  map.type = MAP_PIRQ_TYPE_MSI;
  map.index = index;
  map.pirq = pirq.value;
  map.bus = bus;
  map.devfn = devfn;
  map.entry_nr = entry_nr;
  map.table_base = BigInt(table_base);
  const rc = xch.hypercall(__HYPERVISOR_physdev_op, PHYSDEVOP_map_pirq, xch.bufferAddress);
  if (rc === 0) pirq.value = map.pirq;
  return rc;
}

/** xc_physdev_unmap_pirq() */
export function xc_physdev_unmap_pirq(xch: XcInterface, domid: number, pirq: number): number {
  const u = physdev_unmap_pirq.view(xch.argBytes(physdev_unmap_pirq.size));
  u.domid = domid;
  u.pirq = pirq;
  return xch.hypercall(__HYPERVISOR_physdev_op, PHYSDEVOP_unmap_pirq, xch.bufferAddress);
}

/** xc_domain_update_msi_irq(): XEN_DOMCTL_bind_pt_irq (a re-bind of the same pirq is an update). */
export function xc_domain_update_msi_irq(xch: XcInterface, domid: number, gvec: number, pirq: number, gflags: number, gtable: number): number {
  return xch.domctl(XEN_DOMCTL_bind_pt_irq, domid, (d) => {
    const b = d.u.bind_pt_irq;
    b.irq_type = PT_IRQ_TYPE_MSI;
    b.machine_irq = pirq;
    b.u.msi.gvec = gvec;
    b.u.msi.gflags = gflags;
    b.u.msi.gtable = BigInt(gtable);
  });
}

/** xc_domain_unbind_msi_irq(): XEN_DOMCTL_unbind_pt_irq. */
export function xc_domain_unbind_msi_irq(xch: XcInterface, domid: number, gvec: number, pirq: number, gflags: number): number {
  return xch.domctl(XEN_DOMCTL_unbind_pt_irq, domid, (d) => {
    const b = d.u.bind_pt_irq;
    b.irq_type = PT_IRQ_TYPE_MSI;
    b.machine_irq = pirq;
    b.u.msi.gvec = gvec;
    b.u.msi.gflags = gflags;
  });
}

function assignLike(xch: XcInterface, cmd: number, domid: number, machine_sbdf: number, flags: number): number {
  return xch.domctl(cmd, domid, (d) => {
    const a = d.u.assign_device;
    a.dev = XEN_DOMCTL_DEV_PCI;
    a.flags = flags;
    setU32(a.bytes, 8, machine_sbdf);
  });
}

/** xc_assign_device() */
export function xc_assign_device(xch: XcInterface, domid: number, machine_sbdf: number, flags = 0): number {
  return assignLike(xch, XEN_DOMCTL_assign_device, domid, machine_sbdf, flags);
}

/** xc_test_assign_device() */
export function xc_test_assign_device(xch: XcInterface, domid: number, machine_sbdf: number): number {
  return assignLike(xch, XEN_DOMCTL_test_assign_device, domid, machine_sbdf, 0);
}

/** xc_deassign_device() */
export function xc_deassign_device(xch: XcInterface, domid: number, machine_sbdf: number): number {
  return assignLike(xch, XEN_DOMCTL_deassign_device, domid, machine_sbdf, 0);
}

/** PCI_SBDF(seg, bus, dev, fn) as the domctl carries it. */
export function sbdf(seg: number, bus: number, dev: number, fn: number): number {
  return ((seg << 16) | (bus << 8) | (dev << 3) | fn) >>> 0;
}

/** QEMU's gflags from a guest MSI address/data (hw/xen/xen_pt_msi.c msi_gflags). */
export function msiGflags(addrLo: number, data: number): number {
  const destId = (addrLo >>> 12) & 0xff;
  const rh = (addrLo >>> 3) & 1;
  const dm = (addrLo >>> 2) & 1;
  const dlm = (data >>> 8) & 7;
  const tm = (data >>> 15) & 1;
  return (destId | (rh << 8) | (dm << 9) | (dlm << 12) | (tm << 15)) >>> 0;
}
