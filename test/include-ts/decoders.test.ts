// The tracer's VFIO and KVM ioctl tables: one per file kind, numbers unique within a kind (ioctlTable
// throws on a duplicate, so importing the modules is the check), names matching include-ts, and a few
// calls formatted end to end by the strace formatter.
import { describe, expect, it } from 'vitest';
import { ioctlTable, type IoctlTable } from '../../src/linux/trace/ioctl-desc.js';
import { formatSyscall } from '../../src/linux/trace/strace.js';
import type { SyscallEvent } from '../../src/sim/trace.js';
import { KVM_SYSTEM_IOCTLS, KVM_VCPU_IOCTLS, KVM_VM_IOCTLS } from '../../src/linux/trace/decoders/kvm.js';
import { VFIO_CONTAINER_IOCTLS, VFIO_DEVICE_IOCTLS, VFIO_GROUP_IOCTLS } from '../../src/linux/trace/decoders/vfio.js';
import { IOMMUFD_IOCTLS } from '../../src/linux/trace/decoders/iommufd.js';
import * as IOMMUFD from '../../include-ts/linux/iommufd.js';
import * as K from '../../include-ts/linux/kvm.js';
import * as V from '../../include-ts/linux/vfio.js';

const TABLES: Readonly<Record<string, IoctlTable>> = {
  'vfio-container': VFIO_CONTAINER_IOCTLS,
  'vfio-group': VFIO_GROUP_IOCTLS,
  'vfio-device': VFIO_DEVICE_IOCTLS,
  kvm: KVM_SYSTEM_IOCTLS,
  'kvm-vm': KVM_VM_IOCTLS,
  'kvm-vcpu': KVM_VCPU_IOCTLS,
  iommufd: IOMMUFD_IOCTLS,
};
const tables = new Map(Object.entries(TABLES));

function ioctl(fileKind: string, request: number, arg: { in?: Uint8Array; out?: Uint8Array; value?: number }, ret = 0): string {
  const ev: SyscallEvent = {
    type: 'syscall', t: 0, pid: 1, syscall: 'ioctl', fd: 5, fileKind, args: [5, request], request,
    ...(arg.in ? { argIn: arg.in } : {}), ...(arg.out ? { argOut: arg.out } : {}), ...(arg.value !== undefined ? { argValue: arg.value } : {}),
    ret, errno: 0,
  };
  return formatSyscall(ev, tables);
}

describe('VFIO and KVM ioctl tables', () => {
  it('ioctlTable rejects a number used twice within a kind', () => {
    expect(() => ioctlTable([
      [V.VFIO_IOMMU_GET_INFO, { name: 'VFIO_IOMMU_GET_INFO', arg: 'none' }],
      [V.VFIO_IOMMU_SPAPR_TCE_GET_INFO, { name: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', arg: 'none' }],
    ])).toThrow(/reuses request 0x3b70/);
  });

  it('every table was built (so no kind has a duplicate number) and names its ioctls by their include-ts name', () => {
    const modules: Readonly<Record<string, unknown>> = { ...V, ...K, ...IOMMUFD };
    for (const [kind, table] of Object.entries(TABLES)) {
      expect(table.size, kind).toBeGreaterThan(3);
      for (const [req, desc] of table) {
        expect(modules[desc.name], `${kind}: ${desc.name}`).toBe(req);
        if (desc.arg === 'struct') expect(desc.layout, `${kind}: ${desc.name} has a layout`).toBeDefined();
      }
    }
  });

  it('0x3b70 is VFIO_IOMMU_GET_INFO on a container and VFIO_DEVICE_GET_PCI_HOT_RESET_INFO on a device', () => {
    expect(VFIO_CONTAINER_IOCTLS.get(0x3b70)?.name).toBe('VFIO_IOMMU_GET_INFO');
    expect(VFIO_DEVICE_IOCTLS.get(0x3b70)?.name).toBe('VFIO_DEVICE_GET_PCI_HOT_RESET_INFO');
    expect(VFIO_GROUP_IOCTLS.get(0x3b70)).toBeUndefined();
    expect(VFIO_CONTAINER_IOCTLS.get(0x3b71)?.name).toBe('VFIO_IOMMU_MAP_DMA');
    expect(VFIO_DEVICE_IOCTLS.get(0x3b71)?.name).toBe('VFIO_DEVICE_PCI_HOT_RESET');
  });

  it('KVM_IRQ_LINE_STATUS and KVM_REGISTER_COALESCED_MMIO (same nr 0x67) are both VM ioctls', () => {
    expect(KVM_VM_IOCTLS.get(0xc008ae67)?.name).toBe('KVM_IRQ_LINE_STATUS');
    expect(KVM_VM_IOCTLS.get(0x4010ae67)?.name).toBe('KVM_REGISTER_COALESCED_MMIO');
    expect(KVM_SYSTEM_IOCTLS.get(K.KVM_CREATE_VM)?.name).toBe('KVM_CREATE_VM');
    expect(KVM_VCPU_IOCTLS.get(K.KVM_RUN)?.name).toBe('KVM_RUN');
    expect(KVM_VM_IOCTLS.get(K.KVM_RUN)).toBeUndefined();
  });
});

describe('formatted by the strace formatter', () => {
  it('argument kinds: value with names, int pointer, string, struct with flags', () => {
    expect(ioctl('vfio-container', V.VFIO_CHECK_EXTENSION, { value: V.VFIO_TYPE1v2_IOMMU }, 1)).toBe('ioctl(5, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) = 1');
    expect(ioctl('kvm', K.KVM_CHECK_EXTENSION, { value: K.KVM_CAP_IRQFD_RESAMPLE }, 1)).toBe('ioctl(5, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD_RESAMPLE) = 1');
    const fd = new Uint8Array(4);
    new DataView(fd.buffer).setInt32(0, 3, true);
    expect(ioctl('vfio-group', V.VFIO_GROUP_SET_CONTAINER, { in: fd })).toBe('ioctl(5, VFIO_GROUP_SET_CONTAINER, [3]) = 0');
    expect(ioctl('vfio-group', V.VFIO_GROUP_GET_DEVICE_FD, { in: new TextEncoder().encode('0000:00:02.0\0') }, 6)).toBe(
      'ioctl(5, VFIO_GROUP_GET_DEVICE_FD, "0000:00:02.0") = 6',
    );
    const st = V.vfio_group_status.encode({ argsz: 8, flags: V.VFIO_GROUP_FLAGS_VIABLE | V.VFIO_GROUP_FLAGS_CONTAINER_SET });
    expect(ioctl('vfio-group', V.VFIO_GROUP_GET_STATUS, { in: V.vfio_group_status.encode({ argsz: 8 }), out: st })).toBe(
      'ioctl(5, VFIO_GROUP_GET_STATUS, {argsz=8, flags=VFIO_GROUP_FLAGS_VIABLE|VFIO_GROUP_FLAGS_CONTAINER_SET}) = 0',
    );
  });

  it('VFIO_DEVICE_SET_IRQS prints its data as eventfds or booleans, as the flags say', () => {
    const set = V.vfio_irq_set.alloc(8);
    Object.assign(set, { argsz: 28, flags: V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, index: V.VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 2 });
    const dv = new DataView(set.bytes.buffer);
    dv.setInt32(20, 7, true);
    dv.setInt32(24, -1, true);
    expect(ioctl('vfio-device', V.VFIO_DEVICE_SET_IRQS, { in: set.bytes })).toBe(
      'ioctl(5, VFIO_DEVICE_SET_IRQS, {argsz=28, flags=VFIO_IRQ_SET_DATA_EVENTFD|VFIO_IRQ_SET_ACTION_TRIGGER, index=VFIO_PCI_MSIX_IRQ_INDEX, start=0, count=2, data=[7, -1]}) = 0',
    );
    const mask = V.vfio_irq_set.encode({ argsz: 23, flags: V.VFIO_IRQ_SET_DATA_BOOL | V.VFIO_IRQ_SET_ACTION_MASK, index: 0, start: 1, count: 3, data: [1, 0, 1] });
    expect(ioctl('vfio-device', V.VFIO_DEVICE_SET_IRQS, { in: mask })).toContain('index=VFIO_PCI_INTX_IRQ_INDEX, start=1, count=3, data=[1, 0, 1]}');
  });

  it('VFIO_DEVICE_GET_REGION_INFO prints the index name and the result in hex', () => {
    const input = V.vfio_region_info.encode({ argsz: 32, index: V.VFIO_PCI_BAR2_REGION_INDEX });
    const output = V.vfio_region_info.encode({
      argsz: 32, index: V.VFIO_PCI_BAR2_REGION_INDEX, flags: V.VFIO_REGION_INFO_FLAG_READ | V.VFIO_REGION_INFO_FLAG_WRITE,
      size: 0x1000n, offset: 0x20000000000n,
    });
    expect(ioctl('vfio-device', V.VFIO_DEVICE_GET_REGION_INFO, { in: input, out: output })).toBe(
      'ioctl(5, VFIO_DEVICE_GET_REGION_INFO, {argsz=32, flags=0, index=VFIO_PCI_BAR2_REGION_INDEX, cap_offset=0, size=0x0, offset=0x0} => ' +
        '{flags=VFIO_REGION_INFO_FLAG_READ|VFIO_REGION_INFO_FLAG_WRITE, size=0x1000, offset=0x20000000000}) = 0',
    );
  });

  it('KVM_SET_GSI_ROUTING prints each entry with the union member its type selects', () => {
    const r = K.kvm_irq_routing.alloc(2);
    r.nr = 2;
    const e0 = K.kvm_irq_routing_entry.view(r.bytes, 8);
    Object.assign(e0, { gsi: 4, type: K.KVM_IRQ_ROUTING_IRQCHIP });
    Object.assign(e0.u.irqchip, { irqchip: K.KVM_IRQCHIP_IOAPIC, pin: 4 });
    const e1 = K.kvm_irq_routing_entry.view(r.bytes, 8 + 48);
    Object.assign(e1, { gsi: 24, type: K.KVM_IRQ_ROUTING_MSI });
    Object.assign(e1.u.msi, { address_lo: 0xfee00000, data: 0x4041 });
    expect(ioctl('kvm-vm', K.KVM_SET_GSI_ROUTING, { in: r.bytes })).toBe(
      'ioctl(5, KVM_SET_GSI_ROUTING, {nr=2, flags=0, entries=[' +
        '{gsi=4, type=KVM_IRQ_ROUTING_IRQCHIP, flags=0, u={irqchip={irqchip=KVM_IRQCHIP_IOAPIC, pin=4}}}, ' +
        '{gsi=24, type=KVM_IRQ_ROUTING_MSI, flags=0, u={msi={address_lo=0xfee00000, address_hi=0x0, data=0x4041}}}]}) = 0',
    );
  });

  it('a flexible array stops at the count its struct names (flex(elem, countField)), not at the end of the buffer', () => {
    const m = K.kvm_msrs.alloc(3);
    m.nmsrs = 1;
    for (let i = 0; i < 3; i++) Object.assign(m.entries.get(i), { index: 0x174 + i, data: BigInt(i + 1) });
    expect(ioctl('kvm-vcpu', K.KVM_SET_MSRS, { in: m.bytes }, 1)).toBe('ioctl(5, KVM_SET_MSRS, {nmsrs=1, entries=[{index=0x174, data=0x1}]}) = 1');
    const l = K.kvm_msr_list.alloc(4);
    l.nmsrs = 2;
    l.indices.set(0, 0x10);
    l.indices.set(1, 0x1b);
    l.indices.set(2, 0x99);
    expect(ioctl('kvm', K.KVM_GET_MSR_INDEX_LIST, { in: l.bytes, out: l.bytes })).toBe('ioctl(5, KVM_GET_MSR_INDEX_LIST, {nmsrs=2, indices=[0x10, 0x1b]}) = 0');
    const c = K.kvm_cpuid2.alloc(3);
    c.nent = 1;
    for (let i = 0; i < 3; i++) c.entries.get(i).function = 0x40000000 + i;
    expect(ioctl('kvm-vcpu', K.KVM_SET_CPUID2, { in: c.bytes })).toMatch(/^ioctl\(5, KVM_SET_CPUID2, \{nent=1, entries=\[\{function=0x40000000, [^{}\]]*\}\]\}\) = 0$/);
  });

  it('an in/out struct shows the flexible array the kernel filled in after => (no decoder of its own needed), up to the new count', () => {
    const before = K.kvm_cpuid2.alloc(3);
    before.nent = 3;
    const after = K.kvm_cpuid2.alloc(3);
    after.nent = 1;
    Object.assign(after.entries.get(0), { function: 0x80000008, eax: 0x3024 });
    Object.assign(after.entries.get(1), { function: 0x99 });
    expect(ioctl('kvm', K.KVM_GET_SUPPORTED_CPUID, { in: before.bytes, out: after.bytes })).toMatch(
      /=> \{nent=1, entries=\[\{function=0x80000008, index=0x0, flags=0, eax=0x3024, [^\]]*\}\]\}\) = 0$/,
    );
  });

  it('KVM_IRQFD, KVM_IOEVENTFD and KVM_SET_USER_MEMORY_REGION name their flags', () => {
    const irqfd = K.kvm_irqfd.encode({ fd: 7, gsi: 5, flags: K.KVM_IRQFD_FLAG_RESAMPLE, resamplefd: 8 });
    expect(ioctl('kvm-vm', K.KVM_IRQFD, { in: irqfd })).toBe('ioctl(5, KVM_IRQFD, {fd=7, gsi=5, flags=KVM_IRQFD_FLAG_RESAMPLE, resamplefd=8}) = 0');
    const ioev = K.kvm_ioeventfd.encode({ datamatch: 1n, addr: 0xfe000000n, len: 4, fd: 9, flags: K.KVM_IOEVENTFD_FLAG_DATAMATCH });
    expect(ioctl('kvm-vm', K.KVM_IOEVENTFD, { in: ioev })).toBe(
      'ioctl(5, KVM_IOEVENTFD, {datamatch=0x1, addr=0xfe000000, len=4, fd=9, flags=KVM_IOEVENTFD_FLAG_DATAMATCH}) = 0',
    );
    const mem = K.kvm_userspace_memory_region.encode({ slot: 1, flags: K.KVM_MEM_READONLY, guest_phys_addr: 0x100000n, memory_size: 0x200000n, userspace_addr: 0x7f0000000000n });
    expect(ioctl('kvm-vm', K.KVM_SET_USER_MEMORY_REGION, { in: mem })).toBe(
      'ioctl(5, KVM_SET_USER_MEMORY_REGION, {slot=1, flags=KVM_MEM_READONLY, guest_phys_addr=0x100000, memory_size=2097152, userspace_addr=0x7f0000000000}) = 0',
    );
    // strace 6.1 prints memory_size with %u and flags it has no name for with a KVM_MEM_??? comment
    // (as this machine's strace printed test/linux/kvm/memregion2-oracle.c's calls).
    const gm = K.kvm_userspace_memory_region.encode({ slot: 4, flags: K.KVM_MEM_GUEST_MEMFD, guest_phys_addr: 0x400000n, memory_size: 4096n, userspace_addr: 0x7f0000000000n });
    expect(ioctl('kvm-vm', K.KVM_SET_USER_MEMORY_REGION, { in: gm }, -22)).toMatch(
      /^ioctl\(5, KVM_SET_USER_MEMORY_REGION, \{slot=4, flags=0x4 \/\* KVM_MEM_\?\?\? \*\/, guest_phys_addr=0x400000, memory_size=4096, userspace_addr=0x7f0000000000\}\) = /,
    );
    const both = K.kvm_userspace_memory_region.encode({ slot: 4, flags: K.KVM_MEM_LOG_DIRTY_PAGES | K.KVM_MEM_GUEST_MEMFD });
    expect(ioctl('kvm-vm', K.KVM_SET_USER_MEMORY_REGION, { in: both })).toContain('flags=KVM_MEM_LOG_DIRTY_PAGES|0x4,');
  });

  it('strace 6.1 names no capability above KVM_CAP_DIRTY_LOG_RING_ACQ_REL, does not decode KVM_CREATE_VM\'s type, and prints undecoded ioctls\' arguments in hex', () => {
    expect(ioctl('kvm', K.KVM_CHECK_EXTENSION, { value: K.KVM_CAP_DIRTY_LOG_RING_ACQ_REL }, 1)).toBe('ioctl(5, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING_ACQ_REL) = 1');
    expect(ioctl('kvm', K.KVM_CHECK_EXTENSION, { value: K.KVM_CAP_USER_MEMORY2 }, 1)).toBe('ioctl(5, KVM_CHECK_EXTENSION, 0xe7 /* KVM_CAP_??? */) = 1');
    expect(ioctl('kvm-vm', K.KVM_CHECK_EXTENSION, { value: K.KVM_CAP_VM_TYPES }, 1)).toBe('ioctl(5, KVM_CHECK_EXTENSION, 0xeb /* KVM_CAP_??? */) = 1');
    expect(ioctl('kvm', K.KVM_CREATE_VM, { value: 0 }, 4)).toBe('ioctl(5, KVM_CREATE_VM, 0) = 4');
    expect(ioctl('kvm', K.KVM_CREATE_VM, { value: 32 }, 0)).toBe('ioctl(5, KVM_CREATE_VM, 0x20) = 0');
    expect(ioctl('kvm-vm', K.KVM_SET_USER_MEMORY_REGION2, { value: 0x7ffc1000 })).toBe('ioctl(5, _IOC(_IOC_WRITE, 0xae, 0x49, 0xa0), 0x7ffc1000) = 0');
    expect(ioctl('kvm-vm', K.KVM_CREATE_GUEST_MEMFD, { value: 0 })).toBe('ioctl(5, _IOC(_IOC_READ|_IOC_WRITE, 0xae, 0xd4, 0x40), 0) = 0');
  });
});
