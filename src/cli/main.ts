// The command line: `vfio-kvm-shim lspci [-v] [-x|-xxx|-xxxx] [-s [[dom:]bus:]dev.fn]` lists the default
// host's PCI devices the way lspci does (see src/cli/lspci.ts). bin/vfio-kvm-shim.js calls main() from
// dist; `npx tsx --conditions=source src/cli/main.ts lspci -v` runs it from source.

import { fileURLToPath } from 'node:url';
import { Host } from '../host.js';
import { hexDump, verbose, type LspciEntry } from './lspci.js';
import type { PciFunction } from '../hw/pci/function.js';

const USAGE = `usage: vfio-kvm-shim lspci [-v] [-x|-xxx|-xxxx] [-s [[domain:]bus:]device.function]
  -v       verbose: BARs, ROM and capabilities, as lspci -v
  -x       hex dump of the standard header (64 bytes); -xxx: 256 bytes; -xxxx: 4096 bytes
  -s SLOT  only the device(s) at SLOT (e.g. 01:00.0, 01:00, 00:1f.3)`;

/** An lspci entry for a hardware function of `host`. */
export function lspciEntry(host: Host, f: PciFunction): LspciEntry {
  const dev = host.kernel.pci.of(f);
  return {
    bdf: f.bdf,
    config: f.cfg.bytes,
    name: f.id.name,
    barSizes: f.bars.map((b) => b?.size),
    romSize: f.romSize,
    irq: f.intx?.line.gsi ?? 0,
    driver: dev?.driver?.name ?? null,
    modules: host.kernel.pci.modulesFor(dev),
  };
}

function slotMatches(bdf: string, sel: string): boolean {
  const m = /^(?:(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,2}):)?([0-9a-f]{1,2})(?:\.([0-7]))?$/i.exec(sel);
  if (!m) return false;
  const [dom, bus, rest] = bdf.split(':');
  const [dev, fn] = rest!.split('.');
  if (m[1] !== undefined && parseInt(m[1], 16) !== parseInt(dom!, 16)) return false;
  if (m[2] !== undefined && parseInt(m[2], 16) !== parseInt(bus!, 16)) return false;
  if (parseInt(m[3]!, 16) !== parseInt(dev!, 16)) return false;
  if (m[4] !== undefined && Number(m[4]) !== Number(fn)) return false;
  return true;
}

export function lspci(args: readonly string[], out: (s: string) => void, host: Host = Host.create()): number {
  let v = false;
  let x = 0;
  let sel: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-v' || a === '-vv' || a === '-vvv') v = true;
    else if (a === '-x') x = 64;
    else if (a === '-xxx') x = 256;
    else if (a === '-xxxx') x = 4096;
    else if (a === '-s') {
      sel = args[++i] ?? null;
      if (!sel) {
        out(`lspci: -s needs a slot\n${USAGE}\n`);
        return 2;
      }
    } else {
      out(`lspci: unknown option ${a}\n${USAGE}\n`);
      return 2;
    }
  }
  const fns = host.machine.pci.functions().filter((f) => sel === null || slotMatches(f.bdf, sel));
  const blocks: string[] = [];
  for (const f of fns) {
    const e = lspciEntry(host, f);
    let text = v ? verbose(e) : `${hexDump(e, 64, true).split('\n')[0]}\n`;
    if (x) text += hexDump(e, x as 64 | 256 | 4096, false);
    blocks.push(text);
  }
  out(blocks.join(v || x ? '\n' : ''));
  return 0;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const out = (s: string) => process.stdout.write(s);
  switch (cmd) {
    case 'lspci':
      return lspci(rest, out);
    case undefined: case '-h': case '--help': case 'help':
      out(`${USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`vfio-kvm-shim: unknown command ${cmd}\n${USAGE}\n`);
      return 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
