// The local APIC timer as KVM emulates it (arch/x86/kvm/lapic.c: update_divide_count, tmict_to_ns,
// set_target_expiration, limit_periodic_timer_frequency, apic_update_lvtt, apic_timer_fn,
// kvm_apic_inject_pending_timer_irqs, apic_get_tmcct, update_target_expiration, kvm_apic_set_state's
// __start_apic_timer(apic, APIC_TMCCT), kvm_set_lapic_tscdeadline_msr), on the model's virtual time. Wall-clock timing on the real
// kernel cannot be compared, so these check the source's rules.
import { describe, expect, it } from 'vitest';
import { GuestAsm, r0, r1 } from '../../../src/guest/program.js';
import { enableLapic } from '../../../src/guest/x86.js';
import { APIC_DEFAULT_PHYS_BASE, APIC_LVTT, APIC_TDCR, APIC_TMCCT, APIC_TMICT } from '../../../src/hw/x86/apicdef.js';
import { APIC_LVT_TIMER_PERIODIC } from '../../../src/hw/x86/apic-timer.js';
import { errno, K, run, vmm, type Vmm } from './helpers.js';
import * as A from '../../../include-ts/asm/kvm.js';
import { MSR_IA32_TSC, MSR_IA32_TSC_DEADLINE } from '../../../src/hw/x86/msr-index.js';

const APIC = APIC_DEFAULT_PHYS_BASE;
const VEC = 0x40;
const MASKED = 1 << 16;

function lapicReg(v: Vmm, off: number, value?: number): number {
  const s = K.kvm_lapic_state.alloc();
  v.p.ioctl(v.vcpus[0]!, K.KVM_GET_LAPIC, s);
  const dv = new DataView(s.bytes.buffer, s.bytes.byteOffset);
  if (value !== undefined) {
    dv.setUint32(off, value, true);
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_LAPIC, s);
  }
  return dv.getUint32(off, true);
}

/** Sets the guest CPUID's leaf 1: the LAPIC timer then keeps the periodic mode bit (and TSC-deadline's with `ecx` bit 24). */
function withPeriodic(v: Vmm, ecx = 0): void {
  const b = new Uint8Array(8 + 40);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 1, true);
  dv.setUint32(8, 1, true);
  dv.setUint32(28, ecx, true);
  v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, b);
}

/** A guest that programs TDCR, LVTT and TMICT, then idles in `sti; hlt`, counting timer interrupts in r0. */
function timerGuest(o: { tdcr: number; lvtt: number; tmict: number; eoi?: boolean }): ReturnType<GuestAsm['build']> {
  const a = new GuestAsm('timer').label('start');
  enableLapic(a);
  a.store32(APIC + APIC_TDCR, o.tdcr);
  a.store32(APIC + APIC_LVTT, o.lvtt);
  a.store32(APIC + APIC_TMICT, o.tmict);
  a.sti();
  a.label('idle');
  a.hlt();
  a.jmp('idle');
  a.handler(VEC, 'isr');
  a.label('isr');
  a.add(r0, 1);
  if (o.eoi !== false) a.eoi();
  a.iret();
  return a.build();
}

const count = (v: Vmm): number => v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest().regs[0]!;

describe('APIC timer, one-shot (lapic.c)', () => {
  it('fires once TMICT * divide bus cycles (1 ns each) after the TMICT write, then TMCCT reads 0', () => {
    const v = vmm();
    const t0 = v.host.control.now;
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, timerGuest({ tdcr: 0x3, lvtt: VEC, tmict: 1000 })); // divide by 16
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR'); // handled it, then nothing can wake it
    expect(count(v)).toBe(1);
    expect(v.host.control.now - t0).toBe(16_000);
    expect(lapicReg(v, APIC_TMCCT)).toBe(0);
    expect(lapicReg(v, APIC_TMICT)).toBe(1000);
  });

  it('TMCCT counts down between expiries: (remaining ns) / (bus cycle * divide)', () => {
    const v = vmm();
    const a = new GuestAsm('arm').label('start');
    enableLapic(a);
    a.store32(APIC + APIC_TDCR, 0xb); // divide by 1
    a.store32(APIC + APIC_LVTT, VEC | MASKED);
    a.store32(APIC + APIC_TMICT, 5000);
    a.out(0x80, 0, 1).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    // At the very instant of the write the formula gives (5000 mod 5000) = 0, as KVM's does.
    expect(lapicReg(v, APIC_TMCCT)).toBe(0);
    v.host.control.advance(1200);
    expect(lapicReg(v, APIC_TMCCT)).toBe(3800);
    v.host.control.advance(3800);
    expect(lapicReg(v, APIC_TMCCT)).toBe(0);
  });

  it('a masked LVTT swallows the expiry; TMICT 0 stops the timer; a new TMICT restarts it', () => {
    const v = vmm();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, timerGuest({ tdcr: 0xb, lvtt: VEC | MASKED, tmict: 100 }));
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(count(v)).toBe(0);
    const w = new GuestAsm('stop').label('start');
    enableLapic(w);
    w.store32(APIC + APIC_TDCR, 0xb);
    w.store32(APIC + APIC_LVTT, VEC);
    w.store32(APIC + APIC_TMICT, 100);
    w.store32(APIC + APIC_TMICT, 0);
    w.sti().label('idle').hlt().jmp('idle');
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, w.build());
    const t0 = v.host.control.now;
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(v.host.control.now).toBe(t0); // nothing armed: no time passed waiting
    expect(lapicReg(v, APIC_TMCCT)).toBe(0);
  });

  it('a pending expiry wakes a halted vCPU even with IF=0; the interrupt waits in IRR', () => {
    const v = vmm();
    const a = new GuestAsm('cli-hlt').label('start');
    enableLapic(a);
    a.store32(APIC + APIC_TDCR, 0xb);
    a.store32(APIC + APIC_LVTT, VEC);
    a.store32(APIC + APIC_TMICT, 300);
    a.cli().hlt().add(r1, 1).out(0x80, 0, 1).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO); // woke from the first HLT (kvm_cpu_has_pending_timer)
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest().regs[1]).toBe(1);
    const irr = lapicReg(v, 0x200 + (VEC >> 5) * 0x10);
    expect(irr & (1 << (VEC & 31))).not.toBe(0);
  });

  it('KVM_SET_LAPIC restarts the timer from the page\'s TMCCT; a one-shot timer with TMCCT 0 fires at once', () => {
    const v = vmm();
    const a = new GuestAsm('idle').label('start');
    enableLapic(a);
    a.sti().label('idle').hlt().jmp('idle');
    a.handler(VEC, 'isr').label('isr').add(r0, 1).eoi().iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    const s = K.kvm_lapic_state.alloc();
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_LAPIC, s);
    const dv = new DataView(s.bytes.buffer, s.bytes.byteOffset);
    dv.setUint32(APIC_LVTT, VEC, true);
    dv.setUint32(APIC_TDCR, 0xb, true);
    dv.setUint32(APIC_TMICT, 10_000, true);
    dv.setUint32(APIC_TMCCT, 2_500, true);
    const t0 = v.host.control.now;
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_LAPIC, s);
    expect(lapicReg(v, APIC_TMCCT)).toBe(2_500); // counting from the restored value
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(count(v)).toBe(1);
    expect(v.host.control.now - t0).toBe(2_500);
    dv.setUint32(APIC_TMCCT, 0, true);
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_LAPIC, s);
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(count(v)).toBe(2);
  });
});

describe('APIC timer, periodic (needs the mode bit: KVM_SET_CPUID2 with a leaf 1)', () => {
  it('without KVM_SET_CPUID2 the periodic bit is not kept: the timer is one-shot', () => {
    const v = vmm();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, timerGuest({ tdcr: 0xb, lvtt: VEC | APIC_LVT_TIMER_PERIODIC, tmict: 1_000_000 }));
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(count(v)).toBe(1);
    expect(lapicReg(v, APIC_LVTT)).toBe(VEC);
  });

  it('re-fires every period; periods below min_timer_period_us (200 us) are raised to it', () => {
    const v = vmm();
    withPeriodic(v);
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, timerGuest({ tdcr: 0xb, lvtt: VEC | APIC_LVT_TIMER_PERIODIC, tmict: 1000 }));
    v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).setRunBudget(200); // KVM_RUN returns after ~40 ticks of handler + idle loop
    const t0 = v.host.control.now;
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    const ticks = count(v);
    expect(ticks).toBeGreaterThan(5);
    expect(v.host.control.now - t0).toBe(ticks * 200_000);
    expect(lapicReg(v, APIC_LVTT)).toBe(VEC | APIC_LVT_TIMER_PERIODIC);
  });

  it('expiries while one is still pending are lost (a single pending bit), TMCCT keeps the phase', () => {
    const v = vmm();
    withPeriodic(v);
    const a = new GuestAsm('arm').label('start');
    enableLapic(a);
    a.store32(APIC + APIC_TDCR, 0xb);
    a.store32(APIC + APIC_LVTT, VEC | APIC_LVT_TIMER_PERIODIC);
    a.store32(APIC + APIC_TMICT, 300_000);
    a.out(0x80, 0, 1);
    a.label('idle').sti().hlt().jmp('idle');
    a.handler(VEC, 'isr').label('isr').add(r0, 1).eoi().out(0x81, 0, 1).iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    v.host.control.advance(1_000_000); // three and a third periods with nobody running the vCPU
    expect(lapicReg(v, APIC_TMCCT)).toBe(200_000);
    expect(run(v)).toBe(K.KVM_EXIT_IO); // the handler's OUT to 0x81
    expect(count(v)).toBe(1);
  });
});

describe('APIC timer: divisor and mode changes (lapic.c TDCR write, apic_update_lvtt)', () => {
  /** Runs a guest that writes `writes` (APIC offset, value) and then exits on port 0x80. */
  const program = (v: Vmm, writes: [number, number][]) => {
    const a = new GuestAsm('w').label('start');
    enableLapic(a);
    for (const [off, val] of writes) a.store32(APIC + off, val);
    a.out(0x80, 0, 1).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
  };

  it('a TDCR change rescales the time left (update_target_expiration)', () => {
    const v = vmm();
    program(v, [[APIC_TDCR, 0xb], [APIC_LVTT, VEC | MASKED], [APIC_TMICT, 1000]]);
    v.host.control.advance(400);
    expect(lapicReg(v, APIC_TMCCT)).toBe(600);
    program(v, [[APIC_TDCR, 0x0]]); // divide by 2: 600 ns left become 1200 ns, 600 counts
    expect(lapicReg(v, APIC_TMCCT)).toBe(600);
    v.host.control.advance(1000);
    expect(lapicReg(v, APIC_TMCCT)).toBe(100);
  });

  it('switching LVTT to TSC-deadline stops the timer and zeroes TMICT, and TMICT writes are then ignored; one-shot <-> periodic keeps it running', () => {
    const v = vmm();
    withPeriodic(v, 1 << 24);
    program(v, [[APIC_TDCR, 0xb], [APIC_LVTT, VEC | MASKED], [APIC_TMICT, 1_000_000]]);
    v.host.control.advance(1000);
    program(v, [[APIC_LVTT, VEC | MASKED | APIC_LVT_TIMER_PERIODIC]]);
    expect(lapicReg(v, APIC_TMICT)).toBe(1_000_000);
    expect(lapicReg(v, APIC_TMCCT)).toBe(999_000);
    program(v, [[APIC_LVTT, VEC | MASKED | (2 << 17)]]);
    expect(lapicReg(v, APIC_TMICT)).toBe(0);
    expect(lapicReg(v, APIC_TMCCT)).toBe(0);
    program(v, [[APIC_TMICT, 5000]]);
    expect(lapicReg(v, APIC_TMICT)).toBe(0);
  });
});


describe('APIC timer, TSC-deadline mode (lapic.c kvm_set_lapic_tscdeadline_msr, start_sw_tscdeadline)', () => {
  const msr = (v: Vmm, index: number, data?: bigint): bigint => {
    const m = A.kvm_msrs.alloc(1);
    m.nmsrs = 1;
    m.entries.get(0).index = index;
    if (data !== undefined) {
      m.entries.get(0).data = data;
      expect(v.p.ioctl(v.vcpus[0]!, K.KVM_SET_MSRS, m)).toBe(1);
    } else expect(v.p.ioctl(v.vcpus[0]!, K.KVM_GET_MSRS, m)).toBe(1);
    return m.entries.get(0).data;
  };
  /** LVTT in TSC-deadline mode (the guest CPUID offers it), then `sti; hlt` counting timer interrupts. */
  const deadlineVm = (): Vmm => {
    const v = vmm();
    withPeriodic(v, 1 << 24);
    const a = new GuestAsm('deadline').label('start');
    enableLapic(a);
    a.store32(APIC + APIC_LVTT, VEC | (2 << 17));
    a.out(0x80, 0, 1);
    a.sti().label('idle').hlt().jmp('idle');
    a.handler(VEC, 'isr').label('isr').add(r0, 1).eoi().iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    return v;
  };

  it('fires when the guest TSC reaches the deadline, at the vCPU\'s TSC rate; the MSR reads back until then, 0 after', () => {
    const v = deadlineVm();
    const khz = BigInt(v.p.ioctl(v.vcpus[0]!, K.KVM_GET_TSC_KHZ));
    const tsc = msr(v, MSR_IA32_TSC);
    const t0 = v.host.control.now;
    msr(v, MSR_IA32_TSC_DEADLINE, tsc + khz); // one millisecond of guest TSC
    expect(msr(v, MSR_IA32_TSC_DEADLINE)).toBe(tsc + khz);
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(count(v)).toBe(1);
    expect(v.host.control.now - t0).toBe(1_000_000);
    expect(msr(v, MSR_IA32_TSC_DEADLINE)).toBe(0n);
    expect(lapicReg(v, APIC_TMCCT)).toBe(0);
  });

  it('a deadline already passed fires at once; 0 disarms; TMICT is ignored in this mode', () => {
    const v = deadlineVm();
    msr(v, MSR_IA32_TSC_DEADLINE, 1n);
    const t0 = v.host.control.now;
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(count(v)).toBe(1);
    expect(v.host.control.now).toBe(t0);
    msr(v, MSR_IA32_TSC_DEADLINE, msr(v, MSR_IA32_TSC) + 1000n);
    msr(v, MSR_IA32_TSC_DEADLINE, 0n);
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(count(v)).toBe(1);
  });

  it('with the APIC hardware-disabled (kvm_apic_present false) the MSR is dropped and reads 0, even in TSC-deadline mode', () => {
    const v = deadlineVm();
    const s = K.kvm_sregs.alloc();
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_SREGS, s);
    s.apic_base = 0xfee00000n | 0x100n; // BSP, EN clear
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_SREGS, s);
    msr(v, MSR_IA32_TSC_DEADLINE, msr(v, MSR_IA32_TSC) + 1000n);
    expect(msr(v, MSR_IA32_TSC_DEADLINE)).toBe(0n);
  });

  it('outside TSC-deadline mode the MSR is dropped and reads 0', () => {
    const v = vmm();
    withPeriodic(v, 1 << 24);
    msr(v, MSR_IA32_TSC_DEADLINE, 12345n);
    expect(msr(v, MSR_IA32_TSC_DEADLINE)).toBe(0n);
  });
});
