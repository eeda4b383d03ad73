// Halt polling (virt/kvm/kvm_main.c: kvm_vcpu_halt, update_halt_poll_stats, grow_halt_poll_ns,
// shrink_halt_poll_ns, kvm_vcpu_max_halt_poll_ns; arch/x86/kvm/x86.c kvm_arch_no_poll, vcpu_block).
// A vCPU that executes HLT with nothing to run first busy-polls for vcpu->halt_poll_ns before it blocks,
// so that a wakeup arriving soon costs no schedule() round trip. The model's vCPU waits in virtual time
// either way; what polling changes is what KVM counts and how the window adapts, decided when the vCPU
// wakes at `now` after halting at `start`:
// - no poll when the window is 0 (every vCPU starts there) or the guest turned polling off
//   (MSR_KVM_POLL_CONTROL bit 0 clear);
// - a wakeup inside the window is a successful poll: the vCPU never blocked (no halt_wakeup, no
//   halt_wait_ns); otherwise the poll failed after the whole window, and the vCPU blocked the rest;
// - then the window adapts to the halt's length: kept if the halt fit in it, shrunk (halved by
//   halt_poll_ns_shrink, to 0 below halt_poll_ns_grow_start) after a halt longer than the maximum,
//   grown (doubled, at least halt_poll_ns_grow_start) after a halt shorter than the maximum; the maximum
//   is the kvm.halt_poll_ns parameter, or the VM's KVM_CAP_HALT_POLL value once set.
// Module parameters as on this machine: kvm.halt_poll_ns=200000, halt_poll_ns_grow=2,
// halt_poll_ns_grow_start=10000, halt_poll_ns_shrink=2 (writable).

import type { Kernel } from '../kernel.js';
import { logHistUpdate } from './stats.js';
import type { KvmVcpu } from './vcpu.js';

/** KVM_HALT_POLL_NS_DEFAULT on x86. */
export const KVM_HALT_POLL_NS_DEFAULT = 200_000;

/** The kvm module's halt-polling parameters, read at each halt (READ_ONCE) without a look-up by name. */
export interface HaltPollParams {
  readonly ns: { readonly value: unknown };
  readonly grow: { readonly value: unknown };
  readonly growStart: { readonly value: unknown };
  readonly shrink: { readonly value: unknown };
}

export function declareHaltPollParams(kernel: Kernel): HaltPollParams {
  const p = kernel.params;
  return {
    ns: p.declare('kvm', 'halt_poll_ns', 'uint', KVM_HALT_POLL_NS_DEFAULT, true),
    grow: p.declare('kvm', 'halt_poll_ns_grow', 'uint', 2, true),
    growStart: p.declare('kvm', 'halt_poll_ns_grow_start', 'uint', 10_000, true),
    shrink: p.declare('kvm', 'halt_poll_ns_shrink', 'uint', 2, true),
  };
}

/** kvm_vcpu_max_halt_poll_ns(). */
function maxHaltPollNs(v: KvmVcpu): number {
  const kvm = v.kvm;
  return kvm.overrideHaltPollNs ? kvm.maxHaltPollNs : (kvm.module.haltPoll.ns.value as number);
}

/** kvm_arch_no_poll(): the guest's MSR_KVM_POLL_CONTROL bit 0 clear. */
function noPoll(v: KvmVcpu): boolean {
  return (v.pv.pollControl & 1n) === 0n;
}

/**
 * kvm_vcpu_halt() for a halt that began at `start` and ended at `now` (a wakeup, or the "signal" that
 * ends KVM_RUN): the polling stats, the window's adaptation, and whether the vCPU blocked after
 * polling (`waited`) and for how long (what halt_wait_ns adds).
 */
export function haltPolled(v: KvmVcpu, start: number, now: number): { waited: boolean; waitNs: number } {
  const stat = v.stat;
  const allowed = !noPoll(v);
  const max = maxHaltPollNs(v);
  if (v.haltPollNs > max) v.haltPollNs = max;
  const window = allowed ? v.haltPollNs : 0;
  const haltNs = now - start;
  let waited = true;
  let pollEnd = start;
  if (window !== 0) {
    stat.halt_attempted_poll++;
    if (haltNs < window) {
      // kvm_vcpu_check_block() saw the wakeup while polling.
      waited = false;
      pollEnd = now;
      stat.halt_successful_poll++;
      stat.halt_poll_success_ns += haltNs;
      logHistUpdate(stat.halt_poll_success_hist, haltNs);
    } else {
      pollEnd = start + window;
      stat.halt_poll_fail_ns += window;
      logHistUpdate(stat.halt_poll_fail_hist, window);
    }
  }
  if (allowed) {
    // vcpu_valid_wakeup() is always true on x86.
    const newMax = maxHaltPollNs(v);
    if (newMax === 0) v.haltPollNs = 0;
    else if (haltNs <= v.haltPollNs) {
      // The halt fit in the window.
    } else if (v.haltPollNs !== 0 && haltNs > newMax) shrink(v);
    else if (v.haltPollNs < newMax && haltNs < newMax) grow(v);
  }
  return { waited, waitNs: waited ? now - pollEnd : 0 };
}

/** grow_halt_poll_ns(): u32 arithmetic, as the kernel's unsigned int. */
function grow(v: KvmVcpu): void {
  const params = v.kvm.module.haltPoll;
  const g = params.grow.value as number;
  if (g === 0) return;
  const start = params.growStart.value as number;
  const val = Math.imul(v.haltPollNs, g) >>> 0;
  v.haltPollNs = val < start ? start : val;
}

/** shrink_halt_poll_ns(). */
function shrink(v: KvmVcpu): void {
  const params = v.kvm.module.haltPoll;
  const s = params.shrink.value as number;
  let val = s === 0 ? 0 : Math.floor(v.haltPollNs / s);
  if (val < (params.growStart.value as number)) val = 0;
  v.haltPollNs = val;
}
