// Config-space virtualization as a VMM sees it through the VFIO config region
// (../shared/reference/vfio.md §3.4; drivers/vfio/pci/vfio_pci_config.c: vfio_basic_config_read/write,
// vfio_bar_fixup, vfio_cap_init, vfio_ecap_init, vfio_msi_config_write, vfio_exp_config_write, perms).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../../src/host.js';
import { capabilityLines } from '../../../../src/cli/lspci.js';
import { EDU, GPU, GPU_AUDIO, GROUP, LEGACY, NIC, REGION, V, bindVfio, openDevice } from '../../../support/vfio.js';

type O = ReturnType<typeof openDevice>;
const rd = (o: O, off: number, n: 1 | 2 | 4) => {
  const b = new Uint8Array(n);
  o.p.pread(o.device, b, REGION(7) + off);
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = (v << 8) | b[i]!;
  return v >>> 0;
};
const wr = (o: O, off: number, n: 1 | 2 | 4, v: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (v >>> (i * 8)) & 0xff;
  o.p.pwrite(o.device, b, REGION(7) + off);
};
const whole = (o: O, size: number) => {
  const b = new Uint8Array(size);
  o.p.pread(o.device, b, REGION(7));
  return b;
};
function gpu(): O {
  const host = Host.create();
  bindVfio(host.spawn(), GPU_AUDIO);
  return openDevice(GPU, GROUP.gpu, V.VFIO_TYPE1v2_IOMMU, host);
}

describe('standard header', () => {
  it('IDs read through and ignore writes (which still report the full count)', () => {
    const o = openDevice();
    expect(rd(o, 0, 4)).toBe(0x11e81234);
    expect(o.p.pwrite(o.device, new Uint8Array(4), REGION(7))).toBe(4);
    expect(rd(o, 0, 4)).toBe(0x11e81234);
  });

  it('virtual BARs size like hardware without touching it: write ~0, read ~(size-1)|flags', () => {
    const o = gpu();
    const hw = o.host.control.pci.device(GPU);
    const before = hw.configRead(0x10, 4);
    wr(o, 0x10, 4, 0xffffffff);
    expect(rd(o, 0x10, 4)).toBe(0xff000000);
    expect(hw.configRead(0x10, 4)).toBe(before);
    wr(o, 0x14, 4, 0xffffffff);
    wr(o, 0x18, 4, 0xffffffff);
    expect([rd(o, 0x14, 4), rd(o, 0x18, 4)]).toEqual([0xf000000c, 0xffffffff]);
    wr(o, 0x24, 4, 0xffffffff);
    expect(rd(o, 0x24, 4)).toBe(0xffffff81);
    wr(o, 0x30, 4, 0xffffffff);
    expect(rd(o, 0x30, 4)).toBe(0xfff80001);
    wr(o, 0x10, 4, 0xd2000000);
    expect(rd(o, 0x10, 4)).toBe(0xd2000000);
    expect(rd(o, 0x20, 4)).toBe(0); // the upper half of 64-bit BAR3, which firmware placed below 4 GiB
  });

  it('an unimplemented BAR reads 0 even after a write; an 8-byte I/O BAR sizes to 0xffffffe1', () => {
    const o = openDevice(NIC, GROUP.nic);
    wr(o, 0x14, 4, 0xffffffff);
    expect(rd(o, 0x14, 4)).toBe(0);
    wr(o, 0x18, 4, 0xffffffff);
    expect(rd(o, 0x18, 4)).toBe(0xffffffe1);
  });

  it('INTx Disable is virtual: the VMM sees its own bit; a PCI 2.3 device follows it in hardware, a non-2.3 one cannot', () => {
    const o = openDevice();
    const hw = o.host.control.pci.device(EDU);
    wr(o, 4, 2, rd(o, 4, 2) | 0x400);
    expect(rd(o, 4, 2) & 0x400).toBe(0x400);
    expect(hw.command & 0x400).toBe(0x400);
    wr(o, 4, 2, rd(o, 4, 2) & ~0x400);
    expect(hw.command & 0x400).toBe(0);
    const l = openDevice(LEGACY, GROUP.legacy);
    wr(l, 4, 2, rd(l, 4, 2) | 0x400);
    expect(rd(l, 4, 2) & 0x400).toBe(0x400);
    expect(l.host.control.pci.device(LEGACY).command & 0x400).toBe(0);
  });

  it('vfio_pci.nointxmask=1 disables PCI 2.3 masking: the hardware bit no longer follows the virtual one', () => {
    const o = openDevice(EDU, GROUP.edu, V.VFIO_TYPE1v2_IOMMU, Host.create({ cmdline: 'vfio_pci.nointxmask=1' }));
    expect(o.host.control.pci.vfio(EDU)!.pci23).toBe(false);
    wr(o, 4, 2, rd(o, 4, 2) | 0x400);
    expect(rd(o, 4, 2) & 0x400).toBe(0x400);
    expect(o.host.control.pci.device(EDU).command & 0x400).toBe(0);
    expect(o.p.readFile('/sys/module/vfio_pci/parameters/nointxmask')).toBe('Y\n');
  });

  it('Status is read-only (RW1C error bits cannot be cleared by the user); Interrupt Pin read-only; Interrupt Line virtual', () => {
    const o = openDevice();
    const hw = o.host.control.pci.device(EDU);
    hw.cfg.bytes[7] = hw.cfg.bytes[7]! | 0x80;
    wr(o, 6, 2, 0xffff);
    expect(rd(o, 6, 2) & 0x8000).toBe(0x8000);
    wr(o, 0x3d, 1, 3);
    expect(rd(o, 0x3d, 1)).toBe(1);
    const hwLine = hw.configRead(0x3c, 1);
    wr(o, 0x3c, 1, 0x0b);
    expect(rd(o, 0x3c, 1)).toBe(0x0b);
    expect(hw.configRead(0x3c, 1)).toBe(hwLine);
  });
});

describe('capability chain as the user sees it', () => {
  it('the GM107: L1 PM Substates and Secondary PCIe are hidden (length 0 in pci_ext_cap_length); PME support masked', () => {
    const o = gpu();
    const cfg = whole(o, 4096);
    expect(capabilityLines(cfg)).toEqual([
      'Capabilities: [60] Power Management version 3',
      'Capabilities: [68] MSI: Enable- Count=1/1 Maskable- 64bit+',
      'Capabilities: [78] Express Legacy Endpoint, MSI 00',
      'Capabilities: [100] Virtual Channel',
      'Capabilities: [250] Latency Tolerance Reporting',
      'Capabilities: [128] Power Budgeting <?>',
      'Capabilities: [600] Vendor Specific Information: ID=0001 Rev=1 Len=024 <?>',
    ]);
    expect(rd(o, 0x62, 2) & 0xf800).toBe(0);
  });
});

describe('MSI / MSI-X / PCIe / AER', () => {
  it('MSI Enable cannot be set by a config write (only SET_IRQS enables MSI); address and data are virtual', () => {
    const o = openDevice();
    const hw = o.host.control.pci.device(EDU);
    wr(o, 0x44, 4, 0xfee01000);
    expect(rd(o, 0x44, 4)).toBe(0xfee01000);
    expect(hw.configRead(0x44, 4)).toBe(0);
    wr(o, 0x42, 2, 0x0001);
    expect(rd(o, 0x42, 2) & 1).toBe(0);
    expect(hw.msi!.enabled).toBe(false);
  });

  it('MSI-X is read-only passthrough: Enable and Function Mask writes are dropped', () => {
    const o = openDevice(NIC, GROUP.nic);
    const x = o.host.control.pci.nic().msix!;
    wr(o, x.offset + 2, 2, 0xc000);
    expect(rd(o, x.offset + 2, 2)).toBe(2047);
    expect(x.enabled).toBe(false);
  });

  it('PCIe: the FLR bit is virtualized into a function reset and reads 0; MPS stays virtual', () => {
    const o = openDevice(NIC, GROUP.nic);
    const hw = o.host.control.pci.device(NIC);
    const resets = hw.resets;
    wr(o, 0x68, 2, rd(o, 0x68, 2) | 0x8000);
    expect(hw.resets).toBe(resets + 1);
    expect(rd(o, 0x68, 2) & 0x8000).toBe(0);
    expect(hw.barAddress(0)).not.toBe(0); // the PCI core restored the BARs around the reset
    const mps = hw.configRead(0x68, 2) & 0xe0;
    wr(o, 0x68, 2, (rd(o, 0x68, 2) & ~0xe0) | 0x20);
    expect(rd(o, 0x68, 2) & 0xe0).toBe(0x20);
    expect(hw.configRead(0x68, 2) & 0xe0).toBe(mps);
  });

  it('AER: the header dword is virtual and read-only; mask registers write through', () => {
    const o = openDevice(NIC, GROUP.nic);
    const hw = o.host.control.pci.device(NIC);
    const hdr = rd(o, 0x100, 4);
    wr(o, 0x100, 4, 0);
    expect(rd(o, 0x100, 4)).toBe(hdr);
    wr(o, 0x108, 4, 0x00000010);
    expect(hw.configRead(0x108, 4)).toBe(0x10);
  });
});

// From a review against vfio_pci_config.c (init_pci_cap_pm_perm, vfio_pm_config_write,
// __vfio_pci_memory_enabled, init_pci_ext_cap_pwr_perm, vfio_exp_config_write + pcie_set_readrq) and
// the 6.18 value of PCI_CAP_EXP_ENDPOINT_SIZEOF_V2.
describe('power management and PCIe details', () => {
  /** The offset of capability `id` in the device's config space, through the virtual list. */
  const cap = (o: O, id: number): number => {
    for (let pos = rd(o, 0x34, 1); pos; pos = rd(o, pos + 1, 1)) if (rd(o, pos, 1) === id) return pos;
    throw new Error(`no capability ${id}`);
  };

  it('PME_En and PME_Status read 0 and never reach hardware; PowerState does', () => {
    const o = openDevice(NIC, GROUP.nic);
    const hw = o.host.control.pci.device(NIC);
    const pm = cap(o, 0x01);
    wr(o, pm + 4, 2, 0x8100);
    expect(rd(o, pm + 4, 2) & 0x8100).toBe(0);
    expect(hw.configRead(pm + 4, 2) & 0x8100).toBe(0);
    wr(o, pm + 4, 2, 0x0003);
    expect(hw.configRead(pm + 4, 2) & 3).toBe(3);
  });

  it('in D3hot the BARs are off: pread/pwrite EIO, mappings SIGBUS, until PowerState is D0 again', () => {
    const o = openDevice(NIC, GROUP.nic);
    const pm = cap(o, 0x01);
    wr(o, 0x04, 2, rd(o, 0x04, 2) | 0x2);
    const bar = o.p.mmap(null, 0x1000, 3, 1, o.device, 0);
    const status = bar.read32(4);
    wr(o, pm + 4, 2, 3);
    expect(() => o.p.pread(o.device, new Uint8Array(4), REGION(0) + 4)).toThrow(/EIO/);
    expect(() => bar.read32(4)).toThrow(/SIGBUS .*D3hot/);
    wr(o, pm + 4, 2, 0);
    expect(bar.read32(4)).toBe(status);
  });

  it('a Max Read Request code above 4096 bytes stays virtual (pcie_set_readrq refuses it)', () => {
    const o = openDevice(NIC, GROUP.nic);
    const hw = o.host.control.pci.device(NIC);
    const exp = cap(o, 0x10);
    const before = hw.configRead(exp + 8, 2) & 0x7000;
    wr(o, exp + 8, 2, (rd(o, exp + 8, 2) & ~0x7000) | 0x6000);
    expect(rd(o, exp + 8, 2) & 0x7000).toBe(0x6000);
    expect(hw.configRead(exp + 8, 2) & 0x7000).toBe(before);
    wr(o, exp + 8, 2, (rd(o, exp + 8, 2) & ~0x7000) | 0x5000);
    expect(hw.configRead(exp + 8, 2) & 0x7000).toBe(0x5000);
  });

  it('Link Status 2 is inside the PCIe capability (0x34 bytes): read from hardware, writes dropped', () => {
    const o = openDevice(NIC, GROUP.nic);
    const hw = o.host.control.pci.device(NIC);
    const exp = cap(o, 0x10);
    const lnksta2 = hw.configRead(exp + 0x32, 2);
    wr(o, exp + 0x32, 2, 0xffff);
    expect(hw.configRead(exp + 0x32, 2)).toBe(lnksta2);
    expect(rd(o, exp + 0x32, 2)).toBe(lnksta2);
  });

  it('Power Budgeting: the header is virtual and the Data Select byte takes no writes (the source opens PCI_PWR_DATA, read-only in hardware)', () => {
    const o = gpu();
    const hw = o.host.control.pci.device(GPU);
    wr(o, 0x128 + 4, 1, 5);
    expect(hw.configRead(0x128 + 4, 1)).toBe(0);
    const header = rd(o, 0x128, 4);
    wr(o, 0x128, 4, 0);
    expect(rd(o, 0x128, 4)).toBe(header);
  });
});
