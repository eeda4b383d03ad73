// Property: irqfd + resamplefd on one level-triggered GSI, end to end through KVM_RUN with a guest.
// For random sequences of eventfd signals (two resampling irqfds sharing GSI 20 and one plain irqfd),
// KVM_IRQ_LINE on the same GSI, guest interrupt windows and EOIs, guest pin mask/unmask (through
// IOAPIC MMIO), GSI reroutes (routed / unrouted) and irqfd assign/deassign, the guest's handler count,
// the resamplefd counts, the IOAPIC pin (irr, remote IRR, mask, sources), the LAPIC's IRR/ISR and the
// eventfd counters match a reference model of KVM's semantics (virt/kvm/eventfd.c irqfd_inject,
// irqfd_resampler_ack, irqfd_resampler_shutdown, irqfd_shutdown; arch/x86/kvm/ioapic.c ioapic_set_irq,
// ioapic_service, kvm_ioapic_update_eoi_one, ioapic_write_indirect with the v6.3 resample-on-unmask):
// every signal is delivered or coalesced exactly as KVM does, nothing arrives after a deassign
// returns, and nothing is invented.
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { GuestAsm, r0 } from '../../../src/guest/program.js';
import { enableLapic, ioapicRoute, ioapicSetMask, maskPic, type RouteOptions } from '../../../src/guest/x86.js';
import { POLLIN } from '../../../include-ts/linux/poll.js';
import { fcParams } from '../../support/runs.js';
import { count, efd, irqfd, irqLine, K, setRoutes, signal, vmm, type Vmm } from './helpers.js';
import { checkedCommands } from '../../support/commands.js';

const GSI = 20;
const VEC = 0x60;
const ROUTE: RouteOptions = { vector: VEC, level: true };
const CMD_WINDOW = 0;
const CMD_MASK = 1;
const CMD_UNMASK = 2;

function guestProgram() {
  const a = new GuestAsm('irqfd-property');
  a.label('start');
  maskPic(a);
  enableLapic(a);
  ioapicRoute(a, GSI, ROUTE);
  a.label('loop');
  a.in(r0, 0x81, 1); // ask the VMM what to do next
  a.jeq(r0, CMD_MASK, 'mask');
  a.jeq(r0, CMD_UNMASK, 'unmask');
  a.sti().nop().cli(); // one interrupt window
  a.jmp('loop');
  a.label('mask');
  ioapicSetMask(a, GSI, ROUTE, true);
  a.jmp('loop');
  a.label('unmask');
  ioapicSetMask(a, GSI, ROUTE, false);
  a.jmp('loop');
  a.handler(VEC, 'isr');
  a.label('isr');
  a.out(0x80, 0, 1); // in the handler: wait for the test to let the guest EOI
  a.eoi();
  a.iret();
  return a.build();
}

/** The reference model of KVM on one level GSI. */
class Model {
  routed = true;
  src = 0;
  irr = false;
  remote = false;
  masked = false;
  lapicIrr = false;
  isr = false;
  handled = 0;
  inHandler = false;
  readonly assigned = [false, false, false];
  readonly counter = [0, 0, 0];
  readonly resampled = [0, 0];

  private service(): void {
    if (this.masked || this.remote) return;
    this.lapicIrr = true;
    this.remote = true;
  }

  /** kvm_set_irq(source, GSI) -> kvm_ioapic_set_irq on pin 20 when routed. */
  setIrq(source: number, level: boolean): void {
    if (!this.routed) return;
    this.src = level ? this.src | (1 << source) : this.src & ~(1 << source);
    if (this.src === 0) {
      this.irr = false;
      return;
    }
    this.irr = true;
    this.service();
  }

  private get resampler(): boolean {
    return this.assigned[0]! || this.assigned[1]!;
  }

  private notify(): void {
    for (let k = 0; k < 2; k++) if (this.assigned[k]) this.resampled[k]!++;
  }

  private inject(k: number): void {
    if (k < 2) this.setIrq(1, true);
    else {
      this.setIrq(0, true);
      this.setIrq(0, false);
    }
  }

  signal(k: number): void {
    if (!this.assigned[k]) {
      this.counter[k]!++;
      return;
    }
    // irqfd_wakeup consumes the whole counter (including what was pending at assign time).
    this.counter[k] = 0;
    this.inject(k);
  }

  assign(k: number): void {
    this.assigned[k] = true;
    if (this.counter[k]! > 0) this.inject(k);
  }

  deassign(k: number): void {
    if (!this.assigned[k]) return;
    this.assigned[k] = false;
    this.counter[k] = 0;
    if (k < 2 && !this.resampler) this.setIrq(1, false);
  }

  private take(): void {
    if (this.lapicIrr && !this.isr) {
      this.lapicIrr = false;
      this.isr = true;
      this.handled++;
      this.inHandler = true;
    }
  }

  window(): void {
    this.take();
  }

  eoi(): void {
    this.isr = false;
    this.inHandler = false;
    if (this.routed && this.resampler) {
      this.setIrq(1, false);
      this.notify();
    }
    this.remote = false;
    if (!this.masked && this.irr) this.service();
    this.take();
  }

  mask(masked: boolean): void {
    this.masked = masked;
    if (!masked && this.irr && !this.remote) {
      if (this.routed && this.resampler) {
        this.irr = false;
        this.notify();
      } else this.service();
    }
  }
}

class Real {
  readonly v: Vmm;
  readonly efd: number[];
  readonly rfd: number[];
  inHandler = false;

  constructor() {
    this.v = vmm();
    const v = this.v;
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, guestProgram());
    this.efd = [efd(v.p), efd(v.p), efd(v.p)];
    this.rfd = [efd(v.p), efd(v.p)];
    this.resume(); // run the setup until the first command request
  }

  /** KVM_RUN until the guest asks for a command (IN 0x81) or sits in its handler (OUT 0x80). */
  private resume(): void {
    const v = this.v;
    v.p.ioctl(v.vcpus[0]!, K.KVM_RUN);
    const run = v.runs[0]!;
    if (run.read32(8) !== K.KVM_EXIT_IO) throw new Error(`unexpected exit ${run.read32(8)}`);
    this.inHandler = run.read16(34) === 0x80;
  }

  command(c: number): void {
    this.v.runs[0]!.write8(4096, c);
    this.resume();
  }

  eoi(): void {
    this.resume();
  }
}


function check(m: Model, r: Real): void {
  const v = r.v;
  const pin = v.host.control.kvm.vm(v.p, v.vm).ioapicPin(GSI);
  const apic = v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!;
  const handled = v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).handled(VEC);
  const got = { handled, inHandler: r.inHandler, irr: pin.irr, remote: pin.remoteIrr, masked: pin.masked, src: pin.sources, lapicIrr: apic.irr.includes(VEC), isr: apic.isr.includes(VEC) };
  const want = { handled: m.handled, inHandler: m.inHandler, irr: m.irr, remote: m.remote, masked: m.masked, src: m.src, lapicIrr: m.lapicIrr, isr: m.isr };
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`state: model ${JSON.stringify(want)}, KVM ${JSON.stringify(got)}`);
  for (let k = 0; k < 2; k++) {
    const n = count(v.p, r.rfd[k]!);
    if (n !== m.resampled[k]) throw new Error(`resamplefd ${k}: model ${m.resampled[k]} signals, KVM ${n}`);
    m.resampled[k] = 0;
  }
  for (let k = 0; k < 3; k++) {
    const pf = [{ fd: r.efd[k]!, events: POLLIN, revents: 0 }];
    v.p.poll(pf, 0);
    const readable = (pf[0]!.revents & POLLIN) !== 0;
    if (readable !== m.counter[k]! > 0) throw new Error(`eventfd ${k}: model counter ${m.counter[k]}, KVM ${readable ? 'readable' : 'empty'}`);
  }
}

const cmd = checkedCommands<Model, Real>(check);

const always = () => true;
const commands = [
  fc.integer({ min: 0, max: 2 }).map((k) => cmd(`signal(irqfd ${k})`, always, (m, r) => {
    m.signal(k);
    signal(r.v.p, r.efd[k]!);
  })),
  fc.integer({ min: 0, max: 2 }).map((k) => cmd(`assign(irqfd ${k}${k < 2 ? ', RESAMPLE' : ''})`, (m) => !m.assigned[k], (m, r) => {
    m.assign(k);
    irqfd(r.v.p, r.v.vm, r.efd[k]!, GSI, k < 2 ? K.KVM_IRQFD_FLAG_RESAMPLE : 0, k < 2 ? r.rfd[k]! : 0);
  })),
  fc.integer({ min: 0, max: 2 }).map((k) => cmd(`deassign(irqfd ${k})`, always, (m, r) => {
    m.deassign(k);
    irqfd(r.v.p, r.v.vm, r.efd[k]!, GSI, K.KVM_IRQFD_FLAG_DEASSIGN);
  })),
  fc.boolean().map((lvl) => cmd(`KVM_IRQ_LINE(gsi ${GSI}, ${lvl ? 1 : 0})`, always, (m, r) => {
    m.setIrq(0, lvl);
    irqLine(r.v.p, r.v.vm, GSI, lvl ? 1 : 0);
  })),
  fc.boolean().map((routed) => cmd(routed ? `route gsi ${GSI} -> IOAPIC pin ${GSI}` : `unroute gsi ${GSI}`, always, (m, r) => {
    m.routed = routed;
    setRoutes(r.v.p, r.v.vm, routed ? [{ gsi: GSI, pin: GSI }] : []);
  })),
  fc.constant(cmd('guest interrupt window', (m) => !m.inHandler, (m, r) => {
    m.window();
    r.command(CMD_WINDOW);
  })),
  fc.constant(cmd('guest EOI', (m) => m.inHandler, (m, r) => {
    m.eoi();
    r.eoi();
  })),
  fc.boolean().map((masked) => cmd(`guest ${masked ? 'masks' : 'unmasks'} IOAPIC pin ${GSI}`, (m) => !m.inHandler, (m, r) => {
    m.mask(masked);
    r.command(masked ? CMD_MASK : CMD_UNMASK);
  })),
];

describe('irqfd + resampler on a level-triggered GSI, against a model of KVM', () => {
  it('random signals, windows, EOIs, mask/unmask, reroutes, assign/deassign, KVM_IRQ_LINE (property)', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 50, size: 'large' }), (cmds) => {
        fc.modelRun(() => ({ model: new Model(), real: new Real() }), cmds);
      }),
      fcParams(200),
    );
  });
});
