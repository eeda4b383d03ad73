// Mirrors <linux/vfio.h> (linux-libc-dev 6.1): VFIO container, group and device ioctls, their structs and constants.
import { _IO } from '../../abi/ioc.js';
import { anon, flex, s32, struct, u16, u32, u64, u8, union } from '../../abi/layout.js';

/** The VFIO API version: VFIO_GET_API_VERSION returns it. */
export const VFIO_API_VERSION = 0;

/** Extension ids: the argument of VFIO_CHECK_EXTENSION, and (the IOMMU models among them) of VFIO_SET_IOMMU. */
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_SPAPR_TCE_IOMMU = 2;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_DMA_CC_IOMMU = 4;
export const VFIO_EEH = 5;
export const VFIO_TYPE1_NESTING_IOMMU = 6;
export const VFIO_SPAPR_TCE_v2_IOMMU = 7;
export const VFIO_NOIOMMU_IOMMU = 8;
export const VFIO_UNMAP_ALL = 9;
export const VFIO_UPDATE_VADDR = 10;

/**
 * Every VFIO ioctl is `_IO(VFIO_TYPE, VFIO_BASE + n)`: no size or direction bits, the size travels in the
 * struct's leading `argsz`.
 */
export const VFIO_TYPE = 0x3b /* ';' */;
export const VFIO_BASE = 100;

/**
 * Header of each capability in the capability chain that follows an INFO struct (`next` is an offset from the
 * start of the INFO buffer; 0 ends the chain).
 */
export const vfio_info_cap_header = struct('vfio_info_cap_header', { id: u16, version: u16, next: u32 });

/** Container fd (/dev/vfio/vfio): VFIO_GET_API_VERSION takes no argument and returns VFIO_API_VERSION. */
export const VFIO_GET_API_VERSION = _IO(VFIO_TYPE, VFIO_BASE + 0);

/** Container fd: VFIO_CHECK_EXTENSION takes an extension id by value and returns 0 or a positive number. */
export const VFIO_CHECK_EXTENSION = _IO(VFIO_TYPE, VFIO_BASE + 1);

/** Container fd: VFIO_SET_IOMMU takes the IOMMU model (an extension id) by value; needs a group attached. */
export const VFIO_SET_IOMMU = _IO(VFIO_TYPE, VFIO_BASE + 2);

/** Group fd (/dev/vfio/$GROUP): VFIO_GROUP_GET_STATUS fills `struct vfio_group_status`. */
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;
export const vfio_group_status = struct('vfio_group_status', { argsz: u32, flags: u32 });
export const VFIO_GROUP_GET_STATUS = _IO(VFIO_TYPE, VFIO_BASE + 3);

/** Group fd: VFIO_GROUP_SET_CONTAINER takes a pointer to the container fd (`__s32 *`). */
export const VFIO_GROUP_SET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 4);

/** Group fd: VFIO_GROUP_UNSET_CONTAINER takes no argument. */
export const VFIO_GROUP_UNSET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 5);

/** Group fd: VFIO_GROUP_GET_DEVICE_FD takes the device name (a NUL-terminated string) and returns a device fd. */
export const VFIO_GROUP_GET_DEVICE_FD = _IO(VFIO_TYPE, VFIO_BASE + 6);

/** Device fd: VFIO_DEVICE_GET_INFO fills `struct vfio_device_info` (no `pad` member in 6.1: 20 bytes). */
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
export const VFIO_DEVICE_FLAGS_AMBA = 1 << 3;
export const VFIO_DEVICE_FLAGS_CCW = 1 << 4;
export const VFIO_DEVICE_FLAGS_AP = 1 << 5;
export const VFIO_DEVICE_FLAGS_FSL_MC = 1 << 6;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;
export const vfio_device_info = struct('vfio_device_info', {
  argsz: u32,
  flags: u32,
  num_regions: u32,
  num_irqs: u32,
  cap_offset: u32,
});
export const VFIO_DEVICE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 7);

/** The `device_api` attribute strings of mediated-device types, one per bus (matching VFIO_DEVICE_FLAGS_*). */
export const VFIO_DEVICE_API_PCI_STRING = "vfio-pci";
export const VFIO_DEVICE_API_PLATFORM_STRING = "vfio-platform";
export const VFIO_DEVICE_API_AMBA_STRING = "vfio-amba";
export const VFIO_DEVICE_API_CCW_STRING = "vfio-ccw";
export const VFIO_DEVICE_API_AP_STRING = "vfio-ap";

/** Device-info capability ids of s390 zPCI devices (contents in linux/vfio_zdev.h). */
export const VFIO_DEVICE_INFO_CAP_ZPCI_BASE = 1;
export const VFIO_DEVICE_INFO_CAP_ZPCI_GROUP = 2;
export const VFIO_DEVICE_INFO_CAP_ZPCI_UTIL = 3;
export const VFIO_DEVICE_INFO_CAP_ZPCI_PFIP = 4;

/** Device fd: VFIO_DEVICE_GET_REGION_INFO fills `struct vfio_region_info` for the region `index` the caller sets. */
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
export const vfio_region_info = struct('vfio_region_info', {
  argsz: u32,
  flags: u32,
  index: u32,
  cap_offset: u32,
  size: u64,
  offset: u64,
});
export const VFIO_DEVICE_GET_REGION_INFO = _IO(VFIO_TYPE, VFIO_BASE + 8);

/** Region capability: sparse mmap, the sub-ranges of a region that may be mmap'ed. */
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const vfio_region_sparse_mmap_area = struct('vfio_region_sparse_mmap_area', { offset: u64, size: u64 });
export const vfio_region_info_cap_sparse_mmap = struct('vfio_region_info_cap_sparse_mmap', {
  header: vfio_info_cap_header,
  nr_areas: u32,
  reserved: u32,
  areas: flex(vfio_region_sparse_mmap_area, 'nr_areas'),
});

/** Region capability: a device-specific region type (type, subtype). */
export const VFIO_REGION_INFO_CAP_TYPE = 2;
export const vfio_region_info_cap_type = struct('vfio_region_info_cap_type', {
  header: vfio_info_cap_header,
  type: u32,
  subtype: u32,
});

/**
 * Region types for VFIO_REGION_INFO_CAP_TYPE (PCI vendor types carry the vendor id in the low 16 bits).
 * VFIO_REGION_TYPE_PCI_VENDOR_TYPE is the C int `1 << 31`, negative here as in C; test it with `&`.
 */
export const VFIO_REGION_TYPE_PCI_VENDOR_TYPE = 1 << 31;
export const VFIO_REGION_TYPE_PCI_VENDOR_MASK = 0xffff;
export const VFIO_REGION_TYPE_GFX = 1;
export const VFIO_REGION_TYPE_CCW = 2;
export const VFIO_REGION_TYPE_MIGRATION_DEPRECATED = 3;

/** Region subtypes of vendor 8086 (Intel IGD). */
export const VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION = 1;
export const VFIO_REGION_SUBTYPE_INTEL_IGD_HOST_CFG = 2;
export const VFIO_REGION_SUBTYPE_INTEL_IGD_LPC_CFG = 3;

/** Region subtype of vendor 10de (NVIDIA); no longer provided. */
export const VFIO_REGION_SUBTYPE_NVIDIA_NVLINK2_RAM = 1;

/** Region subtype of vendor 1014 (IBM); no longer provided. */
export const VFIO_REGION_SUBTYPE_IBM_NVLINK2_ATSD = 1;

/** Region subtype of VFIO_REGION_TYPE_GFX, and the layout of the EDID region. */
export const VFIO_REGION_SUBTYPE_GFX_EDID = 1;
export const VFIO_DEVICE_GFX_LINK_STATE_UP = 1;
export const VFIO_DEVICE_GFX_LINK_STATE_DOWN = 2;
export const vfio_region_gfx_edid = struct('vfio_region_gfx_edid', {
  edid_offset: u32,
  edid_max_size: u32,
  edid_size: u32,
  max_xres: u32,
  max_yres: u32,
  link_state: u32,
});

/** Region subtypes of VFIO_REGION_TYPE_CCW. */
export const VFIO_REGION_SUBTYPE_CCW_ASYNC_CMD = 1;
export const VFIO_REGION_SUBTYPE_CCW_SCHIB = 2;
export const VFIO_REGION_SUBTYPE_CCW_CRW = 3;

/** The deprecated v1 migration region: its subtype, device_state bits and helpers. */
export const VFIO_REGION_SUBTYPE_MIGRATION_DEPRECATED = 1;
export const VFIO_DEVICE_STATE_V1_STOP = 0;
export const VFIO_DEVICE_STATE_V1_RUNNING = 1 << 0;
export const VFIO_DEVICE_STATE_V1_SAVING = 1 << 1;
export const VFIO_DEVICE_STATE_V1_RESUMING = 1 << 2;
export const VFIO_DEVICE_STATE_MASK =
  VFIO_DEVICE_STATE_V1_RUNNING | VFIO_DEVICE_STATE_V1_SAVING | VFIO_DEVICE_STATE_V1_RESUMING;
export function VFIO_DEVICE_STATE_VALID(state: number): number {
  return state & VFIO_DEVICE_STATE_V1_RESUMING
    ? Number((state & VFIO_DEVICE_STATE_MASK) === VFIO_DEVICE_STATE_V1_RESUMING)
    : 1;
}
export function VFIO_DEVICE_STATE_IS_ERROR(state: number): number {
  return Number((state & VFIO_DEVICE_STATE_MASK) === (VFIO_DEVICE_STATE_V1_SAVING | VFIO_DEVICE_STATE_V1_RESUMING));
}
export function VFIO_DEVICE_STATE_SET_ERROR(state: number): number {
  return (state & ~VFIO_DEVICE_STATE_MASK) | VFIO_DEVICE_STATE_V1_SAVING | VFIO_DEVICE_STATE_V1_RESUMING;
}
export const vfio_device_migration_info = struct('vfio_device_migration_info', {
  device_state: u32,
  reserved: u32,
  pending_bytes: u64,
  data_offset: u64,
  data_size: u64,
});

/**
 * Region capability: the MSI-X table/PBA of this BAR may be mmap'ed (writes must still go through
 * VFIO_DEVICE_SET_IRQS).
 */
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

/** Region capabilities of NVLink2 (POWER); no longer provided. */
export const VFIO_REGION_INFO_CAP_NVLINK2_SSATGT = 4;
export const vfio_region_info_cap_nvlink2_ssatgt = struct('vfio_region_info_cap_nvlink2_ssatgt', {
  header: vfio_info_cap_header,
  tgt: u64,
});
export const VFIO_REGION_INFO_CAP_NVLINK2_LNKSPD = 5;
export const vfio_region_info_cap_nvlink2_lnkspd = struct('vfio_region_info_cap_nvlink2_lnkspd', {
  header: vfio_info_cap_header,
  link_speed: u32,
  __pad: u32,
});

/** Device fd: VFIO_DEVICE_GET_IRQ_INFO fills `struct vfio_irq_info` for the IRQ `index` the caller sets. */
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;
export const vfio_irq_info = struct('vfio_irq_info', { argsz: u32, flags: u32, index: u32, count: u32 });
export const VFIO_DEVICE_GET_IRQ_INFO = _IO(VFIO_TYPE, VFIO_BASE + 9);

/**
 * Device fd: VFIO_DEVICE_SET_IRQS, a `struct vfio_irq_set` followed by `count` data items (none, u8 bools or s32
 * eventfds).
 */
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
export const vfio_irq_set = struct('vfio_irq_set', {
  argsz: u32,
  flags: u32,
  index: u32,
  start: u32,
  count: u32,
  data: flex(u8),
});
export const VFIO_DEVICE_SET_IRQS = _IO(VFIO_TYPE, VFIO_BASE + 10);
export const VFIO_IRQ_SET_DATA_TYPE_MASK = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD;
export const VFIO_IRQ_SET_ACTION_TYPE_MASK =
  VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER;

/** Device fd: VFIO_DEVICE_RESET takes no argument. */
export const VFIO_DEVICE_RESET = _IO(VFIO_TYPE, VFIO_BASE + 11);

/**
 * vfio-pci's fixed region indexes (VFIO_DEVICE_GET_REGION_INFO) and IRQ indexes (VFIO_DEVICE_GET_IRQ_INFO,
 * VFIO_DEVICE_SET_IRQS).
 */
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_BAR1_REGION_INDEX = 1;
export const VFIO_PCI_BAR2_REGION_INDEX = 2;
export const VFIO_PCI_BAR3_REGION_INDEX = 3;
export const VFIO_PCI_BAR4_REGION_INDEX = 4;
export const VFIO_PCI_BAR5_REGION_INDEX = 5;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_NUM_REGIONS = 9;
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
export const VFIO_PCI_NUM_IRQS = 5;

/** vfio-ccw's fixed region and IRQ indexes. */
export const VFIO_CCW_CONFIG_REGION_INDEX = 0;
export const VFIO_CCW_NUM_REGIONS = 1;
export const VFIO_CCW_IO_IRQ_INDEX = 0;
export const VFIO_CCW_CRW_IRQ_INDEX = 1;
export const VFIO_CCW_REQ_IRQ_INDEX = 2;
export const VFIO_CCW_NUM_IRQS = 3;

/**
 * Device fd: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO lists the devices a bus reset would affect (ENOSPC and `count`
 * set when the buffer is short).
 */
export const vfio_pci_dependent_device = struct('vfio_pci_dependent_device', {
  group_id: u32,
  segment: u16,
  bus: u8,
  devfn: u8,
});
export const vfio_pci_hot_reset_info = struct('vfio_pci_hot_reset_info', {
  argsz: u32,
  flags: u32,
  count: u32,
  devices: flex(vfio_pci_dependent_device, 'count'),
});
export const VFIO_DEVICE_GET_PCI_HOT_RESET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);
/** A device opened through its cdev (6.5+): devices[] hold devids, owned ones valid for a count-0 reset. */
export const VFIO_PCI_HOT_RESET_FLAG_DEV_ID = 1 << 0;
export const VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED = 1 << 1;
/** devid of an affected device owned through the iommufd but not bound to it (6.5+). */
export const VFIO_PCI_DEVID_OWNED = 0;
/** devid of an affected device the caller does not own (6.5+). */
export const VFIO_PCI_DEVID_NOT_OWNED = -1;


/** Device fd: VFIO_DEVICE_PCI_HOT_RESET, with the fds of every affected group. */
export const vfio_pci_hot_reset = struct('vfio_pci_hot_reset', {
  argsz: u32,
  flags: u32,
  count: u32,
  group_fds: flex(s32, 'count'),
});
export const VFIO_DEVICE_PCI_HOT_RESET = _IO(VFIO_TYPE, VFIO_BASE + 13);

/** Device fd (mdev vGPU): VFIO_DEVICE_QUERY_GFX_PLANE. */
export const VFIO_GFX_PLANE_TYPE_PROBE = 1 << 0;
export const VFIO_GFX_PLANE_TYPE_DMABUF = 1 << 1;
export const VFIO_GFX_PLANE_TYPE_REGION = 1 << 2;
export const vfio_device_gfx_plane_info = struct('vfio_device_gfx_plane_info', {
  argsz: u32,
  flags: u32,
  drm_plane_type: u32,
  drm_format: u32,
  drm_format_mod: u64,
  width: u32,
  height: u32,
  stride: u32,
  size: u32,
  x_pos: u32,
  y_pos: u32,
  x_hot: u32,
  y_hot: u32,
  region_index_or_dmabuf_id: anon(union('vfio_device_gfx_plane_info_region_index_or_dmabuf_id', {
    region_index: u32,
    dmabuf_id: u32,
  })),
});
export const VFIO_DEVICE_QUERY_GFX_PLANE = _IO(VFIO_TYPE, VFIO_BASE + 14);

/** Device fd (mdev vGPU): VFIO_DEVICE_GET_GFX_DMABUF takes a `__u32 *` dmabuf id and returns a dma-buf fd. */
export const VFIO_DEVICE_GET_GFX_DMABUF = _IO(VFIO_TYPE, VFIO_BASE + 15);

/**
 * Device fd: VFIO_DEVICE_IOEVENTFD, a write of `data` at device-fd `offset` each time eventfd `fd` fires (fd -1
 * de-assigns).
 */
export const VFIO_DEVICE_IOEVENTFD_8 = 1 << 0;
export const VFIO_DEVICE_IOEVENTFD_16 = 1 << 1;
export const VFIO_DEVICE_IOEVENTFD_32 = 1 << 2;
export const VFIO_DEVICE_IOEVENTFD_64 = 1 << 3;
export const VFIO_DEVICE_IOEVENTFD_SIZE_MASK = 0xf;
export const vfio_device_ioeventfd = struct('vfio_device_ioeventfd', {
  argsz: u32,
  flags: u32,
  offset: u64,
  data: u64,
  fd: s32,
});
export const VFIO_DEVICE_IOEVENTFD = _IO(VFIO_TYPE, VFIO_BASE + 16);

/**
 * Device fd: VFIO_DEVICE_FEATURE, a feature index in the low 16 bits of `flags` plus GET/SET/PROBE, and feature
 * data in `data`.
 */
export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;
export const vfio_device_feature = struct('vfio_device_feature', { argsz: u32, flags: u32, data: flex(u8) });
export const VFIO_DEVICE_FEATURE = _IO(VFIO_TYPE, VFIO_BASE + 17);

/**
 * Device cdev fd (/dev/vfio/devices/vfioN, 6.6+; newer than the 6.1 headers): VFIO_DEVICE_BIND_IOMMUFD binds the
 * device to an iommufd (`iommufd` is its fd) and returns the iommufd device id in `out_devid`. The optional
 * `token_uuid_ptr` (6.17) points to the SR-IOV VF token when VFIO_DEVICE_BIND_FLAG_TOKEN is set.
 */
export const VFIO_DEVICE_BIND_FLAG_TOKEN = 1 << 0;
export const vfio_device_bind_iommufd = struct('vfio_device_bind_iommufd', {
  argsz: u32,
  flags: u32,
  iommufd: s32,
  out_devid: u32,
  token_uuid_ptr: u64,
});
export const VFIO_DEVICE_BIND_IOMMUFD = _IO(VFIO_TYPE, VFIO_BASE + 18);

/** Device cdev fd: VFIO_DEVICE_ATTACH_IOMMUFD_PT attaches to an IOAS or HWPT id; pt_id returns the HWPT id. */
export const VFIO_DEVICE_ATTACH_PASID = 1 << 0;
export const vfio_device_attach_iommufd_pt = struct('vfio_device_attach_iommufd_pt', { argsz: u32, flags: u32, pt_id: u32, pasid: u32 });
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 19);

/** Device cdev fd: VFIO_DEVICE_DETACH_IOMMUFD_PT undoes the attach (DMA blocked again). */
export const VFIO_DEVICE_DETACH_PASID = 1 << 0;
export const vfio_device_detach_iommufd_pt = struct('vfio_device_detach_iommufd_pt', { argsz: u32, flags: u32, pasid: u32 });
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 20);

/** Feature indexes and their data, in order: PCI VF token, migration, migration state, low power, DMA logging. */
export const VFIO_DEVICE_FEATURE_PCI_VF_TOKEN = 0;
export const VFIO_MIGRATION_STOP_COPY = 1 << 0;
export const VFIO_MIGRATION_P2P = 1 << 1;
export const vfio_device_feature_migration = struct('vfio_device_feature_migration', { flags: u64 });
export const VFIO_DEVICE_FEATURE_MIGRATION = 1;
export const vfio_device_feature_mig_state = struct('vfio_device_feature_mig_state', {
  device_state: u32,
  data_fd: s32,
});
export const VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE = 2;

/** Migration states (`enum vfio_device_mig_state`). */
export const VFIO_DEVICE_STATE_ERROR = 0;
export const VFIO_DEVICE_STATE_STOP = 1;
export const VFIO_DEVICE_STATE_RUNNING = 2;
export const VFIO_DEVICE_STATE_STOP_COPY = 3;
export const VFIO_DEVICE_STATE_RESUMING = 4;
export const VFIO_DEVICE_STATE_RUNNING_P2P = 5;

/** Low-power features (data: none, or `struct vfio_device_low_power_entry_with_wakeup`). */
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY = 3;
export const vfio_device_low_power_entry_with_wakeup = struct('vfio_device_low_power_entry_with_wakeup', {
  wakeup_eventfd: s32,
  reserved: u32,
});
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP = 4;
export const VFIO_DEVICE_FEATURE_LOW_POWER_EXIT = 5;

/** DMA logging features (data: `vfio_device_feature_dma_logging_control` with an array of ranges, or `..._report`). */
export const vfio_device_feature_dma_logging_control = struct('vfio_device_feature_dma_logging_control', {
  page_size: u64,
  num_ranges: u32,
  __reserved: u32,
  ranges: u64, // user pointer to an array of vfio_device_feature_dma_logging_range
});
export const vfio_device_feature_dma_logging_range = struct('vfio_device_feature_dma_logging_range', {
  iova: u64,
  length: u64,
});
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_START = 6;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP = 7;
export const vfio_device_feature_dma_logging_report = struct('vfio_device_feature_dma_logging_report', {
  iova: u64,
  length: u64,
  page_size: u64,
  bitmap: u64,
});
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT = 8;

/**
 * Type1 container fd: VFIO_IOMMU_GET_INFO fills `struct vfio_iommu_type1_info` and its capability chain (same
 * number as VFIO_DEVICE_GET_PCI_HOT_RESET_INFO).
 */
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
export const vfio_iommu_type1_info = struct('vfio_iommu_type1_info', {
  argsz: u32,
  flags: u32,
  iova_pgsizes: u64,
  cap_offset: u32,
});

/** IOMMU-info capability: the valid IOVA ranges. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const vfio_iova_range = struct('vfio_iova_range', { start: u64, end: u64 });
export const vfio_iommu_type1_info_cap_iova_range = struct('vfio_iommu_type1_info_cap_iova_range', {
  header: vfio_info_cap_header,
  nr_iovas: u32,
  reserved: u32,
  iova_ranges: flex(vfio_iova_range, 'nr_iovas'),
});

/** IOMMU-info capability: dirty page tracking for migration. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const vfio_iommu_type1_info_cap_migration = struct('vfio_iommu_type1_info_cap_migration', {
  header: vfio_info_cap_header,
  flags: u32,
  pgsize_bitmap: u64,
  max_dirty_bitmap_size: u64,
});

/** IOMMU-info capability: how many more DMA mappings may be created. */
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
export const vfio_iommu_type1_info_dma_avail = struct('vfio_iommu_type1_info_dma_avail', {
  header: vfio_info_cap_header,
  avail: u32,
});
export const VFIO_IOMMU_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);

/** Type1 container fd: VFIO_IOMMU_MAP_DMA maps `size` bytes at process address `vaddr` to `iova`. */
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;
export const vfio_iommu_type1_dma_map = struct('vfio_iommu_type1_dma_map', {
  argsz: u32,
  flags: u32,
  vaddr: u64,
  iova: u64,
  size: u64,
});
export const VFIO_IOMMU_MAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 13);
export const vfio_bitmap = struct('vfio_bitmap', {
  pgsize: u64,
  size: u64,
  data: u64, // __u64 *: a user pointer
});

/** Type1 container fd: VFIO_IOMMU_UNMAP_DMA; the kernel writes back the size actually unmapped. */
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;
export const vfio_iommu_type1_dma_unmap = struct('vfio_iommu_type1_dma_unmap', {
  argsz: u32,
  flags: u32,
  iova: u64,
  size: u64,
  data: flex(u8),
});
export const VFIO_IOMMU_UNMAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 14);

/** SPAPR container fd: enable/disable the IOMMU (no argument). */
export const VFIO_IOMMU_ENABLE = _IO(VFIO_TYPE, VFIO_BASE + 15);
export const VFIO_IOMMU_DISABLE = _IO(VFIO_TYPE, VFIO_BASE + 16);

/** Type1 container fd: VFIO_IOMMU_DIRTY_PAGES starts/stops dirty tracking or reads the bitmap of a range. */
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_START = 1 << 0;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP = 1 << 1;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP = 1 << 2;
export const vfio_iommu_type1_dirty_bitmap = struct('vfio_iommu_type1_dirty_bitmap', {
  argsz: u32,
  flags: u32,
  data: flex(u8),
});
export const vfio_iommu_type1_dirty_bitmap_get = struct('vfio_iommu_type1_dirty_bitmap_get', {
  iova: u64,
  size: u64,
  bitmap: vfio_bitmap,
});
export const VFIO_IOMMU_DIRTY_PAGES = _IO(VFIO_TYPE, VFIO_BASE + 17);

/** SPAPR TCE container fd: VFIO_IOMMU_SPAPR_TCE_GET_INFO, with the dynamic DMA window details. */
export const vfio_iommu_spapr_tce_ddw_info = struct('vfio_iommu_spapr_tce_ddw_info', {
  pgsizes: u64,
  max_dynamic_windows_supported: u32,
  levels: u32,
});
export const VFIO_IOMMU_SPAPR_INFO_DDW = 1 << 0;
export const vfio_iommu_spapr_tce_info = struct('vfio_iommu_spapr_tce_info', {
  argsz: u32,
  flags: u32,
  dma32_window_start: u32,
  dma32_window_size: u32,
  ddw: vfio_iommu_spapr_tce_ddw_info,
});
export const VFIO_IOMMU_SPAPR_TCE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);

/** SPAPR container fd: VFIO_EEH_PE_OP and its operations and PE states. */
export const vfio_eeh_pe_err = struct('vfio_eeh_pe_err', { type: u32, func: u32, addr: u64, mask: u64 });
export const vfio_eeh_pe_op = struct('vfio_eeh_pe_op', {
  argsz: u32,
  flags: u32,
  op: u32,
  params: anon(union('vfio_eeh_pe_op_params', { err: vfio_eeh_pe_err })),
});
export const VFIO_EEH_PE_DISABLE = 0;
export const VFIO_EEH_PE_ENABLE = 1;
export const VFIO_EEH_PE_UNFREEZE_IO = 2;
export const VFIO_EEH_PE_UNFREEZE_DMA = 3;
export const VFIO_EEH_PE_GET_STATE = 4;
export const VFIO_EEH_PE_STATE_NORMAL = 0;
export const VFIO_EEH_PE_STATE_RESET = 1;
export const VFIO_EEH_PE_STATE_STOPPED = 2;
export const VFIO_EEH_PE_STATE_STOPPED_DMA = 4;
export const VFIO_EEH_PE_STATE_UNAVAIL = 5;
export const VFIO_EEH_PE_RESET_DEACTIVATE = 5;
export const VFIO_EEH_PE_RESET_HOT = 6;
export const VFIO_EEH_PE_RESET_FUNDAMENTAL = 7;
export const VFIO_EEH_PE_CONFIGURE = 8;
export const VFIO_EEH_PE_INJECT_ERR = 9;
export const VFIO_EEH_PE_OP = _IO(VFIO_TYPE, VFIO_BASE + 21);

/** SPAPR container fd: pre-register (and unregister) memory for DMA. */
export const vfio_iommu_spapr_register_memory = struct('vfio_iommu_spapr_register_memory', {
  argsz: u32,
  flags: u32,
  vaddr: u64,
  size: u64,
});
export const VFIO_IOMMU_SPAPR_REGISTER_MEMORY = _IO(VFIO_TYPE, VFIO_BASE + 17);
export const VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY = _IO(VFIO_TYPE, VFIO_BASE + 18);

/** SPAPR container fd: create and remove DMA windows. */
export const vfio_iommu_spapr_tce_create = struct('vfio_iommu_spapr_tce_create', {
  argsz: u32,
  flags: u32,
  page_shift: u32,
  __resv1: u32,
  window_size: u64,
  levels: u32,
  __resv2: u32,
  start_addr: u64,
});
export const VFIO_IOMMU_SPAPR_TCE_CREATE = _IO(VFIO_TYPE, VFIO_BASE + 19);
export const vfio_iommu_spapr_tce_remove = struct('vfio_iommu_spapr_tce_remove', {
  argsz: u32,
  flags: u32,
  start_addr: u64,
});
export const VFIO_IOMMU_SPAPR_TCE_REMOVE = _IO(VFIO_TYPE, VFIO_BASE + 20);
