// The edu device (QEMU hw/misc/edu.c, docs/specs/edu.rst; ../shared/reference/peers.md §4b) on the
// virtual clock, and its DMA through the IOMMU (VT-d: untranslatable DMA is blocked and recorded).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/host.js';
import { IommuDomain, IOMMU_READ, IOMMU_WRITE } from '../../../src/hw/iommu/domain.js';
import { EDU_DMA_NS, EDU_FACT_NS } from '../../../src/hw/devices/edu.js';

function setup() {
  const host = Host.create();
  const edu = host.control.pci.edu();
  edu.configWrite(4, 2, 0x0006); // memory + bus master
  return { host, edu, w: (o: number, v: number) => edu.barWrite(0, o, 4, v), r: (o: number) => edu.barRead(0, o, 4) };
}

describe('edu registers', () => {
  it('identification, liveness (~val), wrong-size reads all ones', () => {
    const { edu, w, r } = setup();
    expect(r(0)).toBe(0x010000ed);
    w(4, 0x12345678);
    expect(r(4)).toBe(~0x12345678 >>> 0);
    expect(edu.barRead(0, 0, 2)).toBe(0xffff);
  });

  it('factorial completes EDU_FACT_NS later on the virtual clock and raises FACT_IRQ when asked', () => {
    const { host, w, r } = setup();
    w(0x20, 0x80);
    w(8, 10);
    expect(r(0x20) & 1).toBe(1);
    host.control.advance(EDU_FACT_NS - 1);
    expect(r(0x20) & 1).toBe(1);
    host.control.advance(1);
    expect(r(8)).toBe(3628800);
    expect(r(0x20) & 1).toBe(0);
    expect(r(0x24)).toBe(1);
  });

  it('INTx is level: asserted while the interrupt status is non-zero; ack lowers it', () => {
    const { edu, w } = setup();
    w(0x60, 0x3);
    expect(edu.intx!.line.level).toBe(true);
    w(0x64, 0x1);
    expect(edu.intx!.line.level).toBe(true);
    w(0x64, 0x2);
    expect(edu.intx!.line.level).toBe(false);
  });

  it('with MSI enabled each raise sends one message and INTx stays low', () => {
    const { host, edu, w } = setup();
    edu.configWrite(0x44, 4, 0xfee00000);
    edu.configWrite(0x4c, 2, 0x41);
    edu.configWrite(0x42, 2, 1);
    const before = host.control.pci.messages;
    w(0x60, 1);
    w(0x60, 1);
    expect(host.control.pci.messages - before).toBe(2);
    expect(edu.intx!.line.level).toBe(false);
  });
});

describe('edu DMA through the IOMMU', () => {
  it('RAM→device and device→RAM complete 100 ms later and move the bytes', () => {
    const { host, edu, w, r } = setup();
    const ram = new Uint8Array(0x2000);
    ram.set([1, 2, 3, 4], 0x10);
    const dom = new IommuDomain();
    dom.map(0x10000, ram, IOMMU_READ | IOMMU_WRITE);
    host.machine.iommu.setContext(edu.rid, dom);
    w(0x80, 0x10010);
    w(0x88, 0x40000);
    w(0x90, 4);
    w(0x98, 1 | 4);
    host.control.advance(EDU_DMA_NS);
    expect([...edu.dmaBuf.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    expect(r(0x24)).toBe(0x100);
    w(0x80, 0x40000);
    w(0x88, 0x11000);
    w(0x90, 4);
    w(0x98, 1 | 2);
    host.control.advance(EDU_DMA_NS);
    expect([...ram.subarray(0x1000, 0x1004)]).toEqual([1, 2, 3, 4]);
  });

  it('a DMA to an unmapped IOVA is a recorded fault that touches no memory', () => {
    const { host, edu, w } = setup();
    const ram = new Uint8Array(0x1000);
    const dom = new IommuDomain();
    dom.map(0x10000, ram, IOMMU_READ | IOMMU_WRITE);
    host.machine.iommu.setContext(edu.rid, dom);
    edu.dmaBuf.fill(0xaa);
    // Straddles the end of the mapping: nothing may be written, not even the mapped part.
    w(0x80, 0x40000);
    w(0x88, 0x10ff0);
    w(0x90, 0x20);
    w(0x98, 1 | 2);
    host.control.advance(EDU_DMA_NS);
    expect(ram.every((b) => b === 0)).toBe(true);
    const f = host.control.pci.dmaFaults().at(-1)!;
    expect(f).toMatchObject({ source: '0000:00:03.0', iova: 0x11000, write: true, reason: 'not-mapped' });
    expect(host.control.dmesg().some((l) => l.includes('DMAR: [DMA Write NO_PASID] Request device [00:03.0] fault addr 0x11000'))).toBe(true);
  });

  it('a read-only mapping refuses device writes (no-permission) and a device without a context faults', () => {
    const { host, edu } = setup();
    const ram = new Uint8Array(0x1000);
    const dom = new IommuDomain();
    dom.map(0, ram, IOMMU_READ);
    host.machine.iommu.setContext(edu.rid, dom);
    expect(edu.dmaWrite(0, new Uint8Array([9]))).toBe(false);
    expect(host.control.pci.dmaFaults().at(-1)!.reason).toBe('no-permission');
    host.machine.iommu.setContext(edu.rid, null);
    expect(edu.dmaRead(0, new Uint8Array(1))).toBe(false);
    expect(host.control.pci.dmaFaults().at(-1)!.reason).toBe('no-context');
    expect(ram[0]).toBe(0);
  });
});
