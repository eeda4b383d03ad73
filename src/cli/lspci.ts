// An lspci for the modeled machine (pciutils lspci.c, ls-caps.c, ls-ecaps.c, lib/dump.c): `-v` listings
// in lspci's words, and `-x`/`-xxx`/`-xxxx` hex dumps in the format `lspci -F` reads back (a
// "bb:dd.f description" line, then "%02x:" + 16 × " %02x" per line, a blank line between devices).
// Everything decodes from a configuration-space buffer, so it works as well on what a VMM reads through
// the VFIO config region as on the hardware's own registers.

import { getU16, getU32 } from '../../abi/bytes.js';

export interface LspciEntry {
  /** "0000:01:00.0" or "01:00.0". */
  readonly bdf: string;
  /** 64, 256 or 4096 bytes (more is ignored). */
  readonly config: Uint8Array;
  /** Human description after the class (lspci would take it from pci.ids). */
  readonly name?: string;
  /** BAR sizes by index (a config buffer alone cannot tell them without sizing). */
  readonly barSizes?: ReadonlyArray<number | undefined>;
  readonly romSize?: number;
  readonly irq?: number;
  readonly driver?: string | null;
  readonly modules?: readonly string[];
}

const CLASS_NAMES: Record<number, string> = {
  0x0000: 'Non-VGA unclassified device', 0x0001: 'VGA compatible unclassified device',
  0x0100: 'SCSI storage controller', 0x0106: 'SATA controller', 0x0108: 'Non-Volatile memory controller',
  0x0200: 'Ethernet controller', 0x0280: 'Network controller',
  0x0300: 'VGA compatible controller', 0x0302: '3D controller', 0x0380: 'Display controller',
  0x0401: 'Multimedia audio controller', 0x0403: 'Audio device',
  0x0600: 'Host bridge', 0x0601: 'ISA bridge', 0x0604: 'PCI bridge', 0x0680: 'Bridge',
  0x0700: 'Serial controller', 0x0780: 'Communication controller',
  0x0c03: 'USB controller', 0x0c05: 'SMBus', 0x0880: 'System peripheral',
};

const shortBdf = (bdf: string) => (bdf.length === 12 && bdf.startsWith('0000:') ? bdf.slice(5) : bdf);
const h2 = (v: number) => v.toString(16).padStart(2, '0');
const h4 = (v: number) => v.toString(16).padStart(4, '0');

/** `lspci -x` (64 bytes), `-xxx` (256) or `-xxxx` (4096) for one device, in the format `lspci -F` accepts. */
export function hexDump(e: LspciEntry, bytes: 64 | 256 | 4096, header = true): string {
  const n = Math.min(bytes, e.config.length);
  const lines: string[] = [];
  if (header) lines.push(`${shortBdf(e.bdf)} ${describe(e)}`);
  for (let o = 0; o < n; o += 16) {
    let l = `${o.toString(16).padStart(2, '0')}:`;
    for (let i = 0; i < 16; i++) l += ` ${h2(e.config[o + i]!)}`;
    lines.push(l);
  }
  return lines.join('\n') + '\n';
}

function className(cfg: Uint8Array): string {
  const cls = getU16(cfg, 0x0a);
  return CLASS_NAMES[cls] ?? (cls === 0x00ff ? 'Unclassified device' : `Class ${h4(cls)}`);
}

const PROG_IF: Record<number, string> = { 0x030000: 'VGA controller', 0x060400: 'Normal decode', 0x060401: 'Subtractive decode' };

function describe(e: LspciEntry, verbose = false): string {
  const c = e.config;
  const rev = c[0x08]!;
  const name = e.name ?? `Device ${h4(getU16(c, 0))}:${h4(getU16(c, 2))}`;
  const cls = (c[0x0b]! << 16) | (c[0x0a]! << 8) | c[0x09]!;
  const pi = PROG_IF[cls];
  const progIf = verbose && (c[0x09] || pi) ? ` (prog-if ${h2(c[0x09]!)}${pi ? ` [${pi}]` : ''})` : '';
  return `${className(c)}: ${name}${rev ? ` (rev ${h2(rev)})` : ''}${progIf}`;
}

function sizeText(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T'];
  let u = 0;
  while (n >= 1024 && n % 1024 === 0 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n}${units[u]}`;
}

/** The capability line lspci prints for a standard capability at `pos` (ls-caps.c). */
export function capLine(cfg: Uint8Array, pos: number): string {
  const id = cfg[pos]!;
  const flag = (b: boolean) => (b ? '+' : '-');
  switch (id) {
    case 0x01: return `Power Management version ${getU16(cfg, pos + 2) & 7}`;
    case 0x05: {
      const ctl = getU16(cfg, pos + 2);
      return `MSI: Enable${flag(!!(ctl & 1))} Count=${1 << ((ctl >> 4) & 7)}/${1 << ((ctl >> 1) & 7)} Maskable${flag(!!(ctl & 0x100))} 64bit${flag(!!(ctl & 0x80))}`;
    }
    case 0x09: return `Vendor Specific Information: Len=${h2(cfg[pos + 2]!)} <?>`;
    case 0x10: {
      const f = getU16(cfg, pos + 2);
      const t = (f >> 4) & 0xf;
      const slot = (f & 0x100) !== 0;
      const types: Record<number, string> = {
        0: 'Endpoint', 1: 'Legacy Endpoint', 4: `Root Port (Slot${flag(slot)})`, 5: 'Upstream Port',
        6: `Downstream Port (Slot${flag(slot)})`, 7: 'PCI-Express to PCI/PCI-X Bridge', 8: 'PCI/PCI-X to PCI-Express Bridge',
        9: 'Root Complex Integrated Endpoint', 10: 'Root Complex Event Collector',
      };
      // lspci -v names no version (-vv adds "(v2)").
      return `Express ${types[t] ?? `Unknown type ${t}`}, MSI ${h2((f >> 9) & 0x1f)}`;
    }
    case 0x11: {
      const ctl = getU16(cfg, pos + 2);
      return `MSI-X: Enable${flag(!!(ctl & 0x8000))} Count=${(ctl & 0x7ff) + 1} Masked${flag(!!(ctl & 0x4000))}`;
    }
    case 0x13: return 'PCI Advanced Features';
    default: return `#${h2(id)} [${h4(getU16(cfg, pos + 2))}]`;
  }
}

/** The capability line lspci prints for an extended capability at `pos` (ls-ecaps.c). */
export function ecapLine(cfg: Uint8Array, pos: number): string {
  const hdr = getU32(cfg, pos);
  const id = hdr & 0xffff;
  const ver = (hdr >>> 16) & 0xf;
  switch (id) {
    case 0x01: return `Advanced Error Reporting`;
    case 0x02: case 0x09: return 'Virtual Channel';
    case 0x03: {
      const lo = getU32(cfg, pos + 4);
      const hi = getU32(cfg, pos + 8);
      const b = [hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
      return `Device Serial Number ${b.map(h2).join('-')}`;
    }
    case 0x04: return 'Power Budgeting <?>';
    case 0x0b: {
      const v = getU32(cfg, pos + 4);
      return `Vendor Specific Information: ID=${h4(v & 0xffff)} Rev=${(v >>> 16) & 0xf} Len=${((v >>> 20) & 0xfff).toString(16).padStart(3, '0')} <?>`;
    }
    case 0x0d: return 'Access Control Services';
    case 0x18: return 'Latency Tolerance Reporting';
    case 0x19: return 'Secondary PCI Express';
    case 0x1e: return 'L1 PM Substates';
    case 0x00: return ver === 0 ? 'Null' : `Extended Capability ID 0x0`;
    default: return `Extended Capability ID ${id.toString(16)}`;
  }
}

/** The capability lines in chain order: standard from 0x34, extended from 0x100 (256+ byte buffers). */
export function capabilityLines(cfg: Uint8Array): string[] {
  const out: string[] = [];
  if (getU16(cfg, 0x06) & 0x10 && cfg.length >= 256) {
    let pos = cfg[0x34]! & ~3;
    const seen = new Set<number>();
    while (pos && !seen.has(pos) && pos < 256) {
      seen.add(pos);
      if (cfg[pos] === 0xff) {
        out.push(`Capabilities: [${h2(pos)}] <chain broken>`);
        break;
      }
      out.push(`Capabilities: [${h2(pos)}] ${capLine(cfg, pos)}`);
      pos = cfg[pos + 1]! & ~3;
    }
  }
  if (cfg.length >= 4096) {
    let pos = 0x100;
    const seen = new Set<number>();
    while (pos && !seen.has(pos)) {
      seen.add(pos);
      const hdr = getU32(cfg, pos);
      if (hdr === 0 || hdr === 0xffffffff) break;
      out.push(`Capabilities: [${pos.toString(16)}${pos < 0x1000 ? '' : ''}] ${ecapLine(cfg, pos)}`);
      pos = (hdr >>> 20) & 0xffc;
    }
  }
  return out;
}

/** `lspci -v` for one device. */
export function verbose(e: LspciEntry): string {
  const c = e.config;
  const lines: string[] = [`${shortBdf(e.bdf)} ${describe(e, true)}`];
  const hdrType = c[0x0e]! & 0x7f;
  if (hdrType === 0) {
    const sv = getU16(c, 0x2c);
    const sd = getU16(c, 0x2e);
    if (sv || sd) lines.push(`\tSubsystem: Device ${h4(sv)}:${h4(sd)}`);
  }
  const cmd = getU16(c, 0x04);
  const status = getU16(c, 0x06);
  const flags: string[] = [];
  if (cmd & 4) flags.push('bus master');
  const devsel = status & 0x600;
  flags.push(`${devsel === 0x400 ? 'slow' : devsel === 0x200 ? 'medium' : devsel === 0 ? 'fast' : '??'} devsel`);
  if (cmd & 4) flags.push(`latency ${c[0x0d]}`);
  if (e.irq) flags.push(`IRQ ${e.irq}`);
  lines.push(`\tFlags: ${flags.join(', ')}`);
  const nbars = hdrType === 0 ? 6 : 2;
  for (let i = 0; i < nbars; i++) {
    const v = getU32(c, 0x10 + i * 4);
    const size = e.barSizes?.[i];
    if (!v && !size) continue;
    const sz = size ? ` [size=${sizeText(size)}]` : '';
    if (v & 1) {
      lines.push(`\tI/O ports at ${(v & ~3).toString(16).padStart(4, '0')}${(cmd & 1) ? '' : ' [disabled]'}${sz}`);
    } else {
      const is64 = (v & 6) === 4;
      const hi = is64 ? getU32(c, 0x14 + i * 4) : 0;
      const addr = ((v & ~0xf) >>> 0) + hi * 0x1_0000_0000;
      lines.push(`\tMemory at ${addr.toString(16).padStart(8, '0')} (${is64 ? '64-bit' : '32-bit'}, ${v & 8 ? 'prefetchable' : 'non-prefetchable'})${(cmd & 2) ? '' : ' [disabled]'}${sz}`);
      if (is64) i++;
    }
  }
  if (hdrType === 1) lines.push(`\tBus: primary=${h2(c[0x18]!)}, secondary=${h2(c[0x19]!)}, subordinate=${h2(c[0x1a]!)}, sec-latency=${c[0x1b]}`);
  const romReg = hdrType === 0 ? 0x30 : 0x38;
  const rom = getU32(c, romReg);
  if (rom & ~0x7ff) lines.push(`\tExpansion ROM at ${((rom & ~0x7ff) >>> 0).toString(16).padStart(8, '0')}${rom & 1 ? '' : ' [disabled]'}${e.romSize ? ` [size=${sizeText(e.romSize)}]` : ''}`);
  for (const l of capabilityLines(c)) lines.push(`\t${l}`);
  if (e.driver) lines.push(`\tKernel driver in use: ${e.driver}`);
  if (e.modules?.length) lines.push(`\tKernel modules: ${e.modules.join(', ')}`);
  return lines.join('\n') + '\n';
}
