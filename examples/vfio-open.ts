// How QEMU opens a VFIO device (hw/vfio/container.c, hw/vfio/pci.c), after libvirt has handed the device
// to vfio-pci through sysfs (virPCIDeviceBindToStub: driver_override, unbind, drivers_probe). Prints the
// strace-style trace of every call. Run: npx tsx --conditions=source examples/vfio-open.ts
import { fileURLToPath } from 'node:url';
import { Host, SyscallError } from 'vfio-kvm-shim';
import { O_RDWR } from 'vfio-kvm-shim/include-ts/linux/fcntl';
import { MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import { bindToVfioPci } from './lib/vfio.js';

const BDF = '0000:00:03.0'; // the edu device, alone in IOMMU group 2
const GUEST_RAM = 64 << 20;

/** The example's core: returns the trace lines (and prints them through `sink`). */
export function vfioOpen(sink: (line: string) => void = (l) => console.log(l), host = Host.create()): string[] {
  const lines: string[] = [];
  const stop = host.strace((l) => {
    lines.push(l);
    sink(l);
  });
  const say = (s: string) => sink(`# ${s}`);
  try {
    // libvirt: detach the device from its host driver and give it to vfio-pci.
    say(`libvirt binds ${BDF} to vfio-pci`);
    const group = bindToVfioPci(host.spawn({ name: 'libvirtd' }), BDF);

    // QEMU: container, API version and extension check.
    const qemu = host.spawn({ name: 'qemu' });
    say('QEMU opens the container and the group');
    const container = qemu.open('/dev/vfio/vfio', O_RDWR);
    if (qemu.ioctl(container, V.VFIO_GET_API_VERSION) !== V.VFIO_API_VERSION) throw new Error('VFIO API mismatch');
    if (!qemu.ioctl(container, V.VFIO_CHECK_EXTENSION, V.VFIO_TYPE1v2_IOMMU)) throw new Error('no Type1v2 IOMMU');
    const groupFd = qemu.open(`/dev/vfio/${group}`, O_RDWR);
    const status = V.vfio_group_status.alloc();
    status.argsz = V.vfio_group_status.size;
    qemu.ioctl(groupFd, V.VFIO_GROUP_GET_STATUS, status);
    if (!(status.flags & V.VFIO_GROUP_FLAGS_VIABLE)) throw new Error(`group ${group} is not viable`);
    qemu.ioctl(groupFd, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([container]));
    qemu.ioctl(container, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);

    // IOMMU info with the capability-chain growth protocol (vfio_get_iommu_info).
    let info = new Uint8Array(V.vfio_iommu_type1_info.size);
    V.vfio_iommu_type1_info.view(info).argsz = info.length;
    qemu.ioctl(container, V.VFIO_IOMMU_GET_INFO, info);
    const need = V.vfio_iommu_type1_info.view(info).argsz;
    if (need > info.length) {
      info = new Uint8Array(need);
      V.vfio_iommu_type1_info.view(info).argsz = need;
      qemu.ioctl(container, V.VFIO_IOMMU_GET_INFO, info);
    }

    // Guest RAM: an anonymous mapping, mapped for DMA at guest-physical 0 (the MSI window is not RAM).
    say('QEMU maps guest RAM for device DMA');
    const ram = qemu.mmap(null, GUEST_RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    const map = V.vfio_iommu_type1_dma_map.alloc();
    map.argsz = V.vfio_iommu_type1_dma_map.size;
    map.flags = V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = BigInt(ram.addr);
    map.iova = 0n;
    map.size = BigInt(GUEST_RAM);
    qemu.ioctl(container, V.VFIO_IOMMU_MAP_DMA, map);

    // The device fd, its info, regions and interrupts (vfio_get_device, vfio_populate_device).
    say('QEMU gets the device and asks what it has');
    const dev = qemu.ioctl(groupFd, V.VFIO_GROUP_GET_DEVICE_FD, BDF);
    const dinfo = V.vfio_device_info.alloc();
    dinfo.argsz = V.vfio_device_info.size;
    qemu.ioctl(dev, V.VFIO_DEVICE_GET_INFO, dinfo);
    const regions: Array<{ index: number; size: bigint; offset: bigint; flags: number }> = [];
    for (let index = 0; index <= V.VFIO_PCI_CONFIG_REGION_INDEX; index++) {
      const r = V.vfio_region_info.alloc();
      r.argsz = V.vfio_region_info.size;
      r.index = index;
      qemu.ioctl(dev, V.VFIO_DEVICE_GET_REGION_INFO, r);
      regions.push({ index, size: r.size, offset: r.offset, flags: r.flags });
    }
    const config = regions[V.VFIO_PCI_CONFIG_REGION_INDEX]!;
    const header = new Uint8Array(64);
    qemu.pread(dev, header, config.offset);
    if ((header[0x0b]! << 8 | header[0x0a]!) === 0x0300) {
      const r = V.vfio_region_info.alloc();
      r.argsz = V.vfio_region_info.size;
      r.index = V.VFIO_PCI_VGA_REGION_INDEX;
      qemu.ioctl(dev, V.VFIO_DEVICE_GET_REGION_INFO, r);
    }
    for (let index = 0; index < dinfo.num_irqs; index++) {
      const irq = V.vfio_irq_info.alloc();
      irq.argsz = V.vfio_irq_info.size;
      irq.index = index;
      try {
        qemu.ioctl(dev, V.VFIO_DEVICE_GET_IRQ_INFO, irq);
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        say(`no IRQ index ${index}: ${e.reason}`);
      }
    }
    say(`BAR0 is ${regions[0]!.size} bytes at file offset 0x${regions[0]!.offset.toString(16)}; config space is ${config.size} bytes`);
  } finally {
    stop();
  }
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) vfioOpen();
