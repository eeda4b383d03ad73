// npm start: INTx passthrough end to end (examples/intx-passthrough.ts). The edu device is assigned to a
// KVM guest the way QEMU does it with the in-kernel irqchip (vfio_intx_enable_kvm: mask, irqfd with
// RESAMPLE, the resamplefd as VFIO's unmask eventfd, unmask); the guest's driver raises interrupts,
// handles and EOIs them. Prints every system call strace-style with the interrupt hops between them
// (device -> IO-APIC -> VT-d -> host CPU -> vfio automask -> eventfd -> irqfd -> guest IOAPIC -> LAPIC ->
// guest handler -> EOI -> resampler -> resamplefd -> vfio unmask), then the per-stage counts, and the
// same counts for the wiring without resampling (split irqchip, the VMM unmasks on EOI exits).
import { Host } from 'vfio-kvm-shim';
import { intxPassthrough } from './intx-passthrough.js';

console.log('INTx passthrough: edu (host 0000:00:03.0) -> KVM guest, resampling irqfd\n');
const r = intxPassthrough((line) => console.log(`  ${line}`), 'resample', 3);
const g = r.guest;
console.log(`\nThe guest ran ${g.cycles} raise/handle cycles: ${g.handled} interrupts handled with the device's status set, ${g.spurious} spurious.`);

const e = intxPassthrough(() => {}, 'eoi-exit', 3, Host.create());
const c = e.counts;
console.log('\nThe same guest without resampling (split irqchip; the VMM unmasks with the SET_IRQS ioctl on KVM_EXIT_IOAPIC_EOI):');
console.log(`  device asserts ${c.deviceAsserts}, host IRQs ${c.hostIrqs}, trigger signals ${c.triggerSignals}, irqfd injections ${c.irqfdInjections}, guest handler ${c.guestHandled}, EOI exits ${c.eois}, UNMASK ioctls ${c.unmasks}`);
