// Property: the IOAPIC and LAPIC models (src/hw/x86) against a small reference model of remote IRR
// and IRR/ISR/TMR, for random sequences of line asserts/deasserts on two sources per pin, guest
// mask/unmask and edge/level reprogramming through MMIO, the CPU taking interrupts, TPR changes and
// EOIs. The reference restates the rules of arch/x86/kvm/ioapic.c (ioapic_set_irq, ioapic_service,
// ioapic_write_indirect, kvm_ioapic_update_eoi_one) and lapic.c (__apic_accept_irq, apic_update_ppr,
// kvm_get_apic_interrupt, apic_set_eoi) without sharing code with them. Sources are OR-ed per pin as
// KVM's __kvm_irq_line_state does; every EOI is forwarded to the IOAPIC with the TMR bit as trigger.
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { Ioapic, type IoapicHooks } from '../../../src/hw/x86/ioapic.js';
import { Lapic, type LapicHooks } from '../../../src/hw/x86/lapic.js';
import { APIC_DM_FIXED, APIC_IRR, APIC_ISR, APIC_TMR } from '../../../src/hw/x86/apicdef.js';
import { Scheduler } from '../../../src/sim/scheduler.js';
import { fcParams } from '../../support/runs.js';
import { TraceBus } from '../../../src/sim/trace.js';

const PINS = [3, 9, 17];
const VECTORS = [0x31, 0x45, 0x48, 0x90];

interface PinModel {
  src: number;
  irr: boolean;
  remote: boolean;
  vector: number;
  level: boolean;
  masked: boolean;
}

class RefModel {
  pins = new Map<number, PinModel>(PINS.map((p) => [p, { src: 0, irr: false, remote: false, vector: 0, level: false, masked: true }]));
  irr = new Set<number>();
  isr = new Set<number>();
  tmr = new Set<number>();
  tpr = 0;

  private deliver(p: PinModel): void {
    // An enabled APIC accepts a fixed interrupt: IRR set, TMR follows the trigger mode.
    this.irr.add(p.vector);
    if (p.level) this.tmr.add(p.vector);
    else this.tmr.delete(p.vector);
    if (p.level) p.remote = true;
  }

  private service(p: PinModel): void {
    if (p.masked || (p.level && p.remote)) return;
    this.deliver(p);
  }

  /** One source of `pin` changes level (the line is the OR of the sources). */
  set(pin: number, source: number, level: boolean): void {
    const p = this.pins.get(pin)!;
    p.src = level ? p.src | (1 << source) : p.src & ~(1 << source);
    if (p.src === 0) {
      p.irr = false;
      return;
    }
    const was = p.irr;
    p.irr = true;
    if (!p.level && was) return; // edge already latched: coalesced
    this.service(p);
  }

  write(pin: number, vector: number, level: boolean, masked: boolean): void {
    const p = this.pins.get(pin)!;
    p.vector = vector;
    p.level = level;
    p.masked = masked;
    if (!level) p.remote = false;
    if (level && p.irr && !masked && !p.remote) this.service(p);
  }

  private ppr(): number {
    const isrv = this.isr.size ? Math.max(...this.isr) : 0;
    return (this.tpr & 0xf0) >= (isrv & 0xf0) ? this.tpr : isrv & 0xf0;
  }

  take(): void {
    if (!this.irr.size) return;
    const v = Math.max(...this.irr);
    if ((v & 0xf0) <= this.ppr()) return;
    this.irr.delete(v);
    this.isr.add(v);
  }

  eoi(): void {
    if (!this.isr.size) return;
    const v = Math.max(...this.isr);
    this.isr.delete(v);
    const level = this.tmr.has(v);
    for (const pin of PINS) {
      const p = this.pins.get(pin)!;
      if (p.vector !== v || !level) continue;
      p.remote = false;
      if (!p.masked && p.irr) this.service(p);
    }
  }
}

class Real {
  readonly hw = { sched: new Scheduler(), trace: new TraceBus() };
  readonly src = new Uint32Array(24);
  readonly apic: Lapic;
  readonly io: Ioapic;

  constructor() {
    const self = this;
    const apicHooks: LapicHooks = {
      eoi: (_a, v, level) => self.io.eoi(v, level, false),
      sendIpi: () => {},
      mapChanged: () => {},
      kick: () => {},
    };
    this.apic = new Lapic(0, apicHooks, this.hw);
    this.apic.mmioWrite(0xf0, 4, 0x1ff);
    const ioHooks: IoapicHooks = {
      deliver: (irq) => self.apic.accept(APIC_DM_FIXED, irq.vector, irq.level, irq.trigMode !== 0),
      coalesced: () => false,
      ack: () => {},
      maskChanged: () => {},
      resampleOnUnmask: () => false,
      eoiDone: (pin, pending) => {
        if (pending) self.io.service(pin, false);
      },
    };
    this.io = new Ioapic(ioHooks, this.hw);
  }

  set(pin: number, source: number, level: boolean): void {
    this.src[pin] = level ? this.src[pin]! | (1 << source) : this.src[pin]! & ~(1 << source);
    this.io.setIrq(pin, this.src[pin] !== 0, false);
  }

  /** The guest writes the low dword of a redirection entry through IOREGSEL/IOWIN. */
  write(pin: number, vector: number, level: boolean, masked: boolean): void {
    this.io.mmioWrite(0x00, 4, 0x10 + 2 * pin);
    this.io.mmioWrite(0x10, 4, vector | (level ? 0x8000 : 0) | (masked ? 0x10000 : 0));
  }
}

type Cmd = fc.Command<RefModel, Real>;

class SetLine implements Cmd {
  constructor(readonly pin: number, readonly source: number, readonly level: boolean) {}
  check(): boolean {
    return true;
  }
  run(m: RefModel, r: Real): void {
    m.set(this.pin, this.source, this.level);
    r.set(this.pin, this.source, this.level);
    compare(m, r);
  }
  toString(): string {
    return `line(pin ${this.pin}, src ${this.source}, ${this.level ? 'assert' : 'deassert'})`;
  }
}

class Program implements Cmd {
  constructor(readonly pin: number, readonly vector: number, readonly level: boolean, readonly masked: boolean) {}
  check(): boolean {
    return true;
  }
  run(m: RefModel, r: Real): void {
    m.write(this.pin, this.vector, this.level, this.masked);
    r.write(this.pin, this.vector, this.level, this.masked);
    compare(m, r);
  }
  toString(): string {
    return `program(pin ${this.pin}, vector 0x${this.vector.toString(16)}, ${this.level ? 'level' : 'edge'}, ${this.masked ? 'masked' : 'unmasked'})`;
  }
}

class Take implements Cmd {
  check(): boolean {
    return true;
  }
  run(m: RefModel, r: Real): void {
    m.take();
    r.apic.ackInterrupt();
    compare(m, r);
  }
  toString(): string {
    return 'cpu takes an interrupt';
  }
}

class Eoi implements Cmd {
  check(): boolean {
    return true;
  }
  run(m: RefModel, r: Real): void {
    m.eoi();
    r.apic.mmioWrite(0xb0, 4, 0);
    compare(m, r);
  }
  toString(): string {
    return 'EOI';
  }
}

class Tpr implements Cmd {
  constructor(readonly tpr: number) {}
  check(): boolean {
    return true;
  }
  run(m: RefModel, r: Real): void {
    m.tpr = this.tpr;
    r.apic.mmioWrite(0x80, 4, this.tpr);
    compare(m, r);
  }
  toString(): string {
    return `tpr(0x${this.tpr.toString(16)})`;
  }
}

function compare(m: RefModel, r: Real): void {
  for (const pin of PINS) {
    const p = m.pins.get(pin)!;
    const s = r.io.pinState(pin);
    if (s.irr !== p.irr || s.remoteIrr !== p.remote || s.masked !== p.masked) {
      throw new Error(`pin ${pin}: model irr=${p.irr} remoteIrr=${p.remote} masked=${p.masked}, IOAPIC irr=${s.irr} remoteIrr=${s.remoteIrr} masked=${s.masked}`);
    }
  }
  const eq = (a: Set<number>, b: number[]) => a.size === b.length && b.every((x) => a.has(x));
  const irr = r.apic.vectors(APIC_IRR);
  const isr = r.apic.vectors(APIC_ISR);
  const tmr = r.apic.vectors(APIC_TMR);
  if (!eq(m.irr, irr) || !eq(m.isr, isr) || !eq(m.tmr, tmr)) {
    throw new Error(`LAPIC: model irr=${[...m.irr]} isr=${[...m.isr]} tmr=${[...m.tmr]}, LAPIC irr=${irr} isr=${isr} tmr=${tmr}`);
  }
}

const commands = [
  fc.tuple(fc.constantFrom(...PINS), fc.integer({ min: 0, max: 1 }), fc.boolean()).map(([p, s, l]) => new SetLine(p, s, l)),
  fc.tuple(fc.constantFrom(...PINS), fc.constantFrom(...VECTORS), fc.boolean(), fc.boolean()).map(([p, v, l, m]) => new Program(p, v, l, m)),
  fc.constant(new Take()),
  fc.constant(new Eoi()),
  fc.constantFrom(0, 0x20, 0x40, 0x80).map((t) => new Tpr(t)),
];

describe('IOAPIC + LAPIC against a reference model of remote IRR and IRR/ISR', () => {
  it('random line/program/take/EOI/TPR sequences (property)', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80, size: 'large' }), (cmds) => {
        fc.modelRun(() => ({ model: new RefModel(), real: new Real() }), cmds);
      }),
      fcParams(400),
    );
  });
});
