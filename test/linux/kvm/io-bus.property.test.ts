// Property: the in-kernel I/O bus (src/linux/kvm/io-bus.ts; virt/kvm/kvm_main.c kvm_io_bus_register_dev,
// kvm_io_bus_unregister_dev, kvm_io_bus_get_first_dev, __kvm_io_bus_read/__kvm_io_bus_write) offers an
// access to the devices whose range covers it (kvm_io_bus_cmp() == 0: inside the range, or at the exact
// address of a zero-length range), in (address, end) order, until one handles it. The bus finds its
// first candidate by binary search; the reference model scans every registered range, so a search
// that skips a covering device, or offers devices in another order, is caught.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IoBus, type IoDevice } from '../../../src/linux/kvm/io-bus.js';
import { fcParams } from '../../support/runs.js';

interface Dev extends IoDevice {
  readonly id: number;
  readonly addr: number;
  readonly len: number;
  /** Handles accesses whose value (write) or address (read) is even: some covering devices decline. */
  readonly picky: boolean;
}

class Model {
  readonly devs: Dev[] = [];
}

interface Real {
  readonly bus: IoBus;
  readonly log: number[];
}

function handles(d: Dev, key: number): boolean {
  return !d.picky || key % 2 === 0;
}

function covers(d: Dev, addr: number, len: number): boolean {
  return d.len === 0 ? addr === d.addr : addr >= d.addr && addr + len <= d.addr + d.len;
}

/** The model's answer: ids offered, in order, until one handled (-1 appended when none did). */
function offered(m: Model, addr: number, len: number, key: number): number[] {
  const sorted = [...m.devs].sort((a, b) => a.addr - b.addr || a.addr + a.len - (b.addr + b.len) || m.devs.indexOf(a) - m.devs.indexOf(b));
  const out: number[] = [];
  for (const d of sorted) {
    if (!covers(d, addr, len)) continue;
    out.push(d.id);
    if (handles(d, key)) return out;
  }
  out.push(-1);
  return out;
}

let nextId = 0;

class Register implements fc.Command<Model, Real> {
  constructor(readonly addr: number, readonly len: number, readonly picky: boolean) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const id = nextId++;
    const log = r.log;
    const d: Dev = {
      id, addr: this.addr, len: this.len, picky: this.picky,
      read: (a) => (log.push(id), handles(d, a) ? a : -1),
      write: (_a, _l, v) => (log.push(id), handles(d, v)),
    };
    r.bus.register(this.addr, this.len, d);
    m.devs.push(d);
  }
  toString(): string {
    return `register(0x${this.addr.toString(16)}, ${this.len}${this.picky ? ', picky' : ''})`;
  }
}

class Unregister implements fc.Command<Model, Real> {
  constructor(readonly pick: number) {}
  check(m: Readonly<Model>): boolean {
    return m.devs.length > 0;
  }
  run(m: Model, r: Real): void {
    const d = m.devs[this.pick % m.devs.length]!;
    r.bus.unregister(d);
    m.devs.splice(m.devs.indexOf(d), 1);
  }
  toString(): string {
    return `unregister(#${this.pick})`;
  }
}

class Access implements fc.Command<Model, Real> {
  constructor(readonly write: boolean, readonly addr: number, readonly len: number, readonly value: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.log.length = 0;
    const key = this.write ? this.value : this.addr;
    const done = this.write ? r.bus.write(this.addr, this.len, this.value) : r.bus.read(this.addr, this.len) >= 0;
    const got = done ? [...r.log] : [...r.log, -1];
    expect(got).toEqual(offered(m, this.addr, this.len, key));
  }
  toString(): string {
    return `${this.write ? 'write' : 'read'}(0x${this.addr.toString(16)}, ${this.len}${this.write ? `, ${this.value}` : ''})`;
  }
}

// Addresses cluster in a small window so ranges overlap, nest and share start addresses.
const addr = fc.integer({ min: 0x1000, max: 0x1040 });
const devLen = fc.constantFrom(0, 1, 2, 4, 8, 0x10, 0x40);
const accLen = fc.constantFrom(1, 2, 4, 8);

describe('IoBus dispatch (kvm_io_bus_get_first_dev + __kvm_io_bus_write/read)', () => {
  it('every access is offered to exactly the covering devices, in (address, end) order, until one handles it', () => {
    const cmds = [
      fc.tuple(addr, devLen, fc.boolean()).map(([a, l, p]) => new Register(a, l, p)),
      fc.nat(31).map((i) => new Unregister(i)),
      fc.tuple(fc.boolean(), addr, accLen, fc.nat(3)).map(([w, a, l, v]) => new Access(w, a, l, v)),
    ];
    fc.assert(
      fc.property(fc.commands(cmds, { size: '+1' }), (c) => {
        fc.modelRun(() => ({ model: new Model(), real: { bus: new IoBus('test'), log: [] } }), c);
      }),
      fcParams(300),
    );
  });
});
