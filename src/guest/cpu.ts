// The guest CPU: executes a GuestProgram one instruction at a time, deterministically. It models the
// parts of x86 a hypervisor's interrupt path can observe: IF and the one-instruction STI shadow,
// HLT, interrupt delivery through a handler per vector (interrupt gates clear IF; IRET restores it, so
// nesting happens when a handler executes STI and the LAPIC's priority lets a higher class through),
// NMI blocking until IRET, memory/MMIO/port accesses through a GuestBus, and instructions suspended
// while the hypervisor's userspace completes an access (KVM_EXIT_MMIO / KVM_EXIT_IO).
// Hypervisor-neutral: KVM (src/linux/kvm/x86-run.ts) and Xen drive it the same way — check
// `interruptible`, deliver a vector, `step()` — and decide what exits and blocks.
//
// A vector without a handler, a stack overflow, or running off the end of the program is a triple
// fault: step() reports STEP_FAULT (KVM turns it into KVM_EXIT_SHUTDOWN).

import type { HwContext } from '../hw/x86/lapic.js';
import type { GuestCpuView, GuestProgram } from './program.js';

/**
 * The instruction set GuestAsm (program.ts) assembles. An enum declared in this file, next to the
 * interpreter's switch in step(), because tsc and esbuild (tsx) inline the members of a same-file enum
 * as literals: the switch then compiles to a jump table. With imported constants V8 loads each case
 * label from its module cell and compares the cases one by one (12.5 -> 7.5 ns per instruction).
 */
export enum Op {
  NOP = 0,
  MOV = 1,
  ADD = 2,
  SUB = 3,
  AND = 4,
  OR = 5,
  XOR = 6,
  SHL = 7,
  SHR = 8,
  LD = 9,
  ST = 10,
  IN = 11,
  OUT = 12,
  JMP = 13,
  JZ = 14,
  JNZ = 15,
  JEQ = 16,
  JNE = 17,
  JLT = 18,
  JGE = 19,
  CALL = 20,
  RET = 21,
  STI = 22,
  CLI = 23,
  HLT = 24,
  IRET = 25,
  JS = 26,
  FAULT = 27,
  RDMSR = 28,
  WRMSR = 29,
}

/** Operand flags: operand `a` / `b` is an immediate (else a register index). */
export enum Imm {
  A = 1,
  B = 2,
}

export const NREGS = 16;

/**
 * Opcodes GuestCpu.step() continues a batch after: those that only read and write registers, the pc
 * and the call stack, CLI (it can only keep interrupts out) and STI (its shadow keeps interrupts and
 * NMIs out until the next instruction has run, and step() stops after that one).
 */
const BATCHABLE = new Uint8Array(32);
for (const op of [Op.NOP, Op.MOV, Op.ADD, Op.SUB, Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR, Op.JMP, Op.JZ, Op.JNZ, Op.JEQ, Op.JNE, Op.JLT, Op.JGE, Op.CALL, Op.RET, Op.CLI, Op.STI]) BATCHABLE[op] = 1;

/** What a guest access reaches. Reads return the value (>= 0) or GUEST_IO_EXIT. */
export interface GuestBus {
  read(addr: number, size: number): number;
  /**
   * Returns 0 when the write completed, GUEST_IO_EXIT when it left to the hypervisor's userspace,
   * GUEST_IO_FAULT or GUEST_IO_RETRY when it did not happen.
   */
  write(addr: number, size: number, value: number): number;
  pioIn(port: number, size: number): number;
  pioOut(port: number, size: number, value: number): number;
  /**
   * RDMSR of MSR `index` (ECX): 0 when it completed (the hypervisor wrote EDX:EAX), GUEST_IO_EXIT when
   * it left to userspace, GUEST_MSR_GP when the hypervisor queued #GP (the instruction does not retire).
   * A bus without MSRs (absent) makes the instruction a fault.
   */
  rdmsr?(index: number): number;
  /** WRMSR of EDX:EAX (`hi`, `lo`) to MSR `index`: as rdmsr(). */
  wrmsr?(index: number, lo: number, hi: number): number;
}

/** The access was handed to userspace; the instruction completes on re-entry. */
export const GUEST_IO_EXIT = -1;
/** The access faulted in the hypervisor (e.g. unmapped host memory behind a memory slot). */
export const GUEST_IO_FAULT = -2;
/** The MSR access raised #GP: the hypervisor queued the exception, the instruction did not retire. */
export const GUEST_MSR_GP = -3;
/**
 * The write was not done: the hypervisor must leave the guest first (its page fault handler returned to
 * the entry loop, which exits); the instruction runs again at the next entry.
 */
export const GUEST_IO_RETRY = -4;

export const STEP_CONTINUE = 0;
export const STEP_HALT = 1;
export const STEP_IO_EXIT = 2;
export const STEP_FAULT = 3;
export const STEP_IO_FAULT = 4;
/** The instruction did not retire (GUEST_IO_RETRY): the hypervisor serves its requests, then runs it again. */
export const STEP_RETRY = 5;

const MAX_DEPTH = 64;
const PENDING_NONE = 0;
const PENDING_LOAD = 1;
const PENDING_STORE = 2;

export class GuestCpu implements GuestCpuView {
  program: GuestProgram | null = null;
  pc = 0;
  readonly regs = new Float64Array(NREGS);
  /** RFLAGS.IF */
  ifFlag = false;
  /** The instruction after STI cannot be interrupted. */
  shadow = false;
  halted = false;
  /** In an NMI handler (NMIs blocked until IRET). */
  nmiBlocked = false;
  /** The vector being handled (innermost), -1 outside handlers. */
  vector = -1;
  /** Interrupt frames: return pc, saved IF, vector, NMI flag. */
  private readonly framePc = new Int32Array(MAX_DEPTH);
  private readonly frameIf = new Uint8Array(MAX_DEPTH);
  private readonly frameVec = new Int16Array(MAX_DEPTH);
  private readonly frameNmi = new Uint8Array(MAX_DEPTH);
  depth = 0;
  private readonly callStack = new Int32Array(MAX_DEPTH);
  private callDepth = 0;
  /** An access waiting for userspace (KVM_EXIT_MMIO read / KVM_EXIT_IO in). */
  private pendingKind = PENDING_NONE;
  private pendingReg = 0;
  /** Handler entries per vector (what the guest saw). */
  readonly handled = new Uint32Array(256);
  nmis = 0;
  instructions = 0;
  /** Instructions the last step() started. */
  ran = 0;
  /** Why the CPU triple-faulted (null while healthy). */
  fault: string | null = null;
  label: string;

  constructor(
    readonly index: number,
    private readonly hw: HwContext,
  ) {
    this.label = `vcpu${index}`;
  }

  /** Loads a program and resets the CPU to its entry (IF clear, not halted). */
  load(program: GuestProgram): void {
    this.program = program;
    this.reset();
  }

  /** Power-on/INIT state: entry point, registers 0, IF clear. Handler counts are kept. */
  reset(): void {
    this.pc = this.program ? this.program.entry : 0;
    this.regs.fill(0);
    this.ifFlag = false;
    this.shadow = false;
    this.halted = false;
    this.nmiBlocked = false;
    this.vector = -1;
    this.depth = 0;
    this.callDepth = 0;
    this.pendingKind = PENDING_NONE;
    this.fault = null;
  }

  /** Interrupts can be taken before the next instruction. */
  get interruptible(): boolean {
    return this.ifFlag && !this.shadow && this.pendingKind === PENDING_NONE && this.fault === null;
  }

  get hasPendingIo(): boolean {
    return this.pendingKind !== PENDING_NONE;
  }

  /** Enters the handler of `vector` (an interrupt gate). False (and a fault) if the IDT has no entry. */
  deliver(vector: number): boolean {
    const prog = this.program;
    const target = prog ? prog.handlers[vector]! : -1;
    if (target < 0 || this.depth >= MAX_DEPTH) return this.deliveryFault(vector, target);
    const d = this.depth++;
    this.framePc[d] = this.pc;
    this.frameIf[d] = this.ifFlag ? 1 : 0;
    this.frameVec[d] = this.vector;
    this.frameNmi[d] = 0;
    this.pc = target;
    this.ifFlag = false;
    this.halted = false;
    this.vector = vector;
    this.handled[vector]!++;
    if (this.hw.trace.active) this.traceHandler(vector);
    return true;
  }

  /**
   * deliver()'s triple faults and trace hop, out of line: KVM_RUN's injection inlines deliver(), and
   * every byte of it counts against the inlining budget the per-instruction checks share.
   */
  private deliveryFault(vector: number, target: number): false {
    this.fault = target < 0 ? `vector 0x${vector.toString(16)} has no handler (triple fault)` : `interrupt nesting deeper than ${MAX_DEPTH} (stack overflow)`;
    return false;
  }

  private traceHandler(vector: number): void {
    this.hw.trace.emit({ type: 'irq', t: this.hw.sched.now, hop: 'guest-handler', at: this.label, vector, vcpu: this.index, detail: `depth ${this.depth}` });
  }

  /** Enters the NMI handler (vector 2) unless NMIs are blocked. */
  deliverNmi(): boolean {
    if (this.nmiBlocked) return false;
    if (!this.deliver(2)) return false;
    this.frameNmi[this.depth - 1] = 1;
    this.nmiBlocked = true;
    this.nmis++;
    return true;
  }

  /** Completes an access userspace handled: `value` is the data read (ignored for writes). */
  completeIo(value: number): void {
    if (this.pendingKind === PENDING_LOAD) this.regs[this.pendingReg] = value;
    this.pendingKind = PENDING_NONE;
    this.pc++;
  }

  /**
   * Ends an access userspace refused without retiring the instruction (the hypervisor queued an
   * exception whose handler returns to it).
   */
  abortIo(): void {
    this.pendingKind = PENDING_NONE;
  }

  /** RDMSR/WRMSR (ECX = r2, EDX:EAX = r3:r0): out of line, off the interpreter's hot cases. */
  private msr(bus: GuestBus, write: boolean): number {
    const regs = this.regs;
    const index = regs[2]! >>> 0;
    const fn = write ? bus.wrmsr : bus.rdmsr;
    if (fn === undefined) {
      this.fault = `${write ? 'wrmsr' : 'rdmsr'} on a bus without MSRs`;
      return STEP_FAULT;
    }
    const r = write ? bus.wrmsr!(index, regs[0]! >>> 0, regs[3]! >>> 0) : bus.rdmsr!(index);
    if (r === GUEST_IO_EXIT) {
      // The hypervisor writes EDX:EAX itself when userspace answers a read.
      this.pendingKind = PENDING_STORE;
      return STEP_IO_EXIT;
    }
    if (r !== GUEST_MSR_GP) this.pc++;
    return STEP_CONTINUE;
  }

  private val(x: number, imm: boolean): number {
    return imm ? x : this.regs[x]!;
  }

  /** step() without a program, or after a fault: the attempt counts as one instruction started. */
  private cannotRun(): number {
    this.ran = 1;
    if (this.program === null) this.fault = 'no guest program loaded';
    return STEP_FAULT;
  }

  /**
   * Executes one instruction; with `max`, up to `max` back to back while they are BATCHABLE and none
   * started in an STI shadow. Such an instruction touches no device, LAPIC or memory, so nothing
   * becomes pending (interrupts, NMIs, exits, work), and it lifts nothing that blocks delivery (IF, NMI
   * blocking, a pending access): the checks a hypervisor makes before each instruction would deliver
   * nothing between them. Returns the status of the last instruction; `ran` is how many were started.
   * The batch loop is around the dispatch itself, so a batch costs no call per instruction.
   */
  step(bus: GuestBus, max = 1): number {
    const prog = this.program;
    // Neither can change inside a batch: a BATCHABLE instruction that faults ends it.
    if (prog === null || this.fault !== null) return this.cannotRun();
    const code = prog.code;
    const regs = this.regs;
    for (let n = 1; ; n++) {
      this.ran = n;
      const insn = code[this.pc];
      if (insn === undefined) {
        this.fault = `execution ran off the end of ${prog.name} (pc ${this.pc})`;
        return STEP_FAULT;
      }
      const shadow = this.shadow;
      this.shadow = false;
      this.instructions++;
      const op = insn.op;
      const f = insn.flags;
      let jumped = false;
      switch (op) {
        case Op.NOP:
          break;
        case Op.MOV:
          regs[insn.a] = this.val(insn.b, (f & Imm.B) !== 0);
          break;
        case Op.ADD:
          regs[insn.a] = regs[insn.a]! + this.val(insn.b, (f & Imm.B) !== 0);
          break;
        case Op.SUB:
          regs[insn.a] = regs[insn.a]! - this.val(insn.b, (f & Imm.B) !== 0);
          break;
        case Op.AND:
          regs[insn.a] = (regs[insn.a]! & this.val(insn.b, (f & Imm.B) !== 0)) >>> 0;
          break;
        case Op.OR:
          regs[insn.a] = (regs[insn.a]! | this.val(insn.b, (f & Imm.B) !== 0)) >>> 0;
          break;
        case Op.XOR:
          regs[insn.a] = (regs[insn.a]! ^ this.val(insn.b, (f & Imm.B) !== 0)) >>> 0;
          break;
        case Op.SHL:
          regs[insn.a] = (regs[insn.a]! << this.val(insn.b, (f & Imm.B) !== 0)) >>> 0;
          break;
        case Op.SHR:
          regs[insn.a] = regs[insn.a]! >>> this.val(insn.b, (f & Imm.B) !== 0);
          break;
        case Op.LD: {
          const ea = insn.ea;
          const addr = ea !== null ? ea : regs[insn.b]! + insn.c;
          const v = bus.read(addr, insn.d);
          if (v === GUEST_IO_EXIT) {
            this.pendingKind = PENDING_LOAD;
            this.pendingReg = insn.a;
            return STEP_IO_EXIT;
          }
          if (v === GUEST_IO_FAULT) return STEP_IO_FAULT;
          regs[insn.a] = v;
          break;
        }
        case Op.ST: {
          const ea = insn.ea;
          const addr = ea !== null ? ea : regs[insn.a]! + insn.c;
          const r = bus.write(addr, insn.d, this.val(insn.b, (f & Imm.B) !== 0));
          if (r === GUEST_IO_EXIT) {
            this.pendingKind = PENDING_STORE;
            return STEP_IO_EXIT;
          }
          if (r === GUEST_IO_FAULT) return STEP_IO_FAULT;
          if (r === GUEST_IO_RETRY) return STEP_RETRY;
          break;
        }
        case Op.IN: {
          const v = bus.pioIn(this.val(insn.b, (f & Imm.B) !== 0), insn.d);
          if (v === GUEST_IO_EXIT) {
            this.pendingKind = PENDING_LOAD;
            this.pendingReg = insn.a;
            return STEP_IO_EXIT;
          }
          regs[insn.a] = v;
          break;
        }
        case Op.OUT: {
          const r = bus.pioOut(this.val(insn.a, (f & Imm.A) !== 0), insn.d, this.val(insn.b, (f & Imm.B) !== 0));
          if (r === GUEST_IO_EXIT) {
            this.pendingKind = PENDING_STORE;
            return STEP_IO_EXIT;
          }
          break;
        }
        case Op.JMP:
          this.pc = insn.a;
          jumped = true;
          break;
        case Op.JZ:
          if (regs[insn.a] === 0) {
            this.pc = insn.c;
            jumped = true;
          }
          break;
        case Op.JNZ:
          if (regs[insn.a] !== 0) {
            this.pc = insn.c;
            jumped = true;
          }
          break;
        case Op.JEQ:
        case Op.JNE:
        case Op.JLT:
        case Op.JGE: {
          const x = regs[insn.a]!;
          const y = this.val(insn.b, (f & Imm.B) !== 0);
          const taken = op === Op.JEQ ? x === y : op === Op.JNE ? x !== y : op === Op.JLT ? x < y : x >= y;
          if (taken) {
            this.pc = insn.c;
            jumped = true;
          }
          break;
        }
        case Op.CALL:
          if (this.callDepth >= MAX_DEPTH) {
            this.fault = `call nesting deeper than ${MAX_DEPTH} (stack overflow)`;
            return STEP_FAULT;
          }
          this.callStack[this.callDepth++] = this.pc + 1;
          this.pc = insn.a;
          jumped = true;
          break;
        case Op.RET:
          if (this.callDepth === 0) {
            this.fault = 'ret with an empty call stack';
            return STEP_FAULT;
          }
          this.pc = this.callStack[--this.callDepth]!;
          jumped = true;
          break;
        case Op.STI:
          if (!this.ifFlag) {
            this.ifFlag = true;
            this.shadow = true;
          }
          break;
        case Op.CLI:
          this.ifFlag = false;
          break;
        case Op.HLT:
          this.pc++;
          this.halted = true;
          return STEP_HALT;
        case Op.IRET: {
          if (this.depth === 0) {
            this.fault = 'iret outside an interrupt handler';
            return STEP_FAULT;
          }
          const d = --this.depth;
          this.pc = this.framePc[d]!;
          this.ifFlag = this.frameIf[d] === 1;
          if (this.frameNmi[d]) this.nmiBlocked = false;
          this.vector = this.frameVec[d]!;
          jumped = true;
          break;
        }
        case Op.JS:
          insn.fn!(this);
          break;
        case Op.FAULT:
          this.fault = 'the guest executed a deliberate fault';
          return STEP_FAULT;
        case Op.RDMSR:
        case Op.WRMSR:
          return this.msr(bus, op === Op.WRMSR);
        default:
          this.fault = `invalid opcode ${insn.op}`;
          return STEP_FAULT;
      }
      if (!jumped) this.pc++;
      if (n >= max || shadow || BATCHABLE[op] === 0) return STEP_CONTINUE;
    }
  }
}
