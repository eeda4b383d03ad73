// The KVM paravirtual MSRs (arch/x86/kvm/x86.c: kvm_set_msr_common / kvm_get_msr_common for MSR_KVM_*,
// kvm_write_wall_clock, kvm_get_wall_clock_epoch, kvm_write_system_time, kvmclock_reset,
// kvm_guest_time_update, kvm_setup_guest_pvclock, record_steal_time, kvm_pv_enable_async_pf,
// kvm_pv_enable_async_pf_int, kvm_do_msr_access's rule for advertised MSRs, emulated_msrs_all;
// arch/x86/kvm/cpuid.h guest_pv_has; arch/x86/kvm/lapic.c kvm_lapic_set_pv_eoi; the layouts of
// arch/x86/include/asm/pvclock-abi.h and uapi asm/kvm_para.h).
//
// State: per vCPU `time` (both SYSTEM_TIME MSRs read it), the async-PF enable and interrupt MSRs, steal
// time, PV EOI and POLL_CONTROL (1 from vCPU creation: kvm_arch_vcpu_postcreate); per VM the wall-clock
// GPA (KvmClock.wallClock: both WALL_CLOCK MSRs read it).
//
// - guest_pv_has(): with KVM_CAP_ENFORCE_PV_FEATURE_CPUID on the vCPU, each MSR needs its KVM_FEATURE_*
//   bit in the guest CPUID's KVM features leaf (cpuid.ts pvFeatures), else the access fails with
//   KVM_MSR_RET_UNSUPPORTED: a guest access #GPs or exits with KVM_MSR_EXIT_REASON_UNKNOWN; a host read
//   succeeds with 0 and a host write of 0 succeeds (kvm_do_msr_access: these MSRs are advertised) [E].
// - WALL_CLOCK(_NEW): any value; stored, then kvm_write_wall_clock() at that GPA (0: nothing written;
//   memory KVM cannot read or write: nothing, silently): version = (old, made even) + 1, the struct
//   pvclock_wall_clock { version, sec, nsec } of the VM's boot epoch (host realtime - kvmclock), version+1.
// - SYSTEM_TIME(_NEW): any value; bit 0 enables the pvclock at value & ~1 (32 bytes, which must not cross a
//   page and must be in writable RAM, else it is silently not written). KVM_REQ_CLOCK_UPDATE: the struct
//   pvclock_vcpu_time_info is written at the next guest entry (for a guest WRMSR, before its next
//   instruction): version (old + 1) | 1, the fields, version + 1; tsc_timestamp = the guest TSC,
//   system_time = kvmclock ns, tsc_to_system_mul/shift = kvm_get_time_scale(NSEC_PER_SEC, host TSC Hz)
//   (no TSC scaling on this host: the guest TSC ticks at the host rate whatever KVM_SET_TSC_KHZ says [E]),
//   flags PVCLOCK_TSC_STABLE_BIT when the VM uses the master clock (this host's TSC is the clocksource:
//   every vCPU in the current TSC generation and vCPU 0 not on the old MSR), plus the guest's own
//   PVCLOCK_GUEST_STOPPED. A guest write from vCPU 0 records whether it used the old MSR.
//   Updates are also requested at vCPU creation (first vcpu_load) and by KVM_SET_CLOCK, and at every entry
//   in TSC catch-up mode.
// - ASYNC_PF_EN: bits 4-5 reserved; DELIVERY_AS_PF_VMEXIT / DELIVERY_AS_INT need their guest_pv_has();
//   without an in-kernel LAPIC only 0 is accepted; the value is stored, and when ENABLED and
//   DELIVERY_AS_INT are both set the 8 bytes at value & ~0x3f must be in writable RAM, else the write
//   fails WITH the value kept (the kernel stores it first) [E]. ASYNC_PF_INT: bits 8-63 reserved, needs
//   the in-kernel LAPIC; bits 0-7 are the vector. ASYNC_PF_ACK reads 0, takes any value.
// - STEAL_TIME: bits 1-5 reserved (KVM_STEAL_RESERVED_MASK); with bit 0, struct kvm_steal_time at value &
//   KVM_STEAL_VALID_BITS gets preempted = 0, version made even + 1, steal += 0 (the model's vCPU thread
//   never waits for a host CPU), version + 1, at each guest entry (KVM_REQ_STEAL_UPDATE from vcpu_load).
// - PV_EOI_EN: the address (value & ~1) 4-byte aligned even when disabled; enabled, it must be in writable
//   RAM (kvm_gfn_to_hva_cache_init). POLL_CONTROL: only bit 0.
// - RESET and INIT clear async PF, steal time and the system time (kvmclock_reset); kvm_lapic_reset
//   clears PV EOI; POLL_CONTROL and the wall clock stay.
// - Not modelled: async page faults themselves (no page is ever missing, so nothing is queued; the "wake
//   up all" notice an enable queues stays undelivered, as on this host with the LAPIC software-disabled
//   [E]); PV EOI's effect on EOI (pv_eoi_set_pending / the EOI skip); vCPU preemption (preempted stays 0);
//   the 100 ms kvmclock_update_work that carries KVM_REQ_GLOBAL_CLOCK_UPDATE to the other vCPUs; the master
//   clock's snapshot (the model's TSC and kvmclock never drift, so "now" gives the same line).

import { KVM_MSR_RET_UNSUPPORTED, MSR_RET_INVALID } from './msr-ret.js';
import { kerr } from '../errors.js';
import {
  KVM_ASYNC_PF_DELIVERY_AS_INT, KVM_ASYNC_PF_DELIVERY_AS_PF_VMEXIT, KVM_ASYNC_PF_ENABLED, KVM_ASYNC_PF_VEC_MASK,
  KVM_FEATURE_ASYNC_PF, KVM_FEATURE_ASYNC_PF_INT, KVM_FEATURE_ASYNC_PF_VMEXIT, KVM_FEATURE_CLOCKSOURCE, KVM_FEATURE_CLOCKSOURCE2,
  KVM_FEATURE_POLL_CONTROL, KVM_FEATURE_PV_EOI, KVM_FEATURE_STEAL_TIME, KVM_MSR_ENABLED, KVM_STEAL_RESERVED_MASK, KVM_STEAL_VALID_BITS,
  MSR_KVM_ASYNC_PF_ACK, MSR_KVM_ASYNC_PF_EN, MSR_KVM_ASYNC_PF_INT, MSR_KVM_PV_EOI_EN, MSR_KVM_STEAL_TIME,
  MSR_KVM_SYSTEM_TIME, MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK, MSR_KVM_WALL_CLOCK_NEW,
} from '../../../include-ts/asm/kvm_para.js';
import type { MemSlot } from './memslot.js';
import { ACCESS_FAULT } from './memslot.js';
import { PAGE_SIZE } from './kvm-host.js';
import type { Kvm } from './vm.js';
import type { KvmVcpu } from './vcpu.js';
import { hostRealtimeNs, kvmUpdateMasterclock } from './kvmclock.js';
import { HOST_TSC_KHZ, kvmGetTimeScale, kvmReadL1Tsc } from './tsc.js';


/** pvclock-abi.h: PVCLOCK_TSC_STABLE_BIT and PVCLOCK_GUEST_STOPPED. */
export const PVCLOCK_TSC_STABLE_BIT = 1 << 0;
export const PVCLOCK_GUEST_STOPPED = 1 << 1;
/** struct pvclock_vcpu_time_info: 32 bytes. */
export const PVCLOCK_VCPU_TIME_INFO = { size: 32, version: 0, tscTimestamp: 8, systemTime: 16, tscToSystemMul: 24, tscShift: 28, flags: 29 } as const;
/** struct pvclock_wall_clock: version, sec, nsec (u32 each). */
export const PVCLOCK_WALL_CLOCK = { size: 12, version: 0, sec: 4, nsec: 8 } as const;
/** struct kvm_steal_time (asm/kvm_para.h): steal u64, version u32, flags u32, preempted u8, ... 64 bytes. */
export const KVM_STEAL_TIME = { size: 64, steal: 0, version: 8, preempted: 16 } as const;

const NSEC_PER_SEC = 1_000_000_000n;
const U64 = (x: bigint): bigint => BigInt.asUintN(64, x);
/** kvm_get_time_scale(NSEC_PER_SEC, host TSC Hz): without TSC scaling every vCPU's pvclock uses these. */
const HOST_TSC_SCALE = kvmGetTimeScale(NSEC_PER_SEC, BigInt(HOST_TSC_KHZ) * 1000n);

/** The PV MSR state of struct kvm_vcpu_arch: time, apf, st, pv_eoi, msr_kvm_poll_control, pv_cpuid.enforce. */
export class VcpuPv {
  /** vcpu->arch.time: the last SYSTEM_TIME(_NEW) value. */
  time = 0n;
  /** KVM_REQ_CLOCK_UPDATE pending (the first vcpu_load asks for one: KVM_REQ_GLOBAL_CLOCK_UPDATE). */
  clockUpdate = true;
  /** KVM_REQ_MASTERCLOCK_UPDATE: recompute the VM's use of the master clock at the next entry (kvmclock.ts). */
  masterclockUpdate = false;
  /** vcpu->arch.pvclock_set_guest_stopped_request (KVM_KVMCLOCK_CTRL). */
  guestStoppedRequest = false;
  apfEnVal = 0n;
  apfIntVal = 0n;
  apfVec = 0;
  apfPagereadyPending = false;
  stMsrVal = 0n;
  /** Its enable bit and its GPA (-1: beyond 2^53), kept apart: bigint work at every guest entry allocates. */
  stEnabled = false;
  stGpa = 0;
  pvEoiMsrVal = 0n;
  /** kvm_arch_vcpu_postcreate(): poll control is enabled by default. */
  pollControl = 1n;
  /** vcpu->arch.pv_cpuid.enforce (KVM_CAP_ENFORCE_PV_FEATURE_CPUID). */
  enforce = false;
}

/** The MSRs this file handles: MSR_KVM_WALL_CLOCK/SYSTEM_TIME and MSR_KVM_*_NEW .. ASYNC_PF_ACK. */
export function isPvMsr(index: number): boolean {
  return index === MSR_KVM_WALL_CLOCK || index === MSR_KVM_SYSTEM_TIME || (index >= MSR_KVM_WALL_CLOCK_NEW && index <= MSR_KVM_ASYNC_PF_ACK);
}

/** guest_pv_has(). */
function guestPvHas(v: KvmVcpu, feature: number): boolean {
  return !v.pv.enforce || (v.guestCpuid.pvFeatures & (1 << feature)) !== 0;
}

/** The KVM_FEATURE_* an MSR needs (kvm_get/set_msr_common's first check). */
function featureOf(index: number): number {
  switch (index) {
    case MSR_KVM_WALL_CLOCK:
    case MSR_KVM_SYSTEM_TIME: return KVM_FEATURE_CLOCKSOURCE;
    case MSR_KVM_WALL_CLOCK_NEW:
    case MSR_KVM_SYSTEM_TIME_NEW: return KVM_FEATURE_CLOCKSOURCE2;
    case MSR_KVM_ASYNC_PF_EN: return KVM_FEATURE_ASYNC_PF;
    case MSR_KVM_ASYNC_PF_INT:
    case MSR_KVM_ASYNC_PF_ACK: return KVM_FEATURE_ASYNC_PF_INT;
    case MSR_KVM_STEAL_TIME: return KVM_FEATURE_STEAL_TIME;
    case MSR_KVM_PV_EOI_EN: return KVM_FEATURE_PV_EOI;
    default: return KVM_FEATURE_POLL_CONTROL;
  }
}

/** A guest physical address as a number, or -1 when it is beyond 2^53 (no memslot is there). */
function gpaNumber(gpa: bigint): number {
  return gpa > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(gpa);
}

/** The writable slot holding [gpa, gpa+len) (kvm_gfn_to_hva_cache_init / kvm_write_guest), or null. */
function writableSlotAt(kvm: Kvm, gpa: number, len: number): MemSlot | null {
  if (gpa < 0) return null;
  const s = kvm.memslots.find(gpa, len);
  return s !== null && !s.readonly ? s : null;
}

function writableSlot(kvm: Kvm, gpa: bigint, len: number): MemSlot | null {
  return writableSlotAt(kvm, gpaNumber(gpa), len);
}

/** A u32 of guest memory, or null if KVM cannot read it (kvm_read_guest). */
function readU32(s: MemSlot, gpa: number): number | null {
  const x = s.read(gpa, 4);
  return x === ACCESS_FAULT ? null : x >>> 0;
}

function writeU32(s: MemSlot, gpa: number, x: number): boolean {
  return s.write(gpa, 4, x >>> 0, null, false) !== ACCESS_FAULT;
}

function writeU64(s: MemSlot, gpa: number, x: bigint): boolean {
  return writeU32(s, gpa, Number(x & 0xffff_ffffn)) && writeU32(s, gpa + 4, Number(x >> 32n));
}

/** kvm_get_wall_clock_epoch(): the host realtime at which the VM's kvmclock read 0. */
export function kvmWallClockEpoch(kvm: Kvm): bigint {
  const now = kvm.sched.now;
  return U64(hostRealtimeNs(now) - kvm.kvmclock.read(now));
}

/** kvm_write_wall_clock(kvm, gpa, 0), for vCPU `v`: three kvm_write_guest() calls, each logged. */
function kvmWriteWallClock(v: KvmVcpu, gpa: bigint): void {
  if (gpa === 0n) return;
  const kvm = v.kvm;
  const s = writableSlot(kvm, gpa, PVCLOCK_WALL_CLOCK.size);
  if (s === null) return;
  const a = Number(gpa);
  let version = readU32(s, a);
  if (version === null) return;
  if (version & 1) version++; // first time write, random junk
  version = (version + 1) >>> 0;
  if (!writeU32(s, a, version)) return;
  s.markKernelWrite(a, v.dirtyRing);
  const wall = kvmWallClockEpoch(kvm);
  writeU32(s, a + PVCLOCK_WALL_CLOCK.sec, Number((wall / NSEC_PER_SEC) & 0xffff_ffffn));
  writeU32(s, a + PVCLOCK_WALL_CLOCK.nsec, Number(wall % NSEC_PER_SEC));
  s.markKernelWrite(a, v.dirtyRing);
  writeU32(s, a, (version + 1) >>> 0);
  s.markKernelWrite(a, v.dirtyRing);
}

/** kvm_guest_time_update() + kvm_setup_guest_pvclock(), after tsc.ts' catch-up: serves KVM_REQ_CLOCK_UPDATE. */
export function kvmGuestTimeUpdate(v: KvmVcpu): void {
  const pv = v.pv;
  pv.clockUpdate = false;
  if (!(pv.time & 1n)) return; // pv_time not active
  const gpa = pv.time & ~1n;
  const L = PVCLOCK_VCPU_TIME_INFO;
  // The gfn_to_pfn_cache maps one page: a pvclock crossing it is never written.
  if (Number(gpa & BigInt(PAGE_SIZE - 1)) + L.size > PAGE_SIZE) return;
  const s = writableSlot(v.kvm, gpa, L.size);
  if (s === null) return;
  const a = Number(gpa);
  const old = readU32(s, a + L.version);
  const flagsWord = readU32(s, a + L.tscToSystemMul + 4);
  if (old === null || flagsWord === null) return;
  const version = ((old + 1) | 1) >>> 0;
  writeU32(s, a + L.version, version);
  const now = v.kvm.sched.now;
  let flags = v.kvm.kvmclock.useMasterClock ? PVCLOCK_TSC_STABLE_BIT : 0;
  flags |= (flagsWord >>> 8) & PVCLOCK_GUEST_STOPPED; // retained from the guest's copy
  // KVM_KVMCLOCK_CTRL's request, in this update only (the guest clears the bit when it has seen it).
  if (v.pv.guestStoppedRequest) {
    flags |= PVCLOCK_GUEST_STOPPED;
    v.pv.guestStoppedRequest = false;
  }
  writeU32(s, a + 4, 0);
  writeU64(s, a + L.tscTimestamp, kvmReadL1Tsc(v));
  writeU64(s, a + L.systemTime, v.kvm.kvmclock.read(now));
  writeU32(s, a + L.tscToSystemMul, HOST_TSC_SCALE.mult);
  writeU32(s, a + L.tscShift, (HOST_TSC_SCALE.shift & 0xff) | (flags << 8));
  writeU32(s, a + L.version, (version + 1) >>> 0);
  // Through the gfn_to_pfn_cache: logged once, after the update.
  s.markKernelWrite(a, v.dirtyRing);
}

/** record_steal_time(), served at each guest entry while STEAL_TIME is enabled: numbers only. */
export function recordStealTime(v: KvmVcpu): void {
  const a = v.pv.stGpa;
  const L = KVM_STEAL_TIME;
  const s = writableSlotAt(v.kvm, a, L.size);
  if (s === null) return;
  const pre = readU32(s, a + L.preempted);
  let version = readU32(s, a + L.version);
  if (pre === null || version === null) return;
  writeU32(s, a + L.preempted, pre & ~0xff);
  if (version & 1) version++;
  version = (version + 1) >>> 0;
  writeU32(s, a + L.version, version);
  // steal += run_delay - last_steal: the vCPU thread never waited for a host CPU.
  writeU32(s, a + L.version, (version + 1) >>> 0);
  s.markKernelWrite(a, v.dirtyRing);
}

/** kvm_pv_async_pf_enabled(): ENABLED and DELIVERY_AS_INT. */
function asyncPfEnabled(val: bigint): boolean {
  const mask = BigInt(KVM_ASYNC_PF_ENABLED | KVM_ASYNC_PF_DELIVERY_AS_INT);
  return (val & mask) === mask;
}

/** kvm_pv_enable_async_pf(): 0 or 1 (note: the value is stored before the address check can fail). */
function enableAsyncPf(v: KvmVcpu, data: bigint): number {
  if (data & 0x30n) return MSR_RET_INVALID;
  if (!guestPvHas(v, KVM_FEATURE_ASYNC_PF_VMEXIT) && data & BigInt(KVM_ASYNC_PF_DELIVERY_AS_PF_VMEXIT)) return MSR_RET_INVALID;
  if (!guestPvHas(v, KVM_FEATURE_ASYNC_PF_INT) && data & BigInt(KVM_ASYNC_PF_DELIVERY_AS_INT)) return MSR_RET_INVALID;
  if (v.lapic === null) return data ? MSR_RET_INVALID : 0;
  v.pv.apfEnVal = data;
  if (!asyncPfEnabled(data)) return 0;
  return writableSlot(v.kvm, data & ~0x3fn, 8) === null ? MSR_RET_INVALID : 0;
}

/** kvm_write_system_time(). */
function writeSystemTime(v: KvmVcpu, data: bigint, oldMsr: boolean, host: boolean): void {
  const kc = v.kvm.kvmclock;
  if (v.vcpuId === 0 && !host) {
    if (kc.bootVcpuRunsOldKvmclock !== oldMsr) v.pv.masterclockUpdate = true;
    kc.bootVcpuRunsOldKvmclock = oldMsr;
  }
  v.pv.time = data;
  v.pv.clockUpdate = true; // KVM_REQ_GLOBAL_CLOCK_UPDATE
}

/**
 * kvm_set_msr_common() for a PV MSR: 0, MSR_RET_INVALID (1) or KVM_MSR_RET_UNSUPPORTED (2). A guest
 * write's clock or steal-time update happens at once: KVM re-enters before the guest's next instruction.
 */
export function kvmPvSetMsr(v: KvmVcpu, index: number, data: bigint, host: boolean): number {
  if (!guestPvHas(v, featureOf(index))) return KVM_MSR_RET_UNSUPPORTED;
  const pv = v.pv;
  switch (index) {
    case MSR_KVM_WALL_CLOCK:
    case MSR_KVM_WALL_CLOCK_NEW:
      v.kvm.kvmclock.wallClock = data;
      kvmWriteWallClock(v, data);
      return 0;
    case MSR_KVM_SYSTEM_TIME:
    case MSR_KVM_SYSTEM_TIME_NEW:
      writeSystemTime(v, data, index === MSR_KVM_SYSTEM_TIME, host);
      // A guest write: vcpu_enter_guest serves the requests before the next instruction.
      if (!host) serveClockRequests(v);
      return 0;
    case MSR_KVM_ASYNC_PF_EN:
      return enableAsyncPf(v, data);
    case MSR_KVM_ASYNC_PF_INT:
      if (data >> 8n) return MSR_RET_INVALID;
      if (v.lapic === null) return MSR_RET_INVALID;
      pv.apfIntVal = data;
      pv.apfVec = Number(data) & KVM_ASYNC_PF_VEC_MASK;
      return 0;
    case MSR_KVM_ASYNC_PF_ACK:
      if (data & 1n) pv.apfPagereadyPending = false; // and kvm_check_async_pf_completion(): nothing queued
      return 0;
    case MSR_KVM_STEAL_TIME:
      if (data & BigInt(KVM_STEAL_RESERVED_MASK)) return MSR_RET_INVALID;
      pv.stMsrVal = data;
      pv.stEnabled = (data & 1n) !== 0n;
      pv.stGpa = gpaNumber(data & KVM_STEAL_VALID_BITS);
      if (!host && data & BigInt(KVM_MSR_ENABLED)) recordStealTime(v);
      return 0;
    case MSR_KVM_PV_EOI_EN: {
      // kvm_lapic_set_pv_eoi(vcpu, data, sizeof(u8)).
      const addr = data & ~BigInt(KVM_MSR_ENABLED);
      if (addr & 3n) return MSR_RET_INVALID;
      if (data & BigInt(KVM_MSR_ENABLED) && writableSlot(v.kvm, addr, 1) === null) return MSR_RET_INVALID;
      pv.pvEoiMsrVal = data;
      return 0;
    }
    default: // MSR_KVM_POLL_CONTROL: only the enable bit
      if (data & ~1n) return MSR_RET_INVALID;
      pv.pollControl = data;
      return 0;
  }
}

/** kvm_get_msr_common() for a PV MSR: the value, or KVM_MSR_RET_UNSUPPORTED (a number). */
export function kvmPvGetMsr(v: KvmVcpu, index: number): bigint | number {
  if (!guestPvHas(v, featureOf(index))) return KVM_MSR_RET_UNSUPPORTED;
  const pv = v.pv;
  switch (index) {
    case MSR_KVM_WALL_CLOCK:
    case MSR_KVM_WALL_CLOCK_NEW: return v.kvm.kvmclock.wallClock;
    case MSR_KVM_SYSTEM_TIME:
    case MSR_KVM_SYSTEM_TIME_NEW: return pv.time;
    case MSR_KVM_ASYNC_PF_EN: return pv.apfEnVal;
    case MSR_KVM_ASYNC_PF_INT: return pv.apfIntVal;
    case MSR_KVM_ASYNC_PF_ACK: return 0n;
    case MSR_KVM_STEAL_TIME: return pv.stMsrVal;
    case MSR_KVM_PV_EOI_EN: return pv.pvEoiMsrVal;
    default: return pv.pollControl;
  }
}

/**
 * kvm_do_msr_access() for a host-initiated access: an advertised MSR that fails as unsupported reads as
 * 0, and takes a write of 0. Returns the value (reads) / true, or null / false.
 */
export function kvmPvHostGet(v: KvmVcpu, index: number): bigint {
  const r = kvmPvGetMsr(v, index);
  return typeof r === 'bigint' ? r : 0n;
}

export function kvmPvHostSet(v: KvmVcpu, index: number, data: bigint): boolean {
  const r = kvmPvSetMsr(v, index, data, true);
  return r === 0 || (r === KVM_MSR_RET_UNSUPPORTED && data === 0n);
}

/**
 * KVM_KVMCLOCK_CTRL (kvm_set_guest_paused): the host paused the guest; EINVAL unless kvmclock is on.
 * The next pvclock update carries PVCLOCK_GUEST_STOPPED (for the guest's soft-lockup watchdog).
 */
export function kvmSetGuestPaused(v: KvmVcpu): number {
  if (!(v.pv.time & 1n)) throw kerr('EINVAL', `vCPU ${v.vcpuId}'s guest has not enabled kvmclock (MSR_KVM_SYSTEM_TIME(_NEW) bit 0)`);
  v.pv.guestStoppedRequest = true;
  v.pv.clockUpdate = true;
  return 0;
}

/** vcpu_enter_guest(): KVM_REQ_MASTERCLOCK_UPDATE (kvm_update_masterclock), then KVM_REQ_CLOCK_UPDATE. */
function serveClockRequests(v: KvmVcpu): void {
  if (v.pv.masterclockUpdate) {
    v.pv.masterclockUpdate = false;
    kvmUpdateMasterclock(v.kvm);
  }
  if (v.pv.clockUpdate) kvmGuestTimeUpdate(v);
}

/** Before a guest entry: KVM_REQ_CLOCK_UPDATE's pvclock and KVM_REQ_STEAL_UPDATE (from vcpu_load). */
export function kvmPvEntry(v: KvmVcpu): void {
  serveClockRequests(v);
  if (v.pv.stEnabled) recordStealTime(v);
}

/** kvm_vcpu_reset() (RESET and INIT): async PF, steal time and kvmclock_reset(); PV EOI in kvm_lapic_reset(). */
export function kvmPvReset(v: KvmVcpu): void {
  const pv = v.pv;
  pv.apfEnVal = 0n;
  pv.apfIntVal = 0n;
  pv.apfPagereadyPending = false;
  pv.stMsrVal = 0n;
  pv.stEnabled = false;
  pv.stGpa = 0;
  pv.time = 0n;
  if (v.lapic !== null) pv.pvEoiMsrVal = 0n;
}

/** kvm_vcpu_ioctl_enable_cap(KVM_CAP_ENFORCE_PV_FEATURE_CPUID): args[0] non-zero enforces. */
export function enforcePvFeatureCpuid(v: KvmVcpu, on: boolean): void {
  v.pv.enforce = on;
}
