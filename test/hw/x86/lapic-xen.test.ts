// The two methods the Xen model added to the shared LAPIC (src/hw/x86/lapic.ts): orIrrWord, what
// posted-interrupt processing and vmx_sync_pir_to_irr do to the virtual-APIC page (SDM 29.6: PIR ORed
// into VIRR), and setTrigger, the TMR update of Xen's vlapic_set_irq (vlapic.c:149-171).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { APIC_IRR, APIC_SPIV, APIC_TMR } from '../../../src/hw/x86/apicdef.js';
import { Lapic } from '../../../src/hw/x86/lapic.js';
import { Scheduler } from '../../../src/sim/scheduler.js';
import { TraceBus } from '../../../src/sim/trace.js';

function apic() {
  let kicks = 0;
  const a = new Lapic(0, { eoi: () => {}, sendIpi: () => {}, mapChanged: () => {}, kick: () => kicks++ }, { sched: new Scheduler(), trace: new TraceBus() });
  a.writeReg(APIC_SPIV, 0x1ff);
  return { a, kicks: () => kicks };
}

describe('Lapic additions for Xen', () => {
  it('orIrrWord ORs a PIR word into IRR, keeps the pending count right, does not kick', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.nat()), { maxLength: 6 }), (words) => {
        const { a, kicks } = apic();
        const want = new Set<number>();
        for (const [i, w] of words) {
          a.orIrrWord(i, w >>> 0);
          for (let b = 0; b < 32; b++) if ((w >>> b) & 1) want.add(i * 32 + b);
        }
        expect(a.vectors(APIC_IRR)).toEqual([...want].sort((x, y) => x - y));
        expect(a.highestIrr()).toBe(want.size ? Math.max(...want) : -1);
        expect(kicks()).toBe(0);
        // Acknowledging drains exactly what was posted (vectors 0-15 are never deliverable: class 0).
        let n = 0;
        while (a.ackInterrupt() >= 0) {
          a.eoi();
          n++;
        }
        expect(n).toBe([...want].filter((v) => v >= 16).length);
      }),
    );
  });

  it('setTrigger records the trigger mode in TMR', () => {
    const { a } = apic();
    a.setTrigger(0x45, true);
    expect(a.testVector(APIC_TMR, 0x45)).toBe(true);
    a.setTrigger(0x45, false);
    expect(a.testVector(APIC_TMR, 0x45)).toBe(false);
  });
});
