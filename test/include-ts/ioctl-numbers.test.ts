// Hand-checked ioctl numbers and sizes. Each value is worked out from the header's definition (quoted)
// and the struct sizes, and matches the tables in /work/shared/reference/kvm.md §0.3 and vfio.md §1.2.
// These run without gcc; the conformance test compares everything with the compiler.
import { describe, expect, it } from 'vitest';
import { _IOC_DIR, _IOC_NR, _IOC_READ, _IOC_SIZE, _IOC_TYPE, _IOC_WRITE, decodeIoctl, formatUnknownIoctl } from '../../abi/ioc.js';
import * as kvm from '../../include-ts/linux/kvm.js';
import * as vfio from '../../include-ts/linux/vfio.js';

describe('_IOC decode of KVM ioctls that share a number', () => {
  // <linux/kvm.h>: #define KVM_IRQ_LINE_STATUS _IOWR(KVMIO, 0x67, struct kvm_irq_level)  (8 bytes)
  //                #define KVM_REGISTER_COALESCED_MMIO _IOW(KVMIO, 0x67, struct kvm_coalesced_mmio_zone)  (16 bytes)
  it('KVM_IRQ_LINE_STATUS is 0xC008AE67: read|write, type 0xae, nr 0x67, size 8', () => {
    expect(kvm.KVM_IRQ_LINE_STATUS).toBe(0xc008ae67);
    expect(decodeIoctl(kvm.KVM_IRQ_LINE_STATUS)).toEqual({ request: 0xc008ae67, dir: 'read|write', type: 0xae, nr: 0x67, size: 8 });
    expect(_IOC_DIR(kvm.KVM_IRQ_LINE_STATUS)).toBe(_IOC_READ | _IOC_WRITE);
  });

  it('KVM_REGISTER_COALESCED_MMIO is 0x4010AE67: write, type 0xae, nr 0x67, size 16', () => {
    expect(kvm.KVM_REGISTER_COALESCED_MMIO).toBe(0x4010ae67);
    expect(decodeIoctl(kvm.KVM_REGISTER_COALESCED_MMIO)).toEqual({ request: 0x4010ae67, dir: 'write', type: 0xae, nr: 0x67, size: 16 });
    expect(_IOC_DIR(kvm.KVM_REGISTER_COALESCED_MMIO)).toBe(_IOC_WRITE);
  });

  it('same type and nr, different direction and size: only the full number tells them apart', () => {
    expect(_IOC_NR(kvm.KVM_IRQ_LINE_STATUS)).toBe(_IOC_NR(kvm.KVM_REGISTER_COALESCED_MMIO));
    expect(_IOC_TYPE(kvm.KVM_IRQ_LINE_STATUS)).toBe(_IOC_TYPE(kvm.KVM_REGISTER_COALESCED_MMIO));
    expect(_IOC_SIZE(kvm.KVM_IRQ_LINE_STATUS)).toBe(kvm.kvm_irq_level.size);
    expect(_IOC_SIZE(kvm.KVM_REGISTER_COALESCED_MMIO)).toBe(kvm.kvm_coalesced_mmio_zone.size);
    expect(kvm.KVM_IRQ_LINE_STATUS).not.toBe(kvm.KVM_REGISTER_COALESCED_MMIO);
    expect(formatUnknownIoctl(kvm.KVM_IRQ_LINE_STATUS)).toBe('_IOC(_IOC_READ|_IOC_WRITE, 0xae, 0x67, 0x8)');
    expect(formatUnknownIoctl(kvm.KVM_REGISTER_COALESCED_MMIO)).toBe('_IOC(_IOC_WRITE, 0xae, 0x67, 0x10)');
  });
});

describe('hand-checked values', () => {
  it('KVM_IRQFD = 0x4020AE76', () => {
    // #define KVM_IRQFD _IOW(KVMIO, 0x76, struct kvm_irqfd); kvm_irqfd = fd, gsi, flags, resamplefd (4 x u32) + pad[16] = 32
    expect(kvm.kvm_irqfd.size).toBe(32);
    expect(kvm.KVM_IRQFD).toBe(0x4020ae76);
  });

  it('KVM_SET_GSI_ROUTING = 0x4008AE6A (the size is the 8-byte header only; entries are 48 bytes each)', () => {
    // #define KVM_SET_GSI_ROUTING _IOW(KVMIO, 0x6a, struct kvm_irq_routing); nr, flags, then a flexible array
    expect(kvm.kvm_irq_routing.size).toBe(8);
    expect(kvm.kvm_irq_routing_entry.size).toBe(48);
    expect(kvm.KVM_SET_GSI_ROUTING).toBe(0x4008ae6a);
  });

  it('VFIO_IOMMU_GET_INFO = 0x3b70, the same number as VFIO_DEVICE_GET_PCI_HOT_RESET_INFO', () => {
    // #define VFIO_IOMMU_GET_INFO _IO(VFIO_TYPE, VFIO_BASE + 12); VFIO_TYPE ';' = 0x3b, VFIO_BASE 100 = 0x64
    expect(vfio.VFIO_TYPE).toBe(';'.charCodeAt(0));
    expect(vfio.VFIO_IOMMU_GET_INFO).toBe(0x3b70);
    expect(vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO).toBe(0x3b70);
    expect(vfio.VFIO_IOMMU_SPAPR_TCE_GET_INFO).toBe(0x3b70);
    expect(decodeIoctl(vfio.VFIO_IOMMU_GET_INFO)).toEqual({ request: 0x3b70, dir: 'none', type: 0x3b, nr: 0x70, size: 0 });
  });

  it('sizeof(struct kvm_run) = 2352, with the exit union at 32 and the sync regs at 304', () => {
    // 32 bytes of header, a 256-byte exit union, kvm_valid_regs/kvm_dirty_regs, then `union { ...; char padding[2048]; } s`
    expect(kvm.kvm_run.size).toBe(2352);
    expect(kvm.kvm_run.offsetof('io')).toBe(32);
    expect(kvm.kvm_run.offsetof('io.port')).toBe(34);
    expect(kvm.kvm_run.offsetof('mmio.is_write')).toBe(52);
    expect(kvm.kvm_run.offsetof('kvm_valid_regs')).toBe(288);
    expect(kvm.kvm_run.offsetof('s')).toBe(304);
  });

  it('KVM_GET_IRQCHIP = 0xC208AE62 (struct kvm_irqchip is 520 bytes)', () => {
    // #define KVM_GET_IRQCHIP _IOWR(KVMIO, 0x62, struct kvm_irqchip); chip_id, pad, union { char dummy[512]; ... } chip
    expect(kvm.kvm_irqchip.size).toBe(520);
    expect(kvm.KVM_GET_IRQCHIP).toBe(0xc208ae62);
    expect(kvm.KVM_SET_IRQCHIP).toBe(0x8208ae63);
  });

  it('more KVM numbers from the reference table', () => {
    expect([kvm.KVM_GET_API_VERSION, kvm.KVM_CREATE_VM, kvm.KVM_CHECK_EXTENSION, kvm.KVM_GET_VCPU_MMAP_SIZE]).toEqual([0xae00, 0xae01, 0xae03, 0xae04]);
    expect([kvm.KVM_CREATE_VCPU, kvm.KVM_CREATE_IRQCHIP, kvm.KVM_RUN]).toEqual([0xae41, 0xae60, 0xae80]);
    expect(kvm.KVM_SET_USER_MEMORY_REGION).toBe(0x4020ae46);
    expect(kvm.KVM_IRQ_LINE).toBe(0x4008ae61);
    expect(kvm.KVM_IOEVENTFD).toBe(0x4040ae79);
    expect(kvm.KVM_SET_SIGNAL_MASK).toBe(0x4004ae8b);
    expect(kvm.KVM_ENABLE_CAP).toBe(0x4068aea3);
    expect(kvm.KVM_SIGNAL_MSI).toBe(0x4020aea5);
    expect(kvm.KVM_ASSIGN_SET_MSIX_NR).toBe(0x4008ae73);
    expect(kvm.KVM_ASSIGN_SET_MSIX_ENTRY).toBe(0x4010ae74);
  });

  it('VFIO numbers are 0x3b64 + n', () => {
    expect(vfio.VFIO_GET_API_VERSION).toBe(0x3b64);
    expect(vfio.VFIO_GROUP_GET_STATUS).toBe(0x3b67);
    expect(vfio.VFIO_GROUP_GET_DEVICE_FD).toBe(0x3b6a);
    expect(vfio.VFIO_DEVICE_SET_IRQS).toBe(0x3b6e);
    expect(vfio.VFIO_IOMMU_MAP_DMA).toBe(0x3b71);
    expect(vfio.VFIO_DEVICE_FEATURE).toBe(0x3b75);
    expect(vfio.vfio_device_info.size).toBe(20); // 6.1: no `pad` member
  });
});
