// drivers/iommu/iommufd/device.c + hw_pagetable.c: devices bound to an iommufd and the HWPTs (IOMMU domains)
// they attach to.
//  - iommufd_device_bind(): the device's IOMMU group (ENODEV without one), isolated MSI (interrupt
//    remapping; else EPERM unless iommufd.allow_unsafe_interrupts), the DMA ownership claim per device
//    (iommu_device_claim_dma_owner: EPERM while a DMA-API driver is bound in the group or another owner holds
//    it; the group goes to the blocking domain), then a DEVICE object whose id is the devid.
//  - iommufd_device_attach(pt_id): an IOAS id finds an automatic HWPT of that IOAS the device can use, or
//    makes one (iommufd_hwpt_paging_alloc with immediate attach: the device's reserved regions — the MSI
//    window — are reserved in the IOAS (EADDRINUSE if mapped or allowed), the group is attached, then
//    iopt_table_add_domain pins and maps every area); a HWPT id attaches to it (EINVAL if the group is on
//    another one); another object type is EINVAL; an unknown id ENOENT. pt_id returns the HWPT id.
//  - iommufd_device_replace(): what VFIO does for a second attach; iommufd_device_detach(): the group goes
//    back to the blocking domain when its last device leaves, and an automatic HWPT nobody uses is destroyed.
// The HWPT's domain is the hardware IommuDomain the VT-d context entries point at (src/hw/iommu), so device
// DMA reads and writes the pinned user pages.
// Not modelled: IOMMU_HWPT_ALLOC (user-made and nested HWPTs), PASID attachments (always refused: no HWPT
// is PASID-compatible), fault queues, dirty tracking.

import { getU32, setU32, setU64 } from '../../../../abi/bytes.js';
import { kerr } from '../../errors.js';
import type { IommuGroup } from '../iommu-group.js';
import type { PciDev } from '../../pci/pci-dev.js';
import { copyToUser } from '../../uaccess.js';
import { IommuDomain } from '../../../hw/iommu/domain.js';
import { DMA_GSTS_IRES } from '../../../hw/iommu/vtd/regs.js';
import {
  IOMMU_HW_INFO_FLAG_INPUT_TYPE, IOMMU_HW_INFO_TYPE_DEFAULT, IOMMU_HW_INFO_TYPE_INTEL_VTD, IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_ALLOC_PASID, IOMMU_HWPT_DATA_NONE, IOMMU_HWPT_FAULT_ID_VALID, iommu_hw_info,
  iommu_hw_info_vtd, iommu_hwpt_alloc,
} from '../../../../include-ts/linux/iommufd.js';
import { IOVA_APERTURE_END, MSI_WINDOW_END, MSI_WINDOW_START } from '../type1.js';
import type { IommufdIoas } from './ioas.js';
import { respond, type IommufdCtx, type IommufdObject, type Ucmd } from './main.js';

/** VT-d second-level tables with a 48-bit address width: the domain aperture. */
const APERTURE_END = BigInt(IOVA_APERTURE_END);

/** struct iommufd_hwpt_paging: an automatic one made by an attach, or one from IOMMU_HWPT_ALLOC. */
export class IommufdHwpt {
  readonly type = 'hwpt-paging' as const;
  /** The xarray's reference plus one per attached device. */
  users = 1;
  readonly domain = new IommuDomain();
  /** hwpt->pasid_compat (IOMMU_HWPT_ALLOC_PASID). */
  pasidCompat = false;

  constructor(
    readonly id: number,
    readonly ioas: IommufdIoas,
    /** hwpt_paging->auto_domain: made by an attach, chosen again by attaches to the IOAS, gone with its last device. */
    readonly autoDomain = true,
  ) {}
}

/** struct iommufd_group: the per-IOMMU-group state of a context. */
export class IommufdIgroup {
  hwpt: IommufdHwpt | null = null;
  /** igroup->device_list: the attached devices. */
  readonly devices: IommufdDevice[] = [];
  refs = 0;

  constructor(readonly group: IommuGroup) {}
}

/** struct iommufd_device */
export class IommufdDevice {
  readonly type = 'device' as const;
  /** The xarray's, the binding driver's (until unbind), and the attachment's. */
  users = 2;

  constructor(
    readonly id: number,
    readonly ictx: IommufdCtx,
    readonly pdev: PciDev,
    readonly igroup: IommufdIgroup,
  ) {}

  get attached(): boolean {
    return this.igroup.devices.includes(this);
  }
}

/** iommufd_device_bind() */
export function iommufdDeviceBind(ictx: IommufdCtx, pdev: PciDev): IommufdDevice {
  const group = pdev.group;
  if (!group) throw kerr('ENODEV', `${pdev.name} has no IOMMU group`);
  // iommu_group_has_isolated_msi(): MSIs of the group go through interrupt remapping.
  const unit = ictx.kernel.irq.platform.vtd.unitFor(pdev.hw);
  const isolated = unit !== undefined && (unit.gsts & DMA_GSTS_IRES) !== 0;
  if (!isolated) {
    if (!ictx.kernel.params.bool('iommufd', 'allow_unsafe_interrupts')) {
      throw kerr('EPERM', `${pdev.name}: MSI interrupts cannot be isolated by the platform (no interrupt remapping); iommufd.allow_unsafe_interrupts=1 overrides`);
    }
    ictx.kernel.log.warn(`vfio-pci ${pdev.name}: MSI interrupts are not secure, they cannot be isolated by the platform. Check that platform features like interrupt remapping are enabled. Use the "allow_unsafe_interrupts" module parameter to override`);
  }
  group.claimDeviceDmaOwner(ictx);
  let igroup = ictx.groups.get(group.id);
  if (!igroup) {
    igroup = new IommufdIgroup(group);
    ictx.groups.set(group.id, igroup);
  }
  igroup.refs++;
  const idev = new IommufdDevice(ictx.allocId(), ictx, pdev, igroup);
  ictx.finalize(idev);
  ictx.file.get(); // iommufd_ctx_get()
  return idev;
}

/** iommufd_device_unbind(): drops the driver's reference and destroys the object. */
export function iommufdDeviceUnbind(idev: IommufdDevice): void {
  idev.users--;
  idev.ictx.destroy(idev);
}

/** iommufd_device_destroy() */
export function destroyDevice(ictx: IommufdCtx, idev: IommufdDevice): void {
  idev.igroup.group.releaseDeviceDmaOwner();
  if (--idev.igroup.refs === 0) ictx.groups.delete(idev.igroup.group.id);
  ictx.file.put(ictx.kernel); // iommufd_ctx_put()
}

/** iommufd_hwpt_paging_destroy(): the domain leaves the IOAS (unmapped, pages unpinned if none is left). */
export function destroyHwpt(_ictx: IommufdCtx, hwpt: IommufdHwpt): void {
  const ioas = hwpt.ioas;
  ioas.iopt.removeDomain(hwpt.domain);
  ioas.hwpts.splice(ioas.hwpts.indexOf(hwpt), 1);
  ioas.users--;
}

/** iommufd_hw_pagetable_put(): an automatic HWPT is destroyed when nothing else uses it. */
function hwptPut(ictx: IommufdCtx, hwpt: IommufdHwpt): void {
  hwpt.users--;
  if (hwpt.autoDomain && hwpt.users === 1) ictx.destroy(hwpt);
}

/** iopt_table_enforce_dev_resv_regions(): the x86 MSI window (IOMMU_RESV_MSI) of every VT-d device. */
function reserveDeviceRegions(ioas: IommufdIoas, idev: IommufdDevice): void {
  ioas.iopt.reserve(BigInt(MSI_WINDOW_START), BigInt(MSI_WINDOW_END), idev, `the MSI window of ${idev.pdev.name}`);
}

/** iommufd_hw_pagetable_attach() */
function hwptAttach(hwpt: IommufdHwpt, idev: IommufdDevice): void {
  const ig = idev.igroup;
  if (ig.hwpt !== null && ig.hwpt !== hwpt) {
    throw kerr('EINVAL', `${idev.pdev.name}: its IOMMU group ${ig.group.id} is attached to HWPT ${ig.hwpt.id}; every device of a group shares one domain`);
  }
  reserveDeviceRegions(hwpt.ioas, idev);
  if (ig.devices.length === 0) {
    ig.group.setDomain(hwpt.domain);
    ig.hwpt = hwpt;
  }
  hwpt.users++;
  ig.devices.push(idev);
}

/** iommufd_hw_pagetable_detach() */
function hwptDetach(idev: IommufdDevice): IommufdHwpt {
  const ig = idev.igroup;
  const hwpt = ig.hwpt!;
  ig.devices.splice(ig.devices.indexOf(idev), 1);
  if (ig.devices.length === 0) {
    ig.group.setDomain(null);
    ig.hwpt = null;
  }
  hwpt.ioas.iopt.removeReserved(idev);
  return hwpt;
}

/** iommufd_device_do_replace(): returns the HWPT the group leaves (for the caller to put), or null. */
function doReplace(idev: IommufdDevice, hwpt: IommufdHwpt): IommufdHwpt | null {
  const ig = idev.igroup;
  if (ig.hwpt === null || !idev.attached) throw kerr('EINVAL', `${idev.pdev.name} is not attached`);
  if (hwpt === ig.hwpt) return null;
  const old = ig.hwpt;
  if (hwpt.ioas !== old.ioas) {
    const done: IommufdDevice[] = [];
    try {
      for (const d of ig.devices) {
        reserveDeviceRegions(hwpt.ioas, d);
        done.push(d);
      }
    } catch (e) {
      for (const d of done) hwpt.ioas.iopt.removeReserved(d);
      throw e;
    }
    for (const d of ig.devices) old.ioas.iopt.removeReserved(d);
  }
  ig.group.setDomain(hwpt.domain);
  ig.hwpt = hwpt;
  const n = ig.devices.length;
  hwpt.users += n;
  old.users -= n - 1;
  return old;
}

/**
 * iommufd_device_auto_get_domain(): an automatic HWPT of the IOAS that takes the device (EINVAL means "try
 * the next"), or a new one. Returns the HWPT attached to and the one to put afterwards (replace).
 */
function autoGetDomain(idev: IommufdDevice, ioas: IommufdIoas, replace: boolean): { hwpt: IommufdHwpt; put: IommufdHwpt | null } {
  const ictx = idev.ictx;
  for (const hwpt of ioas.hwpts) {
    if (!hwpt.autoDomain) continue;
    try {
      return { hwpt, put: replace ? doReplace(idev, hwpt) : (hwptAttach(hwpt, idev), null) };
    } catch (e) {
      if ((e as { code?: string }).code === 'EINVAL') continue;
      throw e;
    }
  }
  // iommufd_hwpt_paging_alloc(): the object id first, then (immediate attach) the group, then the domain.
  const hwpt = new IommufdHwpt(ictx.allocId(), ioas);
  try {
    if (!replace) hwptAttach(hwpt, idev);
    try {
      ioas.iopt.addDomain(hwpt.domain, APERTURE_END);
    } catch (e) {
      if (!replace) {
        hwptDetach(idev);
        hwpt.users--;
      }
      throw e;
    }
  } catch (e) {
    ictx.abort(hwpt.id);
    throw e;
  }
  ioas.hwpts.push(hwpt);
  ioas.users++;
  let put: IommufdHwpt | null = null;
  if (replace) {
    try {
      put = doReplace(idev, hwpt);
    } catch (e) {
      destroyHwpt(ictx, hwpt);
      ictx.abort(hwpt.id);
      throw e;
    }
  }
  ictx.finalize(hwpt);
  return { hwpt, put };
}

/** iommufd_device_change_pt(): returns the id the device is now attached through (a HWPT id). */
function changePt(idev: IommufdDevice, ptId: number, replace: boolean): number {
  const ictx = idev.ictx;
  const obj: IommufdObject | null | undefined = ictx.objects.get(ptId);
  if (!obj) throw kerr('ENOENT', `no IOAS or HWPT with id ${ptId} in this iommufd`);
  let res: { hwpt: IommufdHwpt; put: IommufdHwpt | null };
  if (obj.type === 'hwpt-paging') {
    res = { hwpt: obj, put: replace ? doReplace(idev, obj) : (hwptAttach(obj, idev), null) };
  } else if (obj.type === 'ioas') {
    res = autoGetDomain(idev, obj, replace);
  } else {
    throw kerr('EINVAL', `object ${ptId} is a device, not an IOAS or HWPT`);
  }
  if (res.put) hwptPut(ictx, res.put);
  return res.hwpt.id;
}

/** iommufd_device_attach() */
export function iommufdDeviceAttach(idev: IommufdDevice, ptId: number): number {
  const id = changePt(idev, ptId, false);
  idev.users++;
  return id;
}

/** iommufd_device_replace() */
export function iommufdDeviceReplace(idev: IommufdDevice, ptId: number): number {
  return changePt(idev, ptId, true);
}

/**
 * iommufd_device_attach() of a PASID (vfio_iommufd_physical_pasid_attach_ioas, after its ida took the
 * pasid): the pt_id lookup as for the RID (ENOENT; a device id EINVAL), then iommufd_hwpt_pasid_compat()
 * refuses an automatic HWPT (never pasid_compat) and a HWPT allocated without IOMMU_HWPT_ALLOC_PASID: EINVAL.
 * One allocated with it is refused too, as no device here has a PASID capability and the VT-d unit is in
 * legacy mode (iommu_attach_device_pasid / intel_iommu_set_dev_pasid; EINVAL here, unsettled: 6.18 may say
 * EOPNOTSUPP). Changes nothing. Not modelled: pasid 0 (IOMMU_NO_PASID), which the kernel would attach as the RID.
 */
export function iommufdDeviceAttachPasid(idev: IommufdDevice, ptId: number, pasid: number): never {
  const obj: IommufdObject | null | undefined = idev.ictx.objects.get(ptId);
  if (!obj) throw kerr('ENOENT', `no IOAS or HWPT with id ${ptId} in this iommufd`);
  if (obj.type === 'device') throw kerr('EINVAL', `object ${ptId} is a device, not an IOAS or HWPT`);
  if (obj.type === 'ioas' || !obj.pasidCompat) {
    throw kerr('EINVAL', `${idev.pdev.name}: PASID ${pasid} cannot attach to ${obj.type === 'ioas' ? `IOAS ${ptId}` : `HWPT ${ptId}`}: the HWPT is not PASID-compatible (IOMMU_HWPT_ALLOC_PASID)`);
  }
  throw kerr('EINVAL', `${idev.pdev.name}: PASID ${pasid} cannot attach: the device has no PASID capability and its VT-d unit is in legacy mode`);
}

/** iommufd_device_detach() */
export function iommufdDeviceDetach(idev: IommufdDevice): void {
  const hwpt = hwptDetach(idev);
  hwptPut(idev.ictx, hwpt);
  idev.users--;
}

const HWPT_PAGING_FLAGS = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID;

/**
 * iommufd_hwpt_alloc() (hw_pagetable.c): __reserved EOPNOTSUPP; data_type/data_len disagreeing EINVAL; dev_id
 * ENOENT; pt_id: missing or a device EINVAL. An IOAS gets a paging HWPT (iommufd_hwpt_paging_alloc without
 * immediate attach, through intel_iommu_domain_alloc_paging_flags on this legacy-mode VT-d unit): unknown
 * flags, DIRTY_TRACKING (no ECAP SSADS), NEST_PARENT (no ECAP NEST) and driver data are EOPNOTSUPP; then
 * iopt_table_add_domain() fills it (pinning; EADDRINUSE/EFAULT/ENOMEM). A HWPT as pt_id asks for a nested
 * one (iommufd_hwpt_nested_alloc): without data, or with flags other than FAULT_ID_VALID/PASID, EOPNOTSUPP;
 * no parent here is a NEST_PARENT: EINVAL. FAULT_ID_VALID: no fault object exists (IOMMU_FAULT_QUEUE_ALLOC is
 * not modelled), so iommufd_get_fault() is ENOENT and the new HWPT is destroyed again. The HWPT is not
 * automatic: attaches by IOAS id never pick it, it stays after its last device detaches, IOMMU_DESTROY
 * frees it.
 */
export function hwptAlloc(u: Ucmd): number {
  const L = iommu_hwpt_alloc;
  const ictx = u.ictx;
  if (getU32(u.cmd, L.offsetof('__reserved'))) throw kerr('EOPNOTSUPP', 'IOMMU_HWPT_ALLOC: __reserved must be 0');
  const flags = getU32(u.cmd, L.offsetof('flags'));
  const dataType = getU32(u.cmd, L.offsetof('data_type'));
  const dataLen = getU32(u.cmd, L.offsetof('data_len'));
  if ((dataType === IOMMU_HWPT_DATA_NONE) !== (dataLen === 0)) {
    throw kerr('EINVAL', dataLen ? `data_len ${dataLen} without a data_type` : `data_type ${dataType} needs data_len`);
  }
  const idev = ictx.get<IommufdDevice>(getU32(u.cmd, L.offsetof('dev_id')), 'device', 'device');
  const ptId = getU32(u.cmd, L.offsetof('pt_id'));
  const pt = ictx.objects.get(ptId);
  if (!pt || pt.type === 'device') throw kerr('EINVAL', pt ? `pt_id ${ptId} is a device, not an IOAS or a HWPT` : `no object with id ${ptId} in this iommufd`);
  if (pt.type === 'hwpt-paging') {
    if (flags & ~(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID) || !dataLen) {
      throw kerr('EOPNOTSUPP', `IOMMU_HWPT_ALLOC on HWPT ${ptId} asks for a nested HWPT, which needs driver data (data_type/data_len) and no flags beyond FAULT_ID_VALID and PASID`);
    }
    throw kerr('EINVAL', `HWPT ${ptId} cannot be the parent of a nested HWPT: it was not allocated with IOMMU_HWPT_ALLOC_NEST_PARENT`);
  }
  // iommufd_hwpt_paging_alloc() and intel_iommu_domain_alloc_paging_flags() (second stage, legacy mode)
  if (flags & ~HWPT_PAGING_FLAGS) throw kerr('EOPNOTSUPP', `IOMMU_HWPT_ALLOC: unknown flags 0x${(flags & ~HWPT_PAGING_FLAGS).toString(16)}`);
  if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) throw kerr('EOPNOTSUPP', `${idev.pdev.name}: its VT-d unit has no second-stage dirty tracking (ECAP SSADS)`);
  if (dataLen) throw kerr('EOPNOTSUPP', `a paging HWPT of the VT-d driver takes no driver data (data_type ${dataType})`);
  if (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) throw kerr('EOPNOTSUPP', `${idev.pdev.name}: its VT-d unit has no nested translation (ECAP NEST)`);
  const hwpt = new IommufdHwpt(ictx.allocId(), pt, false);
  hwpt.pasidCompat = (flags & IOMMU_HWPT_ALLOC_PASID) !== 0;
  try {
    pt.iopt.addDomain(hwpt.domain, APERTURE_END);
  } catch (e) {
    ictx.abort(hwpt.id);
    throw e;
  }
  if (flags & IOMMU_HWPT_FAULT_ID_VALID) {
    // iommufd_get_fault(): no fault object exists; out_hwpt: iommufd_object_abort_and_destroy().
    pt.iopt.removeDomain(hwpt.domain);
    ictx.abort(hwpt.id);
    throw kerr('ENOENT', `fault_id ${getU32(u.cmd, L.offsetof('fault_id'))} is no fault queue (IOMMU_FAULT_QUEUE_ALLOC is not modelled)`);
  }
  pt.hwpts.push(hwpt);
  pt.users++;
  setU32(u.cmd, L.offsetof('out_hwpt_id'), hwpt.id);
  respond(u, L.size);
  ictx.finalize(hwpt);
  return 0;
}

/**
 * iommufd_get_hw_info() with intel_iommu_hw_info(): flags other than INPUT_TYPE or __reserved bytes ->
 * EOPNOTSUPP, dev_id -> ENOENT, an input type other than DEFAULT or INTEL_VTD -> EOPNOTSUPP; the
 * struct iommu_hw_info_vtd (the unit's CAP and ECAP registers) is copied up to data_len (EFAULT), a
 * longer buffer zero-filled; data_len returns the kernel's length.
 */
export function getHwInfo(u: Ucmd): number {
  const L = iommu_hw_info;
  const flags = getU32(u.cmd, L.offsetof('flags'));
  if (flags & ~IOMMU_HW_INFO_FLAG_INPUT_TYPE) throw kerr('EOPNOTSUPP', `IOMMU_GET_HW_INFO: unknown flags 0x${(flags & ~IOMMU_HW_INFO_FLAG_INPUT_TYPE).toString(16)}`);
  const r = L.offsetof('__reserved');
  if (u.cmd[r] || u.cmd[r + 1] || u.cmd[r + 2]) throw kerr('EOPNOTSUPP', 'IOMMU_GET_HW_INFO: __reserved must be 0');
  const typeOff = L.offsetof('in_data_type');
  if (!(flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE)) setU32(u.cmd, typeOff, IOMMU_HW_INFO_TYPE_DEFAULT);
  const idev = u.ictx.get<IommufdDevice>(getU32(u.cmd, L.offsetof('dev_id')), 'device', 'device');
  const type = getU32(u.cmd, typeOff);
  if (type !== IOMMU_HW_INFO_TYPE_DEFAULT && type !== IOMMU_HW_INFO_TYPE_INTEL_VTD) {
    throw kerr('EOPNOTSUPP', `IOMMU_GET_HW_INFO: the IOMMU of ${idev.pdev.name} is Intel VT-d; it cannot report type ${type}`);
  }
  const unit = u.ictx.kernel.irq.platform.vtd.unitFor(idev.pdev.hw)!;
  const data = new Uint8Array(iommu_hw_info_vtd.size);
  setU64(data, iommu_hw_info_vtd.offsetof('cap_reg'), unit.cap);
  setU64(data, iommu_hw_info_vtd.offsetof('ecap_reg'), unit.ecap);
  const dataLen = getU32(u.cmd, L.offsetof('data_len'));
  const ptr = Number(BigInt.asUintN(64, new DataView(u.cmd.buffer, u.cmd.byteOffset).getBigUint64(L.offsetof('data_uptr'), true)));
  const copy = Math.min(dataLen, data.length);
  if (copy && copyToUser(u.proc.mm, ptr, data.subarray(0, copy))) throw kerr('EFAULT', `data_uptr 0x${ptr.toString(16)} is not writable user memory`);
  if (copy < dataLen && copyToUser(u.proc.mm, ptr + copy, new Uint8Array(dataLen - copy))) throw kerr('EFAULT', `data_uptr 0x${ptr.toString(16)} + ${dataLen} bytes is not writable user memory`);
  setU32(u.cmd, L.offsetof('data_len'), data.length);
  setU32(u.cmd, typeOff, IOMMU_HW_INFO_TYPE_INTEL_VTD);
  setU64(u.cmd, L.offsetof('out_capabilities'), 0n); // no second-stage dirty tracking (ECAP SSADS) on this unit
  u.cmd[L.offsetof('out_max_pasid_log2')] = 0; // no PASID capability on the model's devices
  respond(u, L.size);
  return 0;
}
