// Property: the NMI and interrupt queues behind KVM_NMI, KVM_INTERRUPT and KVM_GET/SET_VCPU_EVENTS
// (src/linux/kvm/vcpu-events.ts) count as arch/x86/kvm/x86.c does. The reference is x86.c's bookkeeping
// written out plainly: kvm_inject_nmi adds to nmi_queued; process_nmi (run by GET and SET) moves
// nmi_queued into nmi_pending and caps it at 1 while NMIs are masked, else 2; SET with
// KVM_VCPUEVENT_VALID_NMI_PENDING empties nmi_pending and queues nmi.pending, and always sets the mask
// from nmi.masked; KVM_INTERRUPT (no irqchip) and SET store interrupt.injected/nr, and GET reports nr
// even when nothing is injected. GET is its own command, so NMIs can stay queued across a SET.
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { setU32 } from '../../../abi/bytes.js';
import { KVM_VCPUEVENT_VALID_NMI_PENDING, kvm_vcpu_events } from '../../../include-ts/asm/kvm.js';
import { fcParams } from '../../support/runs.js';
import { K, vmm, type Vmm } from './helpers.js';

const O = (p: string) => kvm_vcpu_events.offsetof(p);

class Model {
  queued = 0;
  pending = 0;
  masked = false;
  irqInjected = false;
  irqNr = 0;
  processNmi(): void {
    this.pending = Math.min(this.pending + this.queued, this.masked ? 1 : 2);
    this.queued = 0;
  }
}

class Real {
  readonly v: Vmm = vmm({ irqchip: 'none' });
  get fd(): number {
    return this.v.vcpus[0]!;
  }
}

type Cmd = fc.Command<Model, Real>;
const cmd = (name: string, run: (m: Model, r: Real) => void): Cmd => ({ check: () => true, run, toString: () => name });

const commands = [
  fc.constant(cmd('KVM_NMI', (m, r) => {
    m.queued++;
    r.v.p.ioctl(r.fd, K.KVM_NMI, 0);
  })),
  fc.integer({ min: 0, max: 255 }).map((vec) => cmd(`KVM_INTERRUPT(0x${vec.toString(16)})`, (m, r) => {
    m.irqInjected = true;
    m.irqNr = vec;
    const b = new Uint8Array(4);
    setU32(b, 0, vec);
    r.v.p.ioctl(r.fd, K.KVM_INTERRUPT, b);
  })),
  fc.record({ valid: fc.boolean(), pending: fc.integer({ min: 0, max: 5 }), masked: fc.boolean(), injected: fc.boolean(), nr: fc.integer({ min: 0, max: 255 }) })
    .map((s) => cmd(`KVM_SET_VCPU_EVENTS(${s.valid ? `nmi.pending=${s.pending}, ` : ''}masked=${+s.masked}, interrupt=${+s.injected}/0x${s.nr.toString(16)})`, (m, r) => {
      m.processNmi();
      if (s.valid) {
        m.pending = 0;
        m.queued = s.pending;
      }
      m.masked = s.masked;
      m.irqInjected = s.injected;
      m.irqNr = s.nr;
      const b = new Uint8Array(kvm_vcpu_events.size);
      setU32(b, O('flags'), s.valid ? KVM_VCPUEVENT_VALID_NMI_PENDING : 0);
      b[O('nmi.pending')] = s.pending;
      b[O('nmi.masked')] = +s.masked;
      b[O('interrupt.injected')] = +s.injected;
      b[O('interrupt.nr')] = s.nr;
      r.v.p.ioctl(r.fd, K.KVM_SET_VCPU_EVENTS, b);
    })),
  fc.constant(cmd('KVM_GET_VCPU_EVENTS', (m, r) => {
    m.processNmi();
    const b = new Uint8Array(kvm_vcpu_events.size);
    r.v.p.ioctl(r.fd, K.KVM_GET_VCPU_EVENTS, b);
    const got = { pending: b[O('nmi.pending')], masked: b[O('nmi.masked')], injected: b[O('interrupt.injected')], nr: b[O('interrupt.nr')] };
    const want = { pending: m.pending, masked: +m.masked, injected: +m.irqInjected, nr: m.irqNr };
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`events: reference ${JSON.stringify(want)}, model ${JSON.stringify(got)}`);
  })),
];

describe('NMI and interrupt queues against x86.c bookkeeping', () => {
  it('random KVM_NMI, KVM_INTERRUPT, SET and GET (property)', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 40 }), (cmds) => {
        fc.modelRun(() => ({ model: new Model(), real: new Real() }), cmds);
      }),
      fcParams(200),
    );
  });
});
