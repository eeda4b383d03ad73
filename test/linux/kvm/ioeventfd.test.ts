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
  it('PIO ioeventfds fire on OUT', () => {
    const v = vmm();
    const e = efd(v.p);
    ioeventfd(v.p, v.vm, { addr: 0x600, len: 2, fd: e, flags: PIO });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, guest([[0x600, 2, 0x1234]], true));
    expect(run(v)).toBe('EINTR');
    expect(count(v.p, e)).toBe(1);
  });
});
