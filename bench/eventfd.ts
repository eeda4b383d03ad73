// Foundation benchmarks: eventfd write+read pairs and ioctl dispatch through the model's syscall
// layer, each next to a bare-JavaScript baseline of the same work and to the real kernel's pair.
import { Host } from '../src/index.js';
import { EFD_NONBLOCK } from '../include-ts/linux/eventfd.js';
import { FIONREAD } from '../include-ts/asm-generic/ioctls.js';
import { bytesPerOp, compareRates, type BenchResult } from './lib/harness.js';

/** The same work as the model's eventfd pair, in bare JS: parse 8 bytes, add with overflow check, read back and zero. */
class BareCounter {
  lo = 0;
  hi = 0;
  write(b: Uint8Array): number {
    const lo = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    const hi = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
    let slo = this.lo + lo;
    let c = 0;
    if (slo >= 0x1_0000_0000) {
      slo -= 0x1_0000_0000;
      c = 1;
    }
    const shi = this.hi + hi + c;
    if (shi >= 0x1_0000_0000) return -1;
    this.lo = slo;
    this.hi = shi;
    return 8;
  }
  read(b: Uint8Array): number {
    if (this.lo === 0 && this.hi === 0) return -1;
    for (let i = 0; i < 4; i++) {
      b[i] = (this.lo >>> (i * 8)) & 0xff;
      b[4 + i] = (this.hi >>> (i * 8)) & 0xff;
    }
    this.lo = this.hi = 0;
    return 8;
  }
}

export async function run(): Promise<BenchResult[]> {
  const p = Host.create().spawn();
  const fd = p.eventfd(0, EFD_NONBLOCK);
  const one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
  const out = new Uint8Array(8);
  const pair = () => {
    p.write(fd, one);
    p.read(fd, out);
  };
  const bare = new BareCounter();
  const barePair = () => {
    bare.write(one);
    bare.read(out);
  };
  const [r, w] = p.pipe();
  p.write(w, new Uint8Array(3));
  const n = new Int32Array(1);
  const ioctl = () => p.ioctl(r, FIONREAD, n);
  const bareIoctl = (() => {
    const view = new Uint8Array(n.buffer);
    const len = 3;
    return () => {
      view[0] = len;
      view[1] = view[2] = view[3] = 0;
    };
  })();
  const pairs = compareRates(pair, barePair);
  const ioctls = compareRates(ioctl, bareIoctl);
  return [
    { name: 'eventfd write+read pair (model)', ...pairs, unit: 'pairs/s', vsKernel: true, target: '>= 5x the real kernel, within 3x of bare JS' },
    { name: 'eventfd pair allocations once warm', rate: bytesPerOp(pair), unit: 'bytes/pair', target: '0' },
    { name: 'ioctl dispatch (FIONREAD on a pipe)', ...ioctls, unit: 'ioctls/s', vsKernel: true },
    { name: 'ioctl dispatch allocations once warm', rate: bytesPerOp(ioctl), unit: 'bytes/ioctl', target: '0' },
  ];
}
