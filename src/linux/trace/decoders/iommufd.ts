// Names for the iommufd ioctls (<linux/iommufd.h>) on /dev/iommu fds. strace 6.1 predates iommufd and knows
// none of them: it prints each as an unknown ioctl, `_IOC(_IOC_NONE, 0x3b, 0x85, 0)`, with the pointer; the
// tracer does the same (straceName), while error messages use the C names.
import * as I from '../../../../include-ts/linux/iommufd.js';
import { formatUnknownIoctl } from '../../../../abi/ioc.js';
import { ioctlTable, type IoctlTable } from '../ioctl-desc.js';

const unknownToStrace = (name: keyof typeof I): readonly [number, { name: string; straceName: string; arg: 'ptr' }] => {
  const req = I[name] as number;
  return [req, { name, straceName: formatUnknownIoctl(req), arg: 'ptr' }];
};

export const IOMMUFD_IOCTLS: IoctlTable = ioctlTable([
  unknownToStrace('IOMMU_DESTROY'),
  unknownToStrace('IOMMU_IOAS_ALLOC'),
  unknownToStrace('IOMMU_IOAS_ALLOW_IOVAS'),
  unknownToStrace('IOMMU_IOAS_COPY'),
  unknownToStrace('IOMMU_IOAS_IOVA_RANGES'),
  unknownToStrace('IOMMU_IOAS_MAP'),
  unknownToStrace('IOMMU_IOAS_UNMAP'),
  unknownToStrace('IOMMU_OPTION'),
  unknownToStrace('IOMMU_VFIO_IOAS'),
  unknownToStrace('IOMMU_HWPT_ALLOC'),
  unknownToStrace('IOMMU_GET_HW_INFO'),
  unknownToStrace('IOMMU_HWPT_SET_DIRTY_TRACKING'),
  unknownToStrace('IOMMU_HWPT_GET_DIRTY_BITMAP'),
  unknownToStrace('IOMMU_HWPT_INVALIDATE'),
  unknownToStrace('IOMMU_FAULT_QUEUE_ALLOC'),
  unknownToStrace('IOMMU_IOAS_MAP_FILE'),
  unknownToStrace('IOMMU_VIOMMU_ALLOC'),
  unknownToStrace('IOMMU_VDEVICE_ALLOC'),
  unknownToStrace('IOMMU_IOAS_CHANGE_PROCESS'),
  unknownToStrace('IOMMU_VEVENTQ_ALLOC'),
  unknownToStrace('IOMMU_HW_QUEUE_ALLOC'),
]);
