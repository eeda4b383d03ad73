// Small guest programs the KVM tests run.
import { GuestAsm, r0, type GuestProgram } from '../../../src/guest/program.js';
import { enableLapic, ioapicRoute, ioapicSetMask, maskPic, type RouteOptions } from '../../../src/guest/x86.js';

/**
 * Enables the LAPIC, masks the 8259s, programs `pins` on the IOAPIC, then idles in `sti; hlt`. Each
 * handled vector EOIs (unless listed in `noEoi`) and counts in r0. `unmaskAt`: a label sequence the test
 * can jump the guest through is not needed; masking is done with maskProgram().
 */
export function irqGuest(pins: { pin: number; route: RouteOptions }[], vectors: number[] = pins.map((p) => p.route.vector), noEoi: number[] = []): GuestProgram {
  const a = new GuestAsm('irq-guest');
  a.label('start');
  maskPic(a);
  enableLapic(a);
  for (const p of pins) ioapicRoute(a, p.pin, p.route);
  a.sti();
  a.label('idle');
  a.hlt();
  a.jmp('idle');
  for (const v of new Set(vectors)) {
    a.handler(v, `isr${v}`);
    a.label(`isr${v}`);
    a.add(r0, 1);
    if (!noEoi.includes(v)) a.eoi();
    a.iret();
  }
  return a.build();
}

/** A guest that only reprograms one pin's mask bit and halts with IF=0 (run it with KVM_RUN once). */
export function maskProgram(pin: number, route: RouteOptions, masked: boolean): GuestProgram {
  const a = new GuestAsm('mask');
  a.label('start');
  ioapicSetMask(a, pin, route, masked);
  a.label('idle');
  a.hlt();
  a.jmp('idle');
  return a.build();
}
