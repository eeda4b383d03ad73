// pread/pwrite of one dword through a vfio-pci device fd: the config region (virtualized config space)
// and a BAR (the edu device's register file), each next to a bare-JavaScript baseline doing the same
// dword access as a function call on a Uint8Array.
import { fileURLToPath } from 'node:url';
import { Host } from '../src/index.js';
import { compareRates, type BenchResult } from './lib/harness.js';
import { bindToVfioPci, openVfioDevice } from '../examples/lib/vfio.js';

const EDU = '0000:00:03.0';
const CONFIG = 7 * 2 ** 40;

function openEdu() {
  const host = Host.create();
  const p = host.spawn();
  const d = openVfioDevice(p, bindToVfioPci(p, EDU), EDU).device;
  return { p, d };
}

/** The bare baseline: a dword load/store on a Uint8Array behind a function call. */
class BareDword {
  readonly mem = new Uint8Array(256);
  read(off: number, out: Uint8Array): number {
    const m = this.mem;
    out[0] = m[off]!;
    out[1] = m[off + 1]!;
    out[2] = m[off + 2]!;
    out[3] = m[off + 3]!;
    return 4;
  }
  write(off: number, src: Uint8Array): number {
    const m = this.mem;
    m[off] = src[0]!;
    m[off + 1] = src[1]!;
    m[off + 2] = src[2]!;
    m[off + 3] = src[3]!;
    return 4;
  }
}

export async function run(): Promise<BenchResult[]> {
  const { p, d } = openEdu();
  const buf = new Uint8Array(4);
  const val = new Uint8Array([0x0b, 0, 0, 0]);
  const bare = new BareDword();
  const results: BenchResult[] = [];
  const add = (name: string, model: () => void, base: () => void, note: string) => {
    const r = compareRates(model, base, 120, 500, 5);
    results.push({ name, rate: r.rate, unit: 'ops/s', baseline: r.baseline, note });
  };
  add('pread config dword (vendor/device)', () => p.pread(d, buf, CONFIG), () => bare.read(0, buf), 'virtualized header read: perms merge hardware and vconfig');
  add('pwrite config dword (Interrupt Line)', () => p.pwrite(d, val, CONFIG + 0x3c), () => bare.write(0x3c, val), 'virtual, writable byte');
  add('pread BAR0 dword (edu liveness)', () => p.pread(d, buf, 0x04), () => bare.read(4, buf), 'BAR access with the Memory Space check');
  add('pwrite BAR0 dword (edu liveness)', () => p.pwrite(d, val, 0x04), () => bare.write(4, val), 'reaches the edu register');
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await run()) console.log(`${r.name}: ${Math.round(r.rate).toLocaleString('en-US')} ${r.unit} | bare ${Math.round(r.baseline!).toLocaleString('en-US')} (${(r.baseline! / r.rate).toFixed(1)}x)`);
}
