// A userspace driver servicing the edu device's INTx through VFIO, the way a VMM without KVM does it
// (QEMU's vfio_intx_interrupt + vfio_intx_eoi in hw/vfio/pci.c, minus the guest): the trigger eventfd
// fires when the host's vfio_intx_handler has masked the device (INTx Disable) -> the driver reads the
// eventfd, reads and acknowledges the device's interrupt status -> VFIO_DEVICE_SET_IRQS UNMASK.
// The edu computes factorials; with "raise interrupt on completion" set it asserts INTx when done.
// Prints the strace-style trace (with interrupt hops) and the per-stage counts.
// Run: npx tsx --conditions=source examples/intx-userspace.ts
import { fileURLToPath } from 'node:url';
import { Host } from 'vfio-kvm-shim';
import { EFD_CLOEXEC } from 'vfio-kvm-shim/include-ts/linux/eventfd';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import { POLLIN } from 'vfio-kvm-shim/include-ts/linux/poll';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import { bindToVfioPci, irqSet, openVfioDevice } from './lib/vfio.js';
import { narrate } from './lib/narrate.js';
import { EDU_BDF, EDU_FACT, EDU_IRQ_ACK, EDU_IRQ_STATUS, EDU_STATUS, EDU_STATUS_IRQFACT } from './lib/edu.js';


export interface IntxUserspaceResult {
  readonly lines: string[];
  /** Interrupts the driver handled (eventfd reads), and the factorials it read. */
  readonly handled: number;
  readonly results: number[];
  /** Interrupts the host took on the edu's line (/proc/interrupts). */
  readonly hostIrqs: number;
}

export function intxUserspace(sink: (line: string) => void = (l) => console.log(l), host = Host.create(), rounds = 3): IntxUserspaceResult {
  const { lines, say, stop } = narrate(host, sink, { irqs: true });
  const results: number[] = [];
  let handled = 0;
  try {
    const group = bindToVfioPci(host.spawn({ name: 'libvirtd' }), EDU_BDF);

    const drv = host.spawn({ name: 'edu-driver' });
    const dev = openVfioDevice(drv, group, EDU_BDF).device;

    say('INTx: count 1, EVENTFD|MASKABLE|AUTOMASKED');
    const info = V.vfio_irq_info.alloc();
    info.argsz = V.vfio_irq_info.size;
    info.index = V.VFIO_PCI_INTX_IRQ_INDEX;
    drv.ioctl(dev, V.VFIO_DEVICE_GET_IRQ_INFO, info);

    const bar0 = drv.mmap(null, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
    const trigger = drv.eventfd(0, EFD_CLOEXEC);
    say('enable INTx with a trigger eventfd');
    drv.ioctl(dev, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1, [trigger]));
    bar0.write32(EDU_STATUS, EDU_STATUS_IRQFACT);

    const count = new Uint8Array(8);
    for (let n = 0; n < rounds; n++) {
      say(`round ${n + 1}: compute ${n + 5}! and wait for the interrupt`);
      bar0.write32(EDU_FACT, n + 5);
      const fds = [{ fd: trigger, events: POLLIN }];
      drv.poll(fds, -1);
      drv.read(trigger, count);
      handled += count[0]!;
      const cause = bar0.read32(EDU_IRQ_STATUS);
      results.push(bar0.read32(EDU_FACT));
      bar0.write32(EDU_IRQ_ACK, cause);
      say(`handled: cause 0x${cause.toString(16)}, ${n + 5}! = ${results[n]}; the device deasserted, unmask`);
      drv.ioctl(dev, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_NONE | V.VFIO_IRQ_SET_ACTION_UNMASK, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
    }
    const proc = drv.readFile('/proc/interrupts').split('\n').find((l) => l.includes('vfio-intx')) ?? '';
    const hostIrqs = proc.split(':')[1]!.trim().split(/\s+/).slice(0, host.kernel.irq.cpus.length).reduce((s, x) => s + Number(x), 0);
    say(`per stage: device assertions ${rounds}, host interrupts ${hostIrqs}, eventfd signals read ${handled}, unmasks ${rounds}`);
    say(proc.replace(/\s{2,}/g, '  ').trim());
    return { lines, handled, results, hostIrqs };
  } finally {
    stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) intxUserspace();
