// The guest TSC as KVM keeps it (arch/x86/kvm/x86.c: kvm_set_tsc_khz, set_tsc_khz, adjust_tsc_khz,
// kvm_get_time_scale, compute_guest_tsc, kvm_compute_l1_tsc_offset, kvm_read_l1_tsc,
// kvm_synchronize_tsc, __kvm_synchronize_tsc, kvm_guest_time_update's catch-up, the KVM_SET_TSC_KHZ /
// KVM_GET_TSC_KHZ vCPU and VM ioctls, kvm_arch_tsc_{has,get,set}_attr; arch/x86/include/asm/pvclock.h
// pvclock_scale_delta).
//
// The modelled host is this machine (cpuid.ts): its TSC runs at HOST_TSC_KHZ (2596130 kHz, measured
// with KVM_GET_TSC_KHZ on a fresh vCPU) and counts from the model's boot, so rdtsc() is
// floor(virtual ns * HOST_TSC_KHZ / 10^6): deterministic, and the kernel's own clocks (virtual ns) and
// the TSC never drift apart. The TSC is stable (constant_tsc, nonstop_tsc, clocksource tsc): matched
// writes reuse the generation's offset (kvm_check_tsc_unstable() false). The host has no TSC scaling
// (KVM_CAP_TSC_CONTROL and KVM_CAP_VM_TSC_CONTROL report 0 [E]), so the guest TSC always advances at
// the host rate: L1 TSC = rdtsc() + l1_tsc_offset.
//
// - KVM_SET_TSC_KHZ (vCPU): (u32)arg, 0 meaning the host's rate. kvm_set_tsc_khz() stores the rate
//   (virtual_tsc_khz, and mult/shift for nsec_to_cycles) BEFORE deciding: within tsc_tolerance_ppm
//   (250) of the host rate nothing else happens; above it the vCPU goes into catch-up mode
//   (tsc_catchup, tsc_always_catchup; never cleared again); below it the call fails with EINVAL and
//   KVM_GET_TSC_KHZ reports the refused rate [E]. Catch-up: kvm_guest_time_update() moves the offset
//   forward so the TSC is at least compute_guest_tsc() (this generation's write plus the elapsed ns at
//   the guest rate); with tsc_always_catchup it runs before every guest entry, so the model applies it
//   at each entry of KVM_RUN (the real kernel also skips it on the rare entry without a pending
//   KVM_REQ_CLOCK_UPDATE). Host-initiated reads of MSR_IA32_TSC never catch up by themselves.
// - KVM_SET_TSC_KHZ (VM): kvm->arch.default_tsc_khz, which KVM_CREATE_VCPU applies (its failure
//   ignored); EINVAL once the VM has vCPUs. KVM_GET_TSC_KHZ on the VM reads it, on a vCPU reads
//   virtual_tsc_khz; neither exists on /dev/kvm (EINVAL).
// - MSR_IA32_TSC, host-initiated write (KVM_SET_MSRS): kvm_synchronize_tsc(). Writing 0, or (once
//   userspace has written a TSC) a value within one second at the guest rate of where the last write
//   would have advanced to, "synchronizes": if the vCPU's rate equals the last write's, the vCPU takes
//   the current generation's offset instead of the value written (so it reads what the other vCPUs
//   read). Otherwise the written value is set and a new generation starts. KVM_CREATE_VCPU synchronizes
//   with "no value" (kvm_arch_vcpu_postcreate): a second vCPU created at the same rate reads the same
//   TSC as the first; the first reads 0 at its creation.
// - MSR_IA32_TSC_ADJUST: with the guest CPUID's TSC_ADJUST bit a host write just stores the value
//   (the guest's own writes would move the offset; the model's guests have no WRMSR); without it the
//   write is dropped. Reads return the stored value.
// - KVM_{HAS,GET,SET}_DEVICE_ATTR on a vCPU: group KVM_VCPU_TSC_CTRL (else ENXIO), attribute
//   KVM_VCPU_TSC_OFFSET (else ENXIO); `flags` is not looked at; GET put_user()s l1_tsc_offset, SET
//   get_user()s the offset (EFAULT for a bad address) and installs it through __kvm_synchronize_tsc,
//   "matched" when the rate and the offset equal the last write's.
// - Not modelled: the master clock (this host never uses it: KVM_GET_CLOCK reports no flags [E]),
//   KVM_VCPU_TSC_SCALE / nested TSC offsets and multipliers, and TSC scaling hosts (VMX/SVM with a TSC
//   multiplier: ratio limits, max_guest_tsc_khz).
//
// This machine's kvm_pvm keeps the guest TSC equal to the host's: it ignores offsets (MSR writes and
// KVM_VCPU_TSC_OFFSET read back 0 [E]). The model follows x86.c; the comparison test keeps TSC values
// out and compares rates, errnos and flags only.

import { kerr } from '../errors.js';
import type { FileContext } from '../fs/file.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64, setU64 } from '../../../abi/bytes.js';
import { kvm_device_attr } from '../../../include-ts/linux/kvm.js';
import { KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET } from '../../../include-ts/asm/kvm.js';
import type { Kvm } from './vm.js';
import type { KvmVcpu } from './vcpu.js';

/** tsc_khz of the modelled host [E: KVM_GET_TSC_KHZ on a new vCPU of this machine]. */
export const HOST_TSC_KHZ = 2_596_130;
/** The tsc_tolerance_ppm module parameter's default. */
export const TSC_TOLERANCE_PPM = 250;
/** kvm_caps.has_tsc_control [E: KVM_CAP_TSC_CONTROL = 0 here]. */
export const HAS_TSC_CONTROL = false;

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const NSEC_PER_SEC = 1_000_000_000n;

/** rdtsc() on the modelled host: the TSC counts from boot at HOST_TSC_KHZ. */
export function hostTsc(now: number): bigint {
  return (BigInt(now) * BigInt(HOST_TSC_KHZ)) / 1_000_000n;
}

/** get_kvmclock_base_ns(): boot-based raw clock; the model's virtual ns since boot. */
export function kvmclockBaseNs(now: number): bigint {
  return BigInt(now);
}

/** kvm_get_time_scale(): a 32.32 multiplier and a power-of-two shift turning base_hz ticks into scaled_hz ones. */
export function kvmGetTimeScale(scaledHz: bigint, baseHz: bigint): { shift: number; mult: number } {
  let shift = 0;
  let tps64 = baseHz;
  let scaled64 = scaledHz;
  const HI = 0xffff_ffff_0000_0000n;
  while (tps64 > scaled64 * 2n || tps64 & HI) {
    tps64 >>= 1n;
    shift--;
  }
  let tps32 = tps64 & 0xffff_ffffn;
  while (tps32 <= scaled64 || scaled64 & HI) {
    if (scaled64 & HI || tps32 & 0x8000_0000n) scaled64 >>= 1n;
    else tps32 = (tps32 << 1n) & 0xffff_ffffn;
    shift++;
  }
  // div_frac(): (scaled64 << 32) / tps32, a 32-bit quotient since scaled64 < tps32.
  return { shift, mult: Number((scaled64 << 32n) / tps32) };
}

/** pvclock_scale_delta(): delta shifted, then times mul_frac / 2^32 (a 96-bit product on x86-64). */
export function pvclockScaleDelta(delta: bigint, mulFrac: number, shift: number): bigint {
  const d = shift < 0 ? U64(delta) >> BigInt(-shift) : U64(U64(delta) << BigInt(shift));
  return (d * BigInt(mulFrac)) >> 32n;
}

/** adjust_tsc_khz(): khz * (10^6 + ppm) / 10^6, truncated. */
function adjustTscKhz(khz: number, ppm: number): number {
  return Number((BigInt(khz) * BigInt(1_000_000 + ppm)) / 1_000_000n);
}

/** The TSC fields of struct kvm_arch (kvm->arch: default_tsc_khz, last_tsc_*, cur_tsc_*, user_set_tsc). */
export class KvmTsc {
  /** KVM_SET_TSC_KHZ on the VM; kvm_arch_init_vm: max_tsc_khz, the host rate on a constant-TSC host. */
  defaultTscKhz = HOST_TSC_KHZ;
  lastTscNsec = 0n;
  lastTscWrite = 0n;
  lastTscKhz = 0;
  lastTscOffset = 0n;
  curTscGeneration = 0;
  curTscNsec = 0n;
  curTscWrite = 0n;
  curTscOffset = 0n;
  nrVcpusMatchedTsc = 0;
  /** Userspace wrote a TSC (MSR or KVM_VCPU_TSC_OFFSET): the one-second window applies from then on. */
  userSetTsc = false;
}

/** The TSC fields of struct kvm_vcpu_arch. */
export class VcpuTsc {
  virtualTscKhz = 0;
  virtualTscMult = 0;
  virtualTscShift = 0;
  tscCatchup = false;
  tscAlwaysCatchup = false;
  /** l1_tsc_offset, as a u64. */
  l1TscOffset = 0n;
  thisTscGeneration = 0;
  thisTscNsec = 0n;
  thisTscWrite = 0n;
  lastGuestTsc = 0n;
  /** ia32_tsc_adjust_msr. */
  tscAdjust = 0n;
}

/** nsec_to_cycles(): ns at the vCPU's guest rate. */
function nsecToCycles(t: VcpuTsc, ns: bigint): bigint {
  return pvclockScaleDelta(ns, t.virtualTscMult, t.virtualTscShift);
}

/** kvm_read_l1_tsc() of rdtsc() now (the ratio is always the default: no TSC scaling). */
export function kvmReadL1Tsc(v: KvmVcpu): bigint {
  return U64(hostTsc(v.kvm.sched.now) + v.tsc.l1TscOffset);
}

/** kvm_compute_l1_tsc_offset(). */
function computeL1TscOffset(v: KvmVcpu, target: bigint): bigint {
  return U64(target - hostTsc(v.kvm.sched.now));
}

/**
 * kvm_set_tsc_khz() with set_tsc_khz() on a host without TSC scaling: false when the rate is refused.
 * The rate is stored first, whatever the outcome (as the kernel does).
 */
export function kvmSetTscKhz(v: KvmVcpu, userTscKhz: number): boolean {
  const t = v.tsc;
  if (userTscKhz === 0) return false; // only the multiplier is reset, and it is always the default here
  const { shift, mult } = kvmGetTimeScale(BigInt(userTscKhz) * 1000n, NSEC_PER_SEC);
  t.virtualTscShift = shift;
  t.virtualTscMult = mult;
  t.virtualTscKhz = userTscKhz;
  const lo = adjustTscKhz(HOST_TSC_KHZ, -TSC_TOLERANCE_PPM);
  const hi = adjustTscKhz(HOST_TSC_KHZ, TSC_TOLERANCE_PPM);
  if (userTscKhz >= lo && userTscKhz <= hi) return true;
  if (userTscKhz > HOST_TSC_KHZ) {
    t.tscCatchup = true;
    t.tscAlwaysCatchup = true;
    return true;
  }
  return false;
}

/** __kvm_synchronize_tsc(). */
function syncTsc(v: KvmVcpu, offset: bigint, tsc: bigint, ns: bigint, matched: boolean): void {
  const k = v.kvm.tsc;
  const t = v.tsc;
  k.lastTscNsec = ns;
  k.lastTscWrite = tsc;
  k.lastTscKhz = t.virtualTscKhz;
  k.lastTscOffset = offset;
  t.lastGuestTsc = tsc;
  t.l1TscOffset = offset;
  if (!matched) {
    k.curTscGeneration++;
    k.curTscNsec = ns;
    k.curTscWrite = tsc;
    k.curTscOffset = offset;
    k.nrVcpusMatchedTsc = 0;
  } else if (t.thisTscGeneration !== k.curTscGeneration) {
    k.nrVcpusMatchedTsc++;
  }
  t.thisTscGeneration = k.curTscGeneration;
  t.thisTscNsec = k.curTscNsec;
  t.thisTscWrite = k.curTscWrite;
}

/** kvm_synchronize_tsc(): `value` null for vCPU creation (kvm_arch_vcpu_postcreate). */
export function kvmSynchronizeTsc(v: KvmVcpu, value: bigint | null): void {
  const k = v.kvm.tsc;
  const t = v.tsc;
  const data = value ?? 0n;
  let offset = computeL1TscOffset(v, data);
  const ns = kvmclockBaseNs(v.kvm.sched.now);
  const elapsed = U64(ns - k.lastTscNsec);
  let synchronizing = false;
  if (t.virtualTscKhz) {
    if (data === 0n) {
      synchronizing = true;
    } else if (k.userSetTsc) {
      // The legacy API's one second of slop, in the vCPU's guest cycles (u64 arithmetic).
      const tscExp = U64(k.lastTscWrite + nsecToCycles(t, elapsed));
      const tscHz = BigInt(t.virtualTscKhz) * 1000n;
      synchronizing = data < U64(tscExp + tscHz) && U64(data + tscHz) > tscExp;
    }
  }
  if (value !== null) k.userSetTsc = true;
  let matched = false;
  if (synchronizing && t.virtualTscKhz === k.lastTscKhz) {
    offset = k.curTscOffset; // a stable TSC: take the generation's offset
    matched = true;
  }
  syncTsc(v, offset, data, ns, matched);
  trackTscMatching(v, !matched);
}

/**
 * kvm_track_tsc_matching(): the master clock needs every online vCPU (a new one is online by postcreate) in
 * one TSC generation; KVM_REQ_MASTERCLOCK_UPDATE when that answer differs from the VM's, or when a new
 * generation starts while the master clock is on.
 */
function trackTscMatching(v: KvmVcpu, newGeneration: boolean): void {
  const kvm = v.kvm;
  const use = kvm.tsc.nrVcpusMatchedTsc + 1 === kvm.vcpus.length;
  const current = kvm.kvmclock.useMasterClock;
  if ((current && newGeneration) || current !== use) v.pv.masterclockUpdate = true;
}

/** kvm_arch_vcpu_create()'s kvm_set_tsc_khz(default_tsc_khz) (result ignored). */
export function kvmVcpuTscCreate(v: KvmVcpu): void {
  kvmSetTscKhz(v, v.kvm.tsc.defaultTscKhz);
}

/** kvm_arch_vcpu_postcreate(): the new vCPU, already counted online, synchronizes its TSC. */
export function kvmVcpuTscPostcreate(v: KvmVcpu): void {
  kvmSynchronizeTsc(v, null);
}

/** kvm_guest_time_update()'s catch-up, before a guest entry: the TSC is at least compute_guest_tsc(). */
export function kvmTscCatchup(v: KvmVcpu): void {
  const t = v.tsc;
  if (!t.tscAlwaysCatchup) return;
  const ns = kvmclockBaseNs(v.kvm.sched.now);
  const want = U64(pvclockScaleDelta(U64(ns - t.thisTscNsec), t.virtualTscMult, t.virtualTscShift) + t.thisTscWrite);
  const now = kvmReadL1Tsc(v);
  if (want > now) t.l1TscOffset = U64(t.l1TscOffset + (want - now));
}

/** KVM_SET_TSC_KHZ on a vCPU. */
export function vcpuSetTscKhz(v: KvmVcpu, arg: UserArg): number {
  let khz = arg.value() >>> 0; // (u32)arg
  if (khz === 0) khz = HOST_TSC_KHZ;
  if (!kvmSetTscKhz(v, khz)) {
    throw kerr('EINVAL', `vCPU ${v.vcpuId}: ${khz} kHz is below the host TSC (${HOST_TSC_KHZ} kHz, tolerance ${TSC_TOLERANCE_PPM} ppm) and the host cannot scale the TSC (the rate is kept: KVM_GET_TSC_KHZ reports it)`);
  }
  return 0;
}

/** KVM_SET_TSC_KHZ on a VM: the rate new vCPUs get. */
export function vmSetTscKhz(kvm: Kvm, arg: UserArg): number {
  let khz = arg.value() >>> 0;
  if (khz === 0) khz = HOST_TSC_KHZ;
  if (kvm.createdVcpus) throw kerr('EINVAL', `VM ${kvm.id} already has vCPUs; KVM_SET_TSC_KHZ on the VM must come before KVM_CREATE_VCPU`);
  kvm.tsc.defaultTscKhz = khz;
  return 0;
}

const ATTR_GROUP = kvm_device_attr.offsetof('group');
const ATTR_ATTR = kvm_device_attr.offsetof('attr');
const ATTR_ADDR = kvm_device_attr.offsetof('addr');

/** A u64 behind a user pointer embedded in an ioctl struct (get_user/put_user). */
function userU64(ctx: FileContext, addr: bigint): Uint8Array {
  if (addr === 0n || addr >= 1n << 47n) throw kerr('EFAULT', `kvm_device_attr.addr 0x${addr.toString(16)} is not a user address`);
  return ctx.proc.mm.ram(Number(addr), 8);
}

/** kvm_vcpu_ioctl_device_attr(): KVM_HAS/GET/SET_DEVICE_ATTR on a vCPU (group KVM_VCPU_TSC_CTRL). */
export function vcpuTscAttr(v: KvmVcpu, ctx: FileContext, op: 'has' | 'get' | 'set', arg: UserArg): number {
  const a = arg.user(kvm_device_attr.size);
  const group = getU32(a, ATTR_GROUP);
  const attr = getU64(a, ATTR_ATTR);
  if (group !== KVM_VCPU_TSC_CTRL) throw kerr('ENXIO', `vCPU ${v.vcpuId} has no device-attribute group ${group} (only KVM_VCPU_TSC_CTRL)`);
  if (attr !== BigInt(KVM_VCPU_TSC_OFFSET)) throw kerr('ENXIO', `KVM_VCPU_TSC_CTRL has no attribute ${attr} the model implements (KVM_VCPU_TSC_OFFSET only)`);
  if (op === 'has') return 0;
  const u = userU64(ctx, getU64(a, ATTR_ADDR));
  if (op === 'get') {
    setU64(u, 0, v.tsc.l1TscOffset);
    return 0;
  }
  const offset = getU64(u, 0);
  const k = v.kvm.tsc;
  const t = v.tsc;
  const matched = t.virtualTscKhz !== 0 && k.lastTscKhz === t.virtualTscKhz && k.lastTscOffset === offset;
  const tsc = U64(hostTsc(v.kvm.sched.now) + offset);
  k.userSetTsc = true;
  syncTsc(v, offset, tsc, kvmclockBaseNs(v.kvm.sched.now), matched);
  return 0;
}
