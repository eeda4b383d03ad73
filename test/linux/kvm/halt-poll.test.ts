// Halt polling (src/linux/kvm/halt-poll.ts: virt/kvm/kvm_main.c kvm_vcpu_halt, update_halt_poll_stats,
// grow_halt_poll_ns, shrink_halt_poll_ns, kvm_vcpu_max_halt_poll_ns; x86.c kvm_arch_no_poll).
// halt-poll-oracle.c halts a guest ten times on this machine's /dev/kvm, each time woken by the APIC
// timer after 50 us to 1 ms, and prints the polling counters after each halt — with the default
// maximum, KVM_CAP_HALT_POLL 150000 and KVM_CAP_HALT_POLL 0; the model runs the same halts in virtual
// time and must print the same lines: which halts poll at all follows from the window's growth and
// shrinking. The halts are all longer than the window they meet, because this host never reported a
// successful poll for a timer wakeup in our runs (it is itself a VM, and kvm_vcpu_can_poll() stops as
// soon as another task is runnable); the unit tests check successful polls against the source.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestAsm, r0 } from '../../../src/guest/program.js';
import { enableLapic } from '../../../src/guest/x86.js';
import { APIC_DEFAULT_PHYS_BASE, APIC_LVTT, APIC_TDCR, APIC_TMICT } from '../../../src/hw/x86/apicdef.js';
import { MSR_KVM_POLL_CONTROL } from '../../../include-ts/asm/kvm_para.js';
import { enableCap, K, KvmStats, oneMsr, vmm } from './helpers.js';
import { O_WRONLY } from '../../../include-ts/linux/fcntl.js';
import { COracle, oracleSkip } from '../../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = oracleSkip('KVM halt polling', ['kvm']);
const HALTS = [50000, 50000, 50000, 100000, 500000, 1000000, 1000000, 1000000, 50000, 50000];

/** The oracle's guest: the APIC timer armed for EAX ns, then HLT; the handler EOIs and exits on port 0x13. */
function timerGuest() {
  const apic = APIC_DEFAULT_PHYS_BASE;
  const a = new GuestAsm('halt-poll');
  enableLapic(a.label('start'));
  a.store32(apic + APIC_TDCR, 0xb).store32(apic + APIC_LVTT, 0x40).store32(apic + APIC_TMICT, r0).sti().hlt().hlt();
  a.label('isr').handler(0x40, 'isr').eoi().out(0x13, r0, 1).hlt();
  return a.build();
}

function world(cap?: number) {
  const v = vmm({ irqchip: 'kernel', vcpus: 1 });
  const lines: string[] = [];
  if (cap !== undefined) lines.push(`KVM_CAP_HALT_POLL ${cap}: ${enableCap(v.p, v.vm, K.KVM_CAP_HALT_POLL, cap)}`);
  const vcpu = v.vcpus[0]!;
  const stats = new KvmStats(v.p, v.p.ioctl(vcpu, K.KVM_GET_STATS_FD, 0));
  const halt = (ns: number): string => {
    v.host.control.kvm.loadGuest(v.p, vcpu, timerGuest());
    const regs = K.kvm_regs.alloc();
    regs.rax = BigInt(ns);
    regs.rflags = 2n;
    v.p.ioctl(vcpu, K.KVM_SET_REGS, regs);
    v.p.ioctl(vcpu, K.KVM_RUN);
    const exit = v.runs[0]!.read32(8);
    const io = exit === K.KVM_EXIT_IO ? ` io=${v.runs[0]!.read16(0x20 + 2).toString(16)}` : '';
    return `halt ${ns} ns: exit=${exit}${io} attempted=${stats.get('halt_attempted_poll')} successful=${stats.get('halt_successful_poll')} wakeup=${stats.get('halt_wakeup')}`;
  };
  return { ...v, lines, stats, halt, vcpu };
}

function modelLines(cap?: number): string[] {
  const w = world(cap);
  for (const ns of HALTS) w.lines.push(w.halt(ns));
  return w.lines;
}

describe('halt polling against the real kernel', () => {
  for (const cap of [undefined, 150000, 0]) {
    it.skipIf(SKIP !== undefined)(`the window grows and shrinks as on this machine (${cap === undefined ? 'kvm.halt_poll_ns' : `KVM_CAP_HALT_POLL ${cap}`})`, () => {
      const oracle = new COracle(join(here, 'halt-poll-oracle.c'));
      try {
        const real = oracle.run(cap === undefined ? [] : [String(cap)]).trim().split('\n');
        expect(modelLines(cap)).toEqual(real);
      } finally {
        oracle.dispose();
      }
    });
  }
});

describe('halt polling: the source\'s rules', () => {
  it('a wakeup inside the window is a successful poll: no halt_wakeup, no halt_wait_ns; its length goes to halt_poll_success_ns', () => {
    const w = world();
    for (const ns of [50000, 50000, 50000, 50000]) w.halt(ns); // windows 0, 10k, 20k, 40k: then 80k
    const wait0 = w.stats.get('halt_wait_ns');
    expect(w.halt(50000)).toBe('halt 50000 ns: exit=2 io=13 attempted=4 successful=1 wakeup=4');
    expect(w.stats.get('halt_wait_ns')).toBe(wait0);
    expect(w.stats.get('halt_poll_success_ns')).toBe(50000);
    // The failed polls each spent their whole window: 10k + 20k + 40k.
    expect(w.stats.get('halt_poll_fail_ns')).toBe(70000);
    // log2 buckets: 50000 ns is in bucket 16 (2^15 <= x < 2^16... KVM_STATS_LOG_HIST_UPDATE: fls64).
    expect(w.stats.all('halt_poll_success_hist').findIndex((x) => x !== 0)).toBe(16);
  });

  it('the guest turns polling off with MSR_KVM_POLL_CONTROL bit 0 (kvm_arch_no_poll): no poll, and the window stays', () => {
    const w = world();
    for (const ns of [50000, 50000]) w.halt(ns);
    expect(oneMsr(w.p, w.vcpu, true, MSR_KVM_POLL_CONTROL, 0n).r).toBe('1');
    expect(w.halt(50000)).toBe('halt 50000 ns: exit=2 io=13 attempted=1 successful=0 wakeup=3');
    expect(oneMsr(w.p, w.vcpu, true, MSR_KVM_POLL_CONTROL, 1n).r).toBe('1');
    // The window (20k) was not grown while polling was off: this halt polls 20k and fails.
    w.halt(50000);
    expect(w.stats.get('halt_poll_fail_ns')).toBe(10000 + 20000);
  });

  it('the parameters are kvm module parameters: kvm.halt_poll_ns=0 turns polling off for VMs without KVM_CAP_HALT_POLL', () => {
    const w = world();
    w.p.write(w.p.open('/sys/module/kvm/parameters/halt_poll_ns', O_WRONLY), new TextEncoder().encode('0'));
    for (const ns of HALTS) w.halt(ns);
    expect(w.stats.get('halt_attempted_poll')).toBe(0);
  });
});
