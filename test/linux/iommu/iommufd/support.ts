// Helpers for the iommufd tests: the QEMU iommufd open sequence and typed wrappers for the ioctls.
import { Host } from '../../../../src/host.js';
import type { Process } from '../../../../src/linux/process.js';
import * as I from '../../../../include-ts/linux/iommufd.js';
import * as V from '../../../../include-ts/linux/vfio.js';
import { O_RDWR } from '../../../../include-ts/linux/fcntl.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../../include-ts/linux/mman.js';
import { bindVfio, EDU } from '../../../support/vfio.js';

export { I, V };

export const RW = I.IOMMU_IOAS_MAP_READABLE | I.IOMMU_IOAS_MAP_WRITEABLE;
export const FIXED = I.IOMMU_IOAS_MAP_FIXED_IOVA;
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

export function ioasAlloc(p: Process, fd: number): number {
  const b = I.iommu_ioas_alloc.encode({ size: I.iommu_ioas_alloc.size });
  p.ioctl(fd, I.IOMMU_IOAS_ALLOC, b);
  return I.iommu_ioas_alloc.view(b).out_ioas_id;
}

export function ioasMap(p: Process, fd: number, ioas: number, user_va: number | bigint, length: number | bigint, iova: number | bigint = 0, flags = RW | FIXED): bigint {
  const b = I.iommu_ioas_map.encode({ size: I.iommu_ioas_map.size, flags, ioas_id: ioas, user_va, length, iova });
  p.ioctl(fd, I.IOMMU_IOAS_MAP, b);
  return I.iommu_ioas_map.view(b).iova;
}

export function ioasUnmap(p: Process, fd: number, ioas: number, iova: number | bigint, length: number | bigint): bigint {
  const b = I.iommu_ioas_unmap.encode({ size: I.iommu_ioas_unmap.size, ioas_id: ioas, iova, length });
  p.ioctl(fd, I.IOMMU_IOAS_UNMAP, b);
  return I.iommu_ioas_unmap.view(b).length;
}

export function ioasCopy(p: Process, fd: number, dst: number, src: number, src_iova: number | bigint, length: number | bigint, dst_iova: number | bigint = 0, flags = RW | FIXED): bigint {
  const b = I.iommu_ioas_copy.encode({ size: I.iommu_ioas_copy.size, flags, dst_ioas_id: dst, src_ioas_id: src, length, dst_iova, src_iova });
  p.ioctl(fd, I.IOMMU_IOAS_COPY, b);
  return I.iommu_ioas_copy.view(b).dst_iova;
}

export function destroy(p: Process, fd: number, id: number): number {
  return p.ioctl(fd, I.IOMMU_DESTROY, I.iommu_destroy.encode({ size: 8, id }));
}

/** IOMMU_IOAS_IOVA_RANGES with room for `room` ranges: the ranges, num_iovas and the alignment. */
export function iovaRanges(p: Process, fd: number, ioas: number, room = 4): { ranges: Array<[bigint, bigint]>; num: number; align: bigint } {
  const buf = p.mmap(null, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const b = I.iommu_ioas_iova_ranges.encode({ size: I.iommu_ioas_iova_ranges.size, ioas_id: ioas, num_iovas: room, allowed_iovas: buf.addr });
  p.ioctl(fd, I.IOMMU_IOAS_IOVA_RANGES, b);
  const v = I.iommu_ioas_iova_ranges.view(b);
  const dv = new DataView(buf.bytes!.buffer, buf.bytes!.byteOffset);
  const ranges: Array<[bigint, bigint]> = [];
  for (let i = 0; i < Math.min(v.num_iovas, room); i++) ranges.push([dv.getBigUint64(i * 16, true), dv.getBigUint64(i * 16 + 8, true)]);
  p.munmap(buf.addr, 0x1000);
  return { ranges, num: v.num_iovas, align: v.out_iova_alignment };
}

export interface Opened {
  readonly host: Host;
  readonly p: Process;
  readonly iommufd: number;
  readonly dev: number;
  readonly devid: number;
  readonly ioas: number;
  readonly ram: { addr: number; bytes: Uint8Array };
}

/** Binds `bdf` to vfio-pci and opens its cdev (vfioN, N in bind order from 0). */
export function openCdev(p: Process, bdf = EDU, index = 0): number {
  bindVfio(p, bdf);
  return p.open(`/dev/vfio/devices/vfio${index}`, O_RDWR);
}

export function bind(p: Process, dev: number, iommufd: number): number {
  const b = V.vfio_device_bind_iommufd.encode({ argsz: 16, iommufd });
  p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, b);
  return V.vfio_device_bind_iommufd.view(b).out_devid;
}

export function attach(p: Process, dev: number, pt_id: number): number {
  const b = V.vfio_device_attach_iommufd_pt.encode({ argsz: 12, pt_id });
  p.ioctl(dev, V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, b);
  return V.vfio_device_attach_iommufd_pt.view(b).pt_id;
}

export function detach(p: Process, dev: number): number {
  return p.ioctl(dev, V.VFIO_DEVICE_DETACH_IOMMUFD_PT, V.vfio_device_detach_iommufd_pt.encode({ argsz: 8 }));
}

/** Every capability but CAP_IPC_LOCK (as a VMM whose pinned pages are charged). */
export const NO_IPC_LOCK = ((1n << 41n) - 1n) & ~(1n << 14n);

/** The QEMU iommufd sequence up to an attached device and 4 MiB of anonymous memory (unmapped in the IOAS). */
export function openIommufd(opts: { host?: Host; attach?: boolean; capabilities?: bigint } = {}): Opened {
  const host = opts.host ?? Host.create();
  const p = host.spawn(opts.capabilities !== undefined ? { capabilities: opts.capabilities } : {});
  const iommufd = p.open('/dev/iommu', O_RDWR);
  const dev = openCdev(p);
  const devid = bind(p, dev, iommufd);
  const ioas = ioasAlloc(p, iommufd);
  if (opts.attach !== false) attach(p, dev, ioas);
  const ram = p.mmap(null, 0x400000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as { addr: number; bytes: Uint8Array };
  return { host, p, iommufd, dev, devid, ioas, ram };
}
