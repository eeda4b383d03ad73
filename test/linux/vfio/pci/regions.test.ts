// vfio-pci regions: GET_INFO, GET_REGION_INFO, GET_IRQ_INFO, read/write at index << 40, and mmap
// (../shared/reference/vfio.md §1.6, §3.1-3.3, §4.1, §8.10), following drivers/vfio/pci/vfio_pci_core.c
// (vfio_pci_ioctl_get_info, vfio_pci_ioctl_get_region_info, vfio_pci_ioctl_get_irq_info,
// vfio_pci_core_mmap, vfio_pci_mmap_fault) and drivers/vfio/pci/vfio_pci_rdwr.c (vfio_pci_bar_rw,
// vfio_pci_core_do_io_rw).
import { describe, expect, it, vi } from 'vitest';
import { walkCaps } from '../../../../abi/capchain.js';
import { Host } from '../../../../src/host.js';
import { getU32 } from '../../../../abi/bytes.js';
import { MemoryFault } from '../../../../src/linux/mm/backing.js';
import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../../include-ts/linux/mman.js';
import { GPU, GPU_AUDIO, GROUP, NIC, REGION, V, bindVfio, expectErrno, openDevice } from '../../../support/vfio.js';

function regionInfo(p: ReturnType<typeof openDevice>['p'], d: number, index: number, argsz = 32) {
  const b = new Uint8Array(Math.max(argsz, 32));
  const v = V.vfio_region_info.view(b);
  v.argsz = argsz;
  v.index = index;
  p.ioctl(d, V.VFIO_DEVICE_GET_REGION_INFO, b);
  return { b, v };
}

// The GPU's group also needs its audio function on vfio-pci before it is viable.
function gpu() {
  const host = Host.create();
  bindVfio(host.spawn(), GPU_AUDIO);
  return openDevice(GPU, GROUP.gpu, V.VFIO_TYPE1v2_IOMMU, host);
}

describe('VFIO_DEVICE_GET_INFO', () => {
  it('argsz < 16 → EINVAL; PCI flag, 9 regions, 5 IRQs; RESET only when a function reset works', () => {
    const { p, device } = openDevice();
    const i = V.vfio_device_info.alloc();
    i.argsz = 12;
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_GET_INFO, i), 'EINVAL');
    i.argsz = 20;
    p.ioctl(device, V.VFIO_DEVICE_GET_INFO, i);
    expect([i.flags, i.num_regions, i.num_irqs]).toEqual([V.VFIO_DEVICE_FLAGS_PCI, 9, 5]);
    const n = openDevice(NIC, GROUP.nic);
    const j = V.vfio_device_info.alloc();
    j.argsz = 20;
    n.p.ioctl(n.device, V.VFIO_DEVICE_GET_INFO, j);
    expect(j.flags).toBe(V.VFIO_DEVICE_FLAGS_PCI | V.VFIO_DEVICE_FLAGS_RESET);
  });

  it('copies back min(argsz, sizeof) bytes: argsz 16 leaves cap_offset untouched', () => {
    const { p, device } = openDevice();
    const b = new Uint8Array(20).fill(0xee);
    b.set([16, 0, 0, 0]);
    p.ioctl(device, V.VFIO_DEVICE_GET_INFO, b);
    expect(getU32(b, 16)).toBe(0xeeeeeeee);
  });
});

describe('VFIO_DEVICE_GET_REGION_INFO', () => {
  it('§8.10: argsz 16 → EINVAL; index past the regions → EINVAL', () => {
    const { p, device } = openDevice();
    const b = new Uint8Array(32);
    b[0] = 16;
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_GET_REGION_INFO, b), 'EINVAL');
    expectErrno(() => regionInfo(p, device, 9), 'EINVAL');
  });

  it('BARs: size and READ|WRITE|MMAP; unimplemented BARs size 0 flags 0; offset = index << 40', () => {
    const { p, device } = openDevice();
    const r0 = regionInfo(p, device, 0).v;
    expect([r0.flags, r0.size, r0.offset]).toEqual([V.VFIO_REGION_INFO_FLAG_READ | V.VFIO_REGION_INFO_FLAG_WRITE | V.VFIO_REGION_INFO_FLAG_MMAP, 0x100000n, 0n]);
    const r1 = regionInfo(p, device, 1).v;
    expect([r1.flags, r1.size, r1.offset]).toEqual([0, 0n, BigInt(REGION(1))]);
    const cfg = regionInfo(p, device, V.VFIO_PCI_CONFIG_REGION_INDEX).v;
    expect([cfg.flags, cfg.size]).toEqual([V.VFIO_REGION_INFO_FLAG_READ | V.VFIO_REGION_INFO_FLAG_WRITE, 256n]);
    expect(regionInfo(p, device, V.VFIO_PCI_ROM_REGION_INDEX).v.size).toBe(0n);
    expectErrno(() => regionInfo(p, device, V.VFIO_PCI_VGA_REGION_INDEX), 'EINVAL');
  });

  it('the MSI-X BAR is mmap-able with the MSIX_MAPPABLE cap; argsz 32 grows to 40 with cap_offset 0, argsz 40 gets the cap', () => {
    const { p, device } = openDevice(NIC, GROUP.nic);
    const small = regionInfo(p, device, 3).v;
    expect(small.flags & V.VFIO_REGION_INFO_FLAG_CAPS).toBeTruthy();
    expect(small.flags & V.VFIO_REGION_INFO_FLAG_MMAP).toBeTruthy();
    expect([small.argsz, small.cap_offset]).toEqual([40, 0]);
    const { b, v } = regionInfo(p, device, 3, 40);
    expect(v.cap_offset).toBe(32);
    expect(walkCaps(b, 32).map((c) => [c.id, c.version, c.next])).toEqual([[V.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, 0]]);
    const io = regionInfo(p, device, 2).v;
    expect(io.flags).toBe(V.VFIO_REGION_INFO_FLAG_READ | V.VFIO_REGION_INFO_FLAG_WRITE);
    expect(regionInfo(p, device, V.VFIO_PCI_CONFIG_REGION_INDEX).v.size).toBe(4096n);
  });

  it('ROM reports the ROM BAR size, read-only; VGA-class devices have the VGA region', () => {
    const { p, device } = gpu();
    const rom = regionInfo(p, device, V.VFIO_PCI_ROM_REGION_INDEX).v;
    expect([rom.flags, rom.size]).toEqual([V.VFIO_REGION_INFO_FLAG_READ, 0x80000n]);
    const vga = regionInfo(p, device, V.VFIO_PCI_VGA_REGION_INDEX).v;
    expect([vga.flags, vga.size]).toEqual([V.VFIO_REGION_INFO_FLAG_READ | V.VFIO_REGION_INFO_FLAG_WRITE, 0xc0000n]);
  });
});

describe('VFIO_DEVICE_GET_IRQ_INFO', () => {
  function irq(o: ReturnType<typeof openDevice>, index: number) {
    const i = V.vfio_irq_info.alloc();
    i.argsz = 16;
    i.index = index;
    o.p.ioctl(o.device, V.VFIO_DEVICE_GET_IRQ_INFO, i);
    return [i.flags, i.count];
  }
  it('INTx, MSI, MSI-X, ERR (PCIe only), REQ; index 5 and argsz < 16 → EINVAL', () => {
    const edu = openDevice();
    expect(irq(edu, 0)).toEqual([V.VFIO_IRQ_INFO_EVENTFD | V.VFIO_IRQ_INFO_MASKABLE | V.VFIO_IRQ_INFO_AUTOMASKED, 1]);
    expect(irq(edu, 1)).toEqual([V.VFIO_IRQ_INFO_EVENTFD | V.VFIO_IRQ_INFO_NORESIZE, 1]);
    expect(irq(edu, 2)).toEqual([V.VFIO_IRQ_INFO_EVENTFD | V.VFIO_IRQ_INFO_NORESIZE, 0]);
    expectErrno(() => irq(edu, 3), 'EINVAL');
    expect(irq(edu, 4)).toEqual([V.VFIO_IRQ_INFO_EVENTFD | V.VFIO_IRQ_INFO_NORESIZE, 1]);
    expectErrno(() => irq(edu, 5), 'EINVAL');
    const nic = openDevice(NIC, GROUP.nic);
    expect(irq(nic, 2)[1]).toBe(2048);
    expect(irq(nic, 3)).toEqual([V.VFIO_IRQ_INFO_EVENTFD | V.VFIO_IRQ_INFO_NORESIZE, 1]);
    const b = new Uint8Array(16);
    b[0] = 12;
    expectErrno(() => edu.p.ioctl(edu.device, V.VFIO_DEVICE_GET_IRQ_INFO, b), 'EINVAL');
  });

  it('SET_IRQS common validation (vfio_set_irqs_validate_and_prepare): bad argsz, index, flags, range → EINVAL', () => {
    const { p, device } = openDevice();
    const set = (f: { argsz?: number; flags: number; index: number; start?: number; count: number }, extra = 0) => {
      const b = new Uint8Array(20 + extra);
      V.vfio_irq_set.encode({ argsz: 20 + extra, start: 0, ...f }, b);
      return () => p.ioctl(device, V.VFIO_DEVICE_SET_IRQS, b);
    };
    const trig = V.VFIO_IRQ_SET_ACTION_TRIGGER;
    expectErrno(set({ argsz: 16, flags: V.VFIO_IRQ_SET_DATA_NONE | trig, index: 0, count: 1 }), 'EINVAL');
    expectErrno(set({ flags: V.VFIO_IRQ_SET_DATA_NONE | trig, index: 5, count: 1 }), 'EINVAL');
    expectErrno(set({ flags: 0x40 | trig, index: 0, count: 1 }), 'EINVAL');
    expectErrno(set({ flags: V.VFIO_IRQ_SET_DATA_NONE | trig, index: 0, start: 0, count: 2 }), 'EINVAL');
    expectErrno(set({ flags: V.VFIO_IRQ_SET_DATA_NONE | V.VFIO_IRQ_SET_DATA_BOOL | trig, index: 0, count: 1 }, 1), 'EINVAL');
    expectErrno(set({ flags: V.VFIO_IRQ_SET_DATA_EVENTFD | trig, index: 0, count: 1 }), 'EINVAL');
    expectErrno(set({ flags: V.VFIO_IRQ_SET_DATA_NONE | trig, index: 2, count: 1 }), 'EINVAL'); // edu has no MSI-X
  });
});

describe('read/write (vfio_pci_rw)', () => {
  it('§8.10: a config access running past cfg_size → EFAULT before any byte moves; count 0 → 0; region 9 → EINVAL', () => {
    const { p, device } = openDevice();
    const buf = new Uint8Array(4).fill(0xaa);
    expectErrno(() => p.pread(device, buf, REGION(7) + 256), 'EFAULT');
    expectErrno(() => p.pread(device, buf, REGION(7) + 254), 'EFAULT');
    expect([...buf]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
    expect(p.pread(device, new Uint8Array(0), REGION(7))).toBe(0);
    expectErrno(() => p.pread(device, buf, REGION(9)), 'EINVAL');
  });

  it('BARs: offset past the end or an unimplemented BAR → EINVAL; accesses are truncated at the BAR end', () => {
    const { p, device } = openDevice();
    const buf = new Uint8Array(8);
    expectErrno(() => p.pread(device, buf, REGION(0) + 0x100000), 'EINVAL');
    expectErrno(() => p.pread(device, buf, REGION(1)), 'EINVAL');
    expect(p.pread(device, buf, REGION(0) + 0x100000 - 4)).toBe(4);
  });

  it('§8.10: an MMIO BAR access after clearing Memory Space through config → EIO; I/O BARs are not gated', () => {
    const { p, device } = openDevice(NIC, GROUP.nic);
    const cmd = new Uint8Array(2);
    p.pread(device, cmd, REGION(7) + 4);
    const off = new Uint8Array([cmd[0]! & ~0x02, cmd[1]!]);
    p.pwrite(device, off, REGION(7) + 4);
    expectErrno(() => p.pread(device, new Uint8Array(4), REGION(0) + 0x18), 'EIO');
    expect(p.pread(device, new Uint8Array(4), REGION(2))).toBe(4);
    p.pwrite(device, cmd, REGION(7) + 4);
    const q = new Uint8Array(4);
    p.pread(device, q, REGION(0) + 0x18);
    expect(getU32(q, 0)).toBe(2048);
  });

  it('accesses split into naturally aligned 1/2/4-byte accesses', () => {
    const { host, p, device } = gpu();
    const g = host.control.pci.device(GPU);
    const spy = vi.spyOn(g, 'barWrite');
    p.pwrite(device, new Uint8Array([1, 2, 3, 4, 5, 6, 7]), REGION(0) + 0x101);
    expect(spy.mock.calls.map((c) => [c[1], c[2]])).toEqual([[0x101, 1], [0x102, 2], [0x104, 4]]);
    const back = new Uint8Array(8);
    p.pread(device, back, REGION(0) + 0x100);
    expect([...back]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('bytes in the MSI-X table read 0xff and writes are dropped; the PBA is readable', () => {
    const { host, p, device } = openDevice(NIC, GROUP.nic);
    const nic = host.control.pci.nic();
    const b = new Uint8Array(16);
    p.pread(device, b, REGION(3));
    expect([...b].every((x) => x === 0xff)).toBe(true);
    p.pwrite(device, new Uint8Array([0, 0, 0, 0]), REGION(3) + 12);
    expect(nic.msix!.vectorMasked(0)).toBe(true);
    const pba = new Uint8Array(8);
    expect(p.pread(device, pba, REGION(3) + nic.msix!.pbaOffset)).toBe(8);
  });

  it('ROM: writes → EINVAL; reads return the image, then 0xff past it within the BAR', () => {
    const { p, device } = gpu();
    expectErrno(() => p.pwrite(device, new Uint8Array(4), REGION(6)), 'EINVAL');
    const head = new Uint8Array(2);
    p.pread(device, head, REGION(6));
    expect([...head]).toEqual([0x55, 0xaa]);
    const tail = new Uint8Array(4);
    p.pread(device, tail, REGION(6) + 96 * 1024);
    expect([...tail]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('VGA region: legacy ranges only (others EINVAL)', () => {
    const { p, device } = gpu();
    expect(p.pread(device, new Uint8Array(2), REGION(8) + 0x3c0)).toBe(2);
    expectErrno(() => p.pread(device, new Uint8Array(2), REGION(8) + 0x1000), 'EINVAL');
  });
});

describe('mmap (vfio_pci_core_mmap)', () => {
  it('MAP_PRIVATE, ROM/config/VGA regions, I/O BARs and ranges past the BAR → EINVAL', () => {
    const { p, device } = openDevice(NIC, GROUP.nic);
    expectErrno(() => p.mmap(null, 0x1000, PROT_READ, MAP_PRIVATE, device, REGION(0)), 'EINVAL');
    expectErrno(() => p.mmap(null, 0x1000, PROT_READ, MAP_SHARED, device, REGION(7)), 'EINVAL');
    expectErrno(() => p.mmap(null, 0x1000, PROT_READ, MAP_SHARED, device, REGION(2)), 'EINVAL');
    expectErrno(() => p.mmap(null, 0x21000, PROT_READ, MAP_SHARED, device, REGION(0)), 'EINVAL');
  });

  it('a BAR mapping reaches the device directly; with Memory Space disabled it faults SIGBUS, re-enabled it works again', () => {
    const { host, p, device } = openDevice();
    const m = p.mmap(null, 0x100000, PROT_READ | PROT_WRITE, MAP_SHARED, device, REGION(0));
    expect(m.read32(0)).toBe(0x010000ed);
    m.write32(0x60, 1);
    expect(host.control.pci.edu().irqStatus).toBe(1);
    const cmd = new Uint8Array(2);
    p.pread(device, cmd, REGION(7) + 4);
    p.pwrite(device, new Uint8Array([cmd[0]! & ~2, cmd[1]!]), REGION(7) + 4);
    expect(() => m.read32(0)).toThrow(MemoryFault);
    try {
      m.read32(0);
    } catch (e) {
      expect((e as MemoryFault).signal).toBe('SIGBUS');
    }
    p.pwrite(device, cmd, REGION(7) + 4);
    expect(m.read32(0)).toBe(0x010000ed);
  });

  it('the MSI-X BAR maps whole (MSIX_MAPPABLE): table writes through the mapping reach the hardware table', () => {
    const { host, p, device } = openDevice(NIC, GROUP.nic);
    const m = p.mmap(null, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, device, REGION(3));
    m.write32(16 * 7 + 8, 0x1234);
    expect(host.control.pci.nic().msix!.tableRead(16 * 7 + 8, 4)).toBe(0x1234);
  });
});
