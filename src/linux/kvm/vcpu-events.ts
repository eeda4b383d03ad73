// vCPU event state and its ioctls (arch/x86/kvm/x86.c: kvm_vcpu_ioctl_x86_get_vcpu_events,
// kvm_vcpu_ioctl_x86_set_vcpu_events, kvm_vcpu_ioctl_nmi, kvm_inject_nmi, process_nmi,
// kvm_vcpu_ioctl_interrupt, kvm_deliver_exception_payload, kvm_vcpu_ready_for_interrupt_injection,
// kvm_cpu_accept_dm_intr, kvm_event_needs_reinjection; vmx.c vmx_get/set_interrupt_shadow).
//
// State (on KvmVcpu): vcpu->arch.exception (injected, pending, vector, error code, payload), the
// interrupt queue (`injectedIrq` = interrupt.injected ? nr : -1, `irqNr` kept after delivery as the
// kernel keeps interrupt.nr), nmi_queued (`nmiQueued`, plus the hw LAPIC's `nmiPending` count, which is
// what an APIC NMI adds to it), nmi_pending, nmi_injected, pending_external_vector (split irqchip) and
// KVM_REQ_TRIPLE_FAULT. NMI blocking is the guest CPU's `nmiBlocked`, the interrupt shadow its `shadow`.
//
// KVM_SET_VCPU_EVENTS checks unknown flags, then VALID_PAYLOAD (needs KVM_CAP_EXCEPTION_PAYLOAD), then
// the exception vector (> 31 or NMI_VECTOR with injected/pending), all EINVAL before anything changes;
// then it stores the exception, interrupt, shadow, NMI and SIPI fields, and only then refuses SMM
// (this kernel is built without CONFIG_KVM_SMM: smm, pending or smm_inside_nmi set -> EINVAL) and
// VALID_TRIPLE_FAULT without KVM_CAP_X86_TRIPLE_FAULT_EVENT (EINVAL): those failures keep what was
// stored before them, as the kernel does.
//
// When the guest runs (x86-run.ts kvm_check_and_inject_events): an injected exception, NMI or interrupt
// is re-injected first (one per entry), then a pending exception, then new NMIs and interrupts when
// nothing waits for re-injection. An exception enters the guest program's handler for its vector as
// an interrupt would (the model has no error-code push and no RFLAGS.RF); a vector without a handler
// is a triple fault (KVM_EXIT_SHUTDOWN). A requested triple fault exits KVM_EXIT_SHUTDOWN at entry.

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import {
  KVM_VCPUEVENT_VALID_NMI_PENDING, KVM_VCPUEVENT_VALID_PAYLOAD, KVM_VCPUEVENT_VALID_SHADOW, KVM_VCPUEVENT_VALID_SIPI_VECTOR,
  KVM_VCPUEVENT_VALID_SMM, KVM_VCPUEVENT_VALID_TRIPLE_FAULT, KVM_X86_SHADOW_INT_MOV_SS, KVM_X86_SHADOW_INT_STI, kvm_vcpu_events,
} from '../../../include-ts/asm/kvm.js';
import { kvm_interrupt, kvm_sregs } from '../../../include-ts/linux/kvm.js';
import { LAPIC_EVENT_INIT } from '../../hw/x86/lapic.js';
import { KVM_IRQCHIP_NONE } from './kvm-host.js';
import { kvmCpuHasExtint } from './irq.js';
import type { KvmVcpu } from './vcpu.js';

const EV = {
  excInjected: kvm_vcpu_events.offsetof('exception.injected'),
  excNr: kvm_vcpu_events.offsetof('exception.nr'),
  excHasErrorCode: kvm_vcpu_events.offsetof('exception.has_error_code'),
  excPending: kvm_vcpu_events.offsetof('exception.pending'),
  excErrorCode: kvm_vcpu_events.offsetof('exception.error_code'),
  irqInjected: kvm_vcpu_events.offsetof('interrupt.injected'),
  irqNr: kvm_vcpu_events.offsetof('interrupt.nr'),
  irqSoft: kvm_vcpu_events.offsetof('interrupt.soft'),
  irqShadow: kvm_vcpu_events.offsetof('interrupt.shadow'),
  nmiInjected: kvm_vcpu_events.offsetof('nmi.injected'),
  nmiPending: kvm_vcpu_events.offsetof('nmi.pending'),
  nmiMasked: kvm_vcpu_events.offsetof('nmi.masked'),
  sipiVector: kvm_vcpu_events.offsetof('sipi_vector'),
  flags: kvm_vcpu_events.offsetof('flags'),
  smm: kvm_vcpu_events.offsetof('smi.smm'),
  smiPending: kvm_vcpu_events.offsetof('smi.pending'),
  smmInsideNmi: kvm_vcpu_events.offsetof('smi.smm_inside_nmi'),
  latchedInit: kvm_vcpu_events.offsetof('smi.latched_init'),
  tripleFault: kvm_vcpu_events.offsetof('triple_fault.pending'),
  hasPayload: kvm_vcpu_events.offsetof('exception_has_payload'),
  payload: kvm_vcpu_events.offsetof('exception_payload'),
} as const;

const VALID_FLAGS = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW
  | KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
const NMI_VECTOR = 2;
const DB_VECTOR = 1;
const BP_VECTOR = 3;
const OF_VECTOR = 4;
const PF_VECTOR = 14;
/** KVM_NR_INTERRUPTS. */
const KVM_NR_INTERRUPTS = 256;
/** DR6: DR_TRAP_BITS (B0-B3), DR6_ACTIVE_LOW, and bit 12 (cleared by a #DB payload). */
const DR_TRAP_BITS = 0xfn;
const DR6_ACTIVE_LOW = 0xffff0ff0n;
const DR6_BIT12 = 1n << 12n;
const SREGS_CR2 = kvm_sregs.offsetof('cr2');

/** kvm_inject_nmi(): nmi_queued++ (the next entry's process_nmi folds it into nmi_pending). */
export function kvmInjectNmi(v: KvmVcpu): void {
  v.nmiQueued++;
  v.kick();
}

/**
 * process_nmi(): nmi_queued (KVM_NMI, SET_VCPU_EVENTS and APIC NMIs) moves into nmi_pending, which is
 * capped at 2 — at 1 while NMIs are blocked or one is being injected.
 */
export function processNmi(v: KvmVcpu): void {
  const limit = v.cpu.nmiBlocked || v.nmiInjected ? 1 : 2;
  let queued = v.nmiQueued;
  v.nmiQueued = 0;
  const apic = v.lapic;
  if (apic !== null) {
    queued += apic.nmiPending;
    apic.nmiPending = 0;
  }
  v.nmiPending = Math.min(v.nmiPending + queued, limit);
}

/** NMIs queued but not yet folded by process_nmi (KVM_REQ_NMI). */
export function nmiRequested(v: KvmVcpu): boolean {
  return v.nmiQueued !== 0 || (v.lapic !== null && v.lapic.nmiPending !== 0);
}

/** kvm_event_needs_reinjection(): an exception, NMI or interrupt was injected and not yet delivered. */
export function eventNeedsReinjection(v: KvmVcpu): boolean {
  return v.excInjected || v.nmiInjected || v.injectedIrq >= 0;
}

/** kvm_is_exception_pending(): a pending exception or a requested triple fault. */
export function exceptionPending(v: KvmVcpu): boolean {
  return v.excPending || v.tripleFault;
}

/** kvm_arch_interrupt_allowed() (vmx_interrupt_blocked): RFLAGS.IF set and no STI/MOV SS shadow. */
function interruptAllowed(v: KvmVcpu): boolean {
  return v.cpu.ifFlag && !v.cpu.shadow;
}

/**
 * kvm_cpu_accept_dm_intr(): userspace may queue an interrupt (no ExtINT already waiting; with an
 * in-kernel LAPIC, LINT0 must take ExtINT).
 */
function acceptDmIntr(v: KvmVcpu): boolean {
  if (kvmCpuHasExtint(v)) return false;
  return v.lapic === null || v.lapic.acceptsPicInterrupt();
}

/** kvm_vcpu_ready_for_interrupt_injection(). */
export function readyForInterruptInjection(v: KvmVcpu): boolean {
  return interruptAllowed(v) && acceptDmIntr(v) && !eventNeedsReinjection(v) && !exceptionPending(v);
}

/** kvm_run.ready_for_interrupt_injection as post_kvm_run_save() computes it. */
export function runReadyForInjection(v: KvmVcpu): boolean {
  return v.kvm.pic !== null || readyForInterruptInjection(v);
}

/** dm_request_for_irq_injection() && the vCPU is ready: KVM_RUN exits with KVM_EXIT_IRQ_WINDOW_OPEN. */
export function irqWindowOpen(v: KvmVcpu, requested: number): boolean {
  return requested !== 0 && v.kvm.pic === null && readyForInterruptInjection(v);
}

/** kvm_exception_is_soft(): #BP and #OF are software exceptions. */
function exceptionIsSoft(nr: number): boolean {
  return nr === BP_VECTOR || nr === OF_VECTOR;
}

/**
 * kvm_deliver_exception_payload(): a #DB payload goes to DR6 (all 64 bits: DR6 is an unsigned long,
 * measured), a #PF payload to CR2.
 */
export function deliverExceptionPayload(v: KvmVcpu): void {
  if (!v.excHasPayload) return;
  if (v.excNr === DB_VECTOR) {
    const p = v.excPayload;
    let dr6 = (v.dr6 & ~DR_TRAP_BITS) | DR6_ACTIVE_LOW;
    dr6 |= p;
    dr6 ^= p & DR6_ACTIVE_LOW;
    v.dr6 = dr6 & ~DR6_BIT12;
  } else if (v.excNr === PF_VECTOR) {
    kvmWriteCr2(v, v.excPayload);
  }
  v.excHasPayload = false;
  v.excPayload = 0n;
}

/** kvm_write_cr2(): CR2 lives in the vCPU's kvm_sregs bytes. */
function kvmWriteCr2(v: KvmVcpu, value: bigint): void {
  setU64(v.sregs, SREGS_CR2, value);
}

/**
 * kvm_vcpu_ioctl_x86_get_vcpu_events(): process_nmi first; without KVM_CAP_EXCEPTION_PAYLOAD a pending
 * exception's payload is delivered (CR2/DR6) and pending is reported as injected too; soft exceptions
 * (#BP, #OF) are never reported as injected or pending; sipi_vector is never reported; SMM fields are 0
 * (no CONFIG_KVM_SMM) but latched_init (an INIT waiting in the in-kernel LAPIC).
 */
export function getVcpuEvents(v: KvmVcpu, arg: UserArg): number {
  vcpuEventsToBytes(v, arg.user(kvm_vcpu_events.size));
  return 0;
}

/** kvm_vcpu_ioctl_x86_get_vcpu_events() into `b` (also kvm_run.s.regs.events, KVM_SYNC_X86_EVENTS). */
export function vcpuEventsToBytes(v: KvmVcpu, b: Uint8Array): void {
  processNmi(v);
  const payloadEnabled = v.kvm.exceptionPayloadEnabled;
  if (!payloadEnabled && v.excPending && v.excHasPayload) deliverExceptionPayload(v);
  b.fill(0);
  if (!exceptionIsSoft(v.excNr)) {
    b[EV.excInjected] = v.excInjected || (!payloadEnabled && v.excPending) ? 1 : 0;
    b[EV.excPending] = v.excPending ? 1 : 0;
  }
  b[EV.excNr] = v.excNr;
  b[EV.excHasErrorCode] = v.excHasErrorCode ? 1 : 0;
  setU32(b, EV.excErrorCode, v.excErrorCode);
  b[EV.hasPayload] = v.excHasPayload ? 1 : 0;
  setU64(b, EV.payload, v.excPayload);
  b[EV.irqInjected] = v.injectedIrq >= 0 && !v.irqSoft ? 1 : 0;
  b[EV.irqNr] = v.irqNr;
  b[EV.irqShadow] = interruptShadow(v);
  b[EV.nmiInjected] = v.nmiInjected ? 1 : 0;
  b[EV.nmiPending] = v.nmiPending;
  b[EV.nmiMasked] = v.cpu.nmiBlocked ? 1 : 0;
  const apic = v.lapic;
  b[EV.latchedInit] = apic !== null && apic.pendingEvents & LAPIC_EVENT_INIT ? 1 : 0;
  let flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
  if (payloadEnabled) flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
  if (v.kvm.tripleFaultEvent) {
    b[EV.tripleFault] = v.tripleFault ? 1 : 0;
    flags |= KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
  }
  setU32(b, EV.flags, flags);
}

/**
 * vmx_get_interrupt_shadow(): the guest's STI shadow reads as KVM_X86_SHADOW_INT_STI; a shadow that
 * KVM_SET_VCPU_EVENTS set, while no instruction has run since, reads back with the bits it was set
 * with (MOV SS, STI or both).
 */
function interruptShadow(v: KvmVcpu): number {
  if (!v.cpu.shadow) return 0;
  return v.cpu.instructions === v.shadowSetAt ? v.shadowBits : KVM_X86_SHADOW_INT_STI;
}

/** kvm_vcpu_ioctl_x86_set_vcpu_events(); see the header for the order of its checks and effects. */
export function setVcpuEvents(v: KvmVcpu, arg: UserArg): number {
  vcpuEventsFromBytes(v, arg.user(kvm_vcpu_events.size));
  return 0;
}

/** kvm_vcpu_ioctl_x86_set_vcpu_events() from `b` (also kvm_run.s.regs.events, KVM_SYNC_X86_EVENTS). */
export function vcpuEventsFromBytes(v: KvmVcpu, b: Uint8Array): void {
  const flags = getU32(b, EV.flags);
  const kvm = v.kvm;
  if (flags & ~VALID_FLAGS) throw kerr('EINVAL', `kvm_vcpu_events.flags 0x${flags.toString(16)} has bits other than KVM_VCPUEVENT_VALID_* (0x${VALID_FLAGS.toString(16)}); nothing was changed`);
  let excInjected = b[EV.excInjected]! !== 0;
  let excPending = b[EV.excPending]! !== 0;
  let hasPayload = b[EV.hasPayload]! !== 0;
  if (flags & KVM_VCPUEVENT_VALID_PAYLOAD) {
    if (!kvm.exceptionPayloadEnabled) throw kerr('EINVAL', 'KVM_VCPUEVENT_VALID_PAYLOAD needs KVM_CAP_EXCEPTION_PAYLOAD enabled on the VM; nothing was changed');
    if (excPending) excInjected = false;
    else hasPayload = false;
  } else {
    excPending = false;
    hasPayload = false;
  }
  const nr = b[EV.excNr]!;
  if ((excInjected || excPending) && (nr > 31 || nr === NMI_VECTOR)) throw kerr('EINVAL', `exception.nr ${nr} is ${nr === NMI_VECTOR ? 'NMI_VECTOR (use nmi.*)' : 'not an exception vector (0-31)'}; nothing was changed`);

  processNmi(v);
  v.excInjected = excInjected;
  v.excPending = excPending;
  v.excNr = nr;
  v.excHasErrorCode = b[EV.excHasErrorCode]! !== 0;
  v.excErrorCode = getU32(b, EV.excErrorCode);
  v.excHasPayload = hasPayload;
  v.excPayload = getU64(b, EV.payload);

  v.irqNr = b[EV.irqNr]!;
  v.irqSoft = b[EV.irqSoft]! !== 0;
  v.injectedIrq = b[EV.irqInjected]! !== 0 ? v.irqNr : -1;
  if (flags & KVM_VCPUEVENT_VALID_SHADOW) {
    const mask = b[EV.irqShadow]! & (KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI);
    v.cpu.shadow = mask !== 0;
    v.shadowBits = mask;
    v.shadowSetAt = v.cpu.instructions;
  }
  v.nmiInjected = b[EV.nmiInjected]! !== 0;
  if (flags & KVM_VCPUEVENT_VALID_NMI_PENDING) {
    v.nmiPending = 0;
    v.nmiQueued = b[EV.nmiPending]!;
  }
  v.cpu.nmiBlocked = b[EV.nmiMasked]! !== 0;
  const apic = v.lapic;
  if (flags & KVM_VCPUEVENT_VALID_SIPI_VECTOR && apic !== null) apic.sipiVector = getU32(b, EV.sipiVector);
  if (flags & KVM_VCPUEVENT_VALID_SMM) {
    if (b[EV.smm] || b[EV.smiPending] || b[EV.smmInsideNmi]) throw kerr('EINVAL', 'smi.smm, smi.pending and smi.smm_inside_nmi must be 0: this kernel has no SMM support (KVM_CAP_X86_SMM is 0); the exception, interrupt and NMI fields were already stored');
    if (apic !== null) {
      if (b[EV.latchedInit]) apic.pendingEvents |= LAPIC_EVENT_INIT;
      else apic.pendingEvents &= ~LAPIC_EVENT_INIT;
    }
  }
  if (flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT) {
    if (!kvm.tripleFaultEvent) throw kerr('EINVAL', 'KVM_VCPUEVENT_VALID_TRIPLE_FAULT needs KVM_CAP_X86_TRIPLE_FAULT_EVENT enabled on the VM; the other fields were already stored');
    v.tripleFault = b[EV.tripleFault]! !== 0;
  }
  v.kick();
}

/** kvm_vcpu_ioctl_nmi(): works with or without an in-kernel LAPIC. */
export function vcpuIoctlNmi(v: KvmVcpu): number {
  kvmInjectNmi(v);
  return 0;
}

/**
 * kvm_vcpu_ioctl_interrupt(): EINVAL for irq >= 256; without an in-kernel irqchip the vector becomes
 * the injected interrupt (delivered at the next entry whatever IF says: userspace checks
 * ready_for_interrupt_injection first); with the full irqchip ENXIO (the 8259 is in the kernel); with a
 * split irqchip it is the ExtINT vector (EEXIST while one waits).
 */
export function vcpuIoctlInterrupt(v: KvmVcpu, arg: UserArg): number {
  const irq = getU32(arg.user(kvm_interrupt.size), 0);
  if (irq >= KVM_NR_INTERRUPTS) throw kerr('EINVAL', `irq ${irq} is not a vector (0-255)`);
  const kvm = v.kvm;
  if (kvm.irqchipMode === KVM_IRQCHIP_NONE) {
    v.injectedIrq = irq;
    v.irqNr = irq;
    v.irqSoft = false;
    return 0;
  }
  if (kvm.pic !== null) throw kerr('ENXIO', 'the VM has the full in-kernel irqchip: its 8259 raises ExtINT, not KVM_INTERRUPT');
  if (v.pendingExternalVector !== -1) throw kerr('EEXIST', `ExtINT vector 0x${v.pendingExternalVector.toString(16)} is still waiting for the vCPU to take it`);
  v.pendingExternalVector = irq;
  v.kick();
  return 0;
}
