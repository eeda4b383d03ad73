// pci_save_state()/pci_restore_state() bring back what the PCI core saves and nothing else
// (drivers/pci/pci.c): the 16 header dwords (pci_restore_config_space: BARs before Command, a dword
// written only if it reads back different), the PCIe control words pci_save_pcie_state() keeps
// (DEVCTL, LNKCTL, SLTCTL, RTCTL, DEVCTL2, LNKCTL2 — SLTCTL2 is not a register drivers/pci/access.c
// pcie_capability_reg_implemented() knows), LTR latencies and L1 PM Substates when both ends of the
// link have them (drivers/pci/pcie/aspm.c), AER masks/severities/control after clearing its status
// (drivers/pci/pcie/aer.c), VC Resource Control (drivers/pci/vc.c), then MSI (the MSI layer) and ACS.
// The PM control/status register, an MSI capability the kernel has not enabled, the power budget data
// select and anything else stay as the reset left them.
import { describe, expect, it, vi } from 'vitest';
import { Host } from '../../../src/host.js';
import { Gm107Gpu } from '../../../src/hw/devices/gm107.js';
import { PciBridge } from '../../../src/hw/pci/bridge.js';
import { addPcieCap, addRawExtCap, addVcCap } from '../../../src/hw/pci/caps.js';
import { PciFunction } from '../../../src/hw/pci/function.js';
import { ConfigPort } from '../../../src/hw/pci/config-port.js';
import {
  PCI_COMMAND, PCI_ERR_COR_STATUS, PCI_ERR_UNCOR_MASK, PCI_ERR_UNCOR_SEVER, PCI_EXP_DEVCTL, PCI_EXP_LNKCTL,
  PCI_EXP_FLAGS, PCI_EXP_FLAGS_SLOT, PCI_EXP_SLTCTL, PCI_EXP_TYPE_PCIE_BRIDGE, PCI_EXT_CAP_ID_MFVC,
  PCI_L1SS_CTL1, PCI_L1SS_CTL2, PCI_LTR_MAX_SNOOP_LAT, PCI_MSI_ADDRESS_LO, PCI_PM_CTRL, PCI_VC_PORT_CTRL, PCI_VC_RES_CTRL,
} from '../../../include-ts/linux/pci_regs.js';

const ConfigPortWrite = ConfigPort.prototype.write;

// Gm107Gpu's layout (src/hw/devices/gm107.ts).
const PM = 0x60;
const MSI = 0x68;
const EXP = 0x78;
const VC = 0x100;
const PWR = 0x128;
const LTR = 0x250;
const L1SS = 0x258;
const GPU = '0000:01:00.0';

describe('pci_restore_state restores what pci_save_state saved, and nothing else', () => {
  it('a secondary bus reset (pci_reset_bus): DEVCTL, LTR, VC and the header come back; PM, MSI (not enabled), power budget and L1SS (the port has none) do not', () => {
    const h = Host.create();
    const k = h.kernel;
    const gpu = k.pci.get(GPU)!;
    gpu.writeConfig(PM + PCI_PM_CTRL, 2, 0x0100); // PME_En
    gpu.writeConfig(MSI + PCI_MSI_ADDRESS_LO, 4, 0xfee01000);
    gpu.writeConfig(PWR + 4, 1, 3); // Data Select
    gpu.writeConfig(L1SS + PCI_L1SS_CTL1, 4, 0x0000000f);
    gpu.writeConfig(EXP + PCI_EXP_DEVCTL, 2, 0x2000); // Relaxed Ordering and No Snoop off
    gpu.writeConfig(LTR + PCI_LTR_MAX_SNOOP_LAT, 4, 0x10031003);
    gpu.writeConfig(VC + PCI_VC_RES_CTRL, 4, 0x80000003);
    const cmd = gpu.readConfig(PCI_COMMAND, 2) | 0x6;
    gpu.writeConfig(PCI_COMMAND, 2, cmd);
    const bar0 = gpu.readConfig(0x10, 4);
    const resets = gpu.hw.resets;
    k.pci.resetBus(gpu);
    expect(gpu.hw.resets).toBe(resets + 1);
    // Saved and restored.
    expect(gpu.readConfig(EXP + PCI_EXP_DEVCTL, 2)).toBe(0x2000);
    expect(gpu.readConfig(LTR + PCI_LTR_MAX_SNOOP_LAT, 4)).toBe(0x10031003);
    expect(gpu.readConfig(VC + PCI_VC_RES_CTRL, 4) >>> 0).toBe(0x80000003);
    expect(gpu.readConfig(PCI_COMMAND, 2)).toBe(cmd);
    expect(gpu.readConfig(0x10, 4)).toBe(bar0);
    // Never saved: as the reset left them.
    expect(gpu.readConfig(PM + PCI_PM_CTRL, 2) & 0x0100).toBe(0);
    expect(gpu.readConfig(MSI + PCI_MSI_ADDRESS_LO, 4)).toBe(0);
    expect(gpu.readConfig(PWR + 4, 1)).toBe(0);
    expect(gpu.readConfig(L1SS + PCI_L1SS_CTL1, 4)).toBe(0);
  });

  it('L1 PM Substates are saved and restored when the port above has them too, on both ends of the link (aspm.c pci_restore_aspm_l1ss_state)', () => {
    const gpuHw = new Gm107Gpu();
    const h = Host.create({
      preset: (m) => {
        const rp = m.pci.root.add(0x01, 0, new PciBridge({ kind: 'root-port', slot: 1, l1ss: true }));
        rp.secondary.add(0, 0, gpuHw);
      },
    });
    const k = h.kernel;
    const gpu = k.pci.get(GPU)!;
    const port = gpu.parent!;
    const pl1 = port.hw.cfg.findCap(0x1e, true)!.offset;
    const pexp = port.hw.cfg.findCap(0x10)!.offset;
    gpu.writeConfig(L1SS + PCI_L1SS_CTL2, 4, 0x28);
    gpu.writeConfig(L1SS + PCI_L1SS_CTL1, 4, 0x00a00005); // LTR_L1.2_THRESHOLD + the L1.2 enables
    gpu.writeConfig(EXP + PCI_EXP_LNKCTL, 2, gpu.readConfig(EXP + PCI_EXP_LNKCTL, 2) | 0x2); // ASPM L1
    port.writeConfig(pl1 + PCI_L1SS_CTL2, 4, 0x28);
    port.writeConfig(pl1 + PCI_L1SS_CTL1, 4, 0x00a00005);
    port.writeConfig(pexp + PCI_EXP_LNKCTL, 2, port.readConfig(pexp + PCI_EXP_LNKCTL, 2) | 0x2);
    expect(k.pci.resetMethod(gpu)).toBe('bus'); // alone below the port, no FLR
    expect(k.pci.resetFunction(gpu)).toBe(true);
    expect(gpu.readConfig(L1SS + PCI_L1SS_CTL1, 4)).toBe(0x00a00005);
    expect(gpu.readConfig(L1SS + PCI_L1SS_CTL2, 4)).toBe(0x28);
    expect(gpu.readConfig(EXP + PCI_EXP_LNKCTL, 2) & 0x3).toBe(0x2);
    expect(port.readConfig(pl1 + PCI_L1SS_CTL1, 4)).toBe(0x00a00005);
    expect(port.readConfig(pexp + PCI_EXP_LNKCTL, 2) & 0x3).toBe(0x2);
  });

  it('AER: status cleared, masks and severities restored (aer.c pci_aer_clear_status, pci_restore_aer_state)', () => {
    const h = Host.create();
    const nic = h.kernel.pci.get('0000:06:00.0')!;
    const aer = nic.hw.cfg.findCap(0x01, true)!.offset;
    nic.writeConfig(aer + PCI_ERR_UNCOR_MASK, 4, 0x00100000);
    nic.writeConfig(aer + PCI_ERR_UNCOR_SEVER, 4, 0x00062030);
    nic.saveState();
    nic.hw.cfg.bytes[aer + PCI_ERR_COR_STATUS] = 0x01; // a correctable error logged after the save
    nic.restoreState(); // no reset in between: the restore alone
    expect(nic.readConfig(aer + PCI_ERR_COR_STATUS, 4)).toBe(0);
    expect(nic.readConfig(aer + PCI_ERR_UNCOR_MASK, 4)).toBe(0x00100000);
    expect(nic.readConfig(aer + PCI_ERR_UNCOR_SEVER, 4)).toBe(0x00062030);
  });

  it('the header: from dword 15 down, BARs before Command, a dword written only when it reads back different, BARs retried up to 10 times (pci.c pci_restore_config_space / pci_restore_config_dword)', () => {
    const h = Host.create();
    const gpu = h.kernel.pci.get(GPU)!;
    gpu.writeConfig(PCI_COMMAND, 2, gpu.readConfig(PCI_COMMAND, 2) | 0x6);
    gpu.saveState();
    const s = gpu.savedState!;
    gpu.hw.reset();
    const differs = [...s.config.keys()].filter((i) => gpu.readConfig(i * 4, 4) !== s.config[i]);
    // Each differing header dword once, in the kernel's order; equal ones (IDs, class) never.
    const writes = headerWrites(gpu.hw.configPort, () => gpu.restoreState());
    expect(writes).toEqual([15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0].filter((i) => differs.includes(i)));
    expect(writes).not.toContain(0);
    expect(writes.indexOf(4)).toBeGreaterThanOrEqual(0);
    expect(writes.indexOf(4)).toBeLessThan(writes.indexOf(1));

    // A BAR value that never reads back is written 1 + 10 times; any other dword once.
    s.config[4] = 0xffffffff;
    s.config[0] = 0x12345678;
    const again = headerWrites(gpu.hw.configPort, () => gpu.restoreState());
    expect(again.filter((i) => i === 4)).toHaveLength(11);
    expect(again.filter((i) => i === 0)).toHaveLength(1);
  });

  it('every VC-type capability is saved and restored, not just the first found (vc.c vc_caps[]: MFVC, VC, VC9)', () => {
    const { fn, dev } = twoVcBridge();
    dev.writeConfig(TwoVcBridge.MFVC + PCI_VC_PORT_CTRL, 2, 0x0002);
    dev.writeConfig(TwoVcBridge.MFVC + PCI_VC_RES_CTRL, 4, 0x80000005);
    dev.writeConfig(TwoVcBridge.VC + PCI_VC_RES_CTRL, 4, 0x80000009);
    dev.saveState();
    fn.reset();
    expect(dev.readConfig(TwoVcBridge.MFVC + PCI_VC_RES_CTRL, 4) >>> 0).toBe(0x800000ff);
    dev.restoreState();
    expect(dev.readConfig(TwoVcBridge.MFVC + PCI_VC_PORT_CTRL, 2)).toBe(0x0002);
    expect(dev.readConfig(TwoVcBridge.MFVC + PCI_VC_RES_CTRL, 4) >>> 0).toBe(0x80000005);
    expect(dev.readConfig(TwoVcBridge.VC + PCI_VC_RES_CTRL, 4) >>> 0).toBe(0x80000009);
  });

  it('a PCI/PCI-X-to-PCIe bridge with a slot gets its Slot Control back (access.c pcie_cap_has_sltctl: pcie_downstream_port)', () => {
    const { fn, dev } = twoVcBridge();
    dev.writeConfig(TwoVcBridge.EXP + PCI_EXP_SLTCTL, 2, 0x0028);
    dev.saveState();
    fn.reset();
    expect(dev.readConfig(TwoVcBridge.EXP + PCI_EXP_SLTCTL, 2)).toBe(0);
    dev.restoreState();
    expect(dev.readConfig(TwoVcBridge.EXP + PCI_EXP_SLTCTL, 2)).toBe(0x0028);
  });
});

/** The header dwords (index) written through `port` while `fn` runs, in order. */
function headerWrites(port: ConfigPort, fn: () => void): number[] {
  const writes: number[] = [];
  const spy = vi.spyOn(port, 'write').mockImplementation(function (this: ConfigPort, off, size, value) {
    if (off < 0x40) writes.push(off / 4);
    ConfigPortWrite.call(this, off, size, value);
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return writes;
}

function twoVcBridge() {
  const fn = new TwoVcBridge();
  const h = Host.create({ preset: (m) => void m.pci.root.add(2, 0, fn) });
  return { fn, dev: h.kernel.pci.get('0000:00:02.0')! };
}

/** A PCI-to-PCIe bridge function (PCIe type 8, a downstream port) with a slot, and both an MFVC and a VC capability. */
class TwoVcBridge extends PciFunction {
  static readonly EXP = 0x40;
  static readonly VC = 0x100;
  static readonly MFVC = 0x140;

  constructor() {
    super({ id: { vendor: 0x8086, device: 0x1234, revision: 1, classCode: 0x060400, name: 'test PCI/PCI-X to PCIe bridge' }, pcie: true });
    const cs = this.cfg;
    const exp = addPcieCap(cs, { type: PCI_EXP_TYPE_PCIE_BRIDGE }, TwoVcBridge.EXP);
    cs.u16(exp + PCI_EXP_FLAGS, cs.bytes[exp + 2]! | (cs.bytes[exp + 3]! << 8) | PCI_EXP_FLAGS_SLOT);
    cs.writable(exp + PCI_EXP_SLTCTL, 2, 0x1fff);
    addVcCap(cs, TwoVcBridge.VC);
    const mf = addRawExtCap(cs, TwoVcBridge.MFVC, PCI_EXT_CAP_ID_MFVC, 1, 0x1c);
    cs.writable(mf + PCI_VC_PORT_CTRL, 2, 0x000e);
    cs.u32(mf + PCI_VC_RES_CTRL, 0x800000ff);
    cs.writable(mf + PCI_VC_RES_CTRL, 4, 0x000000fe);
    this.finish();
  }
}
