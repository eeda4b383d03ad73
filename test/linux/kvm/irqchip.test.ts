// Routing and injection: KVM_SET_GSI_ROUTING (virt/kvm/irqchip.c kvm_set_irq_routing,
// setup_routing_entry; arch/x86/kvm/irq.c kvm_set_routing_entry), KVM_IRQ_LINE(_STATUS) and the
// kvm_set_irq return convention, KVM_SIGNAL_MSI (kvm_send_userspace_msi), KVM_GET/SET_IRQCHIP
// (arch/x86/kvm/x86.c). Reference kvm.md §2.2-2.5; [E] = measured on 6.18.
import { describe, expect, it } from 'vitest';
import { msiAddress, msiData } from '../../../src/hw/x86/msi.js';
import { GuestAsm, r0 } from '../../../src/guest/program.js';
import { enableCap, errno, ioapicState, irqLine, K, lineStatus, run, setRoutes, signalMsi, vmm } from './helpers.js';

const IOAPIC = K.KVM_IRQCHIP_IOAPIC;
const MASTER = K.KVM_IRQCHIP_PIC_MASTER;
const SLAVE = K.KVM_IRQCHIP_PIC_SLAVE;

/** Enables vCPU 0's LAPIC (SPIV) through KVM_SET_LAPIC, as a guest would. */
function enableApic(v: ReturnType<typeof vmm>, i = 0): void {
  const s = K.kvm_lapic_state.alloc();
  v.p.ioctl(v.vcpus[i]!, K.KVM_GET_LAPIC, s);
  new DataView(s.bytes.buffer, s.bytes.byteOffset).setUint32(0xf0, 0x1ff, true);
  v.p.ioctl(v.vcpus[i]!, K.KVM_SET_LAPIC, s);
}

/** Programs an IOAPIC pin through KVM_SET_IRQCHIP. */
function setPin(v: ReturnType<typeof vmm>, pin: number, lo: number, hi = 0): void {
  const c = K.kvm_irqchip.alloc();
  c.chip_id = IOAPIC;
  v.p.ioctl(v.vm, K.KVM_GET_IRQCHIP, c);
  const e = c.chip.ioapic.redirtbl.get(pin);
  e.bits = (BigInt(hi) << 32n) | BigInt(lo);
  v.p.ioctl(v.vm, K.KVM_SET_IRQCHIP, c);
}

describe('KVM_SET_GSI_ROUTING validation (§2.2) [E]', () => {
  const v = vmm({ vcpus: 0 });
  const set = (routes: Parameters<typeof setRoutes>[2], flags = 0) => errno(() => setRoutes(v.p, v.vm, routes, flags));
  it.each([
    ['gsi 4095 ok', [{ gsi: 4095, msi: { lo: 0xfee00000, data: 0x30 } }], 0],
    ['gsi >= 4096', [{ gsi: 4096, msi: { lo: 0xfee00000, data: 0x30 } }], 'EINVAL'],
    ['IRQCHIP entry with flags', [{ gsi: 1, chip: IOAPIC, pin: 1, flags: 1 }], 'EINVAL'],
    ['MSI with VALID_DEVID', [{ gsi: 1, flags: K.KVM_MSI_VALID_DEVID, msi: { lo: 0, data: 0 } }], 0],
    ['MSI with other flag bits', [{ gsi: 1, flags: 2, msi: { lo: 0, data: 0 } }], 'EINVAL'],
    ['type 0', [{ gsi: 1, type: 0, u: [0, 0, 0, 0] }], 'EINVAL'],
    ['type 3 (s390 adapter)', [{ gsi: 1, type: 3, u: [0, 0, 0, 0] }], 'EINVAL'],
    ['type 4 (HV_SINT) without SynIC', [{ gsi: 1, type: 4, u: [0, 0, 0, 0] }], 'EINVAL'],
    ['IOAPIC pin 24', [{ gsi: 1, chip: IOAPIC, pin: 24 }], 'EINVAL'],
    ['PIC pin 8', [{ gsi: 1, chip: MASTER, pin: 8 }], 'EINVAL'],
    ['irqchip 3', [{ gsi: 1, chip: 3, pin: 0 }], 'EINVAL'],
    ['same GSI -> same chip twice', [{ gsi: 1, chip: IOAPIC, pin: 1 }, { gsi: 1, chip: IOAPIC, pin: 2 }], 'EINVAL'],
    ['same GSI -> PIC master + slave + IOAPIC', [{ gsi: 1, chip: MASTER, pin: 1 }, { gsi: 1, chip: SLAVE, pin: 1 }, { gsi: 1, chip: IOAPIC, pin: 1 }], 0],
    ['same GSI -> two MSIs', [{ gsi: 1, msi: { lo: 0, data: 0 } }, { gsi: 1, msi: { lo: 0, data: 1 } }], 'EINVAL'],
    ['same GSI -> MSI + irqchip', [{ gsi: 1, chip: IOAPIC, pin: 1 }, { gsi: 1, msi: { lo: 0, data: 1 } }], 'EINVAL'],
    ['two GSIs -> same IOAPIC pin', [{ gsi: 1, chip: IOAPIC, pin: 5 }, { gsi: 2, chip: IOAPIC, pin: 5 }], 0],
    ['MSI with nonsense address/data', [{ gsi: 7, msi: { lo: 0x1234, hi: 0xffffffff, data: 0xffffffff } }], 0],
  ] as const)('%s', (_n, routes, want) => {
    expect(set(routes as never)).toBe(want);
  });
  it('header flags != 0 -> EINVAL; nr > 4096 -> EINVAL', () => {
    expect(set([], 1)).toBe('EINVAL');
    const r = new Uint8Array(8);
    new DataView(r.buffer).setUint32(0, 4097, true);
    expect(errno(() => v.p.ioctl(v.vm, K.KVM_SET_GSI_ROUTING, r))).toBe('EINVAL');
  });
  it('entries shorter than nr -> EFAULT', () => {
    const r = new Uint8Array(8 + 48);
    new DataView(r.buffer).setUint32(0, 2, true);
    expect(errno(() => v.p.ioctl(v.vm, K.KVM_SET_GSI_ROUTING, r))).toBe('EFAULT');
  });
  it('no irqchip -> EINVAL; split irqchip refuses IRQCHIP entries but takes MSI ones', () => {
    const n = vmm({ irqchip: 'none', vcpus: 0 });
    expect(errno(() => setRoutes(n.p, n.vm, []))).toBe('EINVAL');
    const s = vmm({ irqchip: 'split', vcpus: 0 });
    expect(errno(() => setRoutes(s.p, s.vm, [{ gsi: 4, chip: IOAPIC, pin: 4 }]))).toBe('EINVAL');
    expect(setRoutes(s.p, s.vm, [{ gsi: 4, msi: { lo: 0xfee00000, data: 0x30 } }])).toBe(0);
  });
  it('with KVM_X2APIC_API_USE_32BIT_IDS an MSI route needs address_hi bits 7:0 clear (kvm_msi_route_invalid)', () => {
    const x = vmm({ vcpus: 0 });
    enableCap(x.p, x.vm, K.KVM_CAP_X2APIC_API, 1);
    expect(errno(() => setRoutes(x.p, x.vm, [{ gsi: 1, msi: { lo: 0xfee00000, hi: 1, data: 0 } }]))).toBe('EINVAL');
    expect(setRoutes(x.p, x.vm, [{ gsi: 1, msi: { lo: 0xfee00000, hi: 0x100, data: 0 } }])).toBe(0);
  });
  it('a failed call changes nothing: the previous table stays', () => {
    const x = vmm({ vcpus: 0 });
    expect(errno(() => setRoutes(x.p, x.vm, [{ gsi: 3, chip: IOAPIC, pin: 3 }, { gsi: 4, chip: IOAPIC, pin: 99 }]))).toBe('EINVAL');
    expect(x.host.control.kvm.vm(x.p, x.vm).routes().filter((r) => r.gsi === 4)).toHaveLength(2);
  });
  it('nr = 0 wipes the default routes: IRQ_LINE_STATUS on GSI 4 then reports -1 [E]', () => {
    const x = vmm({ vcpus: 0 });
    expect(lineStatus(x.p, x.vm, 4, 1)).toBe(1);
    setRoutes(x.p, x.vm, []);
    expect(lineStatus(x.p, x.vm, 4, 1)).toBe(-1);
  });
});

describe('KVM_IRQ_LINE / KVM_IRQ_LINE_STATUS (§2.4, kvm_set_irq) [E]', () => {
  it('no irqchip -> ENXIO', () => {
    const n = vmm({ irqchip: 'none' });
    expect(errno(() => irqLine(n.p, n.vm, 4, 1))).toBe('ENXIO');
  });
  it('any GSI is accepted; an unrouted one reports -1', () => {
    const v = vmm();
    expect(irqLine(v.p, v.vm, 100000, 1)).toBe(0);
    expect(lineStatus(v.p, v.vm, 24, 1)).toBe(-1);
  });
  it('fresh VM, GSI 4 (PIC + masked IOAPIC pin): assert 1, again 1, deassert 2, re-assert while PIC edge latched 0', () => {
    const v = vmm({ vcpus: 0 });
    expect([lineStatus(v.p, v.vm, 4, 1), lineStatus(v.p, v.vm, 4, 1), lineStatus(v.p, v.vm, 4, 0), lineStatus(v.p, v.vm, 4, 1)]).toEqual([1, 1, 2, 0]);
  });
  it('level IOAPIC pin, unmasked, delivered, not EOI\'d: assert 1, again -1 (remote IRR), deassert 1', () => {
    const v = vmm();
    enableApic(v);
    setPin(v, 20, 0x8000 | 0x40);
    expect([lineStatus(v.p, v.vm, 20, 1), lineStatus(v.p, v.vm, 20, 1), lineStatus(v.p, v.vm, 20, 0)]).toEqual([1, -1, 1]);
  });
  it('a masked pin latches irr (irr=1, remote_irr=0, mask=1) and reports -1', () => {
    const v = vmm();
    expect(lineStatus(v.p, v.vm, 20, 1)).toBe(-1);
    const s = ioapicState(v.p, v.vm);
    expect(s.irr).toBe(1 << 20);
    const e = s.redirtbl.get(20).fields;
    expect([e.remote_irr, e.mask]).toEqual([0, 1]);
  });
  it('polarity is ignored: any non-zero level asserts', () => {
    const v = vmm();
    lineStatus(v.p, v.vm, 21, 7);
    expect(ioapicState(v.p, v.vm).irr).toBe(1 << 21);
  });
  it('GSI 8 with line status tracks RTC coalescing: a re-assert before the guest EOIs reports 0 (ioapic.c rtc_status)', () => {
    const v = vmm();
    enableApic(v);
    setRoutes(v.p, v.vm, [{ gsi: 8, chip: IOAPIC, pin: 8 }, { gsi: 9, chip: IOAPIC, pin: 9 }]);
    setPin(v, 8, 0x28);
    setPin(v, 9, 0x29);
    // Another edge pin re-delivers on a fresh edge; the RTC pin is held until its vector is EOI'd.
    expect(lineStatus(v.p, v.vm, 9, 1)).toBe(1);
    lineStatus(v.p, v.vm, 9, 0);
    expect(lineStatus(v.p, v.vm, 9, 1)).toBe(1);
    expect(lineStatus(v.p, v.vm, 8, 1)).toBe(1);
    lineStatus(v.p, v.vm, 8, 0);
    expect(lineStatus(v.p, v.vm, 8, 1)).toBe(0);
    irqLine(v.p, v.vm, 8, 0);
  });
});

describe('KVM_SIGNAL_MSI (§2.3) [E]', () => {
  const addr = msiAddress(0);
  it('no irqchip or flags & ~1 -> EINVAL', () => {
    const n = vmm({ irqchip: 'none' });
    expect(errno(() => signalMsi(n.p, n.vm, addr, 0x30))).toBe('EINVAL');
    const v = vmm();
    expect(errno(() => signalMsi(v.p, v.vm, addr, 0x30, 0, 2))).toBe('EINVAL');
  });
  it('irqchip without vCPUs -> EPERM (the kernel returns a raw -1)', () => {
    const v = vmm({ vcpus: 0 });
    expect(errno(() => signalMsi(v.p, v.vm, addr, 0x30))).toBe('EPERM');
    const s = vmm({ irqchip: 'split', vcpus: 0 });
    expect(errno(() => signalMsi(s.p, s.vm, addr, 0x30))).toBe('EPERM');
  });
  it('a reset (software-disabled) LAPIC blocks it (0); an absent APIC ID gives 0; delivery gives 1', () => {
    const v = vmm();
    expect(signalMsi(v.p, v.vm, addr, 0x30)).toBe(0);
    enableApic(v);
    expect(signalMsi(v.p, v.vm, msiAddress(5), 0x30)).toBe(0);
    expect(signalMsi(v.p, v.vm, addr, 0x30, 0, K.KVM_MSI_VALID_DEVID)).toBe(1);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.irr).toEqual([0x30]);
  });
  it('level-triggered MSI data is accepted and sets TMR; address 0 targets APIC 0', () => {
    const v = vmm();
    enableApic(v);
    expect(signalMsi(v.p, v.vm, 0, msiData(0x31, 0, true))).toBe(1);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.tmr).toEqual([0x31]);
  });
  it('broadcast (dest 0xff) reaches every enabled LAPIC', () => {
    const v = vmm({ vcpus: 3 });
    enableApic(v, 0);
    enableApic(v, 2);
    expect(signalMsi(v.p, v.vm, msiAddress(0xff), 0x32)).toBe(2);
  });
});

describe('KVM_GET/SET_IRQCHIP (§2.5) [E]', () => {
  it('IOAPIC after creation: base 0xfec00000, id 0, irr 0, every entry 0x10000', () => {
    const v = vmm();
    const s = ioapicState(v.p, v.vm);
    expect(s.base_address).toBe(0xfec00000n);
    expect(s.id).toBe(0);
    for (let i = 0; i < 24; i++) expect(s.redirtbl.get(i).bits).toBe(0x10000n);
  });
  it('PIC master/slave: all zero but ELCR masks 0xf8/0xde', () => {
    const v = vmm();
    const c = K.kvm_irqchip.alloc();
    c.chip_id = MASTER;
    v.p.ioctl(v.vm, K.KVM_GET_IRQCHIP, c);
    expect(c.chip.pic.imr).toBe(0);
    expect(c.chip.pic.elcr_mask).toBe(0xf8);
    c.chip_id = SLAVE;
    v.p.ioctl(v.vm, K.KVM_GET_IRQCHIP, c);
    expect(c.chip.pic.elcr_mask).toBe(0xde);
  });
  it('chip_id >= 3 -> EINVAL; no irqchip or split -> ENXIO', () => {
    const v = vmm();
    const c = K.kvm_irqchip.alloc();
    c.chip_id = 3;
    expect(errno(() => v.p.ioctl(v.vm, K.KVM_GET_IRQCHIP, c))).toBe('EINVAL');
    c.chip_id = 2;
    const n = vmm({ irqchip: 'none' });
    expect(errno(() => n.p.ioctl(n.vm, K.KVM_GET_IRQCHIP, c))).toBe('ENXIO');
    const s = vmm({ irqchip: 'split' });
    expect(errno(() => s.p.ioctl(s.vm, K.KVM_GET_IRQCHIP, c))).toBe('ENXIO');
  });
  it('GET reports irr without delivered edge requests; SET re-injects the irr it is given', () => {
    const v = vmm();
    enableApic(v);
    setPin(v, 5, 0x45);
    lineStatus(v.p, v.vm, 5, 1);
    expect(ioapicState(v.p, v.vm).irr).toBe(0);
    const c = K.kvm_irqchip.alloc();
    c.chip_id = IOAPIC;
    v.p.ioctl(v.vm, K.KVM_GET_IRQCHIP, c);
    c.chip.ioapic.irr = 1 << 5;
    v.p.ioctl(v.vm, K.KVM_SET_IRQCHIP, c);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.irr).toEqual([0x45]);
  });
});

describe('the emulated IOAPIC is an 82093AA (version 0x11): no EOI register', () => {
  it('a guest reads version 0x00170011, and its write of the vector at +0x40 is swallowed: remote IRR stays set, no exit', () => {
    // arch/x86/kvm/ioapic.c: IOAPIC_VERSION_ID 0x11; ioapic_mmio_write() handles IOREGSEL and IOWIN
    // only (`default: break;`), so the offset a version 0x20 IOxAPIC uses for EOI does nothing here,
    // and the access still completes in the kernel (the device is registered for the whole 0x100).
    const v = vmm();
    enableApic(v);
    setPin(v, 20, 0x8000 | 0x40);
    expect(lineStatus(v.p, v.vm, 20, 1)).toBe(1);
    expect(ioapicState(v.p, v.vm).redirtbl.get(20).fields.remote_irr).toBe(1);
    const a = new GuestAsm('eoi-register');
    a.label('start').store32(0xfec00040, 0x40).store32(0xfec00000, 1).load(r0, 0xfec00010, 4).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe('EINTR');
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest().regs[0]).toBe(0x00170011);
    expect(ioapicState(v.p, v.vm).redirtbl.get(20).fields.remote_irr).toBe(1);
  });
});
