// The host interrupt core: kernel/irq/manage.c (request_threaded_irq/__setup_irq, __free_irq,
// __disable_irq/__enable_irq), kernel/irq/chip.c (handle_fasteoi_irq, handle_edge_irq, lazy disable),
// kernel/irq/handle.c (every action of a shared line runs), kernel/irq/spurious.c (note_interrupt),
// kernel/irq/proc.c (show_interrupts) and arch/x86/kernel/irq.c (per-CPU vector_irq, ERR).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/host.js';
import { IRQ_HANDLED, IRQ_NONE, IRQF_NO_AUTOEN, IRQF_SHARED, IrqDesc, KstatIrqs, FLOW_FASTEOI, kstatIncr, type IrqChip } from '../../../src/linux/irq/irqdesc.js';
import { noteInterrupt } from '../../../src/linux/irq/spurious.js';
import type { IrqCore } from '../../../src/linux/irq/irq-core.js';
import { KernelError } from '../../../src/linux/errors.js';
import { KernelLog } from '../../../src/linux/printk.js';
import { Scheduler } from '../../../src/sim/scheduler.js';
import { TraceBus } from '../../../src/sim/trace.js';

/** The default host; GSI 20 is the conventional test card's line (03:00.0), which no driver holds. */
function host() {
  const h = Host.create();
  const card = h.control.pci.device('03:00.0');
  const irq = h.kernel.irq;
  return { h, card, irq, ctl: h.control.irq };
}

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
  return 'no error';
}

/** A handler that claims the interrupt when `owns()` says its device has one (and acknowledges it). */
function handler(name: string, owns: () => boolean, ack: () => void = () => {}): { fn: (irq: number, id: unknown) => number; calls: number } {
  const h = {
    calls: 0,
    fn: (_irq: number, _id: unknown) => {
      h.calls++;
      if (!owns()) return IRQ_NONE;
      ack();
      return IRQ_HANDLED;
    },
  };
  Object.defineProperty(h.fn, 'name', { value: name });
  return h;
}

/**
 * GSI 20 with a handler that leaves the card asserting once, then acknowledges it; the card raises its
 * line. Returns the handler's call count and the I/O APIC's EOI-register trace details.
 */
function assertTwice({ h, card, irq }: ReturnType<typeof host>): { calls: () => number; eois: string[] } {
  let calls = 0;
  irq.requestIrq(20, () => {
    if (++calls === 2) card.setIrqLevel(false);
    return IRQ_HANDLED;
  }, IRQF_SHARED, 'a', {});
  const eois: string[] = [];
  h.trace.on((e) => {
    if (e.type === 'irq' && e.hop === 'ioapic' && /EOI register/.test(e.detail ?? '')) eois.push(e.detail!);
  });
  h.control.pci.setIrqLevel('03:00.0', true);
  return { calls: () => calls, eois };
}

describe('request_irq / free_irq', () => {
  it('EINVAL: no descriptor, IRQF_SHARED without dev_id, IRQF_SHARED with IRQF_NO_AUTOEN', () => {
    const { irq } = host();
    expect(errno(() => irq.requestIrq(5, () => IRQ_NONE, 0, 'x', {}))).toBe('EINVAL');
    expect(errno(() => irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED, 'x', null))).toBe('EINVAL');
    expect(errno(() => irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED | IRQF_NO_AUTOEN, 'x', {}))).toBe('EINVAL');
  });

  it('a request without a trigger type inherits the line\'s (level, active low: IRQF_TRIGGER_LOW)', () => {
    const { irq } = host();
    const a = irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED, 'a', {});
    expect(a.flags).toBe(0x88);
  });

  it('sharing needs IRQF_SHARED on both sides: otherwise EBUSY and "genirq: Flags mismatch"', () => {
    const { h, irq } = host();
    irq.requestIrq(20, () => IRQ_NONE, 0, 'excl', {});
    expect(errno(() => irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED, 'shared', {}))).toBe('EBUSY');
    expect(h.control.dmesg().pop()).toMatch(/genirq: Flags mismatch irq 20\. 00000088 \(shared\) vs\. 00000008 \(excl\)/);
    expect(errno(() => irq.requestIrq(21, () => IRQ_NONE, 0, 'excl2', {}))).toBe('EBUSY');
  });

  it('a shared line runs every handler; each claims only its own device', () => {
    const { h, card, irq, ctl } = host();
    const other = { pending: false };
    const a = handler('a_intr', () => card.irqLevel, () => card.setIrqLevel(false));
    const b = handler('b_intr', () => other.pending, () => (other.pending = false));
    irq.requestIrq(20, a.fn, IRQF_SHARED, 'a', {});
    irq.requestIrq(20, b.fn, IRQF_SHARED, 'b', {});
    h.control.pci.setIrqLevel('03:00.0', true);
    expect([a.calls, b.calls]).toEqual([1, 1]);
    expect(ctl.desc(20)).toMatchObject({ actions: ['a', 'b'], count: 1, unhandled: 0 });
    expect(h.kernel.irq.desc(20)!.actions.map((x) => x.handled)).toEqual([1, 0]);
  });

  it('the first action starts the line (unmasked, depth 0); IRQF_NO_AUTOEN leaves it disabled at depth 1', () => {
    const { irq, ctl } = host();
    expect(ctl.line(20).ioapic!.masked).toBe(true);
    irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED, 'a', 1);
    expect(ctl.desc(20)).toMatchObject({ depth: 0, disabled: false, masked: false });
    expect(ctl.line(20).ioapic!.masked).toBe(false);
    irq.freeIrq(20, 1);
    irq.requestIrq(20, () => IRQ_NONE, IRQF_NO_AUTOEN, 'b', 2);
    expect(ctl.desc(20)).toMatchObject({ depth: 1, disabled: true, masked: true });
  });

  it('free_irq removes the matching action; the last one shuts the line down; an unknown dev_id warns', () => {
    const { h, irq, ctl } = host();
    irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED, 'a', 1);
    irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED, 'b', 2);
    irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED, 'c', 3);
    irq.freeIrq(20, 2); // the middle of the chain
    expect(ctl.desc(20)!.actions).toEqual(['a', 'c']);
    irq.requestIrq(20, () => IRQ_NONE, IRQF_SHARED, 'b', 2); // appended at the tail
    irq.freeIrq(20, 1); // the head
    irq.freeIrq(20, 3);
    expect(ctl.desc(20)!.actions).toEqual(['b']);
    expect(irq.freeIrq(20, 7)).toBeNull();
    expect(h.control.dmesg().pop()).toMatch(/Trying to free already-free IRQ 20/);
    irq.freeIrq(20, 2);
    expect(ctl.desc(20)).toMatchObject({ actions: [], depth: 1, masked: true });
  });
});

describe('disable_irq / enable_irq', () => {
  it('nest by depth; an unbalanced enable warns', () => {
    const { h, irq, ctl } = host();
    irq.requestIrq(20, () => IRQ_NONE, 0, 'a', 1);
    irq.disableIrq(20);
    irq.disableIrq(20);
    irq.enableIrq(20);
    expect(ctl.desc(20)).toMatchObject({ depth: 1, disabled: true });
    irq.enableIrq(20);
    expect(ctl.desc(20)).toMatchObject({ depth: 0, disabled: false });
    irq.enableIrq(20);
    expect(h.control.dmesg().pop()).toMatch(/Unbalanced enable for IRQ 20/);
  });

  it('lazy: the controller is masked only when an interrupt arrives while disabled; enable lets the level line fire', () => {
    const { h, card, irq, ctl } = host();
    const a = handler('a', () => card.irqLevel, () => card.setIrqLevel(false));
    irq.requestIrq(20, a.fn, 0, 'a', 1);
    irq.disableIrq(20);
    expect(ctl.line(20).ioapic!.masked).toBe(false);
    h.control.pci.setIrqLevel('03:00.0', true);
    expect(a.calls).toBe(0);
    expect(ctl.desc(20)).toMatchObject({ masked: true, pending: true });
    irq.enableIrq(20);
    expect(a.calls).toBe(1);
    expect(ctl.desc(20)).toMatchObject({ masked: false, count: 1 });
  });

  it('IRQ_DISABLE_UNLAZY masks at once', () => {
    const { irq, ctl } = host();
    irq.requestIrq(20, () => IRQ_NONE, 0, 'a', 1);
    irq.setDisableUnlazy(20, true);
    irq.disableIrqNosync(20);
    expect(ctl.line(20).ioapic!.masked).toBe(true);
  });

  it('an MSI-X vector disabled while its message arrives is masked in the table; enable resends it once', () => {
    const h = Host.create();
    const p = h.spawn();
    p.writeFile('/sys/bus/pci/drivers/e1000e/unbind', '0000:06:00.0');
    const pdev = h.kernel.pci.get('0000:06:00.0')!;
    pdev.enable();
    expect(h.kernel.msi.allocIrqVectors(pdev, 1, 2, true)).toBe(2);
    const irqNo = h.kernel.msi.irqVector(pdev, 1);
    let calls = 0;
    h.kernel.irq.requestIrq(irqNo, () => (calls++, IRQ_HANDLED), 0, 'q1', 1);
    h.kernel.irq.disableIrq(irqNo);
    h.control.pci.ring(1);
    expect(calls).toBe(0);
    expect(h.control.irq.msixVector('06:00.0', 1).masked).toBe(true);
    h.control.pci.ring(1);
    expect(h.control.irq.pba('06:00.0')).toEqual([1]);
    h.kernel.irq.enableIrq(irqNo);
    // Under the descriptor lock (interrupts off) the unmask sends the message held in the PBA and
    // check_irq_resend() replays the one that found the line disabled (an IPI of the same vector): both
    // land in the local APIC's IRR, which holds a vector once, so the handler runs once after the lock.
    expect(calls).toBe(1);
    expect(h.control.irq.pba('06:00.0')).toEqual([]);
  });
});

describe('note_interrupt (the spurious detector)', () => {
  it('a line asserted with no handler claiming it is disabled after 99,900 of 100,000 unhandled: "nobody cared"', () => {
    const { h, card, irq, ctl } = host();
    const a = handler('ignorant_intr', () => false);
    irq.requestIrq(20, a.fn, IRQF_SHARED, 'ignorant', 1);
    h.control.pci.setIrqLevel('03:00.0', true);
    expect(a.calls).toBe(100_000);
    expect(ctl.desc(20)).toMatchObject({ spuriousDisabled: true, disabled: true, masked: true, depth: 1 });
    const log = h.control.dmesg().slice(-4).map((l) => l.replace(/^\[[ .\d]+\] /, ''));
    expect(log).toEqual(['irq 20: nobody cared (try booting with the "irqpoll" option)', 'handlers:', '[<00000000>] ignorant_intr', 'Disabling IRQ #20']);
    expect(card.irqLevel).toBe(true);
    // A new shared handler gives the line another chance (and claims it).
    const b = handler('fixer', () => card.irqLevel, () => card.setIrqLevel(false));
    irq.requestIrq(20, b.fn, IRQF_SHARED, 'fixer', 2);
    expect(ctl.desc(20)).toMatchObject({ spuriousDisabled: false, disabled: false, depth: 0 });
    expect(b.calls).toBe(1);
  });

  it('unhandled interrupts more than HZ/10 apart restart the count: a rare spurious interrupt is no storm', () => {
    const sched = new Scheduler();
    const core = { sched, log: new KernelLog(sched, new TraceBus()) } as unknown as IrqCore;
    const chip: IrqChip = { name: 't', mask() {}, unmask() {}, ack() {}, eoi() {}, retrigger: () => false };
    const d = new IrqDesc(30, 0, chip, FLOW_FASTEOI, true, new KstatIrqs(1));
    d.depth = 0;
    d.disabled = false;
    for (let i = 0; i < 200_000; i++) {
      sched.now += 100_000_001;
      noteInterrupt(core, d, IRQ_NONE);
    }
    expect(d.disabled).toBe(false);
    for (let i = 0; i < 100_000; i++) noteInterrupt(core, d, IRQ_NONE);
    expect(d.disabled).toBe(true);
  });
});

describe('/proc/interrupts and per-CPU delivery', () => {
  it('renders like Linux: CPU header, counts per CPU, chip, hwirq-flow, actions', () => {
    const { h } = host();
    const p = h.spawn();
    const text = p.readFile('/proc/interrupts');
    const lines = text.split('\n');
    expect(lines[0]).toBe(' '.repeat(11) + Array.from({ length: 16 }, (_, i) => `CPU${String(i).padEnd(8)}`).join(''));
    expect(text).toMatch(new RegExp(`\\n 23: ${'( +0 ){16}'} IR-IO-APIC  23-fasteoi   snd_hda_intel, e1000e, igb\\n`));
    expect(text).not.toMatch(/\n 19:/); // no action, never fired
    expect(text).toMatch(/\nERR: +0\n/);
    h.control.pci.setIrqLevel('00:1f.3', true);
    const d = h.kernel.irq.desc(23)!;
    expect(d.kstat[d.cpu]).toBe(1);
    expect(d.count).toBe(1);
  });

  it('kstat_irqs counts per CPU when a descriptor\'s interrupts move between CPUs (the descriptor accumulates, the table is exact when read)', () => {
    const stats = new KstatIrqs(8);
    const chip = { name: 'test' } as unknown as IrqChip;
    const d = new IrqDesc(40, 0, chip, FLOW_FASTEOI, false, stats);
    for (const cpu of [2, 2, 5, 2, 7, 7, 7]) kstatIncr(d, cpu);
    expect([...d.kstat]).toEqual([0, 0, 3, 0, 0, 1, 0, 3]);
    expect(d.count).toBe(7);
    kstatIncr(d, 7);
    expect(d.count).toBe(8);
    expect(d.kstat[7]).toBe(4);
    // A new descriptor for the same irq number starts from zero.
    const again = new IrqDesc(40, 0, chip, FLOW_FASTEOI, false, stats);
    expect(again.count).toBe(0);
  });

  it('kstat_irqs across irq_free_descs and reuse of the number: the freed descriptor\'s counts stay exact until then and never reach its successor\'s row', () => {
    const { h } = host();
    const core = h.kernel.irq;
    const chip = { name: 'test' } as unknown as IrqChip;
    const irq = core.allocIrqRange(1);
    const d = new IrqDesc(irq, 0, chip, FLOW_FASTEOI, false, core.kstat);
    core.install(d);
    for (const cpu of [1, 1, 3, 3, 3]) kstatIncr(d, cpu); // CPU 3's three are still accumulated in the descriptor
    core.remove(d);
    const row = core.kstat.counts.slice(irq * core.kstat.ncpus, irq * core.kstat.ncpus + 4);
    expect([...row]).toEqual([0, 2, 0, 3]);
    const next = new IrqDesc(irq, 0, chip, FLOW_FASTEOI, false, core.kstat);
    core.install(next);
    kstatIncr(next, 2);
    void d.count; // a stale reference read after the reuse adds nothing to the row
    expect([...next.kstat].slice(0, 4)).toEqual([0, 0, 1, 0]);
    expect(next.count).toBe(1);
  });

  it('a vector with no descriptor is logged and acknowledged, not counted as ERR (arch/x86/kernel/irq.c reevaluate_vector(); ERR is irq_err_count)', () => {
    const { h, irq } = host();
    const cpu = irq.cpus[3]!;
    const taken = cpu.taken;
    cpu.accept(0xe0);
    expect(h.control.dmesg().pop()).toMatch(/No irq handler for 3\.224$/);
    expect(cpu.taken).toBe(taken + 1);
    expect(cpu.unhandledVectors).toBe(1);
    expect(h.spawn().readFile('/proc/interrupts')).toMatch(/\nERR: +0\n/);
    // Acknowledged: the CPU is not left inside the handler, the next vector is taken.
    cpu.accept(0xe1);
    expect(cpu.taken).toBe(taken + 2);
  });

  it('the EOI of a level line goes to the version-0x20 I/O APIC\'s EOI register with the pin (io_apic.c __eoi_ioapic_pin); a line still high fires again', () => {
    const t = host();
    const { irq, ctl } = t;
    expect(irq.ioapic.chip.version).toBe(0x20);
    const { calls, eois } = assertTwice(t);
    expect(eois).toEqual(['EOI register: remote IRR cleared, line still high', 'EOI register: remote IRR cleared']);
    expect(calls()).toBe(2);
    expect(ctl.desc(20)).toMatchObject({ count: 2 });
    expect(irq.platform.ioapic.remoteIrr(20)).toBe(false);
  });

  it('an I/O APIC older than version 0x20 has no EOI register: the pin is EOIed by rewriting its entry masked and edge, then back (io_apic.c __eoi_ioapic_pin)', () => {
    const t = host();
    const { irq, ctl } = t;
    irq.ioapic.chip.version = 0x11; // what mp_register_ioapic would have read from an 82093AA
    const { calls, eois } = assertTwice(t);
    expect(eois).toEqual([]); // the EOI register is never written
    expect(calls()).toBe(2); // the edge rewrite cleared remote IRR; the line, still high, fired again
    expect(ctl.desc(20)).toMatchObject({ count: 2 });
    expect(irq.platform.ioapic.remoteIrr(20)).toBe(false);
    expect(irq.platform.ioapic.pinState(20)).toMatchObject({ level: true, masked: false, vector: 20 }); // the entry is back
  });

  it('GSI lines go through remapping: each has an IRTE with its vector and CPU, the RTE holds the index', () => {
    const { irq } = host();
    const d = irq.desc(23)!;
    const pin = irq.platform.ioapic.pinState(23);
    expect(pin).toMatchObject({ level: true, vector: 23 });
    expect(Number((pin.entry >> 48n) & 1n)).toBe(1);
    expect(d.vector).toBeGreaterThanOrEqual(0x21);
  });
});
