// Boot gating of iommu=intpost (reference xen.md 1.2, behaviour 1 of 8) and the boot log lines Xen
// prints (1.3): passthrough/iommu.c (parse_iommu_param, iommu_setup), vtd/iommu.c vtd_setup,
// hvm/vmx/vmcs.c vmx_init_vmcs_config / vmx_display_features, hvm/vmx/vmx.c start_vmx, irq.c
// alloc_hipriority_vector, common/kernel.c parse_bool / parse_boolean.
import { describe, expect, it } from 'vitest';
import { parseBool, parseBoolean, parseXenCmdline } from '../../src/xen/cmdline.js';
import { XenHost } from '../../src/xen/host.js';
import type { XenHardware } from '../../src/xen/hardware.js';
import { bindMsi, rig } from './helpers.js';

function boot(cmdline: string, hardware: XenHardware = {}) {
  const h = XenHost.create({ cmdline, hardware });
  return { log: h.dmesg().map((l) => l.replace(/^\(XEN\) /, '')), s: h.control.settings };
}

describe('command line (common/kernel.c parse_bool / parse_boolean, passthrough/iommu.c:68,111-117)', () => {
  it('boolean spellings', () => {
    for (const t of ['1', 'on', 'yes', 'true', 'enable']) expect(parseBool(t)).toBe(1);
    for (const f of ['0', 'no', 'off', 'false', 'disable']) expect(parseBool(f)).toBe(0);
    expect(parseBool('maybe')).toBe(-1);
    expect(parseBoolean('intpost', 'intpost')).toBe(1);
    expect(parseBoolean('intpost', 'no-intpost')).toBe(0);
    expect(parseBoolean('intpost', 'intpost=enable')).toBe(1);
    expect(parseBoolean('intpost', 'intpost=off')).toBe(0);
    expect(parseBoolean('intpost', 'intpost=bogus')).toBe(-2); // the name matched, the value did not
    expect(parseBoolean('intpost', 'no-intpost=1')).toBe(-1); // "no-" only on the bare name
    expect(parseBoolean('intpost', 'intremap')).toBe(-1);
  });

  it('iommu=<list>: intpost / no-intpost / intpost=<bool>, intremap / no-intremap, the last one wins; apicv=<bool>', () => {
    expect(parseXenCmdline('').intpost).toBe(false); // default off (passthrough/x86/iommu.c:51-58)
    expect(parseXenCmdline('iommu=intpost').intpost).toBe(true);
    expect(parseXenCmdline('iommu=intpost=yes').intpost).toBe(true);
    expect(parseXenCmdline('iommu=intpost,no-intpost').intpost).toBe(false);
    expect(parseXenCmdline('iommu=no-intpost,intpost=1').intpost).toBe(true);
    expect(parseXenCmdline('iommu=intpost=bogus').intpost).toBe(false);
    expect(parseXenCmdline('iommu=no-intremap').intremap).toBe(false);
    expect(parseXenCmdline('iommu=off').iommu).toBe(false);
    expect(parseXenCmdline('apicv=0').apicv).toBe(false);
    expect(parseXenCmdline('no-apicv').apicv).toBe(false);
    expect(parseXenCmdline('apicv=disable').apicv).toBe(false);
  });
});

describe('the effective intpost (reference xen.md 1.2) and the boot log (1.3)', () => {
  it('default: off; "Posted Interrupt not enabled."; posted_intr_vector still allocated (0xf1), no wakeup vector', () => {
    const { log, s } = boot('');
    expect(s.intpost).toBe(false);
    expect(log).toContain('Intel VT-d Posted Interrupt not enabled.');
    expect(log).toContain(' - Posted Interrupt Processing');
    expect([s.postedIntrVector, s.piWakeupVector]).toEqual([0xf1, 0]);
  });

  it('iommu=intpost on capable hardware: the exact vtd_setup / iommu_setup / VMX lines, vectors 0xf1 then 0xf2', () => {
    const { log, s } = boot('iommu=intpost');
    expect(s.intpost).toBe(true);
    expect(log.slice(0, 10)).toEqual([
      'Intel VT-d iommu 0 supported page sizes: 4kB, 2MB, 1GB.',
      'Intel VT-d Snoop Control enabled.',
      'Intel VT-d Dom0 DMA Passthrough not enabled.',
      'Intel VT-d Queued Invalidation enabled.',
      'Intel VT-d Interrupt Remapping enabled.',
      'Intel VT-d Posted Interrupt enabled.',
      'Intel VT-d Shared EPT tables enabled.',
      'I/O virtualisation enabled',
      ' - Dom0 mode: Relaxed',
      'Interrupt remapping enabled',
    ]);
    expect(log).toContain('VMX: Supported advanced features:');
    expect(log).toContain(' - Virtual Interrupt Delivery');
    expect(log).toContain(' - Posted Interrupt Processing');
    expect([s.postedIntrVector, s.piWakeupVector]).toEqual([0xf1, 0xf2]);
  });

  it('apicv=0: vtd_setup says enabled, VMX then switches it off with its message (vmcs.c:474); no VID/PI lines, no vectors', () => {
    const { log, s } = boot('iommu=intpost apicv=0');
    expect(log).toContain('Intel VT-d Posted Interrupt enabled.');
    expect(log).toContain('Intel VT-d Posted Interrupt is disabled for CPU-side Posted Interrupt is not enabled');
    expect(log.indexOf('Intel VT-d Posted Interrupt is disabled for CPU-side Posted Interrupt is not enabled')).toBeLessThan(log.indexOf('VMX: Supported advanced features:'));
    expect(log).not.toContain(' - Virtual Interrupt Delivery');
    expect(log).not.toContain(' - Posted Interrupt Processing');
    expect(s).toMatchObject({ intpost: false, cpuPostedInterrupts: false, postedIntrVector: 0, piWakeupVector: 0 });
  });

  it('no posted-interrupt processing or no virtual-interrupt delivery or no TPR shadow in the CPU: the same switch-off', () => {
    for (const vmx of [{ postedIntrProcessing: false }, { virtualIntrDelivery: false }, { tprShadow: false }]) {
      const { log, s } = boot('iommu=intpost', { vmx });
      expect(log).toContain('Intel VT-d Posted Interrupt is disabled for CPU-side Posted Interrupt is not enabled');
      expect(s.intpost).toBe(false);
      expect(s.piWakeupVector).toBe(0);
    }
  });

  it('no-intremap: intpost off in vtd_setup ("not enabled")', () => {
    const { log, s } = boot('iommu=intpost,no-intremap');
    expect(log).toContain('Intel VT-d Interrupt Remapping not enabled.');
    expect(log).toContain('Intel VT-d Posted Interrupt not enabled.');
    expect(log).toContain('Interrupt remapping disabled');
    expect(s.intpost).toBe(false);
  });

  it('any unit without CAP bit 59: off; a unit without ECAP.IR: intremap and intpost off', () => {
    const a = boot('iommu=intpost', { dmar: [{ scope: ['0000:01:00.0'] }, { scope: 'all', postedInterrupts: false }] });
    expect(a.log).toContain('Intel VT-d iommu 1 supported page sizes: 4kB, 2MB, 1GB.');
    expect(a.log).toContain('Intel VT-d Posted Interrupt not enabled.');
    expect(a.s).toMatchObject({ intremap: true, intpost: false });
    const b = boot('iommu=intpost', { dmar: [{ scope: 'all', interruptRemapping: false }] });
    expect(b.s).toMatchObject({ intremap: false, intpost: false });
  });

  it('no queued invalidation: intremap goes off after the loop; the stale "Posted Interrupt enabled." line stays, iommu_setup clears it silently', () => {
    const { log, s } = boot('iommu=intpost', { dmar: [{ scope: 'all', queuedInvalidation: false }] });
    expect(log).toContain('Intel VT-d Queued Invalidation not enabled.');
    expect(log).toContain('Intel VT-d Interrupt Remapping not enabled.');
    expect(log).toContain('Intel VT-d Posted Interrupt enabled.');
    expect(s).toMatchObject({ intremap: false, intpost: false, piWakeupVector: 0 });
  });

  it('no DMAR table, or iommu=off: no IOMMU, no intremap, no intpost', () => {
    for (const [cmd, hw] of [['iommu=intpost', { dmar: false }], ['iommu=off,intpost', {}]] as const) {
      const { log, s } = boot(cmd, hw as XenHardware);
      expect(log).toContain('I/O virtualisation disabled');
      expect(s).toMatchObject({ iommu: false, intremap: false, intpost: false });
    }
  });

  it('with intpost off every IRTE stays remapped, even for a single-destination MSI', () => {
    const r = rig({ cmdline: 'iommu=no-intpost' });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    expect(r.host.control.irte(0)).toMatchObject({ format: 'remapped', present: true });
    const on = rig({ cmdline: 'iommu=intpost' });
    bindMsi(on, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    expect(on.host.control.irte(0)).toMatchObject({ format: 'posted', vector: 0x40 });
  });
});
