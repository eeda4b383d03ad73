// KVM_IOEVENTFD (virt/kvm/eventfd.c: kvm_assign_ioeventfd, ioeventfd_check_collision,
// kvm_deassign_ioeventfd_idx, ioeventfd_in_range). Reference kvm.md §2.6; [E] = measured on 6.18.
import { describe, expect, it } from 'vitest';
import { GuestAsm } from '../../../src/guest/program.js';
import { count, efd, errno, ioeventfd, K, run, vmm } from './helpers.js';

const DM = K.KVM_IOEVENTFD_FLAG_DATAMATCH;
const PIO = K.KVM_IOEVENTFD_FLAG_PIO;
const DEASSIGN = K.KVM_IOEVENTFD_FLAG_DEASSIGN;

describe('assign/deassign rules [E]', () => {
  const v = vmm();
  const e = efd(v.p);
  it.each([
    ['len 3', { addr: 0x1000, len: 3, fd: e }, 'EINVAL'],
    ['len 0 with DATAMATCH', { addr: 0x1000, len: 0, fd: e, flags: DM }, 'EINVAL'],
    ['flag bit 5', { addr: 0x1000, len: 4, fd: e, flags: 1 << 5 }, 'EINVAL'],
    ['addr + len overflows', { addr: 0xfffffffffffffffen, len: 4, fd: e }, 'EINVAL'],
    ['fd -1', { addr: 0x1000, len: 4, fd: -1 }, 'EBADF'],
    ['PIO port > 0xffff', { addr: 0x12345, len: 2, fd: e, flags: PIO }, 0],
    ['virtio-ccw flag on x86', { addr: 0x2000, len: 4, fd: e, flags: K.KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY }, 0],
  ] as const)('%s', (_n, a, want) => {
    expect(errno(() => ioeventfd(v.p, v.vm, a))).toBe(want);
  });
  it('identical registration EEXIST whatever the eventfd; a wildcard collides with any entry at the same addr/len', () => {
    const x = vmm();
    const a = efd(x.p);
    const b = efd(x.p);
    expect(ioeventfd(x.p, x.vm, { addr: 0x3000, len: 4, fd: a, flags: DM, datamatch: 1 })).toBe(0);
    expect(errno(() => ioeventfd(x.p, x.vm, { addr: 0x3000, len: 4, fd: b, flags: DM, datamatch: 1 }))).toBe('EEXIST');
    expect(ioeventfd(x.p, x.vm, { addr: 0x3000, len: 4, fd: b, flags: DM, datamatch: 2 })).toBe(0);
    expect(errno(() => ioeventfd(x.p, x.vm, { addr: 0x3000, len: 4, fd: b }))).toBe('EEXIST');
    expect(errno(() => ioeventfd(x.p, x.vm, { addr: 0x3000, len: 0, fd: b }))).toBe('EEXIST');
    expect(ioeventfd(x.p, x.vm, { addr: 0x3000, len: 2, fd: b, flags: DM, datamatch: 1 })).toBe(0);
  });
  it('deassign of something not registered -> ENOENT; matching is exact (datamatch, length, eventfd)', () => {
    const x = vmm();
    const a = efd(x.p);
    expect(errno(() => ioeventfd(x.p, x.vm, { addr: 0x4000, len: 4, fd: a, flags: DEASSIGN }))).toBe('ENOENT');
    ioeventfd(x.p, x.vm, { addr: 0x4000, len: 4, fd: a, flags: DM, datamatch: 7 });
    expect(errno(() => ioeventfd(x.p, x.vm, { addr: 0x4000, len: 4, fd: a, flags: DEASSIGN | DM, datamatch: 8 }))).toBe('ENOENT');
    expect(errno(() => ioeventfd(x.p, x.vm, { addr: 0x4000, len: 4, fd: a, flags: DEASSIGN }))).toBe('ENOENT');
    expect(ioeventfd(x.p, x.vm, { addr: 0x4000, len: 4, fd: a, flags: DEASSIGN | DM, datamatch: 7 })).toBe(0);
    expect(errno(() => ioeventfd(x.p, x.vm, { addr: 0x4000, len: 4, fd: a, flags: DEASSIGN | DM, datamatch: 7 }))).toBe('ENOENT');
  });
});

describe('guest writes', () => {
  function guest(writes: [number, number, number][], pio = false) {
    const a = new GuestAsm('writer');
    a.label('start');
    for (const [addr, size, val] of writes) {
      if (pio) a.out(addr, val, size as 1 | 2 | 4);
      else a.store(addr, val, size as 1 | 2 | 4 | 8);
    }
    a.hlt();
    return a.build();
  }

  it('a matching MMIO write signals the eventfd instead of exiting; a non-matching one exits (KVM_EXIT_MMIO)', () => {
    const v = vmm();
    const e = efd(v.p);
    ioeventfd(v.p, v.vm, { addr: 0xd000_0000, len: 4, fd: e, flags: DM, datamatch: 0x55 });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, guest([[0xd000_0000, 4, 0x55], [0xd000_0000, 4, 0x56]]));
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    expect(count(v.p, e)).toBe(1);
    expect(v.runs[0]!.read32(40)).toBe(0x56);
  });
  it('len 0 matches any write length at the address; a read always exits', () => {
    const v = vmm();
    const e = efd(v.p);
    ioeventfd(v.p, v.vm, { addr: 0xd000_0000, len: 0, fd: e });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, guest([[0xd000_0000, 1, 1], [0xd000_0000, 8, 2]]));
    expect(run(v)).toBe('EINTR');
    expect(count(v.p, e)).toBe(2);
  });
  it('a 1-byte write compares the whole 64-bit datamatch (0x1ff never matches)', () => {
    const v = vmm();
    const e = efd(v.p);
    ioeventfd(v.p, v.vm, { addr: 0x600, len: 1, fd: e, flags: DM | PIO, datamatch: 0x1ff });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, guest([[0x600, 1, 0xff]], true));
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(count(v.p, e)).toBe(0);
  });
  // virt/kvm/kvm_main.c: the IOAPIC is on KVM_MMIO_BUS as (0xfec00000, 0x100). An ioeventfd at
  // (0xfec00008, 4) goes after it (kvm_io_bus_cmp: it starts later). A write to IOWIN (0xfec00010, 4):
  // lib/bsearch.c's pivot on a 2-entry bus is entry 1, the ioeventfd, and the access lies past it (cmp 1),
  // so the search ends with nothing found: the IOAPIC is never asked and the write exits to userspace.
  // IOREGSEL (0xfec00000) is still searched into the IOAPIC, and so is the ioeventfd's own address: the
  // run found there starts at the IOAPIC, which takes every write in its window (ioapic_mmio_write returns
  // 0), so the eventfd never fires. The differential test checks both on real KVM.
  it('an ioeventfd inside the IOAPIC window hides IOWIN from the in-kernel IOAPIC and never fires itself', () => {
    const v = vmm();
    const e = efd(v.p);
    const iowin = () => {
      v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, guest([[0xfec0_0010, 4, 0]]));
      return run(v);
    };
    expect(iowin()).toBe('EINTR'); // handled in the kernel; the guest halts with nothing to wake it
    ioeventfd(v.p, v.vm, { addr: 0xfec0_0008, len: 4, fd: e });
    expect(iowin()).toBe(K.KVM_EXIT_MMIO);
    expect(v.runs[0]!.read32(32)).toBe(0xfec0_0010); // kvm_run.mmio.phys_addr (low half)
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, guest([[0xfec0_0000, 4, 0], [0xfec0_0008, 4, 5]]));
    expect(run(v)).toBe('EINTR');
    expect(count(v.p, e)).toBe(0);
  });
  it('PIO ioeventfds fire on OUT', () => {
    const v = vmm();
    const e = efd(v.p);
    ioeventfd(v.p, v.vm, { addr: 0x600, len: 2, fd: e, flags: PIO });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, guest([[0x600, 2, 0x1234]], true));
    expect(run(v)).toBe('EINTR');
    expect(count(v.p, e)).toBe(1);
  });
});

// virt/kvm/kvm_main.c kvm_io_bus_register_dev: `if (bus->dev_count - bus->ioeventfd_count >
// NR_IOBUS_DEVS - 1) return -ENOSPC;` ("exclude ioeventfd which is limited by maximum fd"), NR_IOBUS_DEVS
// = 1000 (include/linux/kvm_host.h). virt/kvm/eventfd.c kvm_assign_ioeventfd: a zero-length MMIO
// ioeventfd is assigned on KVM_MMIO_BUS, then KVM_FAST_MMIO_BUS; if the second fails, `fast_fail:`
// deassigns the first. Nothing in the model's ABI puts 1000 other devices on a bus (the real kernel
// does it with coalesced-MMIO zones, not modeled), so the tests fill the buses through the VM object.
describe('NR_IOBUS_DEVS and the fast-MMIO rollback', () => {
  const dummy = { read: () => -1, write: () => false };
  const kvmOf = (v: ReturnType<typeof vmm>) => v.host.control.kvm.vm(v.p, v.vm).kvm;

  it('a bus with 1000 devices besides ioeventfds refuses another device with ENOSPC; ioeventfds do not count', () => {
    const v = vmm();
    const k = kvmOf(v);
    const e = efd(v.p);
    for (let i = 0; i < 1100; i++) expect(ioeventfd(v.p, v.vm, { addr: 0x1_0000 + i * 8, len: 4, fd: e, flags: PIO })).toBe(0);
    const pioDevices = k.pioBus.devices.length - k.pioBus.ioeventfdCount; // the 8259 ports
    for (let i = pioDevices; i < 1000; i++) k.pioBus.register(0x8000 + i, 1, dummy);
    expect(() => k.pioBus.register(0x9000, 1, dummy)).toThrow(/ENOSPC|NR_IOBUS_DEVS/);
    expect(errno(() => ioeventfd(v.p, v.vm, { addr: 0x700, len: 2, fd: e, flags: PIO }))).toBe('ENOSPC');
    expect(k.ioeventfds.list.length).toBe(1100);
    expect(k.pioBus.ioeventfdCount).toBe(1100);
  });

  it('a zero-length MMIO ioeventfd the fast-MMIO bus refuses is taken off the MMIO bus again (fast_fail)', () => {
    const v = vmm();
    const k = kvmOf(v);
    const e = efd(v.p);
    for (let i = 0; i < 1000; i++) k.fastMmioBus.register(0xe000_0000 + i * 4, 4, dummy);
    const mmio = k.mmioBus.devices.length;
    expect(errno(() => ioeventfd(v.p, v.vm, { addr: 0xd000_0000, len: 0, fd: e }))).toBe('ENOSPC');
    expect(k.ioeventfds.list).toHaveLength(0);
    expect(k.mmioBus.devices.length).toBe(mmio);
    expect(k.mmioBus.ioeventfdCount).toBe(0);
    // The MMIO entry really is gone: the same registration on a bus with room is not EEXIST, and a
    // guest write to the address exits to the VMM meanwhile.
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, (() => {
      const a = new GuestAsm('w');
      a.label('start');
      a.store(0xd000_0000, 1, 4);
      a.hlt();
      return a.build();
    })());
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    expect(count(v.p, e)).toBe(0);
    expect(ioeventfd(v.p, v.vm, { addr: 0xd000_0000, len: 4, fd: e })).toBe(0);
  });
});
