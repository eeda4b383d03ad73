// A userspace NIC driver with MSI-X through VFIO (what DPDK's vfio path or QEMU's vfio_msix_enable do):
// GET_IRQ_INFO for the vector count, one eventfd per queue, VFIO_DEVICE_SET_IRQS MSIX TRIGGER with all
// of them at once (the kernel allocates host vectors, remapping entries and programs the MSI-X table;
// the capability's Enable bit reads 1 only now), then the NIC raises some queues (doorbell register in
// BAR0) and the driver polls all eventfds and reads the ready ones. Prints the strace-style trace and
// the per-vector counts. Run: npx tsx --conditions=source examples/msix-userspace.ts
import { fileURLToPath } from 'node:url';
import { Host } from 'vfio-kvm-shim';
import { EFD_CLOEXEC, EFD_NONBLOCK } from 'vfio-kvm-shim/include-ts/linux/eventfd';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import { POLLIN } from 'vfio-kvm-shim/include-ts/linux/poll';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import { bindToVfioPci, irqSet, openVfioDevice } from './lib/vfio.js';
import { narrate } from './lib/narrate.js';

const BDF = '0000:06:00.0';
const NIC_DOORBELL = 0x10;
const CONFIG = BigInt(V.VFIO_PCI_CONFIG_REGION_INDEX) << 40n;

export interface MsixUserspaceResult {
  readonly lines: string[];
  /** Interrupts read from each vector's eventfd. */
  readonly counts: number[];
  /** /proc/interrupts lines of the vectors. */
  readonly proc: string[];
}

export function msixUserspace(sink: (line: string) => void = (l) => console.log(l), host = Host.create(), nvec = 4, raises: readonly number[] = [0, 2, 2, 3, 1, 2]): MsixUserspaceResult {
  const { lines, say, stop } = narrate(host, sink);
  try {
    say(`${BDF} leaves e1000e for vfio-pci`);
    const group = bindToVfioPci(host.spawn({ name: 'libvirtd' }), BDF);

    const drv = host.spawn({ name: 'nic-driver' });
    const dev = openVfioDevice(drv, group, BDF).device;

    const info = V.vfio_irq_info.alloc();
    info.argsz = V.vfio_irq_info.size;
    info.index = V.VFIO_PCI_MSIX_IRQ_INDEX;
    drv.ioctl(dev, V.VFIO_DEVICE_GET_IRQ_INFO, info);
    say(`MSI-X: ${info.count} vectors; the driver uses ${nvec}`);

    const cap = host.control.pci.nic().msix!.offset;
    const ctrl = new Uint8Array(2);
    drv.pread(dev, ctrl, CONFIG + BigInt(cap + 2));
    say(`Message Control before SET_IRQS: 0x${(ctrl[0]! | (ctrl[1]! << 8)).toString(16)} (Enable clear)`);

    const fds: number[] = [];
    for (let i = 0; i < nvec; i++) fds.push(drv.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    drv.ioctl(dev, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_MSIX_IRQ_INDEX, 0, nvec, fds));
    drv.pread(dev, ctrl, CONFIG + BigInt(cap + 2));
    say(`Message Control after SET_IRQS: 0x${(ctrl[0]! | (ctrl[1]! << 8)).toString(16)} (Enable set by the kernel)`);

    const bar0 = drv.mmap(null, 0x20000, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
    say(`the NIC raises queues ${raises.join(', ')}`);
    for (const q of raises) bar0.write32(NIC_DOORBELL, q);

    const counts = new Array<number>(nvec).fill(0);
    const buf = new Uint8Array(8);
    const pfds = fds.map((fd) => ({ fd, events: POLLIN, revents: 0 }));
    while (drv.poll(pfds, 0) > 0) {
      pfds.forEach((p, i) => {
        if (p.revents & POLLIN) {
          drv.read(p.fd, buf);
          counts[i]! += new DataView(buf.buffer).getUint32(0, true);
        }
      });
    }
    say(`per vector: ${counts.map((c, i) => `vector ${i}: ${c}`).join(', ')}`);
    const proc = drv.readFile('/proc/interrupts').split('\n').filter((l) => l.includes('vfio-msix'));
    for (const l of proc) say(l.replace(/\s{2,}/g, '  ').trim());
    return { lines, counts, proc };
  } finally {
    stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) msixUserspace();
