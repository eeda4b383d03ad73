// The lspci command and dump format, checked by the real lspci (pciutils, `lspci -F` reads dumps:
// lib/dump.c) — an external oracle for the config-space models, including the GM107 of seed 000.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host } from '../../src/host.js';
import { lspci, lspciEntry } from '../../src/cli/main.js';
import { capabilityLines, hexDump } from '../../src/cli/lspci.js';
import { GPU, GPU_AUDIO, GROUP, V, bindVfio, openDevice } from '../support/vfio.js';
import { GM107_CAPS_LSPCI_V } from '../support/gm107.js';

const LSPCI = ['/usr/bin/lspci', '/usr/sbin/lspci', '/bin/lspci'].find((p) => existsSync(p));
if (!LSPCI) console.warn('lspci (pciutils) is not installed: the real-lspci oracle tests are skipped (.ci/run installs it)');

function realLspci(dump: string, args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'lspci-'));
  try {
    const f = join(dir, 'dump.txt');
    writeFileSync(f, dump);
    return execFileSync(LSPCI!, [...args, '-F', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const caps = (text: string) => text.split('\n').filter((l) => l.trim().startsWith('Capabilities:')).map((l) => l.trim());

/** The GM107's capability list as seed 000 prints it (`lspci -v`, 2014). */
const SEED_GM107 = [
  'Capabilities: [60] Power Management version 3',
  'Capabilities: [68] MSI: Enable+ Count=1/1 Maskable- 64bit+',
  'Capabilities: [78] Express Legacy Endpoint, MSI 00',
  'Capabilities: [100] Virtual Channel',
  'Capabilities: [250] Latency Tolerance Reporting',
  'Capabilities: [258] L1 PM Substates',
  'Capabilities: [128] Power Budgeting <?>',
  'Capabilities: [600] Vendor Specific Information: ID=0001 Rev=1 Len=024 <?>',
  'Capabilities: [900] #19',
];

describe.runIf(LSPCI)('real lspci -F on our dumps', () => {
  it('the GM107 model decodes to the seed\'s capability list (MSI enabled as in the seed; pciutils 3.9 names #19 "Secondary PCI Express")', () => {
    const host = Host.create();
    const gpu = host.control.pci.device(GPU);
    gpu.configWrite(gpu.msi!.offset + 2, 2, 1); // the seed's host driver had MSI enabled
    const out = realLspci(hexDump(lspciEntry(host, gpu), 4096), ['-v']);
    const expected = SEED_GM107.map((l) => l.replace('[900] #19', '[900] Secondary PCI Express'));
    expect(caps(out)).toEqual(expected);
    expect(expected.map((l) => l.replace('Enable+', 'Enable-'))).toEqual(GM107_CAPS_LSPCI_V);
    expect(out).toContain('VGA compatible controller: NVIDIA Corporation GM107 [GeForce GTX 750] (rev a2)');
    expect(out).toContain('Subsystem: eVga.com. Corp. Device 2753');
  });

  it('lspci -vv: the same list with capability versions', () => {
    const host = Host.create();
    const out = realLspci(hexDump(lspciEntry(host, host.control.pci.device(GPU)), 4096), ['-vv']);
    expect(caps(out)).toEqual([
      'Capabilities: [60] Power Management version 3',
      'Capabilities: [68] MSI: Enable- Count=1/1 Maskable- 64bit+',
      'Capabilities: [78] Express (v2) Legacy Endpoint, MSI 00',
      'Capabilities: [100 v1] Virtual Channel',
      'Capabilities: [250 v1] Latency Tolerance Reporting',
      'Capabilities: [258 v1] L1 PM Substates',
      'Capabilities: [128 v1] Power Budgeting <?>',
      'Capabilities: [600 v1] Vendor Specific Information: ID=0001 Rev=1 Len=024 <?>',
      'Capabilities: [900 v1] Secondary PCI Express',
    ]);
  });

  it('every device of the default host: our `lspci -v` capability lines equal the real lspci\'s on our -xxxx dump', () => {
    let dump = '';
    let ours = '';
    const host = Host.create();
    lspci(['-xxxx'], (s) => void (dump += s), host);
    lspci(['-v'], (s) => void (ours += s), host);
    const theirs = realLspci(dump, ['-v']);
    expect(caps(ours)).toEqual(caps(theirs));
    expect(caps(theirs).length).toBeGreaterThan(40);
    expect(theirs).toContain('MSI-X: Enable- Count=2048 Masked-');
    expect(theirs).toContain('Capabilities: [148] Access Control Services');
  });

  it('what a VMM reads through the VFIO config region decodes too (hidden capabilities gone)', () => {
    const host = Host.create();
    bindVfio(host.spawn(), GPU_AUDIO);
    const o = openDevice(GPU, GROUP.gpu, V.VFIO_TYPE1v2_IOMMU, host);
    const cfg = new Uint8Array(4096);
    o.p.pread(o.device, cfg, 7 * 2 ** 40);
    const out = realLspci(hexDump({ bdf: GPU, config: cfg }, 4096), ['-v']);
    expect(caps(out)).toEqual(capabilityLines(cfg));
    expect(caps(out)).not.toContain('Capabilities: [258] L1 PM Substates');
  });
});

describe('vfio-kvm-shim lspci', () => {
  it('-s selects, -x prints 4 lines of 16 bytes, -v prints in lspci\'s words; bad options exit 2', () => {
    let out = '';
    expect(lspci(['-s', '00:03.0', '-x'], (s) => void (out += s))).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('00:03.0 Unclassified device: QEMU edu teaching device (rev 10)');
    expect(lines.slice(1)).toHaveLength(4);
    expect(lines[1]).toBe('00: 34 12 e8 11 00 00 10 02 10 00 ff 00 00 00 00 00');
    out = '';
    lspci(['-v', '-s', '01:00.0'], (s) => void (out += s));
    expect(out).toContain('\tCapabilities: [68] MSI: Enable- Count=1/1 Maskable- 64bit+');
    expect(out).toContain('\tKernel driver in use: nouveau');
    expect(lspci(['-q'], () => {})).toBe(2);
  });
});
