// Device assignment (xen/drivers/passthrough/pci.c assign_device / deassign_device, and VT-d's
// reassign_device_ownership, vtd/iommu.c:2765-2766): a device moves between the hardware domain and an
// HVM guest; the guest's first device installs the posted-interrupt hooks, its last one removes them
// (vmx_pi_hooks_assign / _deassign). DMA context programming is outside this model.
import type { PciFunction } from '../../hw/pci/function.js';
import type { Domain } from '../domain.js';
import { xerr } from '../errors.js';
import type { Xen } from '../xen.js';
import { vmxPiHooksAssign, vmxPiHooksDeassign } from '../hvm/vmx/pi.js';

/** device_assigned(): -ENODEV when missing, -EBUSY when owned by a guest. */
export function checkAssignable(xen: Xen, f: PciFunction | undefined, bdf: string): PciFunction {
  if (!f) throw xerr('ENODEV', `${bdf}: no such PCI device`);
  const owner = xen.owner(f);
  if (owner !== xen.dom0) throw xerr('EBUSY', `${bdf} is already assigned to d${owner.id}`);
  return f;
}

/** assign_device() -> reassign_device_ownership(hardware domain -> d). */
export function* assignDevice(xen: Xen, d: Domain, f: PciFunction): Generator<void, void, void> {
  if (d.devices.size === 0) yield* vmxPiHooksAssign(xen, d);
  xen.dom0.devices.delete(f);
  d.devices.add(f);
  xen.console.printk(`d${d.id}: assign ${f.bdf}`);
}

/** deassign_device() -> reassign_device_ownership(d -> hardware domain). */
export function* deassignDevice(xen: Xen, d: Domain, f: PciFunction): Generator<void, void, void> {
  d.devices.delete(f);
  xen.dom0.devices.add(f);
  if (d.devices.size === 0) yield* vmxPiHooksDeassign(xen, d);
  xen.console.printk(`d${d.id}: deassign ${f.bdf}`);
}
