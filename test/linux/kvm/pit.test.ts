// KVM's in-kernel PIT (src/linux/kvm/i8254.ts): the ioctls of arch/x86/kvm/x86.c (KVM_CREATE_PIT(2),
// KVM_GET/SET_PIT(2), KVM_REINJECT_CONTROL) and i8254.c's glue (PIO devices, GSI 0 pulses with the PIT's
// source ID, reinjection through the GSI 0 ack notifier).
//
// pit-oracle.c runs a fixed sequence of the ioctls on this machine's /dev/kvm; the model runs the same
// sequence and the lines must be equal. Compared: every errno (and the order of the EFAULT/ENXIO/ENOENT/
// EEXIST checks), the capability values, and every field of kvm_pit_state(2) right after create and
// after SET_PIT(2), except count_load_time (a host ktime; the model's is virtual time). Counts read
// through the ports depend on elapsed time and cannot be compared with the real kernel: the unit
// tests below and test/hw/x86/i8254.test.ts check them against i8254.c's formulas instead.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { getU16, getU32, setU32, setU64 } from '../../../abi/bytes.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { kvm_pit_channel_state, kvm_pit_state, kvm_pit_state2, KVM_PIT_FLAGS_HPET_LEGACY, KVM_PIT_FLAGS_SPEAKER_DATA_ON } from '../../../include-ts/asm/kvm.js';
import { kvm_enable_cap, kvm_pit_config, kvm_reinject_control } from '../../../include-ts/linux/kvm.js';
import { oracleSkip, resultCode, runCOracle } from '../../support/c-oracle.js';
import { K, setRoutes, vmm } from './helpers.js';
import type { Kvm } from '../../../src/linux/kvm/vm.js';
import { KVM_PIT_IRQ_SOURCE_ID } from '../../../src/linux/kvm/i8254.js';
import { ticksToNs } from '../../../src/hw/x86/i8254.js';
import { GuestAsm, r0 } from '../../../src/guest/program.js';
import { enableLapic, ioapicRoute, maskPic } from '../../../src/guest/x86.js';
import { run } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = oracleSkip('KVM PIT', ['kvm']);
const CH = kvm_pit_channel_state.size;

function chans(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 3; i++) {
    const o = i * CH;
    const f = [getU32(b, o), getU16(b, o + 4), ...Array.from(b.subarray(o + 6, o + 16))];
    s += ` ch${i}=${f.map((x) => x.toString(16)).join('/')}`;
  }
  return s;
}

function fill(b: Uint8Array, i: number, count: number, mode: number): void {
  const o = i * CH;
  b.fill(0, o, o + CH);
  setU32(b, o, count);
  b[o + 4] = 0x11 * (i + 1);
  b[o + 5] = 0x11 * (i + 1);
  b.set([3, 1, 0x36 + i, 3, 4, 0x5a, 3, mode, 0, i !== 2 ? 1 : 0], o + 6);
  setU64(b, o + 16, 12345n);
}

/** The model half of pit-oracle.c, line for line. */
function modelLines(): string[] {
  const out: string[] = [];
  const p: Process = Host.create().spawn();
  const res = (what: string, f: () => number) => out.push(`${what}: ${resultCode(f)}`);
  const get2 = (vm: number, what: string) => {
    const b = new Uint8Array(kvm_pit_state2.size).fill(0xaa);
    const r = resultCode(() => p.ioctl(vm, K.KVM_GET_PIT2, b));
    if (r !== '0') return out.push(`${what}: ${r}`);
    const rz = b.subarray(kvm_pit_state2.offsetof('reserved')).every((x) => x === 0) ? 1 : 0;
    return out.push(`${what}:${chans(b)} flags=${getU32(b, kvm_pit_state2.offsetof('flags')).toString(16)} reserved0=${rz}`);
  };
  const get1 = (vm: number, what: string) => {
    const b = new Uint8Array(kvm_pit_state.size).fill(0xaa);
    const r = resultCode(() => p.ioctl(vm, K.KVM_GET_PIT, b));
    out.push(r !== '0' ? `${what}: ${r}` : `${what}:${chans(b)}`);
  };
  const kvm = p.open('/dev/kvm', O_RDWR);
  res('cap PIT', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_PIT));
  res('cap PIT2', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_PIT2));
  res('cap PIT_STATE2', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_PIT_STATE2));
  res('cap REINJECT_CONTROL', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_REINJECT_CONTROL));

  const a = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  res('vm cap PIT2', () => p.ioctl(a, K.KVM_CHECK_EXTENSION, K.KVM_CAP_PIT2));
  get2(a, 'nopit GET_PIT2');
  get1(a, 'nopit GET_PIT');
  res('nopit SET_PIT2', () => p.ioctl(a, K.KVM_SET_PIT2, new Uint8Array(kvm_pit_state2.size)));
  res('nopit SET_PIT', () => p.ioctl(a, K.KVM_SET_PIT, new Uint8Array(kvm_pit_state.size)));
  const rc = new Uint8Array(kvm_reinject_control.size);
  res('nopit REINJECT_CONTROL', () => p.ioctl(a, K.KVM_REINJECT_CONTROL, rc));
  res('nopit GET_PIT2 NULL', () => p.ioctl(a, K.KVM_GET_PIT2, 0));
  res('nopit GET_PIT NULL', () => p.ioctl(a, K.KVM_GET_PIT, 0));
  res('nopit SET_PIT2 NULL', () => p.ioctl(a, K.KVM_SET_PIT2, 0));
  res('nopit SET_PIT NULL', () => p.ioctl(a, K.KVM_SET_PIT, 0));
  res('nopit REINJECT_CONTROL NULL', () => p.ioctl(a, K.KVM_REINJECT_CONTROL, 0));
  res('CREATE_PIT2 NULL', () => p.ioctl(a, K.KVM_CREATE_PIT2, 0));

  const cfg = new Uint8Array(kvm_pit_config.size);
  setU32(cfg, 0, 0xfffe);
  setU32(cfg, 16, 7);
  res('noirqchip CREATE_PIT2 flags=fffe', () => p.ioctl(a, K.KVM_CREATE_PIT2, cfg));
  setU32(cfg, 0, 0);
  res('CREATE_PIT2 again', () => p.ioctl(a, K.KVM_CREATE_PIT2, cfg));
  res('CREATE_PIT again', () => p.ioctl(a, K.KVM_CREATE_PIT, 0));
  get2(a, 'noirqchip GET_PIT2');
  get1(a, 'noirqchip GET_PIT');
  res('CREATE_IRQCHIP after PIT', () => p.ioctl(a, K.KVM_CREATE_IRQCHIP, 0));
  res('GET_PIT2 NULL', () => p.ioctl(a, K.KVM_GET_PIT2, 0));
  res('SET_PIT2 NULL', () => p.ioctl(a, K.KVM_SET_PIT2, 0));
  res('REINJECT_CONTROL NULL', () => p.ioctl(a, K.KVM_REINJECT_CONTROL, 0));

  const b = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  res('CREATE_IRQCHIP', () => p.ioctl(b, K.KVM_CREATE_IRQCHIP, 0));
  res('CREATE_PIT', () => p.ioctl(b, K.KVM_CREATE_PIT, 0));
  get2(b, 'fresh GET_PIT2');

  const ps2 = new Uint8Array(kvm_pit_state2.size);
  const FL = kvm_pit_state2.offsetof('flags');
  fill(ps2, 0, 0, 0);
  fill(ps2, 1, 0x1234, 3);
  fill(ps2, 2, 0x123456, 7);
  setU32(ps2, FL, KVM_PIT_FLAGS_SPEAKER_DATA_ON | 0xf0);
  setU32(ps2, kvm_pit_state2.offsetof('reserved') + 8, 9);
  res('SET_PIT2', () => p.ioctl(b, K.KVM_SET_PIT2, ps2));
  get2(b, 'after SET_PIT2');
  get1(b, 'after SET_PIT2 GET_PIT');

  setU32(ps2, FL, KVM_PIT_FLAGS_HPET_LEGACY);
  fill(ps2, 0, 0x8000, 2);
  res('SET_PIT2 hpet', () => p.ioctl(b, K.KVM_SET_PIT2, ps2));
  get2(b, 'after hpet');

  const ps = new Uint8Array(kvm_pit_state.size);
  fill(ps, 0, 0x10, 5);
  fill(ps, 1, 0x20, 1);
  fill(ps, 2, 0x30, 4);
  res('SET_PIT', () => p.ioctl(b, K.KVM_SET_PIT, ps));
  get2(b, 'after SET_PIT');

  rc[6] = 1;
  rc[0] = 0;
  res('REINJECT_CONTROL 0', () => p.ioctl(b, K.KVM_REINJECT_CONTROL, rc));
  rc[0] = 2;
  res('REINJECT_CONTROL 2', () => p.ioctl(b, K.KVM_REINJECT_CONTROL, rc));
  rc[0] = 1;
  res('REINJECT_CONTROL 1', () => p.ioctl(b, K.KVM_REINJECT_CONTROL, rc));

  const c = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  const ec = new Uint8Array(kvm_enable_cap.size);
  setU32(ec, 0, K.KVM_CAP_SPLIT_IRQCHIP);
  setU64(ec, kvm_enable_cap.offsetof('args'), 24n);
  res('ENABLE_CAP split', () => p.ioctl(c, K.KVM_ENABLE_CAP, ec));
  setU32(cfg, 0, K.KVM_PIT_SPEAKER_DUMMY);
  res('split CREATE_PIT2', () => p.ioctl(c, K.KVM_CREATE_PIT2, cfg));
  get2(c, 'split GET_PIT2');

  const d = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  res('CREATE_IRQCHIP', () => p.ioctl(d, K.KVM_CREATE_IRQCHIP, 0));
  setU32(cfg, 0, 0xfffe);
  res('CREATE_PIT2 flags=fffe', () => p.ioctl(d, K.KVM_CREATE_PIT2, cfg));
  res('CREATE_PIT2 again', () => p.ioctl(d, K.KVM_CREATE_PIT2, cfg));
  res('CREATE_PIT again', () => p.ioctl(d, K.KVM_CREATE_PIT, 0));
  res('CREATE_PIT2 NULL with a PIT', () => p.ioctl(d, K.KVM_CREATE_PIT2, 0));
  res('GET_PIT2 NULL with a PIT', () => p.ioctl(d, K.KVM_GET_PIT2, 0));
  res('GET_PIT NULL with a PIT', () => p.ioctl(d, K.KVM_GET_PIT, 0));
  res('SET_PIT2 NULL with a PIT', () => p.ioctl(d, K.KVM_SET_PIT2, 0));
  get2(d, 'flags=fffe GET_PIT2');
  return out;
}

describe('KVM PIT ioctls against this machine (pit-oracle.c)', () => {
  it.skipIf(SKIP !== undefined)('the model prints what the real kernel prints, line for line', () => {
    const real = runCOracle(join(here, 'pit-oracle.c'));
    expect(modelLines()).toEqual(real);
  });

  it('the model half stands alone (the values the real kernel printed when this test was written)', () => {
    const m = modelLines();
    expect(m).toContain('noirqchip CREATE_PIT2 flags=fffe: E2');
    expect(m).toContain('split CREATE_PIT2: E2');
    expect(m).toContain('nopit GET_PIT2 NULL: E6');
    expect(m).toContain('nopit GET_PIT NULL: E14');
    expect(m).toContain('CREATE_PIT2 flags=fffe: 0');
    expect(m).toContain('fresh GET_PIT2: ch0=10000/0/0/0/0/0/0/0/0/ff/0/1 ch1=10000/0/0/0/0/0/0/0/0/ff/0/1 ch2=10000/0/0/0/0/0/0/0/0/ff/0/0 flags=0 reserved0=1');
  });
});

function pitVm(opts: { speaker?: boolean } = {}) {
  const v = vmm({ vcpus: 0 });
  const cfg = new Uint8Array(kvm_pit_config.size);
  setU32(cfg, 0, opts.speaker ? K.KVM_PIT_SPEAKER_DUMMY : 0);
  v.p.ioctl(v.vm, K.KVM_CREATE_PIT2, cfg);
  const kvm: Kvm = v.host.control.kvm.vm(v.p, v.vm).kvm;
  const out = (port: number, val: number) => kvm.pioBus.write(port, 1, val);
  const inb = (port: number) => kvm.pioBus.read(port, 1);
  return { ...v, kvm, out, inb, sched: v.host.kernel.sched };
}

describe('the PIT on the PIO bus (i8254.c pit_ioport_read/write, speaker_ioport_*)', () => {
  it('0x40-0x43 are the PIT; 0x61 only with KVM_PIT_SPEAKER_DUMMY, and 0x62-0x64 are not handled', () => {
    const a = pitVm();
    expect(a.inb(0x40)).toBe(0); // count 0x10000, mode 0xff, no timer: low byte 0
    expect(a.inb(0x61)).toBe(-1);
    const b = pitVm({ speaker: true });
    // Gate 2 is 0 after kvm_pit_reset; bit 4 is the refresh clock (virtual time >> 14).
    expect(b.inb(0x61) & ~0x10).toBe(0);
    expect(b.inb(0x62)).toBe(-1);
    expect(b.kvm.pioBus.write(0x62, 1, 0)).toBe(false);
    // A word access at 0x43 runs off the device's range: not the PIT's.
    expect(b.kvm.pioBus.write(0x43, 2, 0x34)).toBe(false);
  });

  it('speaker writes set gate 2 and KVM_PIT_FLAGS_SPEAKER_DATA_ON, seen by KVM_GET_PIT2', () => {
    const v = pitVm({ speaker: true });
    v.out(0x61, 3);
    const b = new Uint8Array(kvm_pit_state2.size);
    v.p.ioctl(v.vm, K.KVM_GET_PIT2, b);
    expect(getU32(b, kvm_pit_state2.offsetof('flags'))).toBe(KVM_PIT_FLAGS_SPEAKER_DATA_ON);
    expect(b[2 * CH + 15]).toBe(1); // channels[2].gate
    expect(v.inb(0x61) & 0x23).toBe(0x03);
  });

  it('a guest programming channel 0 in mode 2 gets periodic GSI 0 pulses with the PIT source id, one per ack (reinject)', () => {
    const v = pitVm();
    const pic = v.kvm.pic!;
    // ICW1-4 for the master (vector base 0x20), IRQ0 unmasked: kvm_pic_set_irq sees the pulses.
    v.kvm.pioBus.write(0x20, 1, 0x11);
    v.kvm.pioBus.write(0x21, 1, 0x20);
    v.kvm.pioBus.write(0x21, 1, 0x04);
    v.kvm.pioBus.write(0x21, 1, 0x01);
    v.kvm.pioBus.write(0x21, 1, 0xfe);
    v.out(0x43, 0x34); // channel 0, lobyte/hibyte, mode 2
    v.out(0x40, 0x9c);
    v.out(0x40, 0x2e); // 11932: about 10 ms
    const period = ticksToNs(11932);
    expect(v.kvm.pit!.pit.period).toBe(period);
    v.sched.advance(period);
    expect(pic.chips.pics[0]!.irr & 1).toBe(1);
    expect(pic.irqStates[0]).toBe(0); // a pulse: the PIT's source is low again
    // Three more periods without an ack: counted as pending, the host timer held.
    v.sched.advance(3 * period);
    expect(v.kvm.pit!.pit.suspended).toBe(true);
    // The guest takes the interrupt and EOIs: the ack counts the held ticks and delivers the next one.
    expect(pic.readIrq()).toBe(0x20);
    v.kvm.pioBus.write(0x20, 1, 0x20);
    // Ticks at 1, 2, 3 and 4 periods: 4 pending, the ack takes one, the PIT's work (queued) pulses again.
    expect(v.kvm.pit!.pending).toBe(3);
    expect(v.kvm.pit!.pit.suspended).toBe(false);
    v.sched.flush();
    expect(pic.chips.pics[0]!.irr & 1).toBe(1);
    expect(v.kvm.pit!.irqAck).toBe(0);
  });

  it('with KVM_REINJECT_CONTROL 0 every expiry pulses, acked or not', () => {
    const v = pitVm();
    const rc = new Uint8Array(kvm_reinject_control.size);
    v.p.ioctl(v.vm, K.KVM_REINJECT_CONTROL, rc);
    let pulses = 0;
    const orig = v.kvm.pic!.setIrq.bind(v.kvm.pic!);
    v.kvm.pic!.setIrq = (pin, src, level) => {
      if (src === KVM_PIT_IRQ_SOURCE_ID && level) pulses++;
      return orig(pin, src, level);
    };
    v.out(0x43, 0x34);
    v.out(0x40, 0x00);
    v.out(0x40, 0x10); // 4096 ticks
    v.sched.advance(ticksToNs(4096) * 5 + 10);
    expect(pulses).toBe(5);
  });

  it('QEMU routing (GSI 0 -> IOAPIC pin 2): the tick reaches pin 2 and its EOI acks GSI 0', () => {
    const v = pitVm();
    // kernel default routes put GSI 0 on IOAPIC pin 0; QEMU's pc table moves it to pin 2.
    expect(v.kvm.routing.gsiOf(K.KVM_IRQCHIP_IOAPIC, 0)).toBe(0);
    setRoutes(v.p, v.vm, [{ gsi: 0, chip: K.KVM_IRQCHIP_PIC_MASTER, pin: 0 }, { gsi: 0, chip: K.KVM_IRQCHIP_IOAPIC, pin: 2 }]);
    expect(v.kvm.routing.gsiOf(K.KVM_IRQCHIP_IOAPIC, 2)).toBe(0);
    expect(v.kvm.hasAckNotifier(K.KVM_IRQCHIP_IOAPIC, 2)).toBe(true);
    expect(v.kvm.hasAckNotifier(K.KVM_IRQCHIP_IOAPIC, 0)).toBe(false);
  });

  it('without an in-kernel IOAPIC timer, HPET legacy mode keeps channel 0 from starting a timer', () => {
    const v = pitVm();
    const ps2 = new Uint8Array(kvm_pit_state2.size);
    v.p.ioctl(v.vm, K.KVM_GET_PIT2, ps2);
    setU32(ps2, kvm_pit_state2.offsetof('flags'), KVM_PIT_FLAGS_HPET_LEGACY);
    v.p.ioctl(v.vm, K.KVM_SET_PIT2, ps2);
    v.out(0x43, 0x34);
    v.out(0x40, 0x00);
    v.out(0x40, 0x10);
    expect(v.kvm.pit!.pit.period).toBe(0);
    expect(v.sched.nextTimerAt()).toBeUndefined();
  });

  it('the PIT is freed with the VM: its timer stops', () => {
    const v = pitVm();
    v.out(0x43, 0x34);
    v.out(0x40, 0x00);
    v.out(0x40, 0x10);
    expect(v.sched.nextTimerAt()).toBeDefined();
    v.p.close(v.vm);
    expect(v.sched.nextTimerAt()).toBeUndefined();
  });
});

/**
 * A guest with the 8259s masked that routes IOAPIC `pin` edge-triggered to vector 0x30 (masked when
 * asked), programs PIT channel 0 in mode 2 with `count`, and idles in `sti; hlt`; each tick counts in r0
 * and EOIs; after `ticks` ticks it writes port 0x80 (an exit to userspace).
 */
function pitGuest(pin: number, count: number, ticks: number, masked = false) {
  const a = new GuestAsm('pit-guest');
  a.label('start');
  maskPic(a);
  enableLapic(a);
  ioapicRoute(a, pin, { vector: 0x30, masked });
  a.out(0x43, 0x34);
  a.out(0x40, count & 0xff);
  a.out(0x40, count >> 8);
  a.sti();
  a.label('idle');
  a.hlt();
  a.jlt(r0, ticks, 'idle');
  a.out(0x80, 0);
  a.jmp('idle');
  a.handler(0x30, 'tick');
  a.label('tick');
  a.add(r0, 1);
  a.eoi();
  a.iret();
  return a.build();
}

describe('a guest taking PIT ticks (KVM_RUN)', () => {
  it('kernel default routes: GSI 0 is IOAPIC pin 0; five ticks of a 10 ms rate generator take 50 ms of virtual time', () => {
    const v = vmm();
    v.p.ioctl(v.vm, K.KVM_CREATE_PIT2, new Uint8Array(kvm_pit_config.size));
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, pitGuest(0, 11932, 5));
    const t0 = v.host.kernel.sched.now;
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    const g = v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest();
    expect(g.regs[0]).toBe(5);
    expect(v.host.kernel.sched.now - t0).toBe(5 * ticksToNs(11932));
  });

  it("QEMU's routing (GSI 0 -> IOAPIC pin 2) delivers the same ticks on pin 2", () => {
    const v = vmm();
    setRoutes(v.p, v.vm, [{ gsi: 0, chip: K.KVM_IRQCHIP_PIC_MASTER, pin: 0 }, { gsi: 0, chip: K.KVM_IRQCHIP_IOAPIC, pin: 2 }]);
    v.p.ioctl(v.vm, K.KVM_CREATE_PIT2, new Uint8Array(kvm_pit_config.size));
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, pitGuest(2, 11932, 3));
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest().regs[0]).toBe(3);
  });

  /** A PIT whose pin 0 the guest masked: KVM_RUN ends in EINTR with the first pulse never acked. */
  const maskedPit = () => {
    const v = vmm();
    v.p.ioctl(v.vm, K.KVM_CREATE_PIT2, new Uint8Array(kvm_pit_config.size));
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, pitGuest(0, 11932, 1, true));
    expect(run(v)).toBe('EINTR');
    const pit = v.host.control.kvm.vm(v.p, v.vm).kvm.pit!;
    expect(pit.irqAck).toBe(0);
    return { v, pit };
  };

  it('a masked pin: the first pulse is never acked, the held timer leaves nothing to wait for, KVM_RUN returns EINTR', () => {
    const { pit } = maskedPit();
    expect(pit.pit.suspended).toBe(true);
  });

  it('unmasking the pin fires the PIT\'s mask notifier (pit_mask_notifer): pending ticks dropped, the ack re-armed, ticks flow again', () => {
    const { v, pit } = maskedPit();
    // The same guest state, now only unmasking pin 0 (the PIT keeps counting as programmed).
    const a = new GuestAsm('unmask');
    a.label('start');
    enableLapic(a);
    ioapicRoute(a, 0, { vector: 0x30 });
    a.sti().label('idle').hlt().jlt(r0, 3, 'idle').out(0x80, 0).jmp('idle');
    a.handler(0x30, 'tick').label('tick').add(r0, 1).eoi().iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest().regs[0]).toBe(3);
    expect(pit.pit.suspended).toBe(false);
  });
});
