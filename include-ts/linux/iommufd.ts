// Mirrors <linux/iommufd.h> (include/uapi/linux/iommufd.h, 6.18): the /dev/iommu ioctls this model implements,
// their structs and constants. The installed 6.1 headers predate iommufd (6.2), so the conformance test compiles
// these layouts against the structs as the 6.18 header defines them (test/include-ts/conformance.test.ts).
import { _IO } from '../../abi/ioc.js';
import { anon, array, struct, u16, u32, u64, u8, union } from '../../abi/layout.js';

/** Every iommufd ioctl is `_IO(IOMMUFD_TYPE, IOMMUFD_CMD_*)`: the size travels in the struct's leading `size`. */
export const IOMMUFD_TYPE = 0x3b /* ';' */;

/** The command numbers (an anonymous enum in the header). */
export const IOMMUFD_CMD_BASE = 0x80;
export const IOMMUFD_CMD_DESTROY = IOMMUFD_CMD_BASE;
export const IOMMUFD_CMD_IOAS_ALLOC = 0x81;
export const IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82;
export const IOMMUFD_CMD_IOAS_COPY = 0x83;
export const IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84;
export const IOMMUFD_CMD_IOAS_MAP = 0x85;
export const IOMMUFD_CMD_IOAS_UNMAP = 0x86;
export const IOMMUFD_CMD_OPTION = 0x87;
export const IOMMUFD_CMD_VFIO_IOAS = 0x88;
export const IOMMUFD_CMD_HWPT_ALLOC = 0x89;
export const IOMMUFD_CMD_GET_HW_INFO = 0x8a;
export const IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b;
export const IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c;
export const IOMMUFD_CMD_HWPT_INVALIDATE = 0x8d;
export const IOMMUFD_CMD_FAULT_QUEUE_ALLOC = 0x8e;
export const IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f;
export const IOMMUFD_CMD_VIOMMU_ALLOC = 0x90;
export const IOMMUFD_CMD_VDEVICE_ALLOC = 0x91;
export const IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92;
export const IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93;
export const IOMMUFD_CMD_HW_QUEUE_ALLOC = 0x94;

/** IOMMU_DESTROY: destroys any object by id. */
export const iommu_destroy = struct('iommu_destroy', { size: u32, id: u32 });
export const IOMMU_DESTROY = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY);

/** IOMMU_IOAS_ALLOC: flags must be 0; returns the new IOAS id. */
export const iommu_ioas_alloc = struct('iommu_ioas_alloc', { size: u32, flags: u32, out_ioas_id: u32 });
export const IOMMU_IOAS_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC);

/** An inclusive IOVA interval. */
export const iommu_iova_range = struct('iommu_iova_range', { start: u64, last: u64 });

/** IOMMU_IOAS_IOVA_RANGES: the allowed IOVA ranges (EMSGSIZE with num_iovas set when the array is short). */
export const iommu_ioas_iova_ranges = struct('iommu_ioas_iova_ranges', {
  size: u32,
  ioas_id: u32,
  num_iovas: u32,
  __reserved: u32,
  allowed_iovas: u64,
  out_iova_alignment: u64,
});
export const IOMMU_IOAS_IOVA_RANGES = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES);

/** IOMMU_IOAS_ALLOW_IOVAS: replaces the IOAS's allowed list. */
export const iommu_ioas_allow_iovas = struct('iommu_ioas_allow_iovas', {
  size: u32,
  ioas_id: u32,
  num_iovas: u32,
  __reserved: u32,
  allowed_iovas: u64,
});
export const IOMMU_IOAS_ALLOW_IOVAS = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOW_IOVAS);

/** enum iommufd_ioas_map_flags (MAP and COPY). */
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;

/** IOMMU_IOAS_MAP: maps user memory at a fixed or kernel-chosen IOVA. */
export const iommu_ioas_map = struct('iommu_ioas_map', {
  size: u32,
  flags: u32,
  ioas_id: u32,
  __reserved: u32,
  user_va: u64,
  length: u64,
  iova: u64,
});
export const IOMMU_IOAS_MAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP);

/** IOMMU_IOAS_COPY: maps pages already mapped in one IOAS into another. */
export const iommu_ioas_copy = struct('iommu_ioas_copy', {
  size: u32,
  flags: u32,
  dst_ioas_id: u32,
  src_ioas_id: u32,
  length: u64,
  dst_iova: u64,
  src_iova: u64,
});
export const IOMMU_IOAS_COPY = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_COPY);

/** IOMMU_IOAS_UNMAP: unmaps whole areas inside [iova, iova + length); length returns the bytes unmapped. */
export const iommu_ioas_unmap = struct('iommu_ioas_unmap', { size: u32, ioas_id: u32, iova: u64, length: u64 });
export const IOMMU_IOAS_UNMAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP);

/** enum iommufd_option */
export const IOMMU_OPTION_RLIMIT_MODE = 0;
export const IOMMU_OPTION_HUGE_PAGES = 1;
/** enum iommufd_option_ops */
export const IOMMU_OPTION_OP_SET = 0;
export const IOMMU_OPTION_OP_GET = 1;

/** IOMMU_OPTION: get or set one option of the context or of an IOAS. */
export const iommu_option = struct('iommu_option', {
  size: u32,
  option_id: u32,
  op: u16,
  __reserved: u16,
  object_id: u32,
  val64: u64,
});
export const IOMMU_OPTION = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION);

/** enum iommufd_vfio_ioas_op */
export const IOMMU_VFIO_IOAS_GET = 0;
export const IOMMU_VFIO_IOAS_SET = 1;
export const IOMMU_VFIO_IOAS_CLEAR = 2;

/** IOMMU_VFIO_IOAS: the IOAS the VFIO compatibility layer uses. */
export const iommu_vfio_ioas = struct('iommu_vfio_ioas', { size: u32, ioas_id: u32, op: u16, __reserved: u16 });
export const IOMMU_VFIO_IOAS = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VFIO_IOAS);

/** enum iommufd_hwpt_alloc_flags */
export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0;
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1;
export const IOMMU_HWPT_FAULT_ID_VALID = 1 << 2;
export const IOMMU_HWPT_ALLOC_PASID = 1 << 3;

/** enum iommu_hwpt_data_type */
export const IOMMU_HWPT_DATA_NONE = 0;
export const IOMMU_HWPT_DATA_VTD_S1 = 1;
export const IOMMU_HWPT_DATA_ARM_SMMUV3 = 2;

/** IOMMU_HWPT_ALLOC: a HWPT (IOMMU domain) for a device: paging on an IOAS, or nested on a parent HWPT. */
export const iommu_hwpt_alloc = struct('iommu_hwpt_alloc', {
  size: u32,
  flags: u32,
  dev_id: u32,
  pt_id: u32,
  out_hwpt_id: u32,
  __reserved: u32,
  data_type: u32,
  data_len: u32,
  data_uptr: u64,
  fault_id: u32,
  __reserved2: u32,
});
export const IOMMU_HWPT_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC);

/** enum iommu_hw_info_vtd_flags */
export const IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0;

/** struct iommu_hw_info_vtd: the VT-d unit's Capability and Extended Capability registers. */
export const iommu_hw_info_vtd = struct('iommu_hw_info_vtd', { flags: u32, __reserved: u32, cap_reg: u64, ecap_reg: u64 });

/** enum iommu_hw_info_type */
export const IOMMU_HW_INFO_TYPE_NONE = 0;
export const IOMMU_HW_INFO_TYPE_DEFAULT = 0;
export const IOMMU_HW_INFO_TYPE_INTEL_VTD = 1;
export const IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2;
export const IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3;

/** enum iommufd_hw_capabilities */
export const IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0;
export const IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1;
export const IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2;

/** enum iommufd_hw_info_flags */
export const IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0;

/** IOMMU_GET_HW_INFO: the IOMMU behind a bound device (type-specific data copied to data_uptr). */
export const iommu_hw_info = struct('iommu_hw_info', {
  size: u32,
  flags: u32,
  dev_id: u32,
  data_len: u32,
  data_uptr: u64,
  in_out_data_type: anon(union('iommu_hw_info_data_type', { in_data_type: u32, out_data_type: u32 })),
  out_max_pasid_log2: u8,
  __reserved: array(u8, 3),
  out_capabilities: u64,
});
export const IOMMU_GET_HW_INFO = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO);

/** The numbers of the iommufd ioctls the model does not implement (so traces and tests can name them). */
export const IOMMU_HWPT_SET_DIRTY_TRACKING = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING);
export const IOMMU_HWPT_GET_DIRTY_BITMAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP);
export const IOMMU_HWPT_INVALIDATE = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE);
export const IOMMU_FAULT_QUEUE_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC);
export const IOMMU_IOAS_MAP_FILE = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE);
export const IOMMU_VIOMMU_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VIOMMU_ALLOC);
export const IOMMU_VDEVICE_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VDEVICE_ALLOC);
export const IOMMU_IOAS_CHANGE_PROCESS = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_CHANGE_PROCESS);
export const IOMMU_VEVENTQ_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VEVENTQ_ALLOC);
export const IOMMU_HW_QUEUE_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HW_QUEUE_ALLOC);
