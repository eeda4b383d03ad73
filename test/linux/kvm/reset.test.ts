// RESET and INIT/SIPI of an x86 vCPU: arch/x86/kvm/x86.c kvm_vcpu_reset (RESET from kvm_arch_vcpu_create,
// INIT from lapic.c kvm_apic_accept_events) and kvm_vcpu_deliver_sipi_vector, arch/x86/kvm/vmx/vmx.c
// vmx_vcpu_reset/init_vmcs (svm.c svm_vcpu_reset/init_vmcb agree but for segment attribute encodings),
// arch/x86/kvm/lapic.c kvm_lapic_reset and kvm_lapic_reg_write (LVTT timer_mode_mask). The same states are
// compared with this machine's /dev/kvm by differential.test.ts ("RESET", "INIT and SIPI", "LVT timer").
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as A from '../../../include-ts/asm/kvm.js';
import {
  MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_APICBASE, MSR_IA32_CR_PAT, MSR_IA32_CR_PAT_DEFAULT, MSR_IA32_MISC_ENABLE,
  MSR_IA32_SYSENTER_CS, MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_MTRRdefType, MSR_STAR,
} from '../../../src/hw/x86/msr-index.js';
import { APIC_DEFAULT_PHYS_BASE, APIC_ICR, APIC_ICR2, APIC_LVTT } from '../../../src/hw/x86/apicdef.js';
import { Lapic } from '../../../src/hw/x86/lapic.js';
import { GuestAsm, r1 } from '../../../src/guest/program.js';
import { runs } from '../../support/runs.js';
import { enableLapic } from '../../../src/guest/x86.js';
import { errno, K, run, signalMsi, vmm, type Vmm } from './helpers.js';

type Sregs = ReturnType<typeof K.kvm_sregs.alloc>;
type Regs = ReturnType<typeof K.kvm_regs.alloc>;

function sregs(v: Vmm, i = 0): Sregs {
  const s = K.kvm_sregs.alloc();
  v.p.ioctl(v.vcpus[i]!, K.KVM_GET_SREGS, s);
  return s;
}
function regs(v: Vmm, i = 0): Regs {
  const r = K.kvm_regs.alloc();
  v.p.ioctl(v.vcpus[i]!, K.KVM_GET_REGS, r);
  return r;
}
function setSregs(v: Vmm, i: number, change: (s: Sregs) => void): number | string {
  const s = sregs(v, i);
  change(s);
  return errno(() => v.p.ioctl(v.vcpus[i]!, K.KVM_SET_SREGS, s));
}
function setRegs(v: Vmm, i: number, change: (r: Regs) => void): void {
  const r = regs(v, i);
  change(r);
  v.p.ioctl(v.vcpus[i]!, K.KVM_SET_REGS, r);
}
function msr(v: Vmm, i: number, index: number, data?: bigint): bigint | null {
  const m = A.kvm_msrs.alloc(1);
  m.nmsrs = 1;
  m.entries.get(0).index = index;
  m.entries.get(0).data = data ?? 0n;
  const n = v.p.ioctl(v.vcpus[i]!, data === undefined ? K.KVM_GET_MSRS : K.KVM_SET_MSRS, m);
  return n === 1 ? m.entries.get(0).data : null;
}
function mpState(v: Vmm, i: number): number {
  const mp = K.kvm_mp_state.alloc();
  v.p.ioctl(v.vcpus[i]!, K.KVM_GET_MP_STATE, mp);
  return mp.mp_state;
}
function lapicReg(v: Vmm, i: number, off: number, value?: number): number {
  const s = K.kvm_lapic_state.alloc();
  v.p.ioctl(v.vcpus[i]!, K.KVM_GET_LAPIC, s);
  const dv = new DataView(s.bytes.buffer, s.bytes.byteOffset);
  if (value !== undefined) {
    dv.setUint32(off, value, true);
    v.p.ioctl(v.vcpus[i]!, K.KVM_SET_LAPIC, s);
  }
  return dv.getUint32(off, true);
}
/**
 * Two vCPUs, the second's APIC software-enabled (KVM_SET_LAPIC of SPIV): kvm_lapic_reset recalculated the
 * APIC map while vCPU 1 was being created, so it is in the map only after something changes it.
 */
function twoVcpus(): Vmm {
  const v = vmm({ vcpus: 2 });
  lapicReg(v, 1, 0xf0, 0x1ff);
  return v;
}
/** An MSI with delivery mode `dm` (5 INIT, 6 STARTUP) to APIC `id`. */
const ipi = (v: Vmm, id: number, dm: number, vector = 0): number => signalMsi(v.p, v.vm, 0xfee00000 | (id << 12), (dm << 8) | vector);
const seg = (g: Sregs['cs']) => [g.selector, g.base, g.limit, g.type, g.present, g.dpl, g.db, g.s, g.l, g.g, g.avl, g.unusable];
const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

/** What KVM_GET_REGS/SREGS show after kvm_vcpu_reset (vmx.c vmx_vcpu_reset's segment encodings). */
function expectResetState(v: Vmm, i: number, cr0: bigint): void {
  const r = regs(v, i);
  expect(GPRS.map((g) => r[g])).toEqual(GPRS.map((g) => (g === 'rdx' ? 0x600n : 0n)));
  expect([r.rip, r.rflags]).toEqual([0xfff0n, 0x2n]);
  const s = sregs(v, i);
  expect(seg(s.cs)).toEqual([0xf000, 0xffff0000n, 0xffff, 0xb, 1, 0, 0, 1, 0, 0, 0, 0]);
  for (const d of [s.ds, s.es, s.fs, s.gs, s.ss]) expect(seg(d)).toEqual([0, 0n, 0xffff, 3, 1, 0, 0, 1, 0, 0, 0, 0]);
  expect(seg(s.tr)).toEqual([0, 0n, 0xffff, 0xb, 1, 0, 0, 0, 0, 0, 0, 0]);
  expect(seg(s.ldt)).toEqual([0, 0n, 0xffff, 2, 1, 0, 0, 0, 0, 0, 0, 0]);
  expect([s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit]).toEqual([0n, 0xffff, 0n, 0xffff]);
  expect([s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer]).toEqual([cr0, 0n, 0n, 0n, 0n, 0n]);
  expect([0, 1, 2, 3].map((w) => s.interrupt_bitmap.get(w))).toEqual([0n, 0n, 0n, 0n]);
}

describe('RESET: kvm_arch_vcpu_create -> kvm_vcpu_reset(vcpu, false) (x86.c, vmx.c)', () => {
  it.each(['none', 'kernel'] as const)('irqchip %s: RDX 0x600, RIP 0xfff0, CS f000/ffff0000, CR0 ET|NW|CD, MISC_ENABLE PEBS|BTS unavailable, PAT default', (irqchip) => {
    const v = vmm({ irqchip, vcpus: 2 });
    for (const i of [0, 1]) {
      expectResetState(v, i, 0x60000010n);
      expect(msr(v, i, MSR_IA32_MISC_ENABLE)).toBe(0x1800n);
      expect(msr(v, i, MSR_IA32_CR_PAT)).toBe(MSR_IA32_CR_PAT_DEFAULT);
      expect(msr(v, i, MSR_IA32_APICBASE)).toBe(i === 0 ? 0xfee00900n : 0xfee00800n);
    }
  });
});

describe('INIT: kvm_apic_accept_events -> kvm_vcpu_reset(vcpu, true) (lapic.c, x86.c, vmx.c)', () => {
  /** vCPU 1 with registers, segments, MSRs and LAPIC words set away from their reset values. */
  function dirtyAp(): Vmm {
    const v = twoVcpus();
    setRegs(v, 1, (r) => {
      for (const g of GPRS) r[g] = 0x77n;
      r.rip = 0x1234n;
      r.rflags = 0x202n;
    });
    expect(setSregs(v, 1, (s) => {
      s.cr0 = 0x11n;
      s.cr3 = 0x3000n;
      s.cr4 = 0x20n;
      s.efer = 0x1n;
      s.fs.base = 0x1234n;
      s.cs.selector = 0x10;
      s.cs.base = 0x100000n;
      s.gdt.limit = 0x27;
      s.interrupt_bitmap.set(1, 1n);
    })).toBe(0);
    for (const [i, d] of [[MSR_STAR, 5n], [MSR_LSTAR, 0x7000n], [MSR_KERNEL_GS_BASE, 7n], [MSR_IA32_SYSENTER_CS, 9n], [MSR_IA32_MISC_ENABLE, 1n],
      [MSR_IA32_CR_PAT, 0x0606060606060606n], [MSR_MTRRdefType, 0x806n]] as const) expect(msr(v, 1, i, d)).toBe(d);
    lapicReg(v, 1, 0xf0, 0x1ff);
    lapicReg(v, 1, 0x80, 0x60);
    lapicReg(v, 1, 0x90, 0x33);
    lapicReg(v, 1, 0x3f0, 0x77);
    lapicReg(v, 1, 0x380, 0x1234);
    return v;
  }

  it('resets GPRs (RDX 0x600), RIP, RFLAGS, segments, CR2/CR3/CR4/EFER and the injected interrupt; the AP waits in INIT_RECEIVED', () => {
    const v = dirtyAp();
    expect(ipi(v, 1, 5)).toBe(1);
    expect(regs(v, 1).rip).toBe(0x1234n); // nothing happens until the event is accepted
    expect(mpState(v, 1)).toBe(K.KVM_MP_STATE_INIT_RECEIVED);
    expectResetState(v, 1, 0x10n);
  });

  it('CR0: NW and CD as they were, everything else but ET cleared ("CR0.CD/NW are set on RESET, preserved on INIT")', () => {
    const v = twoVcpus();
    for (const [before, after] of [[0x60000011n, 0x60000010n], [0x40000011n, 0x40000010n], [0x11n, 0x10n], [0x80000031n, 0x10n]] as const) {
      expect(setSregs(v, 1, (s) => { s.cr0 = before; })).toBe(0);
      ipi(v, 1, 5);
      mpState(v, 1);
      expect(sregs(v, 1).cr0).toBe(after);
    }
  });

  it('every MSR but EFER (and the FS/GS bases, which are the segments) is kept; IA32_APIC_BASE too', () => {
    const v = dirtyAp();
    ipi(v, 1, 5);
    mpState(v, 1);
    expect([MSR_STAR, MSR_LSTAR, MSR_KERNEL_GS_BASE, MSR_IA32_SYSENTER_CS, MSR_IA32_MISC_ENABLE, MSR_IA32_CR_PAT, MSR_MTRRdefType, MSR_IA32_APICBASE].map((i) => msr(v, 1, i)))
      .toEqual([5n, 0x7000n, 7n, 9n, 1n, 0x0606060606060606n, 0x806n, 0xfee00800n]);
    expect([MSR_EFER, MSR_FS_BASE, MSR_GS_BASE].map((i) => msr(v, 1, i))).toEqual([0n, 0n, 0n]);
  });

  it('kvm_lapic_reset(init_event): ID, APR and reserved words kept, TPR/TMICT cleared, LVTT masked, SPIV 0xff; a queued NMI is dropped', () => {
    const v = dirtyAp();
    expect(ipi(v, 1, 4)).toBe(1);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[1]!).lapic()!.nmiPending).toBe(1);
    ipi(v, 1, 5);
    mpState(v, 1);
    expect([0x20, 0x80, 0x90, 0xf0, 0x320, 0x380, 0x3f0].map((o) => lapicReg(v, 1, o))).toEqual([0x01000000, 0, 0x33, 0xff, 0x10000, 0, 0x77]);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[1]!).lapic()!.nmiPending).toBe(0);
  });

  it('kvm_vcpu_is_bsp (the BSP bit of IA32_APIC_BASE, not the vCPU ID) decides RUNNABLE vs INIT_RECEIVED; LINT0 ExtINT follows the vCPU ID', () => {
    const v = vmm({ vcpus: 2 });
    expect(setSregs(v, 0, (s) => { s.apic_base = 0xfee00800n; })).toBe(0);
    expect(setSregs(v, 1, (s) => { s.apic_base = 0xfee00900n; })).toBe(0);
    ipi(v, 0, 5);
    ipi(v, 1, 5);
    expect([mpState(v, 0), mpState(v, 1)]).toEqual([K.KVM_MP_STATE_INIT_RECEIVED, K.KVM_MP_STATE_RUNNABLE]);
    expect([lapicReg(v, 0, 0x350), lapicReg(v, 1, 0x350)]).toEqual([0x700, 0x10000]);
    expect(regs(v, 1).rip).toBe(0xfff0n);
  });

  it('RESET and INIT agree on everything but CR0.NW/CD, MISC_ENABLE and the MSRs INIT keeps (property)', () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 48n) - 1n });
    fc.assert(fc.property(fc.array(u64, { minLength: 18, maxLength: 18 }), fc.constantFrom(0x11n, 0x60000011n, 0x40000011n, 0x10n), u64, u64,
      (gprs, cr0, fsBase, csBase) => {
        const v = twoVcpus();
        setRegs(v, 1, (r) => {
          GPRS.forEach((g, i) => { r[g] = gprs[i]!; });
          r.rip = gprs[16]!;
          r.rflags = 0x202n;
        });
        setSregs(v, 1, (s) => {
          s.cr0 = cr0;
          s.fs.base = fsBase;
          s.cs.base = csBase;
          s.ldt.selector = 0x28;
        });
        ipi(v, 1, 5);
        mpState(v, 1);
        expectResetState(v, 1, (cr0 & 0x60000000n) | 0x10n);
      }), { numRuns: runs(30) });
  });
});

describe('debug registers (x86.c kvm_vcpu_ioctl_x86_get/set_debugregs, kvm_vcpu_reset)', () => {
  const dbg = (v: Vmm, i: number, set?: (d: ReturnType<typeof K.kvm_debugregs.alloc>) => void): ReturnType<typeof K.kvm_debugregs.alloc> | number | string => {
    const d = K.kvm_debugregs.alloc();
    d.bytes.fill(0x5a);
    v.p.ioctl(v.vcpus[i]!, K.KVM_GET_DEBUGREGS, d);
    if (!set) return d;
    set(d);
    return errno(() => v.p.ioctl(v.vcpus[i]!, K.KVM_SET_DEBUGREGS, d));
  };
  it('RESET: DR0-3 0, DR6 0xffff0ff0 (DR6_ACTIVE_LOW), DR7 0x400 (DR7_FIXED_1), the rest of the struct zeroed', () => {
    const d = dbg(vmm(), 0) as ReturnType<typeof K.kvm_debugregs.alloc>;
    expect([d.db.get(0), d.db.get(3), d.dr6, d.dr7, d.flags, d.reserved.get(8)]).toEqual([0n, 0n, 0xffff0ff0n, 0x400n, 0n, 0n]);
  });
  it('SET: flags or DR6/DR7 bits above 31 -> EINVAL, nothing changed; values are stored as given; INIT resets them', () => {
    const v = twoVcpus();
    expect(dbg(v, 1, (d) => { d.flags = 1n; d.db.set(0, 5n); })).toBe('EINVAL');
    expect(dbg(v, 1, (d) => { d.dr6 = 1n << 32n; })).toBe('EINVAL');
    expect(dbg(v, 1, (d) => { d.dr7 = 1n << 40n; })).toBe('EINVAL');
    expect((dbg(v, 1) as ReturnType<typeof K.kvm_debugregs.alloc>).db.get(0)).toBe(0n);
    expect(dbg(v, 1, (d) => { d.dr6 = 0n; d.dr7 = 0n; d.db.set(2, 0xffffffffffffffffn); })).toBe(0);
    const d = dbg(v, 1) as ReturnType<typeof K.kvm_debugregs.alloc>;
    expect([d.dr6, d.dr7, d.db.get(2)]).toEqual([0n, 0n, 0xffffffffffffffffn]);
    ipi(v, 1, 5);
    mpState(v, 1);
    const r = dbg(v, 1) as ReturnType<typeof K.kvm_debugregs.alloc>;
    expect([r.dr6, r.dr7, r.db.get(2)]).toEqual([0xffff0ff0n, 0x400n, 0n]);
  });
});

describe('the APIC map at KVM_CREATE_VCPU (lapic.c kvm_lapic_reset -> kvm_recalculate_apic_map, kvm_irq_delivery_to_apic_fast)', () => {
  it('the vCPU being created is not yet in kvm_for_each_vcpu: messages to its APIC ID are dropped until the map changes', () => {
    const v = vmm({ vcpus: 1 });
    expect(ipi(v, 0, 4)).toBe(0); // the map exists, empty
    v.vcpus.push(v.p.ioctl(v.vm, K.KVM_CREATE_VCPU, 1));
    expect([ipi(v, 0, 4), ipi(v, 1, 4)]).toEqual([1, 0]);
    expect(signalMsi(v.p, v.vm, 0xfee00000 | (0xff << 12), 0x400)).toBe(2); // broadcast: the slow path sees every vCPU
    lapicReg(v, 1, 0xf0, 0x1ff);
    expect(ipi(v, 1, 4)).toBe(1);
  });
});

describe('SIPI: kvm_vcpu_deliver_sipi_vector (x86.c)', () => {
  it('CS = vector << 8 / vector << 12, RIP 0, other registers as they were; only in INIT_RECEIVED', () => {
    const v = twoVcpus();
    expect(ipi(v, 1, 6, 0x12)).toBe(1);
    expect(mpState(v, 1)).toBe(K.KVM_MP_STATE_UNINITIALIZED); // dropped: not INIT_RECEIVED
    ipi(v, 1, 5);
    mpState(v, 1);
    setRegs(v, 1, (r) => { r.rbx = 0x55n; });
    ipi(v, 1, 6, 0x12);
    expect(mpState(v, 1)).toBe(K.KVM_MP_STATE_RUNNABLE);
    const s = sregs(v, 1);
    expect(seg(s.cs)).toEqual([0x1200, 0x12000n, 0xffff, 0xb, 1, 0, 0, 1, 0, 0, 0, 0]);
    const r = regs(v, 1);
    expect([r.rip, r.rbx, r.rdx, r.rflags]).toEqual([0n, 0x55n, 0x600n, 0x2n]);
    ipi(v, 1, 6, 0x34); // RUNNABLE: ignored
    expect(mpState(v, 1)).toBe(K.KVM_MP_STATE_RUNNABLE);
    expect(sregs(v, 1).cs.selector).toBe(0x1200);
  });

  it('KVM_SET_MP_STATE(SIPI_RECEIVED) delivers the last vector received; INIT_RECEIVED alone resets nothing', () => {
    const v = twoVcpus();
    ipi(v, 1, 6, 0x9a);
    mpState(v, 1);
    setRegs(v, 1, (r) => { r.rip = 0x4444n; });
    const mp = K.kvm_mp_state.alloc();
    mp.mp_state = K.KVM_MP_STATE_INIT_RECEIVED;
    v.p.ioctl(v.vcpus[1]!, K.KVM_SET_MP_STATE, mp);
    expect(regs(v, 1).rip).toBe(0x4444n);
    mp.mp_state = K.KVM_MP_STATE_SIPI_RECEIVED;
    v.p.ioctl(v.vcpus[1]!, K.KVM_SET_MP_STATE, mp);
    expect(mpState(v, 1)).toBe(K.KVM_MP_STATE_RUNNABLE);
    expect([sregs(v, 1).cs.selector, regs(v, 1).rip]).toEqual([0x9a00, 0n]);
  });

  it('a guest program starts at its entry point after INIT/SIPI from the BSP, and RIP counts from 0 there', () => {
    const v = vmm({ vcpus: 2 });
    const bsp = new GuestAsm('bsp').label('start');
    enableLapic(bsp);
    bsp.store32(APIC_DEFAULT_PHYS_BASE + APIC_ICR2, 1 << 24).store32(APIC_DEFAULT_PHYS_BASE + APIC_ICR, 0x4500);
    bsp.store32(APIC_DEFAULT_PHYS_BASE + APIC_ICR, 0x4600 | 0x9a).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, bsp.build());
    const ap = new GuestAsm('ap').nop().nop().label('start').mov(r1, 7).out(0x90, r1, 1).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[1]!, ap.build());
    run(v, 0);
    expect(run(v, 1)).toBe('EAGAIN');
    expect([sregs(v, 1).cs.selector, sregs(v, 1).cs.base, regs(v, 1).rip]).toEqual([0x9a00, 0x9a000n, 0n]);
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
    expect(v.runs[1]!.read8(v.runs[1]!.read32(K.kvm_run.offsetof('io.data_offset')))).toBe(7);
    // The OUT exited with RIP on it (complete_fast_pio_out skips it at the next KVM_RUN): instruction 1 after the entry.
    expect(regs(v, 1).rip).toBe(1n);
  });
});

describe('LVT timer mode bits (lapic.c kvm_lapic_reg_write: apic_lvt_mask[LVT_TIMER] | lapic_timer.timer_mode_mask)', () => {
  it('a KVM LAPIC without KVM_SET_CPUID2 keeps no mode bit of a guest LVTT write; KVM_SET_LAPIC stores the page as given', () => {
    const v = vmm();
    const a = new GuestAsm('lvtt').label('start');
    enableLapic(a);
    a.store32(APIC_DEFAULT_PHYS_BASE + APIC_LVTT, 0x600ef).out(0x80, 0, 1).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(lapicReg(v, 0, APIC_LVTT)).toBe(0xef);
    expect(lapicReg(v, 0, APIC_LVTT, 0x200ef)).toBe(0x200ef);
  });
  it('the hardware LAPIC (and Xen) keeps both mode bits', () => {
    const apic = new Lapic(0, { mapChanged: () => {}, kick: () => {}, sendIpi: () => 0 } as never, { sched: null, trace: { active: false } } as never);
    apic.writeReg(0xf0, 0x1ff);
    apic.writeReg(APIC_LVTT, 0x600ef);
    expect(apic.readReg(APIC_LVTT)).toBe(0x600ef);
  });
});
