// Guest programs: what a vCPU executes, written with a small assembler instead of x86 machine code.
// A program is deterministic code for a tiny register machine whose only side effects are the ones a
// real guest has on its hypervisor: memory and MMIO accesses (to RAM slots, in-kernel devices such as
// the LAPIC and IOAPIC, device BARs, or unbacked addresses that exit to the VMM), port I/O, STI/CLI,
// HLT, interrupt handlers per vector with IRET, the LAPIC EOI write, and RDMSR/WRMSR (ECX = r2,
// EDX:EAX = r3:r0, as KVM_GET/SET_REGS show them). Hypervisor-neutral: KVM and
// Xen vCPUs run the same programs (src/guest/cpu.ts).
//
//   const a = new GuestAsm('demo');
//   a.label('start'); a.sti(); a.label('idle'); a.hlt(); a.jmp('idle');
//   a.handler(0x50, 'isr'); a.label('isr'); a.eoi(); a.iret();
//   const prog = a.build();
//
// Registers r0-r15 hold integers (exact below 2^53; the ALU works on 32 bits). Builders are plain
// JavaScript, so loops over vectors or pins unroll at build time.

import { APIC_DEFAULT_PHYS_BASE, APIC_EOI } from '../hw/x86/apicdef.js';
import { Imm, NREGS, Op } from './cpu.js';

/** A register operand. */
export class Reg {
  constructor(readonly n: number) {}
  toString(): string {
    return `r${this.n}`;
  }
}

export const r0 = new Reg(0);
export const r1 = new Reg(1);
export const r2 = new Reg(2);
export const r3 = new Reg(3);
export const r4 = new Reg(4);
export const r5 = new Reg(5);
export const r6 = new Reg(6);
export const r7 = new Reg(7);
export const r8 = new Reg(8);
export const r9 = new Reg(9);
export const r10 = new Reg(10);
export const r11 = new Reg(11);
export const r12 = new Reg(12);
export const r13 = new Reg(13);
export const r14 = new Reg(14);
export const r15 = new Reg(15);
export const reg = (n: number): Reg => {
  if (!Number.isInteger(n) || n < 0 || n >= NREGS) throw new RangeError(`register r${n} does not exist (r0-r15)`);
  return new Reg(n);
};

export type Operand = number | Reg;
/** An address: an absolute number, a register, or a register plus an offset. */
export type Address = number | Reg | readonly [Reg, number];
export type AccessSize = 1 | 2 | 4 | 8;

/** The state a JS escape hook sees. */
export interface GuestCpuView {
  readonly regs: Float64Array;
  readonly index: number;
  readonly vector: number;
}

export class Insn {
  constructor(
    readonly op: number,
    public a: number,
    public b: number,
    public c: number,
    public d: number,
    readonly flags: number,
    readonly fn: ((cpu: GuestCpuView) => void) | null,
    /** Unresolved jump target label (resolved by build()). */
    public target: string | null,
  ) {
    this.ea = op === Op.LD && flags & Imm.B ? b + c : op === Op.ST && flags & Imm.A ? a + c : null;
  }

  /**
   * The address of a load or store with an immediate address, computed once (null otherwise). The
   * field holds null or a number, so V8 keeps it as a plain tagged value: the CPU passes it to the bus
   * as it is, where an address computed per access above 2^30 (the LAPIC page, BARs) would be boxed
   * into a new heap number on every access.
   */
  readonly ea: number | null;

  toString(): string {
    return `${Op[this.op]?.toLowerCase()} ${this.a} ${this.b} ${this.c} ${this.d}`;
  }
}

export class GuestProgram {
  constructor(
    readonly name: string,
    readonly code: readonly Insn[],
    readonly entry: number,
    /** Handler address per vector, -1 = none (the CPU would triple-fault). */
    readonly handlers: Int32Array,
    readonly labels: ReadonlyMap<string, number>,
  ) {}

  /** The address of a label (for tests that inspect where a CPU is). */
  at(label: string): number {
    const a = this.labels.get(label);
    if (a === undefined) throw new Error(`guest program ${this.name}: no label ${label}`);
    return a;
  }
}

function isReg(o: Operand): o is Reg {
  return o instanceof Reg;
}

/** The assembler. */
export class GuestAsm {
  private readonly code: Insn[] = [];
  private readonly labels = new Map<string, number>();
  private readonly handlerLabels = new Map<number, string>();
  private entryLabel = 'start';
  private autoLabel = 0;

  constructor(readonly name: string) {}

  /** The current address. */
  get here(): number {
    return this.code.length;
  }

  /** A fresh label name (for code generated in loops). */
  fresh(prefix = 'L'): string {
    return `.${prefix}${this.autoLabel++}`;
  }

  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`guest program ${this.name}: label ${name} defined twice`);
    this.labels.set(name, this.code.length);
    return this;
  }

  /** Where execution starts (default: label `start`, or address 0 if there is no such label). */
  entry(label: string): this {
    this.entryLabel = label;
    return this;
  }

  /** Installs `label` as the interrupt handler (IDT gate) for `vector`. */
  handler(vector: number, label: string): this {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new RangeError(`vector ${vector} is not 0-255`);
    this.handlerLabels.set(vector, label);
    return this;
  }

  private emit(op: number, a: number, b: number, c: number, d: number, flags: number, fn: ((cpu: GuestCpuView) => void) | null = null, target: string | null = null): this {
    this.code.push(new Insn(op, a, b, c, d, flags, fn, target));
    return this;
  }

  private addr(a: Address): { base: number; off: number; imm: boolean } {
    if (typeof a === 'number') return { base: a, off: 0, imm: true };
    if (a instanceof Reg) return { base: a.n, off: 0, imm: false };
    return { base: a[0].n, off: a[1], imm: false };
  }

  nop(): this {
    return this.emit(Op.NOP, 0, 0, 0, 0, 0);
  }

  mov(dst: Reg, src: Operand): this {
    return this.emit(Op.MOV, dst.n, isReg(src) ? src.n : src, 0, 0, isReg(src) ? 0 : Imm.B);
  }

  private alu(op: number, dst: Reg, src: Operand): this {
    return this.emit(op, dst.n, isReg(src) ? src.n : src, 0, 0, isReg(src) ? 0 : Imm.B);
  }

  add(dst: Reg, src: Operand): this {
    return this.alu(Op.ADD, dst, src);
  }
  sub(dst: Reg, src: Operand): this {
    return this.alu(Op.SUB, dst, src);
  }
  and(dst: Reg, src: Operand): this {
    return this.alu(Op.AND, dst, src);
  }
  or(dst: Reg, src: Operand): this {
    return this.alu(Op.OR, dst, src);
  }
  xor(dst: Reg, src: Operand): this {
    return this.alu(Op.XOR, dst, src);
  }
  shl(dst: Reg, src: Operand): this {
    return this.alu(Op.SHL, dst, src);
  }
  shr(dst: Reg, src: Operand): this {
    return this.alu(Op.SHR, dst, src);
  }

  /** dst = size-byte load from `addr` (memory, MMIO, or an exit to the VMM). */
  load(dst: Reg, addr: Address, size: AccessSize = 4): this {
    const { base, off, imm } = this.addr(addr);
    return this.emit(Op.LD, dst.n, base, off, size, imm ? Imm.B : 0);
  }

  /** size-byte store of `value` to `addr`. */
  store(addr: Address, value: Operand, size: AccessSize = 4): this {
    const { base, off, imm } = this.addr(addr);
    return this.emit(Op.ST, base, isReg(value) ? value.n : value, off, size, (imm ? Imm.A : 0) | (isReg(value) ? 0 : Imm.B));
  }

  load32(dst: Reg, addr: Address): this {
    return this.load(dst, addr, 4);
  }
  store32(addr: Address, value: Operand): this {
    return this.store(addr, value, 4);
  }

  in(dst: Reg, port: Operand, size: 1 | 2 | 4 = 1): this {
    return this.emit(Op.IN, dst.n, isReg(port) ? port.n : port, 0, size, isReg(port) ? 0 : Imm.B);
  }

  out(port: Operand, value: Operand, size: 1 | 2 | 4 = 1): this {
    return this.emit(Op.OUT, isReg(port) ? port.n : port, isReg(value) ? value.n : value, 0, size, (isReg(port) ? 0 : Imm.A) | (isReg(value) ? 0 : Imm.B));
  }

  jmp(label: string): this {
    return this.emit(Op.JMP, 0, 0, 0, 0, 0, null, label);
  }
  jz(r: Reg, label: string): this {
    return this.emit(Op.JZ, r.n, 0, 0, 0, 0, null, label);
  }
  jnz(r: Reg, label: string): this {
    return this.emit(Op.JNZ, r.n, 0, 0, 0, 0, null, label);
  }
  jeq(r: Reg, v: Operand, label: string): this {
    return this.emit(Op.JEQ, r.n, isReg(v) ? v.n : v, 0, 0, isReg(v) ? 0 : Imm.B, null, label);
  }
  jne(r: Reg, v: Operand, label: string): this {
    return this.emit(Op.JNE, r.n, isReg(v) ? v.n : v, 0, 0, isReg(v) ? 0 : Imm.B, null, label);
  }
  jlt(r: Reg, v: Operand, label: string): this {
    return this.emit(Op.JLT, r.n, isReg(v) ? v.n : v, 0, 0, isReg(v) ? 0 : Imm.B, null, label);
  }
  jge(r: Reg, v: Operand, label: string): this {
    return this.emit(Op.JGE, r.n, isReg(v) ? v.n : v, 0, 0, isReg(v) ? 0 : Imm.B, null, label);
  }
  call(label: string): this {
    return this.emit(Op.CALL, 0, 0, 0, 0, 0, null, label);
  }
  ret(): this {
    return this.emit(Op.RET, 0, 0, 0, 0, 0);
  }
  sti(): this {
    return this.emit(Op.STI, 0, 0, 0, 0, 0);
  }
  cli(): this {
    return this.emit(Op.CLI, 0, 0, 0, 0, 0);
  }
  hlt(): this {
    return this.emit(Op.HLT, 0, 0, 0, 0, 0);
  }
  iret(): this {
    return this.emit(Op.IRET, 0, 0, 0, 0, 0);
  }

  /** RDMSR: EDX:EAX (r3:r0) = MSR[ECX (r2)]; #GP if the hypervisor refuses it. */
  rdmsr(): this {
    return this.emit(Op.RDMSR, 0, 0, 0, 0, 0);
  }

  /** WRMSR: MSR[ECX (r2)] = EDX:EAX (r3:r0); #GP if the hypervisor refuses it. */
  wrmsr(): this {
    return this.emit(Op.WRMSR, 0, 0, 0, 0, 0);
  }

  /** Runs a JavaScript function at this point (register arithmetic a test needs; no I/O). */
  js(fn: (cpu: GuestCpuView) => void): this {
    return this.emit(Op.JS, 0, 0, 0, 0, 0, fn);
  }

  /** Stops the guest as a triple fault would (KVM_EXIT_SHUTDOWN). */
  fault(): this {
    return this.emit(Op.FAULT, 0, 0, 0, 0, 0);
  }

  /** The LAPIC EOI: a 32-bit write of 0 to APIC base + 0xB0. */
  eoi(apicBase = APIC_DEFAULT_PHYS_BASE): this {
    return this.store32(apicBase + APIC_EOI, 0);
  }

  /** Resolves labels and freezes the program. */
  build(): GuestProgram {
    for (const insn of this.code) {
      if (insn.target === null) continue;
      const t = this.labels.get(insn.target);
      if (t === undefined) throw new Error(`guest program ${this.name}: undefined label ${insn.target}`);
      if (insn.op === Op.JMP || insn.op === Op.CALL) insn.a = t;
      else insn.c = t;
    }
    const handlers = new Int32Array(256).fill(-1);
    for (const [v, l] of this.handlerLabels) {
      const t = this.labels.get(l);
      if (t === undefined) throw new Error(`guest program ${this.name}: handler for vector 0x${v.toString(16)} names undefined label ${l}`);
      handlers[v] = t;
    }
    const entry = this.labels.get(this.entryLabel) ?? 0;
    return new GuestProgram(this.name, this.code.slice(), entry, handlers, new Map(this.labels));
  }
}
