// vfio-pci ERR and REQ (drivers/vfio/pci/vfio_pci_intrs.c vfio_pci_set_ctx_trigger_single,
// vfio_pci_set_err_trigger, vfio_pci_set_req_trigger; vfio_pci_core.c vfio_pci_core_request,
// vfio_pci_core_aer_err_detected; drivers/vfio/vfio_main.c vfio_unregister_group_dev, which asks for
// the device again every 10 s while it waits) against reference vfio.md §4.6.
import { describe, expect, it } from 'vitest';
import { EDU, NIC, GROUP, V, expectErrno, openDevice } from '../../../support/vfio.js';
import { BOOL, ERR, EVENTFD, MASK, NONE, REQ, TRIGGER, UNMASK, efd, setIrqs, take } from '../../../support/irqs.js';

describe('REQ', () => {
  it('every data-type cell of reference §4.6', () => {
    const o = openDevice(EDU, GROUP.edu);
    expectErrno(() => setIrqs(o.p, o.device, REQ, NONE | TRIGGER, 0, 1), 'EINVAL'); // nothing registered
    expectErrno(() => setIrqs(o.p, o.device, REQ, NONE | TRIGGER, 0, 0), 'EINVAL');
    const r = efd(o.p);
    setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 1, [r]);
    setIrqs(o.p, o.device, REQ, NONE | TRIGGER, 0, 1); // loopback
    setIrqs(o.p, o.device, REQ, BOOL | TRIGGER, 0, 1, [1]);
    setIrqs(o.p, o.device, REQ, BOOL | TRIGGER, 0, 1, [0]);
    expect(take(o.p, r)).toBe(2);
    expectErrno(() => setIrqs(o.p, o.device, REQ, BOOL | TRIGGER, 0, 0), 'EINVAL');
    expectErrno(() => setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 0), 'EINVAL');
    expect(setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 1, [-7])).toBe(0); // fd < -1: no-op
    expect(o.host.control.irq.vfio(EDU)!.req).not.toBeNull();
    setIrqs(o.p, o.device, REQ, NONE | TRIGGER, 0, 0); // clear
    expect(o.host.control.irq.vfio(EDU)!.req).toBeNull();
    setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 1, [r]);
    setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 1, [-1]);
    expect(o.host.control.irq.vfio(EDU)!.req).toBeNull();
    expectErrno(() => setIrqs(o.p, o.device, REQ, NONE | MASK, 0, 1), 'ENOTTY');
    expectErrno(() => setIrqs(o.p, o.device, REQ, NONE | UNMASK, 0, 1), 'ENOTTY');
    expectErrno(() => setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 1, [o.container]), 'EINVAL');
  });

  it('unbinding an open device signals REQ; a synchronous unbind then fails EINTR, having asked once', () => {
    const o = openDevice(EDU, GROUP.edu);
    const r = efd(o.p);
    setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 1, [r]);
    const admin = o.host.spawn();
    expectErrno(() => admin.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', EDU), 'EINTR');
    expect(take(o.p, r)).toBe(1);
    expect(o.host.control.dmesg().join('\n')).toMatch(/vfio-pci 0000:00:03\.0: Relaying device request to user \(#0\)/);
  });

  it('without a REQ eventfd the kernel warns once that it is blocked', () => {
    const o = openDevice(EDU, GROUP.edu);
    expectErrno(() => o.host.spawn().writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', EDU), 'EINTR');
    expect(o.host.control.dmesg().join('\n')).toMatch(/No device request channel registered, blocked until released by user/);
  });

  it('an asynchronous unbind asks every 10 s until the user releases the device, then completes', async () => {
    const o = openDevice(EDU, GROUP.edu);
    const r = o.p.eventfd(0, 0);
    setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 1, [r]);
    const admin = o.host.spawn();
    const fd = admin.open('/sys/bus/pci/drivers/vfio-pci/unbind', 1);
    const unbind = admin.writeAsync(fd, new TextEncoder().encode(EDU));
    // The VMM ignores the first two requests, then gives the device back.
    let seen = 0;
    const t0 = o.host.control.now;
    while (seen < 3) {
      const b = new Uint8Array(8);
      await o.p.readAsync(r, b);
      seen += b[0]!;
    }
    expect(o.host.control.now - t0).toBe(20_000_000_000);
    o.p.close(o.device);
    expect(await unbind).toBe(EDU.length);
    expect(o.host.control.pci.driver(EDU)).toBeNull();
  });
});

describe('ERR', () => {
  it('conventional PCI has no ERR interrupt: GET_IRQ_INFO and SET_IRQS are EINVAL', () => {
    const o = openDevice(EDU, GROUP.edu);
    expectErrno(() => setIrqs(o.p, o.device, ERR, EVENTFD | TRIGGER, 0, 1, [efd(o.p)]), 'EINVAL');
  });

  it('on a PCIe device an AER error is relayed to the ERR eventfd; MASK is ENOTTY', () => {
    const o = openDevice(NIC, GROUP.nic);
    const e = efd(o.p);
    expect(o.host.control.irq.aerError(NIC)).toBe(false);
    setIrqs(o.p, o.device, ERR, EVENTFD | TRIGGER, 0, 1, [e]);
    expect(o.host.control.irq.aerError(NIC)).toBe(true);
    expect(take(o.p, e)).toBe(1);
    expectErrno(() => setIrqs(o.p, o.device, ERR, NONE | MASK, 0, 1), 'ENOTTY');
  });

  it('last close releases ERR and REQ', () => {
    const o = openDevice(NIC, GROUP.nic);
    setIrqs(o.p, o.device, ERR, EVENTFD | TRIGGER, 0, 1, [efd(o.p)]);
    setIrqs(o.p, o.device, REQ, EVENTFD | TRIGGER, 0, 1, [efd(o.p)]);
    o.p.close(o.device);
    const d = o.p.ioctl(o.group, V.VFIO_GROUP_GET_DEVICE_FD, NIC);
    expect(o.host.control.irq.vfio(NIC)).toMatchObject({ err: null, req: null });
    expectErrno(() => setIrqs(o.p, d, REQ, NONE | TRIGGER, 0, 1), 'EINVAL');
  });
});
