// /dev/kvm, VM and vCPU fds (virt/kvm/kvm_main.c: kvm_dev_ioctl, kvm_vm_ioctl, kvm_vm_ioctl_create_vcpu,
// kvm_vcpu_mmap; arch/x86/kvm/x86.c: kvm_vm_ioctl_check_extension, KVM_CREATE_IRQCHIP,
// KVM_ENABLE_CAP). Values marked [E] were measured on Linux 6.18 (reference kvm.md §0.3, §2.5).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/index.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { enableCap, errno, K, vmm } from './helpers.js';

describe('/dev/kvm', () => {
  const host = Host.create();
  const p = host.spawn();
  const kvm = p.open('/dev/kvm', O_RDWR);

  it('KVM_GET_API_VERSION = 12; with a non-zero argument EINVAL', () => {
    expect(p.ioctl(kvm, K.KVM_GET_API_VERSION)).toBe(12);
    expect(errno(() => p.ioctl(kvm, K.KVM_GET_API_VERSION, 1))).toBe('EINVAL');
  });
  it('KVM_GET_VCPU_MMAP_SIZE = 12288 (kvm_run, PIO page, coalesced ring) [E]', () => {
    expect(p.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE)).toBe(12288);
  });
  it('KVM_CHECK_EXTENSION reports the 6.18 values of reference §0.3 [E]', () => {
    const caps: [number, number][] = [
      [K.KVM_CAP_IRQCHIP, 1], [K.KVM_CAP_IRQ_ROUTING, 4096], [K.KVM_CAP_IRQ_INJECT_STATUS, 1], [K.KVM_CAP_IRQFD, 1],
      [K.KVM_CAP_IOEVENTFD, 1], [K.KVM_CAP_SIGNAL_MSI, 1], [K.KVM_CAP_IRQFD_RESAMPLE, 1], [K.KVM_CAP_IOEVENTFD_ANY_LENGTH, 1],
      [K.KVM_CAP_SPLIT_IRQCHIP, 1], [K.KVM_CAP_MSI_DEVID, 0], [K.KVM_CAP_IMMEDIATE_EXIT, 1], [K.KVM_CAP_X2APIC_API, 15],
      [K.KVM_CAP_NR_MEMSLOTS, 32764], [K.KVM_CAP_MAX_VCPUS, 1024], [K.KVM_CAP_MAX_VCPU_ID, 4096],
    ];
    for (const [cap, v] of caps) expect([cap, p.ioctl(kvm, K.KVM_CHECK_EXTENSION, cap)]).toEqual([cap, v]);
  });
  it('unknown /dev/kvm ioctls are EINVAL (kvm_arch_dev_ioctl) [E]', () => {
    expect(errno(() => p.ioctl(kvm, 0xaeff))).toBe('EINVAL');
  });
  it('KVM_CREATE_VM: type 0 gives an anon_inode:kvm-vm fd; other types EINVAL on this host [E]', () => {
    const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
    expect(p.readlink(`/proc/self/fd/${vm}`)).toBe('anon_inode:kvm-vm');
    expect(errno(() => p.ioctl(kvm, K.KVM_CREATE_VM, 1))).toBe('EINVAL');
  });
  it('/dev/kvm is crw-rw---- root:kvm: a user outside the kvm group gets EACCES', () => {
    const u = host.spawn({ uid: 1000 });
    expect(errno(() => u.open('/dev/kvm', O_RDWR))).toBe('EACCES');
    const g = host.spawn({ uid: 1000, groups: [36] });
    expect(g.open('/dev/kvm', O_RDWR)).toBeGreaterThan(2);
  });
});

describe('VM fd', () => {
  it('unknown VM ioctls are ENOTTY, unknown vCPU ioctls EINVAL [E]', () => {
    const v = vmm();
    expect(errno(() => v.p.ioctl(v.vm, 0xaeff))).toBe('ENOTTY');
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, 0xaeff))).toBe('EINVAL');
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN, 1))).toBe('EINVAL');
  });
  it('KVM_CREATE_VCPU: id 4095 ok, 4096 EINVAL, duplicate EEXIST, fd names kvm-vcpu:<id> [E]', () => {
    const v = vmm({ vcpus: 0 });
    const c = v.p.ioctl(v.vm, K.KVM_CREATE_VCPU, 4095);
    expect(v.p.readlink(`/proc/self/fd/${c}`)).toBe('anon_inode:kvm-vcpu:4095');
    expect(errno(() => v.p.ioctl(v.vm, K.KVM_CREATE_VCPU, 4096))).toBe('EINVAL');
    expect(errno(() => v.p.ioctl(v.vm, K.KVM_CREATE_VCPU, -1))).toBe('EINVAL');
    expect(errno(() => v.p.ioctl(v.vm, K.KVM_CREATE_VCPU, 4095))).toBe('EEXIST');
  });
  it('a VM fd used from another process fails with EIO (kvm->mm != current->mm)', () => {
    const v = vmm();
    const other = v.host.spawn();
    const f = v.p.fileOrNull(v.vm)!;
    const fd = other.fds.install(f, false);
    expect(errno(() => other.ioctl(fd, K.KVM_CHECK_EXTENSION, 0))).toBe('EIO');
  });
});

describe('KVM_CREATE_IRQCHIP and KVM_CAP_SPLIT_IRQCHIP (x86.c) [E]', () => {
  it('twice -> EEXIST; after a vCPU -> EINVAL; after split -> EEXIST', () => {
    const a = vmm({ irqchip: 'none', vcpus: 0 });
    expect(a.p.ioctl(a.vm, K.KVM_CREATE_IRQCHIP)).toBe(0);
    expect(errno(() => a.p.ioctl(a.vm, K.KVM_CREATE_IRQCHIP))).toBe('EEXIST');
    const b = vmm({ irqchip: 'none', vcpus: 1 });
    expect(errno(() => b.p.ioctl(b.vm, K.KVM_CREATE_IRQCHIP))).toBe('EINVAL');
    const c = vmm({ irqchip: 'split', vcpus: 0 });
    expect(errno(() => c.p.ioctl(c.vm, K.KVM_CREATE_IRQCHIP))).toBe('EEXIST');
  });
  it('split: args[0] up to 4096 pins, flags must be 0, twice or after a vCPU EEXIST', () => {
    const a = vmm({ irqchip: 'none', vcpus: 0 });
    expect(errno(() => enableCap(a.p, a.vm, K.KVM_CAP_SPLIT_IRQCHIP, 4097))).toBe('EINVAL');
    expect(errno(() => enableCap(a.p, a.vm, K.KVM_CAP_SPLIT_IRQCHIP, 24, 1))).toBe('EINVAL');
    expect(enableCap(a.p, a.vm, K.KVM_CAP_SPLIT_IRQCHIP, 4096)).toBe(0);
    expect(errno(() => enableCap(a.p, a.vm, K.KVM_CAP_SPLIT_IRQCHIP, 24))).toBe('EEXIST');
    const b = vmm({ irqchip: 'none', vcpus: 1 });
    expect(errno(() => enableCap(b.p, b.vm, K.KVM_CAP_SPLIT_IRQCHIP, 24))).toBe('EEXIST');
  });
  it('X2APIC_API: bit 2 needs split, 2|3 together EINVAL, bit 4 unknown; VM reports 11 (15 when split)', () => {
    const a = vmm({ irqchip: 'kernel', vcpus: 0 });
    expect(a.p.ioctl(a.vm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_X2APIC_API)).toBe(11);
    expect(errno(() => enableCap(a.p, a.vm, K.KVM_CAP_X2APIC_API, 4))).toBe('EINVAL');
    expect(errno(() => enableCap(a.p, a.vm, K.KVM_CAP_X2APIC_API, 16))).toBe('EINVAL');
    expect(enableCap(a.p, a.vm, K.KVM_CAP_X2APIC_API, 8)).toBe(0);
    const b = vmm({ irqchip: 'split', vcpus: 0 });
    expect(b.p.ioctl(b.vm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_X2APIC_API)).toBe(15);
    expect(errno(() => enableCap(b.p, b.vm, K.KVM_CAP_X2APIC_API, 12))).toBe('EINVAL');
    expect(enableCap(b.p, b.vm, K.KVM_CAP_X2APIC_API, 4)).toBe(0);
  });
  it('unknown capabilities cannot be enabled (EINVAL)', () => {
    const a = vmm({ vcpus: 0 });
    expect(errno(() => enableCap(a.p, a.vm, 9999, 0))).toBe('EINVAL');
  });
});

describe('vCPU state ioctls', () => {
  it('KVM_GET_LAPIC needs the in-kernel LAPIC (EINVAL without irqchip) [E]', () => {
    const a = vmm({ irqchip: 'none' });
    expect(errno(() => a.p.ioctl(a.vcpus[0]!, K.KVM_GET_LAPIC, K.kvm_lapic_state.alloc()))).toBe('EINVAL');
  });
  it('KVM_GET_LAPIC returns the reset page: version 0x50014, LVT0 ExtINT on the BSP, ID 1<<24 on vCPU 1 [E]', () => {
    const a = vmm({ vcpus: 2 });
    const s = K.kvm_lapic_state.alloc();
    a.p.ioctl(a.vcpus[0]!, K.KVM_GET_LAPIC, s);
    const w = new DataView(s.bytes.buffer, s.bytes.byteOffset);
    expect(w.getUint32(0x30, true)).toBe(0x50014);
    expect(w.getUint32(0x350, true)).toBe(0x700);
    a.p.ioctl(a.vcpus[1]!, K.KVM_GET_LAPIC, s);
    expect(w.getUint32(0x20, true)).toBe(0x01000000);
    expect(w.getUint32(0x350, true)).toBe(0x10000);
  });
  it('mp_state: BSP RUNNABLE, AP UNINITIALIZED with the in-kernel LAPIC [E]; SET validates', () => {
    const a = vmm({ vcpus: 2 });
    const m = K.kvm_mp_state.alloc();
    a.p.ioctl(a.vcpus[0]!, K.KVM_GET_MP_STATE, m);
    expect(m.mp_state).toBe(K.KVM_MP_STATE_RUNNABLE);
    a.p.ioctl(a.vcpus[1]!, K.KVM_GET_MP_STATE, m);
    expect(m.mp_state).toBe(K.KVM_MP_STATE_UNINITIALIZED);
    m.mp_state = 77;
    expect(errno(() => a.p.ioctl(a.vcpus[1]!, K.KVM_SET_MP_STATE, m))).toBe('EINVAL');
    m.mp_state = K.KVM_MP_STATE_RUNNABLE;
    expect(a.p.ioctl(a.vcpus[1]!, K.KVM_SET_MP_STATE, m)).toBe(0);
    const b = vmm({ irqchip: 'none' });
    m.mp_state = K.KVM_MP_STATE_HALTED;
    expect(errno(() => b.p.ioctl(b.vcpus[0]!, K.KVM_SET_MP_STATE, m))).toBe('EINVAL');
  });
  it('KVM_GET_SREGS: reset cr0 0x60000010, cs 0xf000/0xffff0000, apic_base 0xfee00900 [E]; SET_SREGS rejects reserved apic_base bits', () => {
    const a = vmm();
    const s = K.kvm_sregs.alloc();
    a.p.ioctl(a.vcpus[0]!, K.KVM_GET_SREGS, s);
    expect(s.cr0).toBe(0x60000010n);
    expect(s.cs.selector).toBe(0xf000);
    expect(s.cs.base).toBe(0xffff0000n);
    expect(s.apic_base).toBe(0xfee00900n);
    s.apic_base = 0xfee00901n;
    expect(errno(() => a.p.ioctl(a.vcpus[0]!, K.KVM_SET_SREGS, s))).toBe('EINVAL');
  });
  it('KVM_SET_SIGNAL_MASK: len must be 8', () => {
    const a = vmm();
    const m = new Uint8Array(12);
    m[0] = 4;
    expect(errno(() => a.p.ioctl(a.vcpus[0]!, K.KVM_SET_SIGNAL_MASK, m))).toBe('EINVAL');
    m[0] = 8;
    expect(a.p.ioctl(a.vcpus[0]!, K.KVM_SET_SIGNAL_MASK, m)).toBe(0);
    expect(a.p.ioctl(a.vcpus[0]!, K.KVM_SET_SIGNAL_MASK, 0)).toBe(0);
  });
});

describe('kvm_run mapping', () => {
  it('mmap of the vCPU fd shares the kernel bytes; bytes past page 2 fault with SIGBUS', () => {
    const v = vmm();
    v.runs[0]!.write8(1, 1);
    expect(v.runs[0]!.bytes![1]).toBe(1);
    const big = v.p.mmap(null, 4 * 4096, 3, 1, v.vcpus[0]!, 0);
    expect(big.read8(1)).toBe(1);
    expect(() => big.read8(3 * 4096)).toThrow(/SIGBUS/);
  });
});
