// How QEMU (>= 8.2, `-object iommufd,id=iommufd0 -device vfio-pci,host=...,iommufd=iommufd0`) opens a device
// through iommufd instead of a container and group (backends/iommufd.c, hw/vfio/iommufd.c): open /dev/iommu,
// find the device's cdev under /sys/bus/pci/devices/<bdf>/vfio-dev/ and its number in vfioN/dev, open
// /dev/vfio/devices/vfioN and check with fstat that it is that character device (iommufd_cdev_getfd),
// VFIO_DEVICE_BIND_IOMMUFD, IOMMU_IOAS_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT, IOMMU_IOAS_IOVA_RANGES,
// IOMMU_IOAS_MAP of guest RAM, IOMMU_GET_HW_INFO; then the device is an ordinary VFIO device fd: regions,
// and interrupts through VFIO_DEVICE_SET_IRQS. The edu device then DMAs into guest RAM through the IOAS and
// signals MSI. Prints the strace-style trace (strace 6.1 knows no iommufd ioctl: they print as _IOC(...),
// and it names the cdev ioctls after the SPAPR ioctls sharing their numbers).
// Run: npx tsx --conditions=source examples/iommufd-passthrough.ts
import { fileURLToPath } from 'node:url';
import { Host } from 'vfio-kvm-shim';
import { O_RDWR } from 'vfio-kvm-shim/include-ts/linux/fcntl';
import { EFD_CLOEXEC } from 'vfio-kvm-shim/include-ts/linux/eventfd';
import { MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import * as I from 'vfio-kvm-shim/include-ts/linux/iommufd';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import { bindToVfioPci, iommufdCdevGetfd, irqSet } from './lib/vfio.js';
import { narrate } from './lib/narrate.js';
import { EDU_BDF, EDU_DMA_BUF, EDU_IRQ_ACK, EDU_IRQ_RAISE, EDU_STATUS, eduDma } from './lib/edu.js';

const GUEST_RAM = 64 << 20;

/** The example's core: returns the trace lines (and prints them through `sink`). */
export function iommufdPassthrough(sink: (line: string) => void = (l) => console.log(l), host = Host.create()): string[] {
  const { lines, say, stop } = narrate(host, sink);
  try {
    say(`libvirt binds ${EDU_BDF} to vfio-pci`);
    bindToVfioPci(host.spawn({ name: 'libvirtd' }), EDU_BDF);

    const qemu = host.spawn({ name: 'qemu' });
    say('QEMU opens /dev/iommu (iommufd_backend_connect) and the device cdev named in sysfs, checking its number');
    const iommufd = qemu.open('/dev/iommu', O_RDWR);
    const dev = iommufdCdevGetfd(qemu, `/sys/bus/pci/devices/${EDU_BDF}`);

    say('bind the device to the iommufd (iommufd_cdev_connect_and_bind): out_devid names it there');
    const bind = V.vfio_device_bind_iommufd.alloc();
    bind.argsz = 16; // QEMU passes the 6.6 struct (no token)
    bind.iommufd = iommufd;
    qemu.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, bind);

    say('an IOAS for guest RAM, the device attached to it (the kernel makes a HWPT: the IOMMU domain)');
    const alloc = I.iommu_ioas_alloc.alloc();
    alloc.size = I.iommu_ioas_alloc.size;
    qemu.ioctl(iommufd, I.IOMMU_IOAS_ALLOC, alloc);
    const attach = V.vfio_device_attach_iommufd_pt.alloc();
    attach.argsz = V.vfio_device_attach_iommufd_pt.size;
    attach.pt_id = alloc.out_ioas_id;
    qemu.ioctl(dev, V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach);
    say(`attached through HWPT ${attach.pt_id}`);

    // iommufd_cdev_get_info_iova_range(): the usable IOVA ranges now that the device is attached.
    const rangesBuf = qemu.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const ranges = I.iommu_ioas_iova_ranges.alloc();
    ranges.size = I.iommu_ioas_iova_ranges.size;
    ranges.ioas_id = alloc.out_ioas_id;
    ranges.num_iovas = 8;
    ranges.allowed_iovas = BigInt(rangesBuf.addr);
    qemu.ioctl(iommufd, I.IOMMU_IOAS_IOVA_RANGES, ranges);
    const dv = new DataView(rangesBuf.bytes!.buffer, rangesBuf.bytes!.byteOffset);
    for (let i = 0; i < ranges.num_iovas; i++) {
      say(`IOVA range ${i}: 0x${dv.getBigUint64(i * 16, true).toString(16)}-0x${dv.getBigUint64(i * 16 + 8, true).toString(16)}`);
    }

    say('map guest RAM at IOVA 0 (iommufd_backend_map_dma): the pages are pinned now');
    const ram = qemu.mmap(null, GUEST_RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    const map = I.iommu_ioas_map.alloc();
    map.size = I.iommu_ioas_map.size;
    map.flags = I.IOMMU_IOAS_MAP_FIXED_IOVA | I.IOMMU_IOAS_MAP_READABLE | I.IOMMU_IOAS_MAP_WRITEABLE;
    map.ioas_id = alloc.out_ioas_id;
    map.user_va = BigInt(ram.addr);
    map.length = BigInt(GUEST_RAM);
    map.iova = 0n;
    qemu.ioctl(iommufd, I.IOMMU_IOAS_MAP, map);

    say('the IOMMU behind the device (iommufd_backend_get_device_info): VT-d CAP/ECAP for a vIOMMU');
    const vtd = qemu.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const hw = I.iommu_hw_info.alloc();
    hw.size = I.iommu_hw_info.size;
    hw.dev_id = bind.out_devid;
    hw.data_len = I.iommu_hw_info_vtd.size;
    hw.data_uptr = BigInt(vtd.addr);
    qemu.ioctl(iommufd, I.IOMMU_GET_HW_INFO, hw);
    const regs = I.iommu_hw_info_vtd.view(vtd.bytes!.subarray(0, I.iommu_hw_info_vtd.size));
    say(`type ${hw.out_data_type} (IOMMU_HW_INFO_TYPE_INTEL_VTD), cap 0x${regs.cap_reg.toString(16)}, ecap 0x${regs.ecap_reg.toString(16)}`);

    say('from here the fd is an ordinary VFIO device: info, BAR0, MSI through an eventfd');
    const info = V.vfio_device_info.alloc();
    info.argsz = V.vfio_device_info.size;
    qemu.ioctl(dev, V.VFIO_DEVICE_GET_INFO, info);
    const bar0 = qemu.mmap(null, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
    const msi = qemu.eventfd(0, EFD_CLOEXEC);
    qemu.ioctl(dev, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_MSI_IRQ_INDEX, 0, 1, [msi]));

    say('the guest driver asks edu to copy 16 bytes of guest RAM at 0x1000 to 0x2000 through its buffer');
    ram.bytes!.set(new TextEncoder().encode('hello, iommufd!\0'), 0x1000);
    eduDma(host, bar0, 0x1000, EDU_DMA_BUF, 16, false);
    eduDma(host, bar0, EDU_DMA_BUF, 0x2000, 16, true);
    say(`guest RAM at 0x2000 now reads "${new TextDecoder().decode(ram.bytes!.subarray(0x2000, 0x200f))}"`);

    say('edu raises its interrupt: an MSI, remapped by VT-d, signals the eventfd');
    bar0.write32(EDU_STATUS, 0);
    bar0.write32(EDU_IRQ_RAISE, 1);
    const count = new Uint8Array(8);
    qemu.read(msi, count);
    bar0.write32(EDU_IRQ_ACK, 1);
    say(`eventfd count ${count[0]}`);
  } finally {
    stop();
  }
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) iommufdPassthrough();
