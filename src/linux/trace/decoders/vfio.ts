// Names for the VFIO ioctls (<linux/vfio.h>), one table per file kind: the container (/dev/vfio/vfio),
// a group (/dev/vfio/$GROUP) and a device fd. VFIO reuses numbers across them (0x3b70 is
// VFIO_IOMMU_GET_INFO on a container and VFIO_DEVICE_GET_PCI_HOT_RESET_INFO on a device), and, on a
// container, between the type1 and SPAPR IOMMU models: where they collide the type1 (x86) name is used.
import * as V from '../../../../include-ts/linux/vfio.js';
import { ioctlTable, type FlagSet, type IoctlTable, type ValueNames } from '../ioctl-desc.js';

const flags = (...bits: ReadonlyArray<readonly [number, string, number?]>): FlagSet => ({ bits });

/** Extension ids (VFIO_CHECK_EXTENSION's argument; the IOMMU models among them are VFIO_SET_IOMMU's). */
export const VFIO_EXTENSION_NAMES: ValueNames = new Map([
  [V.VFIO_TYPE1_IOMMU, 'VFIO_TYPE1_IOMMU'],
  [V.VFIO_SPAPR_TCE_IOMMU, 'VFIO_SPAPR_TCE_IOMMU'],
  [V.VFIO_TYPE1v2_IOMMU, 'VFIO_TYPE1v2_IOMMU'],
  [V.VFIO_DMA_CC_IOMMU, 'VFIO_DMA_CC_IOMMU'],
  [V.VFIO_EEH, 'VFIO_EEH'],
  [V.VFIO_TYPE1_NESTING_IOMMU, 'VFIO_TYPE1_NESTING_IOMMU'],
  [V.VFIO_SPAPR_TCE_v2_IOMMU, 'VFIO_SPAPR_TCE_v2_IOMMU'],
  [V.VFIO_NOIOMMU_IOMMU, 'VFIO_NOIOMMU_IOMMU'],
  [V.VFIO_UNMAP_ALL, 'VFIO_UNMAP_ALL'],
  [V.VFIO_UPDATE_VADDR, 'VFIO_UPDATE_VADDR'],
]);

/** vfio-pci's fixed region indexes (vfio_region_info.index). */
export const VFIO_PCI_REGION_INDEX_NAMES: ValueNames = new Map([
  [V.VFIO_PCI_BAR0_REGION_INDEX, 'VFIO_PCI_BAR0_REGION_INDEX'],
  [V.VFIO_PCI_BAR1_REGION_INDEX, 'VFIO_PCI_BAR1_REGION_INDEX'],
  [V.VFIO_PCI_BAR2_REGION_INDEX, 'VFIO_PCI_BAR2_REGION_INDEX'],
  [V.VFIO_PCI_BAR3_REGION_INDEX, 'VFIO_PCI_BAR3_REGION_INDEX'],
  [V.VFIO_PCI_BAR4_REGION_INDEX, 'VFIO_PCI_BAR4_REGION_INDEX'],
  [V.VFIO_PCI_BAR5_REGION_INDEX, 'VFIO_PCI_BAR5_REGION_INDEX'],
  [V.VFIO_PCI_ROM_REGION_INDEX, 'VFIO_PCI_ROM_REGION_INDEX'],
  [V.VFIO_PCI_CONFIG_REGION_INDEX, 'VFIO_PCI_CONFIG_REGION_INDEX'],
  [V.VFIO_PCI_VGA_REGION_INDEX, 'VFIO_PCI_VGA_REGION_INDEX'],
]);

/** vfio-pci's fixed IRQ indexes (vfio_irq_info.index, vfio_irq_set.index). */
export const VFIO_PCI_IRQ_INDEX_NAMES: ValueNames = new Map([
  [V.VFIO_PCI_INTX_IRQ_INDEX, 'VFIO_PCI_INTX_IRQ_INDEX'],
  [V.VFIO_PCI_MSI_IRQ_INDEX, 'VFIO_PCI_MSI_IRQ_INDEX'],
  [V.VFIO_PCI_MSIX_IRQ_INDEX, 'VFIO_PCI_MSIX_IRQ_INDEX'],
  [V.VFIO_PCI_ERR_IRQ_INDEX, 'VFIO_PCI_ERR_IRQ_INDEX'],
  [V.VFIO_PCI_REQ_IRQ_INDEX, 'VFIO_PCI_REQ_IRQ_INDEX'],
]);

const GROUP_STATUS_FLAGS = flags([V.VFIO_GROUP_FLAGS_VIABLE, 'VFIO_GROUP_FLAGS_VIABLE'], [V.VFIO_GROUP_FLAGS_CONTAINER_SET, 'VFIO_GROUP_FLAGS_CONTAINER_SET']);

const DEVICE_INFO_FLAGS = flags(
  [V.VFIO_DEVICE_FLAGS_RESET, 'VFIO_DEVICE_FLAGS_RESET'],
  [V.VFIO_DEVICE_FLAGS_PCI, 'VFIO_DEVICE_FLAGS_PCI'],
  [V.VFIO_DEVICE_FLAGS_PLATFORM, 'VFIO_DEVICE_FLAGS_PLATFORM'],
  [V.VFIO_DEVICE_FLAGS_AMBA, 'VFIO_DEVICE_FLAGS_AMBA'],
  [V.VFIO_DEVICE_FLAGS_CCW, 'VFIO_DEVICE_FLAGS_CCW'],
  [V.VFIO_DEVICE_FLAGS_AP, 'VFIO_DEVICE_FLAGS_AP'],
  [V.VFIO_DEVICE_FLAGS_FSL_MC, 'VFIO_DEVICE_FLAGS_FSL_MC'],
  [V.VFIO_DEVICE_FLAGS_CAPS, 'VFIO_DEVICE_FLAGS_CAPS'],
);

const REGION_INFO_FLAGS = flags(
  [V.VFIO_REGION_INFO_FLAG_READ, 'VFIO_REGION_INFO_FLAG_READ'],
  [V.VFIO_REGION_INFO_FLAG_WRITE, 'VFIO_REGION_INFO_FLAG_WRITE'],
  [V.VFIO_REGION_INFO_FLAG_MMAP, 'VFIO_REGION_INFO_FLAG_MMAP'],
  [V.VFIO_REGION_INFO_FLAG_CAPS, 'VFIO_REGION_INFO_FLAG_CAPS'],
);

const IRQ_INFO_FLAGS = flags(
  [V.VFIO_IRQ_INFO_EVENTFD, 'VFIO_IRQ_INFO_EVENTFD'],
  [V.VFIO_IRQ_INFO_MASKABLE, 'VFIO_IRQ_INFO_MASKABLE'],
  [V.VFIO_IRQ_INFO_AUTOMASKED, 'VFIO_IRQ_INFO_AUTOMASKED'],
  [V.VFIO_IRQ_INFO_NORESIZE, 'VFIO_IRQ_INFO_NORESIZE'],
);

const IRQ_SET_FLAGS = flags(
  [V.VFIO_IRQ_SET_DATA_NONE, 'VFIO_IRQ_SET_DATA_NONE'],
  [V.VFIO_IRQ_SET_DATA_BOOL, 'VFIO_IRQ_SET_DATA_BOOL'],
  [V.VFIO_IRQ_SET_DATA_EVENTFD, 'VFIO_IRQ_SET_DATA_EVENTFD'],
  [V.VFIO_IRQ_SET_ACTION_MASK, 'VFIO_IRQ_SET_ACTION_MASK'],
  [V.VFIO_IRQ_SET_ACTION_UNMASK, 'VFIO_IRQ_SET_ACTION_UNMASK'],
  [V.VFIO_IRQ_SET_ACTION_TRIGGER, 'VFIO_IRQ_SET_ACTION_TRIGGER'],
);

const GFX_PLANE_FLAGS = flags(
  [V.VFIO_GFX_PLANE_TYPE_PROBE, 'VFIO_GFX_PLANE_TYPE_PROBE'],
  [V.VFIO_GFX_PLANE_TYPE_DMABUF, 'VFIO_GFX_PLANE_TYPE_DMABUF'],
  [V.VFIO_GFX_PLANE_TYPE_REGION, 'VFIO_GFX_PLANE_TYPE_REGION'],
);

const IOEVENTFD_FLAGS = flags(
  [V.VFIO_DEVICE_IOEVENTFD_8, 'VFIO_DEVICE_IOEVENTFD_8'],
  [V.VFIO_DEVICE_IOEVENTFD_16, 'VFIO_DEVICE_IOEVENTFD_16'],
  [V.VFIO_DEVICE_IOEVENTFD_32, 'VFIO_DEVICE_IOEVENTFD_32'],
  [V.VFIO_DEVICE_IOEVENTFD_64, 'VFIO_DEVICE_IOEVENTFD_64'],
);

/** The feature index (low 16 bits, matched exactly) and the GET/SET/PROBE bits. */
const DEVICE_FEATURE_FLAGS = flags(
  [V.VFIO_DEVICE_FEATURE_PCI_VF_TOKEN, 'VFIO_DEVICE_FEATURE_PCI_VF_TOKEN', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_MIGRATION, 'VFIO_DEVICE_FEATURE_MIGRATION', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, 'VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, 'VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, 'VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_LOW_POWER_EXIT, 'VFIO_DEVICE_FEATURE_LOW_POWER_EXIT', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 'VFIO_DEVICE_FEATURE_DMA_LOGGING_START', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, 'VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, 'VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT', V.VFIO_DEVICE_FEATURE_MASK],
  [V.VFIO_DEVICE_FEATURE_GET, 'VFIO_DEVICE_FEATURE_GET'],
  [V.VFIO_DEVICE_FEATURE_SET, 'VFIO_DEVICE_FEATURE_SET'],
  [V.VFIO_DEVICE_FEATURE_PROBE, 'VFIO_DEVICE_FEATURE_PROBE'],
);

const IOMMU_INFO_FLAGS = flags([V.VFIO_IOMMU_INFO_PGSIZES, 'VFIO_IOMMU_INFO_PGSIZES'], [V.VFIO_IOMMU_INFO_CAPS, 'VFIO_IOMMU_INFO_CAPS']);

const DMA_MAP_FLAGS = flags(
  [V.VFIO_DMA_MAP_FLAG_READ, 'VFIO_DMA_MAP_FLAG_READ'],
  [V.VFIO_DMA_MAP_FLAG_WRITE, 'VFIO_DMA_MAP_FLAG_WRITE'],
  [V.VFIO_DMA_MAP_FLAG_VADDR, 'VFIO_DMA_MAP_FLAG_VADDR'],
);

const DMA_UNMAP_FLAGS = flags(
  [V.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, 'VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP'],
  [V.VFIO_DMA_UNMAP_FLAG_ALL, 'VFIO_DMA_UNMAP_FLAG_ALL'],
  [V.VFIO_DMA_UNMAP_FLAG_VADDR, 'VFIO_DMA_UNMAP_FLAG_VADDR'],
);

const DIRTY_PAGES_FLAGS = flags(
  [V.VFIO_IOMMU_DIRTY_PAGES_FLAG_START, 'VFIO_IOMMU_DIRTY_PAGES_FLAG_START'],
  [V.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP, 'VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP'],
  [V.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, 'VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP'],
);

const EEH_PE_OPS: ValueNames = new Map([
  [V.VFIO_EEH_PE_DISABLE, 'VFIO_EEH_PE_DISABLE'],
  [V.VFIO_EEH_PE_ENABLE, 'VFIO_EEH_PE_ENABLE'],
  [V.VFIO_EEH_PE_UNFREEZE_IO, 'VFIO_EEH_PE_UNFREEZE_IO'],
  [V.VFIO_EEH_PE_UNFREEZE_DMA, 'VFIO_EEH_PE_UNFREEZE_DMA'],
  [V.VFIO_EEH_PE_GET_STATE, 'VFIO_EEH_PE_GET_STATE'],
  [V.VFIO_EEH_PE_RESET_DEACTIVATE, 'VFIO_EEH_PE_RESET_DEACTIVATE'],
  [V.VFIO_EEH_PE_RESET_HOT, 'VFIO_EEH_PE_RESET_HOT'],
  [V.VFIO_EEH_PE_RESET_FUNDAMENTAL, 'VFIO_EEH_PE_RESET_FUNDAMENTAL'],
  [V.VFIO_EEH_PE_CONFIGURE, 'VFIO_EEH_PE_CONFIGURE'],
  [V.VFIO_EEH_PE_INJECT_ERR, 'VFIO_EEH_PE_INJECT_ERR'],
]);

/**
 * vfio_irq_set.data: `count` u8 booleans (DATA_BOOL) or s32 eventfds (DATA_EVENTFD, -1 = de-assign);
 * nothing for DATA_NONE. Falls back to the raw bytes when the flags name no data type.
 */
function irqSetData(struct: Uint8Array): string | undefined {
  const base = V.vfio_irq_set.offsetof('data');
  if (struct.length < base) return undefined;
  const dv = new DataView(struct.buffer, struct.byteOffset, struct.byteLength);
  const fl = dv.getUint32(V.vfio_irq_set.offsetof('flags'), true);
  const count = dv.getUint32(V.vfio_irq_set.offsetof('count'), true);
  const items: string[] = [];
  if (fl & V.VFIO_IRQ_SET_DATA_BOOL) {
    for (let i = 0; i < count && base + i < struct.length; i++) items.push(String(dv.getUint8(base + i)));
  } else if (fl & V.VFIO_IRQ_SET_DATA_EVENTFD) {
    for (let i = 0; i < count && base + 4 * (i + 1) <= struct.length; i++) items.push(String(dv.getInt32(base + 4 * i, true)));
  } else {
    return undefined;
  }
  return `[${items.join(', ')}]`;
}

/** /dev/vfio/vfio (type1 names where the SPAPR model reuses a number). */
export const VFIO_CONTAINER_IOCTLS: IoctlTable = ioctlTable([
  [V.VFIO_GET_API_VERSION, { name: 'VFIO_GET_API_VERSION', arg: 'none' }],
  [V.VFIO_CHECK_EXTENSION, { name: 'VFIO_CHECK_EXTENSION', arg: 'value', valueNames: VFIO_EXTENSION_NAMES }],
  [V.VFIO_SET_IOMMU, { name: 'VFIO_SET_IOMMU', arg: 'value', valueNames: VFIO_EXTENSION_NAMES }],
  [V.VFIO_IOMMU_GET_INFO, {
    name: 'VFIO_IOMMU_GET_INFO', arg: 'struct', layout: V.vfio_iommu_type1_info, out: true,
    flags: { flags: IOMMU_INFO_FLAGS }, hex: ['iova_pgsizes'],
  }],
  [V.VFIO_IOMMU_MAP_DMA, {
    name: 'VFIO_IOMMU_MAP_DMA', arg: 'struct', layout: V.vfio_iommu_type1_dma_map,
    flags: { flags: DMA_MAP_FLAGS }, hex: ['vaddr', 'iova', 'size'],
  }],
  [V.VFIO_IOMMU_UNMAP_DMA, {
    name: 'VFIO_IOMMU_UNMAP_DMA', arg: 'struct', layout: V.vfio_iommu_type1_dma_unmap, out: true, inout: true,
    flags: { flags: DMA_UNMAP_FLAGS }, hex: ['iova', 'size'],
  }],
  [V.VFIO_IOMMU_ENABLE, { name: 'VFIO_IOMMU_ENABLE', arg: 'none' }],
  [V.VFIO_IOMMU_DISABLE, { name: 'VFIO_IOMMU_DISABLE', arg: 'none' }],
  [V.VFIO_IOMMU_DIRTY_PAGES, {
    name: 'VFIO_IOMMU_DIRTY_PAGES', arg: 'struct', layout: V.vfio_iommu_type1_dirty_bitmap, flags: { flags: DIRTY_PAGES_FLAGS },
  }],
  [V.VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, {
    name: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', arg: 'struct', layout: V.vfio_iommu_spapr_register_memory, hex: ['vaddr', 'size'],
  }],
  [V.VFIO_IOMMU_SPAPR_TCE_CREATE, {
    name: 'VFIO_IOMMU_SPAPR_TCE_CREATE', arg: 'struct', layout: V.vfio_iommu_spapr_tce_create, out: true, inout: true,
    hex: ['window_size', 'start_addr'],
  }],
  [V.VFIO_IOMMU_SPAPR_TCE_REMOVE, {
    name: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', arg: 'struct', layout: V.vfio_iommu_spapr_tce_remove, hex: ['start_addr'],
  }],
  [V.VFIO_EEH_PE_OP, { name: 'VFIO_EEH_PE_OP', arg: 'struct', layout: V.vfio_eeh_pe_op, values: { op: EEH_PE_OPS }, hex: ['addr', 'mask'] }],
]);

/** /dev/vfio/$GROUP. */
export const VFIO_GROUP_IOCTLS: IoctlTable = ioctlTable([
  [V.VFIO_GROUP_GET_STATUS, {
    name: 'VFIO_GROUP_GET_STATUS', arg: 'struct', layout: V.vfio_group_status, out: true, flags: { flags: GROUP_STATUS_FLAGS },
  }],
  [V.VFIO_GROUP_SET_CONTAINER, { name: 'VFIO_GROUP_SET_CONTAINER', arg: 'int-ptr' }],
  [V.VFIO_GROUP_UNSET_CONTAINER, { name: 'VFIO_GROUP_UNSET_CONTAINER', arg: 'none' }],
  [V.VFIO_GROUP_GET_DEVICE_FD, { name: 'VFIO_GROUP_GET_DEVICE_FD', arg: 'string' }],
]);

/** A device fd (from VFIO_GROUP_GET_DEVICE_FD). */
export const VFIO_DEVICE_IOCTLS: IoctlTable = ioctlTable([
  // The device cdev ioctls (6.6) are newer than strace 6.1, which names 0x3b76-0x3b78 after the SPAPR
  // container ioctls sharing their numbers and prints the pointer: so does this tracer.
  [V.VFIO_DEVICE_BIND_IOMMUFD, { name: 'VFIO_DEVICE_BIND_IOMMUFD', straceName: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', arg: 'ptr' }],
  [V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, { name: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', straceName: 'VFIO_IOMMU_SPAPR_TCE_CREATE', arg: 'ptr' }],
  [V.VFIO_DEVICE_DETACH_IOMMUFD_PT, { name: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', straceName: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', arg: 'ptr' }],
  [V.VFIO_DEVICE_GET_INFO, {
    name: 'VFIO_DEVICE_GET_INFO', arg: 'struct', layout: V.vfio_device_info, out: true, flags: { flags: DEVICE_INFO_FLAGS },
  }],
  [V.VFIO_DEVICE_GET_REGION_INFO, {
    name: 'VFIO_DEVICE_GET_REGION_INFO', arg: 'struct', layout: V.vfio_region_info, out: true, inout: true,
    flags: { flags: REGION_INFO_FLAGS }, values: { index: VFIO_PCI_REGION_INDEX_NAMES }, hex: ['size', 'offset'],
  }],
  [V.VFIO_DEVICE_GET_IRQ_INFO, {
    name: 'VFIO_DEVICE_GET_IRQ_INFO', arg: 'struct', layout: V.vfio_irq_info, out: true, inout: true,
    flags: { flags: IRQ_INFO_FLAGS }, values: { index: VFIO_PCI_IRQ_INDEX_NAMES },
  }],
  [V.VFIO_DEVICE_SET_IRQS, {
    name: 'VFIO_DEVICE_SET_IRQS', arg: 'struct', layout: V.vfio_irq_set,
    flags: { flags: IRQ_SET_FLAGS }, values: { index: VFIO_PCI_IRQ_INDEX_NAMES }, formatTail: irqSetData,
  }],
  [V.VFIO_DEVICE_RESET, { name: 'VFIO_DEVICE_RESET', arg: 'none' }],
  [V.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, {
    name: 'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO', arg: 'struct', layout: V.vfio_pci_hot_reset_info, out: true,
  }],
  [V.VFIO_DEVICE_PCI_HOT_RESET, { name: 'VFIO_DEVICE_PCI_HOT_RESET', arg: 'struct', layout: V.vfio_pci_hot_reset }],
  [V.VFIO_DEVICE_QUERY_GFX_PLANE, {
    name: 'VFIO_DEVICE_QUERY_GFX_PLANE', arg: 'struct', layout: V.vfio_device_gfx_plane_info, out: true, inout: true,
    flags: { flags: GFX_PLANE_FLAGS }, hex: ['drm_format', 'drm_format_mod'],
  }],
  [V.VFIO_DEVICE_GET_GFX_DMABUF, { name: 'VFIO_DEVICE_GET_GFX_DMABUF', arg: 'int-ptr' }],
  [V.VFIO_DEVICE_IOEVENTFD, {
    name: 'VFIO_DEVICE_IOEVENTFD', arg: 'struct', layout: V.vfio_device_ioeventfd,
    flags: { flags: IOEVENTFD_FLAGS }, hex: ['offset', 'data'],
  }],
  [V.VFIO_DEVICE_FEATURE, {
    name: 'VFIO_DEVICE_FEATURE', arg: 'struct', layout: V.vfio_device_feature, out: true, inout: true,
    flags: { flags: DEVICE_FEATURE_FLAGS },
  }],
]);
