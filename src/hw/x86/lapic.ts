// A local APIC in xAPIC or x2APIC mode, as KVM models it (arch/x86/kvm/lapic.c: kvm_lapic_reg_read/write,
// __apic_accept_irq, apic_update_ppr, kvm_get_apic_interrupt, apic_set_eoi, kvm_lapic_reset,
// __kvm_apic_set_base, __kvm_x2apic_icr_write, kvm_apic_match_physical/logical_addr), usable by
// any hypervisor model: what KVM or Xen do *around* the APIC (which EOIs reach an IOAPIC, how IPIs and
// MSIs find their destination, waking a halted vCPU) goes through LapicHooks.
//
// The register file is the first KiB of the APIC page as 32-bit words (register at offset o is
// regs[o >> 2]), exactly what KVM_GET_LAPIC/KVM_SET_LAPIC copy. IRR/ISR/TMR are 256-bit banks of eight
// words at a 16-byte stride. Accepting, dispatching and EOI-ing an interrupt allocate nothing.
//
// Rules (SDM vol. 3 ch. 11 and lapic.c):
// - accept Fixed/LowestPrio: a level-triggered request with level=0 is ignored; an APIC that is
//   hardware- or software-disabled does not accept (returns 0); else IRR is set, TMR follows the
//   trigger mode, the vCPU is kicked, and the call returns 1 (also when the vector was already pending:
//   the APIC does not report coalescing).
// - PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV & 0xF0; an IRR vector is deliverable when its
//   priority class is above PPR[7:4].
// - EOI clears the highest ISR bit (no ISR bit: ignored) and reports the vector with its TMR bit.
// - Software disable (SPIV bit 8 = 0) masks every LVT; writes to LVTs while disabled keep the mask.
// - Hardware disabled (IA32_APIC_BASE bit 11 = 0): MMIO reads return all ones and writes are dropped
//   (KVM's default LAPIC_MMIO_HOLE quirk).
// - Reset: ID = index << 24, version 0x00050014, DFR flat, SPIV 0xFF (software-disabled), LVTs masked,
//   except the BSP's LINT0 = ExtINT (KVM_X86_QUIRK_LINT0_REENABLED) so the 8259 reaches it.
// - x2APIC mode (IA32_APIC_BASE.EXTD; SDM vol. 3 11.12): the ID is the vCPU index, read-only, and LDR is
//   derived from it (cluster = ID[31:4] in bits 31:16, bit ID[3:0] in 15:0) and read-only too; DFR, ICR2
//   and ARBPRI do not exist; ICR is one 64-bit register (the destination in bits 63:32) kept as KVM
//   keeps it when its ICR is not split (VMX, and this machine): the high half in the word after ICR,
//   not in ICR2; SELF IPI (0x3f0) exists; a write to a read-only or missing register, a non-zero ESR
//   write, or reserved ICR bits fail (the caller turns that into #GP or a failed KVM_SET_MSRS). The MMIO
//   window then reads all ones and drops writes, as when hardware-disabled. Leaving x2APIC mode
//   (host-initiated, or through disabled) sets the xAPIC ID back and leaves LDR as it was (measured).
// - The timer (apic-timer.ts) counts on virtual time; its expiry is injected by the hypervisor
//   (injectPendingTimer) when it next enters the guest.

import type { Scheduler } from '../../sim/scheduler.js';
import type { TraceBus } from '../../sim/trace.js';
import { ApicIrq } from './apic-irq.js';
import { APIC_LVT_TIMER_TSCDEADLINE, ApicTimer, type TimerApic } from './apic-timer.js';
import {
  APIC_ARBPRI, APIC_DEFAULT_PHYS_BASE, APIC_DFR, APIC_DFR_CLUSTER, APIC_DFR_FLAT, APIC_DM_EXTINT, APIC_DM_FIXED,
  APIC_DM_INIT, APIC_DM_LOWEST, APIC_DM_NMI, APIC_DM_REMRD, APIC_DM_SMI, APIC_DM_STARTUP, APIC_EOI, APIC_ESR,
  APIC_ICR, APIC_ICR2, APIC_ID, APIC_INPUT_POLARITY, APIC_INT_ASSERT, APIC_INT_LEVELTRIG, APIC_IRR, APIC_ISR, APIC_LDR,
  APIC_LDR_MASK, APIC_LVR, APIC_LVR_DIRECTED_EOI, APIC_LVTCMCI, APIC_LVT0, APIC_LVT1, APIC_LVTERR, APIC_LVTPC, APIC_LVTT,
  APIC_LVTTHMR, APIC_LVT_LEVEL_TRIGGER, APIC_LVT_MASKED, APIC_LVT_REMOTE_IRR, APIC_MMIO_LENGTH, APIC_MODE_MASK,
  APIC_PROCPRI, APIC_SEND_PENDING, APIC_SHORT_MASK, APIC_SPIV, APIC_SPIV_APIC_ENABLED, APIC_SPIV_DIRECTED_EOI,
  APIC_TASKPRI, APIC_TDCR, APIC_TMCCT, APIC_TMICT, APIC_TMR, APIC_VECTOR_MASK, APIC_VERSION, APIC_BROADCAST,
  APIC_DEST_LOGICAL, APIC_DEST_SELF, APIC_SELF_IPI, MSR_IA32_APICBASE_ENABLE, X2APIC_BROADCAST, X2APIC_ENABLE,
  apicBaseResetValue,
} from './apicdef.js';

/** What the hypervisor does around the APIC. */
export interface LapicHooks {
  /** The guest EOI'd `vector` (already cleared from ISR); `level` is its TMR bit. */
  eoi(apic: Lapic, vector: number, level: boolean): void;
  /** The guest wrote ICR: deliver `irq` (shorthand and destination as written) from `apic`. */
  sendIpi(apic: Lapic, irq: ApicIrq): void;
  /** ID, LDR, DFR or the software-enable bit changed: destination lookups must be recomputed. */
  mapChanged(apic: Lapic): void;
  /** Something became pending (IRR, NMI, INIT/SIPI): wake the vCPU if it is blocked. */
  kick(apic: Lapic): void;
}

/** Where the models report interrupt hops: the machine's clock and trace bus. */
export interface HwContext {
  readonly sched: Scheduler;
  readonly trace: TraceBus;
}

export const LAPIC_REGS_BYTES = 0x400;
const IRR_W = APIC_IRR >> 2;
const ISR_W = APIC_ISR >> 2;
const TMR_W = APIC_TMR >> 2;
// Module-local copies for the per-interrupt paths (accept, ack, EOI): imported bindings cost a load
// each, and hot functions must stay small enough for the JIT to inline them into their callers.
const PPR_W = APIC_PROCPRI >> 2;
const TPR_W = APIC_TASKPRI >> 2;
const SPIV_W = APIC_SPIV >> 2;
const SPIV_ENABLED = APIC_SPIV_APIC_ENABLED;
const BASE_ENABLE = MSR_IA32_APICBASE_ENABLE;
const DM_FIXED = APIC_DM_FIXED;
const DM_LOWEST = APIC_DM_LOWEST;
const LVT0_W = APIC_LVT0 >> 2;
const LVT_MASKED = APIC_LVT_MASKED;
const MODE_MASK = APIC_MODE_MASK;
const DM_EXTINT = APIC_DM_EXTINT;
/** Number of LVTs without CMCI (KVM: KVM_APIC_MAX_NR_LVT_ENTRIES - 1, max LVT entry 5). */
const NR_LVT = 6;
const LVT_REGS = [APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR] as const;
/** LVT CMCI (the seventh entry, when the hypervisor offers it): apic_lvt_mask[LVT_CMCI]. */
const LVTCMCI_W = APIC_LVTCMCI >> 2;
const LVTCMCI_WRITE_MASK = APIC_LVT_MASKED | APIC_SEND_PENDING | APIC_VECTOR_MASK | APIC_MODE_MASK;
const LVT_MASK = APIC_LVT_MASKED | APIC_SEND_PENDING | APIC_VECTOR_MASK;
const LINT_MASK = LVT_MASK | APIC_MODE_MASK | APIC_INPUT_POLARITY | APIC_LVT_REMOTE_IRR | APIC_LVT_LEVEL_TRIGGER;
/** apic_lvt_mask[] by LVT index; the timer's mode bits (18:17) are added per LAPIC (Lapic.timerModeMask). */
const LVT_WRITE_MASK = [LVT_MASK, LVT_MASK | APIC_MODE_MASK, LVT_MASK | APIC_MODE_MASK, LINT_MASK, LINT_MASK, LVT_MASK];
/** The LVT timer's mode field (bits 18:17: one-shot, periodic, TSC-deadline). */
export const APIC_LVT_TIMER_MODE_MASK = 3 << 17;

/** Pending INIT/SIPI events (KVM_APIC_INIT / KVM_APIC_SIPI bits). */
export const LAPIC_EVENT_INIT = 1;
export const LAPIC_EVENT_SIPI = 2;

/**
 * What kvm_lapic_reset() zeroes on INIT besides the IRR/ISR/TMR banks (PPR: recomputed from them); in
 * x2APIC mode LDR is kept and the 64-bit ICR is zeroed instead of ICR and ICR2.
 */
const INIT_CLEARED = [APIC_TASKPRI, APIC_PROCPRI, APIC_ESR, APIC_ICR, APIC_TDCR, APIC_TMICT] as const;
const INIT_CLEARED_XAPIC = [APIC_LDR, APIC_ICR2] as const;
/** The word holding bits 63:32 of the x2APIC ICR (kvm_lapic_set_reg64(APIC_ICR)). */
const ICR_HI_W = (APIC_ICR >> 2) + 1;

/** Registers a read may name in x2APIC mode (kvm_lapic_readable_reg_mask without CMCI). */
const READABLE_X2APIC = new Set<number>([
  APIC_ID, APIC_LVR, APIC_TASKPRI, APIC_PROCPRI, APIC_LDR, APIC_SPIV, APIC_ESR, APIC_ICR,
  APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR, APIC_TMICT, APIC_TMCCT, APIC_TDCR,
  ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [APIC_ISR + i * 16, APIC_TMR + i * 16, APIC_IRR + i * 16]),
]);
/** In xAPIC mode ARBPRI, DFR and ICR2 exist too. */
const READABLE_XAPIC = new Set<number>([...READABLE_X2APIC, APIC_ARBPRI, APIC_DFR, APIC_ICR2]);

/** X2APIC_ICR_RESERVED_BITS' low half: bits 31:20, 17:16 and 13 (the high half is the destination). */
const X2APIC_ICR_RESERVED_LO = 0xfff3_2000;

/** kvm_apic_calc_x2apic_ldr(). */
export function x2apicLdr(id: number): number {
  return (((id >>> 4) << 16) | (1 << (id & 0xf))) >>> 0;
}

function highestInBank(regs: Uint32Array, w0: number): number {
  for (let i = 7; i >= 0; i--) {
    const w = regs[w0 + i * 4]!;
    if (w !== 0) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

function countBank(regs: Uint32Array, w0: number): number {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    let w = regs[w0 + i * 4]!;
    while (w) {
      w &= w - 1;
      n++;
    }
  }
  return n;
}

/** PPR from TPR and the highest in-service vector (-1: none): SDM vol. 3 11.8.3.1, __apic_update_ppr. */
function pprFor(tpr: number, isr: number): number {
  const isrv = isr === -1 ? 0 : isr & 0xf0;
  return (tpr & 0xf0) >= isrv ? tpr & 0xff : isrv;
}

export class Lapic implements TimerApic {
  /** The first KiB of the APIC page (KVM_GET_LAPIC layout). */
  readonly regs = new Uint32Array(LAPIC_REGS_BYTES >> 2);
  /** IA32_APIC_BASE: physical base | enable | BSP. Private so that every store goes through reset()
   *  or setApicBase(), which keep baseEnabled and baseAddr with it. A number, not a u32: the base may
   *  sit above 4 GiB (up to MAXPHYADDR bits, exact in a double). */
  private apicBaseMsr = 0;
  /** Its physical base (bits 12 and up), kept apart for the MMIO range check. */
  private baseAddr = 0;
  /** Its enable bit, kept apart (KVM's apic_hw_disabled key): the MSR value is above 2^31, so testing
   *  it on every interrupt would convert a double. */
  private baseEnabled = false;
  /** apicBaseMsr as two int32 halves (see apicBaseLo). */
  private baseLo = 0;
  private baseHi = 0;
  /** Its EXTD bit: x2APIC mode (apic_x2apic_mode()). */
  private x2 = false;
  /**
   * Whether the version register advertises directed EOI (kvm_apic_set_version: the guest CPUID has
   * x2APIC and there is no in-kernel IOAPIC); the hypervisor sets it and the next reset or state load
   * (or setDirectedEoiCapable) puts it in LVR.
   */
  private directedEoiCapable = false;
  /** apic->nr_lvt_entries: 6, or 7 with LVT CMCI (setNrLvtEntries). */
  private nrLvt = NR_LVT;
  /** Set IRR bits (KVM's irr_pending, as a count so "anything pending?" is one compare). */
  irrCount = 0;
  isrCount = 0;
  /** Highest set IRR / ISR vector (-1: none), kept current so dispatch and EOI need no scan (KVM's highest_isr_cache). */
  private irrTop = -1;
  private isrTop = -1;
  /** NMIs accepted and not yet taken by the CPU (KVM queues at most two). */
  nmiPending = 0;
  /** LAPIC_EVENT_INIT / LAPIC_EVENT_SIPI. */
  pendingEvents = 0;
  sipiVector = 0;
  /**
   * The LVT timer mode bits a write keeps (KVM's lapic_timer.timer_mode_mask): both bits on hardware;
   * KVM sets them only from the guest CPUID (KVM_SET_CPUID2), so a KVM LAPIC without one keeps none.
   */
  timerModeMask = APIC_LVT_TIMER_MODE_MASK;
  /** Trace label ("vcpu0"). */
  label: string;
  /** The APIC timer (apic-timer.ts). */
  readonly timer: ApicTimer;
  private readonly ipi = new ApicIrq();
  /** The trace bus, held directly: accept, ack and EOI test it on every interrupt (one load, not two). */
  private readonly trace: TraceBus;

  constructor(
    /** The vCPU index (KVM's vcpu_id, also the initial APIC ID). */
    readonly index: number,
    readonly hooks: LapicHooks,
    private readonly hw: HwContext,
  ) {
    this.trace = hw.trace;
    this.label = `vcpu${index}`;
    this.timer = new ApicTimer(this, () => hw.sched);
    this.reset(index === 0);
  }

  // ---------------------------------------------------------------------------------------------
  // State

  /**
   * kvm_lapic_reset(): RESET (power-on: a zeroed page), or with `initEvent` an INIT, which leaves
   * IA32_APIC_BASE and the APIC ID as they were (SDM vol. 3 "Local APIC State After an INIT Reset") and
   * sets only the registers kvm_lapic_reset() sets: LVTs, DFR, SPIV, TPR, LDR, ESR, ICR, ICR2, TDCR,
   * TMICT and the IRR/ISR/TMR banks. Anything else KVM_SET_LAPIC stored in the page (APR, reserved
   * words) survives an INIT; PPR is recomputed.
   */
  reset(bsp: boolean, initEvent = false): void {
    if (initEvent) {
      for (const r of INIT_CLEARED) this.regs[r >> 2] = 0;
      if (this.x2) this.regs[ICR_HI_W] = 0;
      else for (const r of INIT_CLEARED_XAPIC) this.regs[r >> 2] = 0;
      for (let i = 0; i < 8; i++) this.regs[IRR_W + i * 4] = this.regs[ISR_W + i * 4] = this.regs[TMR_W + i * 4] = 0;
    } else {
      this.regs.fill(0);
      this.storeApicBase(apicBaseResetValue(bsp));
      this.baseAddr = APIC_DEFAULT_PHYS_BASE;
      this.baseEnabled = true;
      this.x2 = false;
      this.regs[APIC_ID >> 2] = (this.index << 24) >>> 0;
    }
    this.setVersion();
    for (const r of LVT_REGS) this.regs[r >> 2] = APIC_LVT_MASKED;
    if (this.nrLvt > NR_LVT) this.regs[LVTCMCI_W] = APIC_LVT_MASKED;
    if (bsp) this.regs[APIC_LVT0 >> 2] = APIC_DM_EXTINT;
    this.regs[APIC_DFR >> 2] = APIC_DFR_FLAT;
    this.regs[APIC_SPIV >> 2] = 0xff;
    this.irrCount = 0;
    this.isrCount = 0;
    this.irrTop = -1;
    this.isrTop = -1;
    this.nmiPending = 0;
    // kvm_lapic_reset(): the timer stopped (TMICT 0), its mode from the masked LVTT, TDCR's divisor.
    this.timer.cancel();
    this.timer.updateLvtt();
    this.timer.updateDivide();
    // pending INIT/SIPI events survive (an INIT processed together with a SIPI still starts the CPU).
    this.hooks.mapChanged(this);
  }

  /** kvm_apic_set_version() after the guest CPUID (or the irqchip) changed what it advertises. */
  setDirectedEoiCapable(capable: boolean): void {
    this.directedEoiCapable = capable;
    this.setVersion();
  }

  /**
   * kvm_apic_after_set_mcg_cap(): the number of LVT entries (7 with CMCI); a new entry starts masked,
   * the version register follows. LVT CMCI is readable and writable only while it exists.
   */
  setNrLvtEntries(n: number): void {
    if (n === this.nrLvt) return;
    if (n > this.nrLvt) this.regs[LVTCMCI_W] = APIC_LVT_MASKED;
    this.nrLvt = n;
    this.setVersion();
  }

  /** kvm_apic_local_deliver(): an LVT's interrupt, unless it is masked or the APIC hardware-disabled; 1 if accepted. */
  localDeliver(lvtReg: number): number {
    const lvt = this.regs[lvtReg >> 2]!;
    if (!this.baseEnabled || lvt & APIC_LVT_MASKED) return 0;
    return this.accept(lvt & APIC_MODE_MASK, lvt & APIC_VECTOR_MASK, true, (lvt & APIC_LVT_LEVEL_TRIGGER) !== 0);
  }

  private setVersion(): void {
    let v = APIC_VERSION | ((this.nrLvt - 1) << 16);
    if (this.directedEoiCapable) v |= APIC_LVR_DIRECTED_EOI;
    this.regs[APIC_LVR >> 2] = v >>> 0;
  }

  /** IA32_APIC_BASE. */
  get apicBase(): number {
    return this.apicBaseMsr;
  }

  /**
   * IA32_APIC_BASE's low and high 32 bits as int32 (small integers), for per-exit writers
   * (post_kvm_run_save): the whole value is above 2^31, and handed to a call V8 did not inline it is
   * boxed as a heap number.
   */
  get apicBaseLo(): number {
    return this.baseLo;
  }

  get apicBaseHi(): number {
    return this.baseHi;
  }

  get base(): number {
    return this.baseAddr;
  }

  get hwEnabled(): boolean {
    return this.baseEnabled;
  }

  get swEnabled(): boolean {
    return (this.regs[SPIV_W]! & SPIV_ENABLED) !== 0;
  }

  /** apic_enabled(): hardware and software enabled. */
  get enabled(): boolean {
    return this.hwEnabled && this.swEnabled;
  }

  /** The 8-bit xAPIC ID. */
  get xapicId(): number {
    return this.regs[APIC_ID >> 2]! >>> 24;
  }

  /** KVM's x2APIC ID: the vCPU index, whatever the mode (kvm_x2apic_id()). */
  get x2apicId(): number {
    return this.index;
  }

  /** apic_x2apic_mode(). */
  get x2apicMode(): boolean {
    return this.x2;
  }

  get ldr(): number {
    return this.regs[APIC_LDR >> 2]!;
  }

  get dfr(): number {
    return this.regs[APIC_DFR >> 2]!;
  }

  get tpr(): number {
    return this.regs[APIC_TASKPRI >> 2]!;
  }

  get ppr(): number {
    return this.regs[APIC_PROCPRI >> 2]!;
  }

  get spiv(): number {
    return this.regs[APIC_SPIV >> 2]!;
  }

  get lvt0(): number {
    return this.regs[APIC_LVT0 >> 2]!;
  }

  private storeApicBase(value: number): void {
    this.apicBaseMsr = value;
    this.baseLo = value | 0;
    this.baseHi = (value / 0x1_0000_0000) | 0;
  }

  /** Whether SPIV's suppress-EOI-broadcast (directed EOI) bit is set. */
  get directedEoi(): boolean {
    return (this.spiv & APIC_SPIV_DIRECTED_EOI) !== 0;
  }

  /**
   * Sets IA32_APIC_BASE (the MSR write, or KVM_SET_SREGS.apic_base): __kvm_apic_set_base(). Turning
   * the enable bit on sets the xAPIC ID back to the vCPU index (kvm_apic_set_xapic_id); turning EXTD on
   * sets the x2APIC ID and LDR (kvm_apic_set_x2apic_id), turning it off with the APIC enabled the xAPIC ID.
   */
  setApicBase(value: number): void {
    const old = this.apicBaseMsr;
    this.storeApicBase(value);
    // `& 0xfff` sees the low 32 bits, which hold bits 0-11 whatever the value's size.
    this.baseAddr = value - (value & 0xfff);
    this.baseEnabled = (value & BASE_ENABLE) !== 0;
    this.x2 = (value & X2APIC_ENABLE) !== 0;
    let changed = false;
    if ((old ^ value) & BASE_ENABLE) {
      if (this.baseEnabled) this.regs[APIC_ID >> 2] = (this.index << 24) >>> 0;
      changed = true;
    }
    if ((old ^ value) & X2APIC_ENABLE) {
      if (this.x2) {
        this.regs[APIC_ID >> 2] = this.index >>> 0;
        this.regs[APIC_LDR >> 2] = x2apicLdr(this.index);
      } else if (this.baseEnabled) this.regs[APIC_ID >> 2] = (this.index << 24) >>> 0;
      changed = true;
    }
    if (changed) this.hooks.mapChanged(this);
  }

  // ---------------------------------------------------------------------------------------------
  // Vector banks

  testVector(bankOffset: number, v: number): boolean {
    return (this.regs[(bankOffset >> 2) + ((v >> 5) << 2)]! & (1 << (v & 31))) !== 0;
  }

  /** Vectors set in a bank (IRR, ISR or TMR), ascending (for inspection; allocates). */
  vectors(bankOffset: number): number[] {
    const out: number[] = [];
    for (let v = 0; v < 256; v++) if (this.testVector(bankOffset, v)) out.push(v);
    return out;
  }

  highestIrr(): number {
    return this.irrTop;
  }

  highestIsr(): number {
    return this.isrTop;
  }

  private setIrr(v: number): void {
    const i = IRR_W + ((v >> 5) << 2);
    const bit = 1 << (v & 31);
    const w = this.regs[i]!;
    if (!(w & bit)) {
      this.regs[i] = w | bit;
      this.irrCount++;
      if (v > this.irrTop) this.irrTop = v;
    }
  }

  /** Recomputes counts and tops after the banks were written wholesale. */
  private recount(): void {
    this.irrCount = countBank(this.regs, IRR_W);
    this.isrCount = countBank(this.regs, ISR_W);
    this.irrTop = highestInBank(this.regs, IRR_W);
    this.isrTop = highestInBank(this.regs, ISR_W);
  }

  private setTmr(v: number, level: boolean): void {
    const i = TMR_W + ((v >> 5) << 2);
    const bit = 1 << (v & 31);
    this.regs[i] = level ? this.regs[i]! | bit : this.regs[i]! & ~bit;
  }

  /** __apic_update_ppr(): recomputes PPR; true if it decreased. */
  private updatePpr(): boolean {
    const regs = this.regs;
    const old = regs[PPR_W]!;
    const ppr = pprFor(regs[TPR_W]!, this.isrTop);
    if (ppr !== old) regs[PPR_W] = ppr;
    return ppr < old;
  }

  /** apic_update_ppr(): and wake the vCPU if lowering PPR made an IRR vector deliverable. */
  private updatePprAndKick(): void {
    if (this.updatePpr() && this.deliverableFor(this.regs[PPR_W]!) !== -1) this.hooks.kick(this);
  }

  private deliverableFor(ppr: number): number {
    const v = this.irrTop;
    if (v === -1 || (v & 0xf0) <= ppr) return -1;
    return v;
  }

  // ---------------------------------------------------------------------------------------------
  // Interrupt acceptance and dispatch

  /**
   * __apic_accept_irq(): returns 1 if the APIC accepted the interrupt, 0 if not. Fixed and
   * lowest-priority requests land in IRR; NMI/INIT/SIPI become pending events.
   */
  accept(deliveryMode: number, vector: number, level: boolean, trigLevel: boolean): number {
    if (deliveryMode !== DM_FIXED && deliveryMode !== DM_LOWEST) return this.acceptOther(deliveryMode, vector, level, trigLevel);
    if (trigLevel && !level) return 0;
    if (!this.baseEnabled || (this.regs[SPIV_W]! & SPIV_ENABLED) === 0) return this.notAccepted(vector);
    // TMR follows the trigger mode; IRR is set (a vector already pending is not reported as coalesced).
    const regs = this.regs;
    const w = (vector >> 5) << 2;
    const bit = 1 << (vector & 31);
    if (trigLevel) regs[TMR_W + w] |= bit;
    else regs[TMR_W + w] &= ~bit;
    const i = IRR_W + w;
    const irr = regs[i]!;
    if ((irr & bit) === 0) {
      regs[i] = irr | bit;
      this.irrCount++;
      if (vector > this.irrTop) this.irrTop = vector;
    }
    if (this.trace.active) this.traceHop('lapic-irr', vector, trigLevel);
    this.hooks.kick(this);
    return 1;
  }

  /** A disabled APIC drops the request (out of line: rare, and accept() must stay small enough to inline). */
  private notAccepted(vector: number): number {
    if (this.trace.active) this.traceHop('dropped', vector, undefined);
    return 0;
  }

  /** accept() for the delivery modes that do not land in IRR (out of line: the fixed path stays small). */
  private acceptOther(deliveryMode: number, vector: number, level: boolean, trigLevel: boolean): number {
    switch (deliveryMode) {
      case APIC_DM_REMRD:
        this.hooks.kick(this);
        return 1;
      case APIC_DM_SMI:
        // No SMM in this model (as on a kernel built without CONFIG_KVM_SMM): kvm_inject_smi fails.
        return 0;
      case APIC_DM_NMI:
        if (this.nmiPending < 2) this.nmiPending++;
        this.hooks.kick(this);
        return 1;
      case APIC_DM_INIT:
        if (!trigLevel || level) {
          this.pendingEvents = LAPIC_EVENT_INIT;
          this.hooks.kick(this);
          return 1;
        }
        return 0;
      case APIC_DM_STARTUP:
        this.sipiVector = vector;
        this.pendingEvents |= LAPIC_EVENT_SIPI;
        this.hooks.kick(this);
        return 1;
      default:
        // APIC_DM_EXTINT arrives through the PIC path (acceptPicInterrupt), not here.
        return 0;
    }
  }

  /**
   * ORs `bits` into IRR word `i` (vectors 32i..32i+31) without a kick: what a CPU's posted-interrupt
   * processing and a hypervisor's PIR->IRR sync do to the virtual-APIC page (Xen vmx_sync_pir_to_irr,
   * SDM 29.6). Added for the Xen model.
   */
  orIrrWord(i: number, bits: number): void {
    let b = bits >>> 0;
    while (b !== 0) {
      const low = b & -b;
      this.setIrr(i * 32 + 31 - Math.clz32(low));
      b = (b & ~low) >>> 0;
    }
  }

  /** Records a vector's trigger mode in TMR (Xen's vlapic_set_irq does this before posting). Added for the Xen model. */
  setTrigger(vector: number, level: boolean): void {
    this.setTmr(vector, level);
  }

  /** kvm_apic_has_interrupt(): the vector the CPU would take now, or -1. */
  pendingVector(): number {
    if (!this.baseEnabled || this.irrCount === 0) return -1;
    const regs = this.regs;
    const ppr = pprFor(regs[TPR_W]!, this.isrTop);
    if (ppr !== regs[PPR_W]) regs[PPR_W] = ppr;
    const v = this.irrTop;
    return v === -1 || (v & 0xf0) <= ppr ? -1 : v;
  }

  /** kvm_get_apic_interrupt(): moves the highest deliverable IRR vector to ISR and returns it (-1: none). */
  ackInterrupt(): number {
    const v = this.pendingVector();
    if (v === -1) return -1;
    const regs = this.regs;
    const w = (v >> 5) << 2;
    const bit = 1 << (v & 31);
    // v is the highest IRR vector: the next one needs a scan only if IRR is not empty now.
    regs[IRR_W + w] &= ~bit;
    this.irrTop = --this.irrCount === 0 ? -1 : highestInBank(regs, IRR_W);
    // v's class is above PPR, hence above TPR's and every in-service vector's: v becomes the highest
    // ISR bit (it was clear) and the new PPR is its class, with no scan or recomputation.
    regs[ISR_W + w] |= bit;
    this.isrCount++;
    this.isrTop = v;
    regs[PPR_W] = v & 0xf0;
    if (this.trace.active) this.traceHop('lapic-isr', v, undefined);
    return v;
  }

  /** kvm_apic_accept_pic_intr(): whether this APIC passes 8259 (ExtINT) interrupts to its CPU. */
  acceptsPicInterrupt(): boolean {
    if (!this.baseEnabled) return true;
    const lvt0 = this.regs[LVT0_W]!;
    return (lvt0 & LVT_MASKED) === 0 && (lvt0 & MODE_MASK) === DM_EXTINT;
  }

  /** apic_set_eoi(): the EOI register write. Returns the vector EOI'd, or -1 if ISR was empty. */
  eoi(): number {
    const v = this.isrTop;
    if (v === -1) return -1;
    const regs = this.regs;
    const w = (v >> 5) << 2;
    const bit = 1 << (v & 31);
    // v is the highest ISR vector: the next one needs a scan only if ISR is not empty now.
    regs[ISR_W + w] &= ~bit;
    this.isrTop = --this.isrCount === 0 ? -1 : highestInBank(regs, ISR_W);
    // apic_update_ppr(): a lower PPR may have made an IRR vector deliverable (kick the vCPU).
    const old = regs[PPR_W]!;
    const ppr = pprFor(regs[TPR_W]!, this.isrTop);
    if (ppr !== old) {
      regs[PPR_W] = ppr;
      const top = this.irrTop;
      if (ppr < old && top !== -1 && (top & 0xf0) > ppr) this.hooks.kick(this);
    }
    const level = (regs[TMR_W + w]! & bit) !== 0;
    if (this.trace.active) this.traceHop('eoi', v, level);
    this.hooks.eoi(this, v, level);
    return v;
  }

  // ---------------------------------------------------------------------------------------------
  // Destination matching (kvm_apic_match_physical_addr / kvm_apic_match_logical_addr)

  /** kvm_apic_broadcast(): the broadcast ID of the APIC's mode. */
  private isBroadcast(mda: number): boolean {
    return mda === (this.x2 ? X2APIC_BROADCAST : APIC_BROADCAST);
  }

  /**
   * Physical destination `mda` (32 bits). KVM's hotplug hack: an xAPIC-mode APIC also answers to its
   * x2APIC ID when the ID cannot be encoded in 8 bits.
   */
  matchPhysical(mda: number): boolean {
    if (this.isBroadcast(mda)) return true;
    if (this.x2 || mda > 0xff) return mda === this.index;
    return mda === this.xapicId;
  }

  matchLogical(mda: number): boolean {
    if (this.isBroadcast(mda)) return true;
    if (this.x2) {
      const ldr = this.ldr;
      return ldr >>> 16 === mda >>> 16 && (ldr & mda & 0xffff) !== 0;
    }
    const logicalId = this.ldr >>> 24;
    switch (this.dfr) {
      case APIC_DFR_FLAT:
        return (logicalId & mda) !== 0;
      case APIC_DFR_CLUSTER:
        return logicalId >> 4 === mda >>> 4 && (logicalId & mda & 0xf) !== 0;
      default:
        return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // MMIO (offsets within the APIC page)

  inRange(addr: number): boolean {
    const base = this.base;
    return addr >= base && addr < base + APIC_MMIO_LENGTH;
  }

  /**
   * apic_mmio_read() + kvm_lapic_reg_read(). -1 when kvm_lapic_reg_read() refuses the access (a register
   * that cannot be read, or one crossing a 4-byte boundary): apic_mmio_read() still reports it handled
   * but writes no data, so what the guest gets is up to the caller's buffer (see KvmVcpu.read).
   */
  mmioRead(offset: number, len: number): number {
    // In x2APIC mode too, the window is a hole (KVM_X86_QUIRK_LAPIC_MMIO_HOLE).
    if (!this.hwEnabled || this.x2) return len >= 4 ? 0xffff_ffff : (1 << (len * 8)) - 1;
    return this.regRead(offset, len);
  }

  /** kvm_lapic_reg_read(): the value, or -1 if the register cannot be read in this mode (or the access crosses 4 bytes). */
  regRead(offset: number, len: number): number {
    const align = offset & 0xf;
    if (align + len > 4) return -1;
    const reg = offset & ~0xf;
    if (reg > 0x3f0 || !((this.x2 ? READABLE_X2APIC : READABLE_XAPIC).has(reg) || (reg === APIC_LVTCMCI && this.nrLvt > NR_LVT))) return -1;
    const v = this.readReg(reg) >>> (align * 8);
    return len === 4 ? v >>> 0 : v & ((1 << (len * 8)) - 1);
  }

  /** __apic_read(). */
  readReg(reg: number): number {
    switch (reg) {
      case APIC_ARBPRI:
        return 0;
      case APIC_TMCCT:
        return this.timer.current(this.hw.sched.now);
      case APIC_PROCPRI:
        this.updatePpr();
        return this.ppr;
      default:
        return this.regs[reg >> 2]!;
    }
  }

  /** apic_mmio_write(): only aligned 32-bit writes reach a register; what the write refuses is ignored. */
  mmioWrite(offset: number, len: number, value: number): void {
    if (!this.hwEnabled || this.x2) return;
    if (len !== 4 || offset & 0xf) return;
    this.writeReg(offset & 0xff0, value >>> 0);
  }

  /**
   * kvm_lapic_reg_write(): 0, or 1 when the register cannot be written in this mode (read-only or
   * missing registers, x2APIC's ID/LDR/DFR/ICR2, a non-zero x2APIC ESR, a bad SELF IPI).
   */
  writeReg(reg: number, val: number): number {
    switch (reg) {
      case APIC_ID:
        if (this.x2) return 1;
        this.regs[APIC_ID >> 2] = (val & 0xff00_0000) >>> 0;
        this.hooks.mapChanged(this);
        return 0;
      case APIC_TASKPRI:
        this.regs[APIC_TASKPRI >> 2] = val & 0xff;
        this.updatePprAndKick();
        return 0;
      case APIC_EOI:
        this.eoi();
        return 0;
      case APIC_LDR:
        if (this.x2) return 1;
        this.regs[APIC_LDR >> 2] = (val & APIC_LDR_MASK) >>> 0;
        this.hooks.mapChanged(this);
        return 0;
      case APIC_DFR:
        if (this.x2) return 1;
        this.regs[APIC_DFR >> 2] = (val | 0x0fff_ffff) >>> 0;
        this.hooks.mapChanged(this);
        return 0;
      case APIC_SPIV: {
        let mask = 0x3ff;
        if (this.regs[APIC_LVR >> 2]! & APIC_LVR_DIRECTED_EOI) mask |= APIC_SPIV_DIRECTED_EOI;
        this.setSpiv(val & mask);
        if (!(val & APIC_SPIV_APIC_ENABLED)) {
          for (const r of LVT_REGS) this.regs[r >> 2] = (this.regs[r >> 2]! | APIC_LVT_MASKED) >>> 0;
          if (this.nrLvt > NR_LVT) this.regs[LVTCMCI_W] = (this.regs[LVTCMCI_W]! | APIC_LVT_MASKED) >>> 0;
          this.timer.updateLvtt();
          this.timer.pending = false;
        }
        return 0;
      }
      case APIC_ICR: {
        // xAPIC only: x2APIC's 64-bit ICR goes through icrWriteX2().
        const low = val & ~APIC_SEND_PENDING;
        this.sendIpi(low, this.regs[APIC_ICR2 >> 2]!);
        this.regs[APIC_ICR >> 2] = low >>> 0;
        return 0;
      }
      case APIC_ICR2:
        if (this.x2) return 1;
        this.regs[APIC_ICR2 >> 2] = (val & 0xff00_0000) >>> 0;
        return 0;
      case APIC_LVTT:
      case APIC_LVTTHMR:
      case APIC_LVTPC:
      case APIC_LVT0:
      case APIC_LVT1:
      case APIC_LVTERR: {
        const idx = LVT_REGS.indexOf(reg as (typeof LVT_REGS)[number]);
        let v = val;
        if (!this.swEnabled) v |= APIC_LVT_MASKED;
        this.regs[reg >> 2] = (v & (idx === 0 ? LVT_WRITE_MASK[0]! | this.timerModeMask : LVT_WRITE_MASK[idx]!)) >>> 0;
        if (idx === 0) this.timer.updateLvtt();
        return 0;
      }
      case APIC_LVTCMCI: {
        if (this.nrLvt === NR_LVT) return 1;
        const v = this.swEnabled ? val : val | APIC_LVT_MASKED;
        this.regs[LVTCMCI_W] = (v & LVTCMCI_WRITE_MASK) >>> 0;
        return 0;
      }
      case APIC_TMICT:
        // Ignored in TSC-deadline mode; otherwise the timer starts over from the new count.
        if (this.timer.mode === APIC_LVT_TIMER_TSCDEADLINE) return 0;
        this.timer.cancel();
        this.regs[APIC_TMICT >> 2] = val >>> 0;
        this.timer.start();
        return 0;
      case APIC_TDCR: {
        const old = this.timer.divideCount;
        this.regs[APIC_TDCR >> 2] = val & 0xb;
        this.timer.updateDivide();
        this.timer.divideChanged(old);
        return 0;
      }
      case APIC_ESR:
        return this.x2 && val !== 0 ? 1 : 0;
      case APIC_SELF_IPI:
        // x2APIC only; bits 7:0 are the vector, the rest reserved.
        if (!this.x2 || val & ~APIC_VECTOR_MASK) return 1;
        this.sendIpi(APIC_DEST_SELF | val, 0);
        return 0;
      default:
        return 1;
    }
  }

  /** The x2APIC ICR (kvm_x2apic_icr_read): bits 31:0 and 63:32. */
  get icrLow(): number {
    return this.regs[APIC_ICR >> 2]!;
  }

  get icrHigh(): number {
    return this.regs[ICR_HI_W]!;
  }

  /** __kvm_x2apic_icr_write(): 1 for reserved bits; BUSY is cleared; the IPI goes before the store. */
  icrWriteX2(lo: number, hi: number): number {
    if (lo & X2APIC_ICR_RESERVED_LO) return 1;
    const low = (lo & ~APIC_SEND_PENDING) >>> 0;
    this.sendIpi(low, hi >>> 0);
    this.regs[APIC_ICR >> 2] = low;
    this.regs[ICR_HI_W] = hi >>> 0;
    return 0;
  }

  /** apic_set_spiv(). */
  setSpiv(val: number): void {
    const old = this.spiv;
    this.regs[APIC_SPIV >> 2] = val >>> 0;
    if ((old ^ val) & APIC_SPIV_APIC_ENABLED) this.hooks.mapChanged(this);
  }

  /** kvm_apic_send_ipi(): decodes ICR into a request the hypervisor delivers. */
  private sendIpi(low: number, high: number): void {
    const irq = this.ipi;
    irq.vector = low & APIC_VECTOR_MASK;
    irq.deliveryMode = low & APIC_MODE_MASK;
    irq.destMode = low & APIC_DEST_LOGICAL;
    irq.level = (low & APIC_INT_ASSERT) !== 0;
    irq.trigMode = low & APIC_INT_LEVELTRIG ? 1 : 0;
    irq.shorthand = low & APIC_SHORT_MASK;
    irq.msiRedirHint = false;
    irq.destId = this.x2 ? high >>> 0 : high >>> 24;
    this.hooks.sendIpi(this, irq);
  }

  /** TimerApic: an expiry is pending; wake the vCPU so that it is injected. */
  timerExpired(): void {
    this.hooks.kick(this);
  }

  /**
   * kvm_apic_inject_pending_timer_irqs(): delivers a pending timer expiry through LVTT (kvm_apic_local_deliver:
   * not while LVTT is masked or the APIC hardware-disabled; the timer LVT's delivery mode is always fixed).
   */
  injectPendingTimer(): void {
    const lvtt = this.regs[APIC_LVTT >> 2]!;
    if (this.baseEnabled && !(lvtt & APIC_LVT_MASKED)) this.accept(DM_FIXED, lvtt & APIC_VECTOR_MASK, true, false);
    this.timer.injected();
  }

  // ---------------------------------------------------------------------------------------------
  // Save/restore (KVM_GET_LAPIC / KVM_SET_LAPIC)

  /** Copies the register page into `out` (0x400 bytes), with TMCCT as a read would give it (kvm_apic_get_state). */
  getState(out: Uint8Array): void {
    this.updatePpr();
    const src = new Uint8Array(this.regs.buffer, this.regs.byteOffset, LAPIC_REGS_BYTES);
    out.set(src);
    const c = this.timer.current(this.hw.sched.now);
    out[APIC_TMCCT] = c & 0xff;
    out[APIC_TMCCT + 1] = (c >>> 8) & 0xff;
    out[APIC_TMCCT + 2] = (c >>> 16) & 0xff;
    out[APIC_TMCCT + 3] = c >>> 24;
  }

  /**
   * kvm_apic_set_state() after its SPIV store (setSpiv, which the caller makes first: KVM stores SPIV
   * even when the state is then refused): loads the page, keeps KVM's version register, recomputes PPR
   * and counts.
   */
  setState(src: Uint8Array): void {
    new Uint8Array(this.regs.buffer, this.regs.byteOffset, LAPIC_REGS_BYTES).set(src.subarray(0, LAPIC_REGS_BYTES));
    this.setVersion();
    // The timer starts again from the page's TMCCT (__start_apic_timer(apic, APIC_TMCCT)), then TMCCT is 0.
    this.timer.cancel();
    this.timer.updateLvtt();
    this.timer.updateDivide();
    this.timer.start(this.regs[APIC_TMCCT >> 2]!);
    this.regs[APIC_TMCCT >> 2] = 0;
    this.recount();
    this.updatePpr();
    this.hooks.mapChanged(this);
    this.hooks.kick(this);
  }

  /** `level`: the trigger mode to report (IRR and EOI hops), undefined for the others. */
  private traceHop(hop: 'lapic-irr' | 'lapic-isr' | 'eoi' | 'dropped', vector: number, level: boolean | undefined): void {
    const detail = hop === 'dropped' ? 'APIC software-disabled: not accepted' : level === undefined ? undefined : level ? 'level' : 'edge';
    this.trace.emit({ type: 'irq', t: this.hw.sched.now, hop, at: this.label, vector, vcpu: this.index, ...(detail !== undefined ? { detail } : {}) });
  }
}
