// An epoll event loop over VFIO MSI-X eventfds, the way rust-vmm/crosvm/cloud-hypervisor style VMMs
// drive their devices: one eventfd per vector, each registered edge-triggered with the vector number
// as epoll data, then epoll_wait and drain (read) whatever is ready. The NIC is driven by another part
// of the program (its doorbells rung as time passes), so the loop waits with epollWaitAsync(-1), which
// returns when the next MSI-X message arrives and fails with EINTR once nothing is left that could
// wake it: that ends the loop.
// Run: npx tsx --conditions=source examples/epoll-loop.ts
import { fileURLToPath } from 'node:url';
import { Host, SyscallError } from 'vfio-kvm-shim';
import { EFD_CLOEXEC, EFD_NONBLOCK } from 'vfio-kvm-shim/include-ts/linux/eventfd';
import { EPOLLET, EPOLLIN, EPOLL_CLOEXEC, EPOLL_CTL_ADD, epoll_event } from 'vfio-kvm-shim/include-ts/linux/eventpoll';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import { bindToVfioPci, irqSet, openVfioDevice } from './lib/vfio.js';

const BDF = '0000:06:00.0';
const NIC_DOORBELL = 0x10;

/** Rings queue `q` after `ms` more milliseconds, in order; returns the interrupts read per vector and the loop's rounds. */
export async function epollLoop(sink: (line: string) => void = (l) => console.log(l), host = Host.create(), nvec = 4, raises: readonly (readonly [ms: number, q: number])[] = [[1, 0], [0, 2], [4, 2], [4, 3], [0, 1]]): Promise<{ counts: number[]; rounds: number }> {
  const stop = host.strace(sink);
  try {
    const drv = host.spawn({ name: 'vmm' });
    const dev = openVfioDevice(drv, bindToVfioPci(host.spawn({ name: 'libvirtd' }), BDF), BDF).device;
    const fds = Array.from({ length: nvec }, () => drv.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    drv.ioctl(dev, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_MSIX_IRQ_INDEX, 0, nvec, fds));

    const ep = drv.epollCreate1(EPOLL_CLOEXEC);
    const ev = epoll_event.alloc();
    fds.forEach((fd, vector) => {
      ev.events = EPOLLIN | EPOLLET;
      ev.data = BigInt(vector);
      drv.epollCtl(ep, EPOLL_CTL_ADD, fd, ev.bytes);
    });

    // The traffic: another part of the program rings the NIC's doorbells as virtual time passes.
    const bar0 = drv.mmap(null, 0x20000, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
    const traffic = (async () => {
      for (const [ms, q] of raises) {
        await new Promise((r) => setImmediate(r));
        host.control.advance(ms * 1e6);
        bar0.write32(NIC_DOORBELL, q);
      }
    })();

    const counts = new Array<number>(nvec).fill(0);
    const events = new Uint8Array(8 * epoll_event.size);
    const buf = new Uint8Array(8);
    let rounds = 0;
    for (;;) {
      let n: number;
      try {
        n = await drv.epollWaitAsync(ep, events, 8, -1);
      } catch (e) {
        if (e instanceof SyscallError && e.code === 'EINTR') break; // nothing can ring any more
        throw e;
      }
      rounds++;
      for (let i = 0; i < n; i++) {
        const vector = Number(epoll_event.view(events, i * epoll_event.size).data);
        drv.read(fds[vector]!, buf); // edge-triggered: drain it, or the next MSI would be the only news
        counts[vector]! += new DataView(buf.buffer).getUint32(0, true);
      }
    }
    await traffic;
    sink(`# per vector: ${counts.map((c, i) => `${i}: ${c}`).join(', ')} in ${rounds} epoll_wait rounds`);
    return { counts, rounds };
  } finally {
    stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await epollLoop();
