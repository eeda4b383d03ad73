// The APIC timer's TSC-deadline mode as KVM drives it (arch/x86/kvm/lapic.c: kvm_set_lapic_tscdeadline_msr,
// kvm_get_lapic_tscdeadline_msr, start_sw_tscdeadline): IA32_TSC_DEADLINE holds a guest-TSC value;
// writing it (with LVTT in TSC-deadline mode, which needs the guest CPUID's TSC_DEADLINE_TIMER bit)
// cancels the timer, clears a pending expiry and arms the timer for the time the guest TSC takes to get
// there at the vCPU's TSC rate (tsc.ts); a deadline already passed expires at once, 0 disarms. In any
// other mode, without an in-kernel LAPIC or with the APIC hardware-disabled (kvm_apic_present), writes
// are dropped and reads give 0. The deadline reads
// back until its expiry is injected. The timer itself is src/hw/x86/apic-timer.ts.

import { APIC_LVT_TIMER_TSCDEADLINE, type ApicTimer } from '../../hw/x86/apic-timer.js';
import { kvmReadL1Tsc } from './tsc.js';
import type { KvmVcpu } from './vcpu.js';

/** kvm_apic_present() and LVTT in TSC-deadline mode: the deadline MSR means something. */
function deadlineTimer(v: KvmVcpu): ApicTimer | null {
  const apic = v.lapic;
  return apic !== null && apic.hwEnabled && apic.timer.mode === APIC_LVT_TIMER_TSCDEADLINE ? apic.timer : null;
}

/** kvm_set_lapic_tscdeadline_msr(). */
export function kvmSetLapicTscDeadline(v: KvmVcpu, data: bigint): void {
  const t = deadlineTimer(v);
  if (t === null) return;
  t.cancel();
  t.tscDeadline = data;
  startSwTscDeadline(v);
}

/** kvm_get_lapic_tscdeadline_msr(). */
export function kvmGetLapicTscDeadline(v: KvmVcpu): bigint {
  return deadlineTimer(v)?.tscDeadline ?? 0n;
}

/** start_sw_tscdeadline(): (deadline - guest TSC) * 10^6 / virtual_tsc_khz ns from now. */
export function startSwTscDeadline(v: KvmVcpu): void {
  const t = v.lapic!.timer;
  if (t.tscDeadline === 0n) return;
  const guestTsc = kvmReadL1Tsc(v);
  const khz = BigInt(v.tsc.virtualTscKhz);
  t.armDeadline(t.tscDeadline > guestTsc && khz > 0n ? Number(((t.tscDeadline - guestTsc) * 1_000_000n) / khz) : 0);
}
