// _IOC encoding per include/uapi/asm-generic/ioctl.h, checked on numbers gcc computed for the
// reference (shared/reference/kvm.md §0.3) and by round-trip over the whole field space.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { _IO, _IOC, _IOC_DIR, _IOC_NR, _IOC_SIZE, _IOC_TYPE, _IOR, _IOW, _IOWR, decodeIoctl, formatUnknownIoctl } from '../../abi/ioc.js';

describe('_IOC encoding', () => {
  it('matches request numbers compiled from linux/kvm.h and linux/vfio.h', () => {
    expect(_IO(0xae, 0x00)).toBe(0xae00); // KVM_GET_API_VERSION
    expect(_IOW(0xae, 0x76, 32)).toBe(0x4020ae76); // KVM_IRQFD, struct kvm_irqfd is 32 bytes
    expect(_IOWR(0xae, 0x67, 8)).toBe(0xc008ae67); // KVM_IRQ_LINE_STATUS
    expect(_IOW(0xae, 0x67, 16)).toBe(0x4010ae67); // KVM_REGISTER_COALESCED_MMIO: same nr, other dir/size
    expect(_IOWR(0xae, 0x62, 520)).toBe(0xc208ae62); // KVM_GET_IRQCHIP is _IOWR, not _IOR
    expect(_IOR(0xae, 0x62, 520)).not.toBe(0xc208ae62);
    expect(_IO(';', 100 + 12)).toBe(0x3b70); // VFIO_IOMMU_GET_INFO / VFIO_DEVICE_GET_PCI_HOT_RESET_INFO
  });

  it('decodes every field back (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0x3fff }), (dir, type, nr, size) => {
        const req = _IOC(dir, type, nr, size);
        expect(req).toBeGreaterThanOrEqual(0);
        expect([_IOC_DIR(req), _IOC_TYPE(req), _IOC_NR(req), _IOC_SIZE(req)]).toEqual([dir, type, nr, size]);
      }),
    );
  });

  it('rejects fields that do not fit', () => {
    expect(() => _IOC(0, 0xae, 256, 0)).toThrow(RangeError);
    expect(() => _IOC(0, 0xae, 0, 0x4000)).toThrow(RangeError);
  });

  it('names unknown requests the way strace does', () => {
    expect(decodeIoctl(0xc008ae67)).toEqual({ request: 0xc008ae67, dir: 'read|write', type: 0xae, nr: 0x67, size: 8 });
    expect(formatUnknownIoctl(0xc008ae67)).toBe('_IOC(_IOC_READ|_IOC_WRITE, 0xae, 0x67, 0x8)');
  });
});
