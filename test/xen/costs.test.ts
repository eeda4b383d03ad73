// What an interrupt costs on each path (reference xen.md 5.1-5.2): the four combinations of CPU-side
// posted interrupts and effective intpost, for a device MSI to a running target, to a blocked target,
// and a software vIRQ (the guest timer). Counts are deltas over N interrupts to a busy guest.
import { describe, expect, it } from 'vitest';
import { EXIT_APIC_ACCESS, EXIT_EXTINT, VM_EXIT_REASONS } from '../../src/hw/vmx/vmcs.js';
import { HVM_DPCI_SOFTIRQ } from '../../src/xen/softirq.js';
import { bindMsi, rig, type Rig, type Target } from './helpers.js';

const N = 10;

function exitsOf(r: Rig, vcpu: number): number[] {
  return [...r.host.xen.domains.get(r.dom)!.vcpus[vcpu]!.vmcs.exitCounts];
}

function delta(a: number[], b: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  b.forEach((x, i) => {
    if (x - a[i]! !== 0) out[VM_EXIT_REASONS[i]!] = x - a[i]!;
  });
  return out;
}

function dpciSoftirqs(r: Rig): number {
  return r.host.xen.cpus.reduce((n, c) => n + c.softirqsRaised[HVM_DPCI_SOFTIRQ]!, 0);
}

/** N device MSIs to busy vCPUs; returns per-vCPU exit deltas, handled counts and dpci softirqs. */
function run(cmdline: string, t: Target) {
  const r = rig({ cmdline });
  bindMsi(r, 0, 0x40, t);
  for (const v of [0, 1]) r.host.control.guestDo(r.dom, v, (b) => (b.busy = true));
  r.host.control.settle();
  const e0 = exitsOf(r, 0);
  const e1 = exitsOf(r, 1);
  const s0 = dpciSoftirqs(r);
  for (let i = 0; i < N; i++) {
    r.host.control.raise(0);
    r.host.control.settle();
  }
  return { v0: delta(e0, exitsOf(r, 0)), v1: delta(e1, exitsOf(r, 1)), handled: [r.host.control.handled(r.dom, 0, 0x40), r.host.control.handled(r.dom, 1, 0x40)], dpci: dpciSoftirqs(r) - s0, r };
}

describe('device MSI to a running target (reference xen.md 5.2)', () => {
  it('no CPU PI (apicv=0), intpost forced off: an exit on the host vector, injection at entry, and an exit for the EOI', () => {
    const x = run('iommu=intpost apicv=0', { kind: 'vcpu', vcpu: 0 });
    expect(x.handled).toEqual([N, 0]);
    expect(x.v0).toEqual({ 'external-interrupt': N, 'apic-access': N });
    expect(x.dpci).toBe(N);
    expect(x.r.host.control.settings.intpost).toBe(false);
  });

  it('CPU PI, intpost off: an exit on the host vector and HVM_DPCI_SOFTIRQ, then PIR/ON synced at entry (no exit for the EOI)', () => {
    const x = run('', { kind: 'vcpu', vcpu: 0 });
    expect(x.handled).toEqual([N, 0]);
    expect(x.v0).toEqual({ 'external-interrupt': N });
    expect(x.dpci).toBe(N);
  });

  it('CPU PI, intpost on, single destination: no Xen involvement and zero VM exits', () => {
    const x = run('iommu=intpost', { kind: 'vcpu', vcpu: 0 });
    expect(x.handled).toEqual([N, 0]);
    expect(x.v0).toEqual({});
    expect(x.dpci).toBe(0);
    const cpu = x.r.host.xen.cpus[x.r.host.xen.domains.get(x.r.dom)!.vcpus[0]!.processor]!;
    expect(cpu.hw.piNotifications).toBeGreaterThanOrEqual(N);
  });

  it('CPU PI, intpost on, multicast: remapped, as without intpost (the host-vector CPU exits; the other target gets an IPI of posted_intr_vector, no exit)', () => {
    const x = run('iommu=intpost', { kind: 'multicast' });
    expect(x.handled).toEqual([N, N]);
    expect(x.dpci).toBe(N);
    const total = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);
    expect(total(x.v0) + total(x.v1)).toBe(N);
    expect(x.v0['external-interrupt'] ?? x.v1['external-interrupt']).toBe(N);
  });
});

describe('device MSI to a blocked target', () => {
  it('intpost: IOMMU -> wakeup vector -> pi_wakeup_interrupt -> vcpu_unblock -> sync at VM entry', () => {
    const r = rig({ cmdline: 'iommu=intpost' });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    r.host.control.settle();
    const x = r.host.xen;
    const wakeups = x.cpus.reduce((n, c) => n + c.piWakeupIrqs, 0);
    r.host.control.raise(0);
    r.host.control.settle();
    expect(x.cpus.reduce((n, c) => n + c.piWakeupIrqs, 0) - wakeups).toBe(1);
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
  });

  it('CPU PI, intpost off: PIR/ON from the softirq and vcpu_unblock', () => {
    const r = rig({ cmdline: '' });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    r.host.control.settle();
    const v = r.host.xen.domains.get(r.dom)!.vcpus[0]!;
    expect(v.runstate).toBe('blocked');
    r.host.control.raise(0);
    r.host.control.settle();
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
    expect(r.host.xen.cpus.reduce((n, c) => n + c.piWakeupIrqs, 0)).toBe(0);
  });
});

describe('software vIRQ (the guest timer through vlapic_set_irq)', () => {
  it('with CPU PI: software posting (PIR/ON), no exit for the running target beyond the timer interrupt itself', () => {
    const r = rig({ cmdline: 'iommu=intpost' });
    r.host.control.guestDo(r.dom, 0, (b) => (b.busy = true));
    r.host.control.settle();
    const e0 = exitsOf(r, 0);
    r.host.control.guestTimer(r.dom, 0);
    r.host.control.settle();
    expect(r.host.control.handled(r.dom, 0, 0xec)).toBeGreaterThanOrEqual(2);
    expect(delta(e0, exitsOf(r, 0))).toEqual({ 'external-interrupt': 1 }); // the host timer interrupt
  });

  it('without CPU PI: IRR + kick, injected at entry, and the EOI exits', () => {
    const r = rig({ cmdline: 'apicv=0' });
    r.host.control.guestDo(r.dom, 0, (b) => (b.busy = true));
    r.host.control.settle();
    const e0 = exitsOf(r, 0);
    r.host.control.guestTimer(r.dom, 0);
    r.host.control.settle();
    const d = delta(e0, exitsOf(r, 0));
    expect(d[VM_EXIT_REASONS[EXIT_EXTINT]!]).toBe(1);
    expect(d[VM_EXIT_REASONS[EXIT_APIC_ACCESS]!]).toBe(1);
  });
});
