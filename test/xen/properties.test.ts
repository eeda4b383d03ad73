// Property tests of Xen's VT-d posted-interrupt path (reference xen.md 4.2, 4.6, 7), model-based with
// fast-check: hardware posts interleave with hypervisor steps under a seeded scheduler. In mode
// `fixed` (KVM's fixes) the oracle holds: every posted vector reaches the vCPU's vIRR within a bounded
// settle (or sits there behind the guest's TPR/IF), no vCPU is left on a blocked list it should not be
// on, and the 4.2 invariants hold after every command. In mode `xen-4.22` (as landed) the same test
// finds the two open hazards, H1 and H2; the shrunk traces are printed (a teaching feature).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../support/runs.js';
import { commands, commandsWithoutCpuDown, hunt, piProperty } from './pi-model.js';

describe('VT-d posted interrupts under interleaving (fixed mode)', () => {
  it('device assigned before the guest boots: no vector lost, lists and descriptors consistent (model-based)', () => {
    fc.assert(piProperty('fixed', 'assigned', 30), fcParams(500));
  });

  it('device hot-plugged into a running guest: the same (model-based)', () => {
    fc.assert(piProperty('fixed', 'hotplug', 30), fcParams(400));
  });
});

describe('Xen as landed (xen-4.22): the same test finds the hazards', () => {
  it('H1: a vector posted while SN=1 stays in PIR after switch_to clears SN (ON not recomputed)', () => {
    const found = hunt('xen-4.22', 'assigned', commandsWithoutCpuDown(), 3000, 7);
    expect(found, 'expected the property to fail in xen-4.22 mode').not.toBe(null);
    console.log(`[H1] shrunk counterexample: ${found!.trace}\n     ${found!.message}`);
    expect(found!.hazards).toContain('H1');
  });

  it('H1 in vmx_pi_desc_fixup: a post during its SN=1 window leaves a blocked vCPU with PIR set and ON=0', () => {
    const found = hunt('xen-4.22', 'assigned', commands, 3000, 42);
    expect(found).not.toBe(null);
    console.log(`[H1/fixup] shrunk counterexample: ${found!.trace}\n     ${found!.message}`);
    expect(found!.hazards).toContain('H1');
  });

  it('H2: the first device assigned while a vCPU is blocked leaves it with NV=posted on no list', () => {
    const found = hunt('xen-4.22', 'hotplug', commands, 3000, 42);
    expect(found).not.toBe(null);
    console.log(`[H2] shrunk counterexample: ${found!.trace}\n     ${found!.message}`);
    expect(found!.hazards).toContain('H2');
  });
});
