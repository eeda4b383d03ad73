// Run in a fresh process by bench/rss.ts: a host with 64 MSI-X NICs of 2048 vectors each, then all
// of them bound to vfio-pci and opened through VFIO, then MSI-X enabled with an eventfd per vector on
// as many vectors as the host's interrupt remapping table and vectors allow. Prints the resident set
// size after each phase (after a GC) as JSON.
import { Host } from '../../src/index.js';
import type { Machine } from '../../src/hw/machine.js';
import { HostBridge, PciBridge } from '../../src/hw/pci/bridge.js';
import { MsixNic } from '../../src/hw/devices/msix-nic.js';
import * as V from '../../include-ts/linux/vfio.js';
import { O_RDWR } from '../../include-ts/linux/fcntl.js';
import { EFD_NONBLOCK } from '../../include-ts/linux/eventfd.js';

const DEVICES = 64;
const VECTORS = 2048;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const rssMiB = (): number => {
  gc();
  gc();
  return process.memoryUsage().rss / (1 << 20);
};
const heapMiB = (): number => process.memoryUsage().heapUsed / (1 << 20);

const phases: { phase: string; rssMiB: number; heapMiB: number; detail?: string }[] = [];
const mark = (phase: string, detail?: string): void => {
  const rss = rssMiB();
  phases.push({ phase, rssMiB: rss, heapMiB: heapMiB(), ...(detail ? { detail } : {}) });
};
mark('node + modules loaded');

// Two root ports with ACS, each with a switch of 32 ACS downstream ports, one NIC per port.
const preset = (m: Machine): void => {
  m.pci.root.add(0, 0, new HostBridge());
  for (let sw = 0; sw < 2; sw++) {
    const rp = m.pci.root.add(1 + sw, 0, new PciBridge({ kind: 'root-port', acs: true, slot: 1 + sw }));
    const up = rp.secondary.add(0, 0, new PciBridge({ kind: 'switch-up' }));
    for (let port = 0; port < DEVICES / 2; port++) {
      const dn = up.secondary.add(port, 0, new PciBridge({ kind: 'switch-down', acs: true, slot: 16 + sw * 32 + port }));
      dn.secondary.add(0, 0, new MsixNic({ queues: VECTORS }));
    }
  }
};

const host = Host.create({ preset, cpus: 256 });
const nics = host.kernel.pci.devices.filter((d) => d.hw instanceof MsixNic);
mark(`host booted with ${nics.length} MSI-X NICs of ${VECTORS} vectors`);

const p = host.spawn({ nofile: DEVICES * VECTORS + 1024 });
const container = p.open('/dev/vfio/vfio', O_RDWR);
const devfds: number[] = [];
for (const d of nics) {
  const bdf = d.name;
  p.writeFile(`/sys/bus/pci/devices/${bdf}/driver_override`, 'vfio-pci');
  const drv = p.readlink(`/sys/bus/pci/devices/${bdf}/driver`).split('/').pop();
  if (drv) p.writeFile(`/sys/bus/pci/drivers/${drv}/unbind`, bdf);
  p.writeFile('/sys/bus/pci/drivers_probe', bdf);
  const group = Number(p.readlink(`/sys/bus/pci/devices/${bdf}/iommu_group`).split('/').pop());
  const g = p.open(`/dev/vfio/${group}`, O_RDWR);
  p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, Int32Array.of(container));
  if (devfds.length === 0) p.ioctl(container, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
  devfds.push(p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, bdf));
}
mark(`all ${devfds.length} bound to vfio-pci and opened through VFIO`);

let enabled = 0;
let devicesEnabled = 0;
for (const d of devfds) {
  const fds: number[] = [];
  for (let v = 0; v < VECTORS; v++) fds.push(p.eventfd(0, EFD_NONBLOCK));
  const set = V.vfio_irq_set.alloc(VECTORS * 4);
  set.argsz = set.bytes.length;
  set.flags = V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER;
  set.index = V.VFIO_PCI_MSIX_IRQ_INDEX;
  set.count = VECTORS;
  const dv = new DataView(set.bytes.buffer);
  fds.forEach((fd, i) => dv.setInt32(20 + 4 * i, fd, true));
  let r: number;
  try {
    r = p.ioctl(d, V.VFIO_DEVICE_SET_IRQS, set);
  } catch {
    r = -1;
  }
  if (r !== 0) {
    for (const fd of fds) p.close(fd);
    break;
  }
  enabled += VECTORS;
  devicesEnabled++;
}
const before = phases[phases.length - 1]!.heapMiB;
mark('MSI-X enabled with one eventfd per vector', `${enabled} vectors on ${devicesEnabled} devices before the host ran out of vectors (256 CPUs x ~200); heap ${(((heapMiB() - before) * (1 << 20)) / Math.max(1, enabled)).toFixed(0)} bytes per enabled vector (eventfd file + ctx, fd slot, irq descriptor, IRTE, vfio context)`);

console.log(JSON.stringify(phases));
