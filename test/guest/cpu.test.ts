// The guest CPU interpreter (src/guest/cpu.ts) with a stub bus: x86's interrupt-gate rules (IF cleared
// on entry, restored by IRET), the one-instruction STI shadow, HLT resuming after the handler, NMI
// blocking until IRET, I/O suspended until the hypervisor completes it, and triple faults.
import { describe, expect, it } from 'vitest';
import { GuestCpu, GUEST_IO_EXIT, STEP_CONTINUE, STEP_FAULT, STEP_HALT, STEP_IO_EXIT, type GuestBus } from '../../src/guest/cpu.js';
import { GuestAsm, r0, r1, r2 } from '../../src/guest/program.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import { TraceBus } from '../../src/sim/trace.js';

function stub(exit = false): GuestBus & { writes: [number, number][] } {
  const writes: [number, number][] = [];
  return {
    writes,
    read: (a) => (exit ? GUEST_IO_EXIT : a & 0xff),
    write: (a, _s, v) => {
      writes.push([a, v]);
      return exit ? GUEST_IO_EXIT : 0;
    },
    pioIn: () => GUEST_IO_EXIT,
    pioOut: () => 0,
  };
}

const cpu = (): GuestCpu => new GuestCpu(0, { sched: new Scheduler(), trace: new TraceBus() });

describe('guest CPU', () => {
  it('STI shadows exactly one instruction; `sti; hlt` halts with IF=1 and an interrupt resumes after HLT', () => {
    const a = new GuestAsm('s');
    a.label('start').sti().hlt().mov(r1, 7).hlt();
    a.handler(0x40, 'h').label('h').add(r0, 1).iret();
    const c = cpu();
    c.load(a.build());
    const bus = stub();
    expect(c.step(bus)).toBe(STEP_CONTINUE);
    expect(c.interruptible).toBe(false);
    expect(c.step(bus)).toBe(STEP_HALT);
    expect(c.interruptible).toBe(true);
    expect(c.deliver(0x40)).toBe(true);
    expect(c.ifFlag).toBe(false);
    expect(c.halted).toBe(false);
    c.step(bus);
    c.step(bus);
    expect(c.ifFlag).toBe(true);
    c.step(bus);
    expect(c.regs[0]).toBe(1);
    expect(c.regs[1]).toBe(7);
    expect(c.handled[0x40]).toBe(1);
  });
  it('nesting: a handler that executes STI can be interrupted; IRET unwinds in order', () => {
    const a = new GuestAsm('n');
    a.label('start').sti().nop().nop();
    a.handler(0x40, 'lo').label('lo').sti().nop().add(r0, 1).iret();
    a.handler(0x80, 'hi').label('hi').add(r1, 1).iret();
    const c = cpu();
    c.load(a.build());
    const bus = stub();
    c.step(bus);
    c.step(bus);
    c.deliver(0x40);
    c.step(bus);
    c.step(bus);
    expect(c.interruptible).toBe(true);
    c.deliver(0x80);
    expect(c.depth).toBe(2);
    c.step(bus);
    c.step(bus);
    expect([c.depth, c.vector, c.ifFlag]).toEqual([1, 0x40, true]);
  });
  it('NMI blocks further NMIs until IRET', () => {
    const a = new GuestAsm('nmi');
    a.label('start').nop().nop();
    a.handler(2, 'nmi').label('nmi').nop().iret();
    const c = cpu();
    c.load(a.build());
    expect(c.deliverNmi()).toBe(true);
    expect(c.deliverNmi()).toBe(false);
    c.step(stub());
    c.step(stub());
    expect(c.deliverNmi()).toBe(true);
  });
  it('an access left to userspace suspends the instruction until completeIo (the value lands in the register)', () => {
    const a = new GuestAsm('io');
    a.label('start').load(r2, 0x1000, 4).add(r2, 1).hlt();
    const c = cpu();
    c.load(a.build());
    expect(c.step(stub(true))).toBe(STEP_IO_EXIT);
    expect(c.interruptible).toBe(false);
    c.completeIo(41);
    c.step(stub());
    expect(c.regs[2]).toBe(42);
  });
  it('call/ret, 32-bit ALU, conditional jumps', () => {
    const a = new GuestAsm('alu');
    a.label('start').mov(r0, 0xf0f0).call('f').jeq(r0, 0x0f00, 'ok').fault().label('ok').hlt();
    a.label('f').shl(r0, 4).and(r0, 0xffff).ret();
    const c = cpu();
    c.load(a.build());
    let st = STEP_CONTINUE;
    while (st === STEP_CONTINUE) st = c.step(stub());
    expect(st).toBe(STEP_HALT);
  });
  it('triple faults: a vector without handler, IRET outside a handler, running off the end', () => {
    const a = new GuestAsm('f');
    a.label('start').iret();
    const c = cpu();
    c.load(a.build());
    expect(c.deliver(0x33)).toBe(false);
    expect(c.fault).toMatch(/no handler/);
    const d = cpu();
    d.load(a.build());
    expect(d.step(stub())).toBe(STEP_FAULT);
    expect(d.fault).toMatch(/iret outside/);
    const e = cpu();
    e.load(new GuestAsm('e').label('start').nop().build());
    e.step(stub());
    expect(e.step(stub())).toBe(STEP_FAULT);
  });
  it('the assembler reports undefined labels and duplicate labels', () => {
    expect(() => new GuestAsm('x').jmp('nowhere').build()).toThrow(/undefined label nowhere/);
    expect(() => new GuestAsm('x').label('a').label('a')).toThrow(/defined twice/);
  });
});
