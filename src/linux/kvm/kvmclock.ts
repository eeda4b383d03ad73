// The VM's kvmclock as userspace sees it (arch/x86/kvm/x86.c: kvm_vm_ioctl_get_clock, __get_kvmclock,
// kvm_vm_ioctl_set_clock, get_kvmclock_base_ns, kvm_arch_init_vm's kvmclock_offset, and
// KVM_CHECK_EXTENSION(KVM_CAP_ADJUST_CLOCK) = KVM_CLOCK_VALID_FLAGS).
//
// Host clocks from virtual time: get_kvmclock_base_ns() (CLOCK_MONOTONIC_RAW plus the boot offset) is
// the scheduler's virtual ns since the model booted, and ktime_get_real_ns() is HOST_REALTIME_AT_BOOT_NS
// plus the same virtual ns. Both clocks then advance only with virtual time, never drift apart and
// give identical values in identical runs; the fixed epoch stands for "the moment the host booted".
//
// - A VM starts with kvmclock_offset = -base_ns, so KVM_GET_CLOCK counts ns since KVM_CREATE_VM.
// - The master clock (pvclock_update_vm_gtod_copy): this host's clocksource is the TSC, so the VM uses it
//   while every vCPU's TSC is in one generation (nr_vcpus_matched_tsc + 1 == online vCPUs) and vCPU 0's
//   guest does not run the old kvmclock MSR. Recomputed when KVM_SET_CLOCK runs and when a vCPU enters
//   the guest with KVM_REQ_MASTERCLOCK_UPDATE pending (kvm_track_tsc_matching asks for it when a TSC
//   write or a vCPU's creation toggles the answer, or starts a new generation while it is on); each
//   recomputation asks every vCPU to refresh its pvclock. So a new VM does not use it until a vCPU has
//   entered the guest [E: flags 0 before, 14 after].
// - KVM_GET_CLOCK (__get_kvmclock): with the master clock, flags TSC_STABLE | REALTIME | HOST_TSC and the
//   host's realtime and TSC at the read; without, flags, realtime and host_tsc 0. The clock is
//   base_ns + kvmclock_offset either way (the master snapshot scaled from the TSC gives the same: the
//   model's TSC and monotonic clock never drift). Padding is 0 (the kernel copies out a zeroed struct).
// - KVM_SET_CLOCK: flags outside KVM_CLOCK_VALID_FLAGS (TSC_STABLE | REALTIME | HOST_TSC = 14) -> EINVAL;
//   padding is not looked at; only KVM_CLOCK_REALTIME has an effect: if the host's realtime is past
//   `realtime`, the difference is added to `clock` (the clock never steps back for time that passed
//   before the call). Then kvmclock_offset = clock - base_ns (u64 arithmetic).
// The guest's pvclock pages and the wall clock MSRs are pv-msrs.ts (PVCLOCK_TSC_STABLE_BIT follows
// useMasterClock).

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import { KVM_CLOCK_HOST_TSC, KVM_CLOCK_REALTIME, KVM_CLOCK_TSC_STABLE, kvm_clock_data } from '../../../include-ts/linux/kvm.js';
import type { Kvm } from './vm.js';
import { hostTsc, kvmclockBaseNs } from './tsc.js';

/** KVM_CLOCK_VALID_FLAGS: what KVM_SET_CLOCK accepts and KVM_CAP_ADJUST_CLOCK reports [E 14]. */
export const KVM_CLOCK_VALID_FLAGS = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
/** The modelled host's CLOCK_REALTIME when it booted: 2026-01-01T00:00:00Z. */
export const HOST_REALTIME_AT_BOOT_NS = 1_767_225_600n * 1_000_000_000n;

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const CLOCK = kvm_clock_data.offsetof('clock');
const FLAGS = kvm_clock_data.offsetof('flags');
const REALTIME = kvm_clock_data.offsetof('realtime');
const HOST_TSC = kvm_clock_data.offsetof('host_tsc');

/** ktime_get_real_ns() on the modelled host. */
export function hostRealtimeNs(now: number): bigint {
  return HOST_REALTIME_AT_BOOT_NS + BigInt(now);
}

/** kvm->arch.kvmclock_offset. */
export class KvmClock {
  kvmclockOffset: bigint;
  /** kvm->arch.wall_clock: the last MSR_KVM_WALL_CLOCK(_NEW) value (pv-msrs.ts). */
  wallClock = 0n;
  /** kvm->arch.boot_vcpu_runs_old_kvmclock: vCPU 0's guest last enabled kvmclock with MSR_KVM_SYSTEM_TIME. */
  bootVcpuRunsOldKvmclock = false;
  /** kvm->arch.use_master_clock (false at KVM_CREATE_VM: no vCPU yet). */
  useMasterClock = false;

  constructor(now: number) {
    this.kvmclockOffset = U64(-kvmclockBaseNs(now));
  }

  /** get_kvmclock_ns() without the master clock. */
  read(now: number): bigint {
    return U64(kvmclockBaseNs(now) + this.kvmclockOffset);
  }
}

/** pvclock_update_vm_gtod_copy() on a host whose clocksource is the TSC. */
function pvclockUpdateVmGtodCopy(kvm: Kvm): void {
  kvm.kvmclock.useMasterClock = kvm.tsc.nrVcpusMatchedTsc + 1 === kvm.vcpus.length && !kvm.kvmclock.bootVcpuRunsOldKvmclock;
}

/** kvm_update_masterclock(): recompute, then KVM_REQ_CLOCK_UPDATE on every vCPU (kvm_end_pvclock_update). */
export function kvmUpdateMasterclock(kvm: Kvm): void {
  pvclockUpdateVmGtodCopy(kvm);
  for (const v of kvm.vcpus) v.pv.clockUpdate = true;
}

/** KVM_GET_CLOCK. */
export function vmGetClock(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_clock_data.size);
  const now = kvm.sched.now;
  const clock = kvm.kvmclock.read(now);
  b.fill(0);
  setU64(b, CLOCK, clock);
  if (kvm.kvmclock.useMasterClock) {
    setU32(b, FLAGS, KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC);
    setU64(b, REALTIME, hostRealtimeNs(now));
    setU64(b, HOST_TSC, hostTsc(now));
  }
  return 0;
}

/** KVM_SET_CLOCK. */
export function vmSetClock(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_clock_data.size);
  const flags = getU32(b, FLAGS);
  if (flags & ~KVM_CLOCK_VALID_FLAGS) {
    throw kerr('EINVAL', `kvm_clock_data.flags 0x${flags.toString(16)} has bits outside KVM_CLOCK_TSC_STABLE|KVM_CLOCK_REALTIME|KVM_CLOCK_HOST_TSC`);
  }
  const now = kvm.sched.now;
  let clock = getU64(b, CLOCK);
  if (flags & KVM_CLOCK_REALTIME) {
    const real = hostRealtimeNs(now);
    const given = getU64(b, REALTIME);
    if (real > given) clock = U64(clock + (real - given));
  }
  kvm.kvmclock.kvmclockOffset = U64(clock - kvmclockBaseNs(now));
  // pvclock_update_vm_gtod_copy(), then kvm_end_pvclock_update(): KVM_REQ_CLOCK_UPDATE on every vCPU.
  kvmUpdateMasterclock(kvm);
  return 0;
}
