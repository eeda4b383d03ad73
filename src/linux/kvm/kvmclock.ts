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
// - KVM_GET_CLOCK: this host does not use the master clock (its KVM_GET_CLOCK reports flags 0 [E]), so
//   clock = base_ns + kvmclock_offset and flags, realtime, host_tsc and all padding are written as 0 (the
//   kernel copies out a zeroed struct).
// - KVM_SET_CLOCK: flags outside KVM_CLOCK_VALID_FLAGS (TSC_STABLE | REALTIME | HOST_TSC = 14) -> EINVAL;
//   padding is not looked at; only KVM_CLOCK_REALTIME has an effect: if the host's realtime is past
//   `realtime`, the difference is added to `clock` (the clock never steps back for time that passed
//   before the call). Then kvmclock_offset = clock - base_ns (u64 arithmetic).
// - Not modelled: the master clock path (TSC_STABLE | REALTIME | HOST_TSC in KVM_GET_CLOCK, clock read
//   through the pvclock scaling of the master snapshot). This host does report those flags (14) once a
//   vCPU has entered the guest [E: pv-msrs work]; the flags 0 above were measured before any KVM_RUN.
//   The guest's pvclock pages and the wall clock MSRs are pv-msrs.ts (which does set PVCLOCK_TSC_STABLE_BIT
//   by the master-clock rule).

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64, setU64 } from '../../../abi/bytes.js';
import { KVM_CLOCK_HOST_TSC, KVM_CLOCK_REALTIME, KVM_CLOCK_TSC_STABLE, kvm_clock_data } from '../../../include-ts/linux/kvm.js';
import type { Kvm } from './vm.js';
import { kvmclockBaseNs } from './tsc.js';

/** KVM_CLOCK_VALID_FLAGS: what KVM_SET_CLOCK accepts and KVM_CAP_ADJUST_CLOCK reports [E 14]. */
export const KVM_CLOCK_VALID_FLAGS = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
/** The modelled host's CLOCK_REALTIME when it booted: 2026-01-01T00:00:00Z. */
export const HOST_REALTIME_AT_BOOT_NS = 1_767_225_600n * 1_000_000_000n;

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const CLOCK = kvm_clock_data.offsetof('clock');
const FLAGS = kvm_clock_data.offsetof('flags');
const REALTIME = kvm_clock_data.offsetof('realtime');

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

  constructor(now: number) {
    this.kvmclockOffset = U64(-kvmclockBaseNs(now));
  }

  /** get_kvmclock_ns() without the master clock. */
  read(now: number): bigint {
    return U64(kvmclockBaseNs(now) + this.kvmclockOffset);
  }
}

/** KVM_GET_CLOCK. */
export function vmGetClock(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_clock_data.size);
  const clock = kvm.kvmclock.read(kvm.sched.now);
  b.fill(0);
  setU64(b, CLOCK, clock);
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
  // kvm_end_pvclock_update(): KVM_REQ_CLOCK_UPDATE on every vCPU (their pvclocks, pv-msrs.ts).
  for (const v of kvm.vcpus) v.pv.clockUpdate = true;
  return 0;
}
