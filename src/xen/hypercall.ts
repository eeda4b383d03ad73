// The hypercalls of the toolstack's passthrough-interrupt path, as dom0 issues them: do_physdev_op
// (xen/arch/x86/physdev.c: PHYSDEVOP_map_pirq, PHYSDEVOP_unmap_pirq) and do_domctl (common/domctl.c,
// arch/x86/domctl.c, passthrough/pci.c iommu_do_pci_domctl: XEN_DOMCTL_assign_device,
// test_assign_device, deassign_device, bind_pt_irq, unbind_pt_irq). Arguments are read from and
// written back to the caller's memory (copy_from_guest / copy_to_guest); errors are Xen's -E values.
import { getU32 } from '../../abi/bytes.js';
import { formatBdf, type PciFunction } from '../hw/pci/function.js';
import { __HYPERVISOR_domctl, __HYPERVISOR_physdev_op, DOMID_INVALID, DOMID_SELF } from '../../include-ts/xen/xen.js';
import { MAP_PIRQ_TYPE_GSI, MAP_PIRQ_TYPE_MSI, MAP_PIRQ_TYPE_MSI_SEG, MAP_PIRQ_TYPE_MULTI_MSI, PHYSDEVOP_map_pirq, PHYSDEVOP_unmap_pirq, physdev_map_pirq, physdev_unmap_pirq } from '../../include-ts/xen/physdev.js';
import {
  XEN_DOMCTL_assign_device, XEN_DOMCTL_bind_pt_irq, XEN_DOMCTL_deassign_device, XEN_DOMCTL_DEV_PCI, XEN_DOMCTL_DEV_RDM_RELAXED, XEN_DOMCTL_INTERFACE_VERSION,
  XEN_DOMCTL_test_assign_device, XEN_DOMCTL_unbind_pt_irq, xen_domctl,
} from '../../include-ts/xen/domctl.js';
import type { Domain } from './domain.js';
import { XenError, xerr } from './errors.js';
import type { Xen } from './xen.js';
import { allocateAndMapMsiPirq, unmapDomainPirq } from './irq.js';
import { ptIrqCreateBind, ptIrqDestroyBind } from './passthrough/hvm.js';
import { assignDevice, checkAssignable, deassignDevice } from './passthrough/pci.js';

/** The caller's memory: `len` bytes at its virtual address `addr`, in place; throws when not mapped. */
export type GuestMemory = (addr: number, len: number) => Uint8Array;

export const HYPERCALL_NAMES: Readonly<Record<number, string>> = { [__HYPERVISOR_physdev_op]: 'physdev_op', [__HYPERVISOR_domctl]: 'domctl' };

function copyFromGuest(mem: GuestMemory, addr: number, len: number, what: string): Uint8Array {
  try {
    return mem(addr, len);
  } catch {
    throw xerr('EFAULT', `${what}: cannot read ${len} bytes at 0x${addr.toString(16)}`);
  }
}

/** One hypercall from dom0; returns its non-negative result or throws XenError. */
export function doHypercall(xen: Xen, op: number, args: readonly number[], mem: GuestMemory): number {
  switch (op) {
    case __HYPERVISOR_physdev_op:
      return doPhysdevOp(xen, args[0]!, args[1]!, mem);
    case __HYPERVISOR_domctl:
      return doDomctl(xen, args[0]!, mem);
    default:
      throw xerr('ENOSYS', `hypercall ${op} is not implemented by this model`);
  }
}

function lookupAnyDomain(xen: Xen, domid: number): Domain {
  const d = domid === DOMID_SELF ? xen.dom0 : xen.domains.get(domid);
  if (!d) throw xerr('ESRCH', `no domain ${domid}`);
  return d;
}

function doPhysdevOp(xen: Xen, cmd: number, arg: number, mem: GuestMemory): number {
  switch (cmd) {
    case PHYSDEVOP_map_pirq: {
      const bytes = copyFromGuest(mem, arg, physdev_map_pirq.size, 'PHYSDEVOP_map_pirq');
      const map = physdev_map_pirq.view(bytes);
      // do_physdev_op works on its copy of the struct and copies all of it back, whatever the result
      // (only the MULTI_MSI table_base check returns before that): MSI_SEG comes back as MSI.
      let seg = 0;
      if (map.type === MAP_PIRQ_TYPE_MSI_SEG) {
        map.type = MAP_PIRQ_TYPE_MSI;
        seg = map.bus >>> 16;
      } else if (map.type === MAP_PIRQ_TYPE_MULTI_MSI && map.table_base !== 0n) {
        throw xerr('EINVAL', 'map_pirq: MAP_PIRQ_TYPE_MULTI_MSI is for MSI, but table_base (MSI-X) is set');
      }
      const type = map.type;
      const d = lookupAnyDomain(xen, map.domid);
      if (type === MAP_PIRQ_TYPE_GSI || type === MAP_PIRQ_TYPE_MULTI_MSI) throw xerr('EOPNOTSUPP', `map_pirq type ${type} (GSI / multi-vector MSI) is not modeled`);
      if (type !== MAP_PIRQ_TYPE_MSI) throw xerr('EINVAL', `dom${d.id}: wrong map_pirq type ${type.toString(16)}`);
      const pirq = allocateAndMapMsiPirq(xen, d, map.index, map.pirq, { seg, bus: map.bus & 0xff, devfn: map.devfn & 0xff, entryNr: map.entry_nr, tableBase: Number(map.table_base) });
      map.pirq = pirq;
      return 0;
    }
    case PHYSDEVOP_unmap_pirq: {
      const bytes = copyFromGuest(mem, arg, physdev_unmap_pirq.size, 'PHYSDEVOP_unmap_pirq');
      const u = physdev_unmap_pirq.view(bytes);
      const d = lookupAnyDomain(xen, u.domid);
      unmapDomainPirq(xen, d, u.pirq);
      return 0;
    }
    default:
      throw xerr('ENOSYS', `physdev_op ${cmd} is not implemented by this model`);
  }
}

type AssignDeviceArg = ReturnType<typeof xen_domctl.view>['u']['assign_device'];

/**
 * iommu_do_domctl / iommu_do_pci_domctl argument checks for assign, test_assign and deassign: the IOMMU
 * (the domain's, or the global switch when the domain is NULL), no self-assignment, a PCI device, valid
 * flags. Returns the function the sbdf names (undefined if none) and its name.
 */
function checkAssignArgs(xen: Xen, a: AssignDeviceArg, d: Domain | null, allowedFlags: number): { f: PciFunction | undefined; bdf: string } {
  const iommu = d === null ? xen.iommuEnabled : d === xen.dom0 ? xen.iommuEnabled : d.iommuEnabled;
  if (!iommu) throw xerr('EOPNOTSUPP', d === null ? 'the IOMMU is not enabled' : `the IOMMU is not enabled for d${d.id}`);
  if (d === xen.dom0) throw xerr('EINVAL', 'self-assignment of devices is not supported');
  if (a.dev !== XEN_DOMCTL_DEV_PCI) throw xerr('ENODEV', `device type ${a.dev} is not PCI`);
  if ((a.flags & ~allowedFlags) !== 0) throw xerr('EINVAL', `flags 0x${a.flags.toString(16)} are not valid here`);
  const sbdf = getU32(a.bytes, 8);
  const bdf = formatBdf((sbdf >>> 8) & 0xff, sbdf & 0xff, sbdf >>> 16);
  return { f: xen.pci.find(bdf), bdf };
}

/** XEN_DOMCTL_test_assign_device: 0 if the device could be assigned, EINVAL if assigned or absent. */
function testAssignDevice(xen: Xen, a: AssignDeviceArg, d: Domain | null): number {
  const { f, bdf } = checkAssignArgs(xen, a, d, 0);
  try {
    checkAssignable(xen, f, bdf);
  } catch (e) {
    if (e instanceof XenError) throw xerr('EINVAL', `${bdf} already assigned, or non-existent`);
    throw e;
  }
  return 0;
}

function doDomctl(xen: Xen, arg: number, mem: GuestMemory): number {
  const bytes = copyFromGuest(mem, arg, xen_domctl.size, 'domctl');
  const op = xen_domctl.view(bytes);
  if (op.interface_version !== XEN_DOMCTL_INTERFACE_VERSION) {
    throw xerr('EACCES', `domctl interface version 0x${op.interface_version.toString(16)} is not Xen's 0x${XEN_DOMCTL_INTERFACE_VERSION.toString(16)}`);
  }
  // do_domctl: test_assign_device asks about the device alone when the domain is DOMID_INVALID (d = NULL).
  if (op.cmd === XEN_DOMCTL_test_assign_device && op.domain === DOMID_INVALID) return testAssignDevice(xen, op.u.assign_device, null);
  const d = xen.domains.get(op.domain);
  if (!d) throw xerr('ESRCH', `no domain ${op.domain}`);
  switch (op.cmd) {
    case XEN_DOMCTL_bind_pt_irq:
    case XEN_DOMCTL_unbind_pt_irq: {
      const b = op.u.bind_pt_irq;
      const name = op.cmd === XEN_DOMCTL_bind_pt_irq ? 'bind_pt_irq' : 'unbind_pt_irq';
      if (!d.isHvm) throw xerr('EINVAL', `${name}: d${d.id} is not an HVM domain`);
      const irq = d.pirqs.get(b.machine_irq)?.irq ?? -1;
      if (irq <= 0) throw xerr('EPERM', `${name}: d${d.id} pirq ${b.machine_irq} is not mapped to an irq`);
      if (op.cmd === XEN_DOMCTL_bind_pt_irq) {
        if (!d.iommuEnabled) throw xerr('ESRCH', `bind_pt_irq: the IOMMU is not enabled for d${d.id}`);
        xen.complete(ptIrqCreateBind(xen, d, { pirq: b.machine_irq, irqType: b.irq_type, gvec: b.u.msi.gvec, gflags: b.u.msi.gflags, gtable: Number(b.u.msi.gtable) }), `pt_irq_create_bind d${d.id} pirq ${b.machine_irq}`);
      } else if (d.iommuEnabled) {
        xen.complete(ptIrqDestroyBind(xen, d, b.machine_irq, b.irq_type), `pt_irq_destroy_bind d${d.id} pirq ${b.machine_irq}`);
      }
      return 0;
    }
    case XEN_DOMCTL_test_assign_device:
      return testAssignDevice(xen, op.u.assign_device, d);
    case XEN_DOMCTL_assign_device:
    case XEN_DOMCTL_deassign_device: {
      const { f, bdf } = checkAssignArgs(xen, op.u.assign_device, d, op.cmd === XEN_DOMCTL_assign_device ? XEN_DOMCTL_DEV_RDM_RELAXED : 0);
      if (op.cmd === XEN_DOMCTL_deassign_device) {
        if (!f || !d.devices.has(f)) throw xerr('ENODEV', `${bdf} is not assigned to d${d.id}`);
        xen.complete(deassignDevice(xen, d, f), `deassign ${bdf}`);
        return 0;
      }
      xen.complete(assignDevice(xen, d, checkAssignable(xen, f, bdf)), `assign ${bdf}`);
      return 0;
    }
    default:
      throw xerr('ENOSYS', `domctl ${op.cmd} is not implemented by this model`);
  }
}
