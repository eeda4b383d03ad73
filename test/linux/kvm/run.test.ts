// KVM_RUN (arch/x86/kvm/x86.c: kvm_arch_vcpu_ioctl_run, vcpu_run, vcpu_enter_guest, vcpu_block,
// complete_emulated_mmio/pio; virt/kvm/kvm_main.c: __kvm_set_memory_region) with guest programs.
// Reference kvm.md §4 and behaviour 10. Guest-execution timing is from code, not [E] (the measuring host
// was PVM, see the reference's caveat).
import { describe, expect, it } from 'vitest';
import { GuestAsm, r0, r1, r2, r3, r4 } from '../../../src/guest/program.js';
import { enableLapic, maskPic, setTpr } from '../../../src/guest/x86.js';
import { KFile, type FileContext, type MmapRequest } from '../../../src/linux/fs/file.js';
import { EventFdFile } from '../../../src/linux/eventfd.js';
import { IoBacking, type Backing } from '../../../src/linux/mm/backing.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { APIC_DEFAULT_PHYS_BASE, APIC_ICR, APIC_ICR2 } from '../../../src/hw/x86/apicdef.js';
import { msiAddress, msiData } from '../../../src/hw/x86/msi.js';
import { addRam, count, efd, errno, exitReason, ioeventfd, irqfd, irqLine, K, memRegion, run, setRoutes, signal, signalMsi, vmm, type Vmm } from './helpers.js';
import { irqGuest } from './guests.js';

const load = (v: Vmm, a: GuestAsm, i = 0): void => v.host.control.kvm.loadGuest(v.p, v.vcpus[i]!, a.build());
const regs = (v: Vmm, i = 0) => v.host.control.kvm.vcpu(v.p, v.vcpus[i]!).guest().regs;

describe('MMIO and PIO exits (§4.3)', () => {
  it('writes of 4, 2, 1 and 8 bytes exit with len 4/2/1/8 at the exact address, data in mmio.data', () => {
    const v = vmm();
    const a = new GuestAsm('w');
    a.label('start').store(0xe000_0004, 0x11223344, 4).store(0xe000_0002, 0xbeef, 2).store(0xe000_0001, 0x7f, 1).store(0xe000_0008, 0x1_0000_0002, 8).hlt();
    load(v, a);
    const seen: [number, number, number, number][] = [];
    for (let i = 0; i < 4; i++) {
      expect(run(v)).toBe(K.KVM_EXIT_MMIO);
      const m = v.runs[0]!;
      seen.push([Number(m.read64(32)), m.read32(48), m.read8(52), Number(m.read64(40) & ((1n << BigInt(8 * m.read32(48))) - 1n))]);
    }
    expect(seen).toEqual([[0xe0000004, 4, 1, 0x11223344], [0xe0000002, 2, 1, 0xbeef], [0xe0000001, 1, 1, 0x7f], [0xe0000008, 8, 1, 0x1_0000_0002]]);
    expect(run(v)).toBe('EINTR');
  });
  it('a read exits; userspace fills mmio.data and the value reaches the guest on re-entry; bytes past len are stale', () => {
    const v = vmm();
    const a = new GuestAsm('r');
    a.label('start').store(0xe000_0000, 0xaabbccdd, 4).load(r1, 0xe000_0010, 2).hlt();
    load(v, a);
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    const m = v.runs[0]!;
    expect([Number(m.read64(32)), m.read32(48), m.read8(52)]).toEqual([0xe0000010, 2, 0]);
    expect(m.read32(40)).toBe(0xaabbccdd);
    m.write16(40, 0x1234);
    expect(run(v)).toBe('EINTR');
    expect(regs(v)[1]).toBe(0x1234);
  });
  it('port I/O exits with io.{direction,size,port,count,data_offset}; OUT data on the PIO page, IN data read from it', () => {
    const v = vmm();
    const a = new GuestAsm('pio');
    a.label('start').out(0x3f8, 0x41, 1).in(r2, 0x71, 2).hlt();
    load(v, a);
    const m = v.runs[0]!;
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect([m.read8(32), m.read8(33), m.read16(34), m.read32(36), Number(m.read64(40))]).toEqual([K.KVM_EXIT_IO_OUT, 1, 0x3f8, 1, 4096]);
    expect(m.read8(4096)).toBe(0x41);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect([m.read8(32), m.read8(33), m.read16(34)]).toEqual([K.KVM_EXIT_IO_IN, 2, 0x71]);
    m.write16(4096, 0x9876);
    expect(run(v)).toBe('EINTR');
    expect(regs(v)[2]).toBe(0x9876);
  });
  it('immediate_exit: pending I/O completes first, then -1/EINTR with exit_reason untouched [E]', () => {
    const v = vmm();
    const a = new GuestAsm('ie');
    a.label('start').load(r0, 0xe000_0000, 4).store(0xe000_0004, 1, 4).hlt();
    load(v, a);
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    const m = v.runs[0]!;
    m.write32(40, 77);
    m.write8(1, 1);
    m.write32(8, 0x1234);
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(m.read32(8)).toBe(0x1234);
    expect(regs(v)[0]).toBe(77);
    m.write8(1, 0);
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    expect(Number(m.read64(32))).toBe(0xe0000004);
  });
  it('a program loaded after an exit starts at its first instruction: the old exit is not completed into it', () => {
    // x86.c complete_fast_pio_out() skips the OUT only while RIP is still the one that exited; loading
    // new code (userspace's SET_REGS of RIP, here the control API) leaves nothing to complete.
    const v = vmm();
    const a = new GuestAsm('first');
    a.label('start').out(0x10, 0, 1).hlt();
    load(v, a);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    const b = new GuestAsm('second');
    b.label('start').out(0x510, 0, 1).out(0x511, 0, 1).hlt();
    load(v, b);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(v.runs[0]!.read16(34)).toBe(0x510); // kvm_run.io.port
  });
});

// lapic.c apic_mmio_read(): a read kvm_lapic_reg_read() refuses (EOI and the other write-only or absent
// registers, or an access crossing a 4-byte boundary) is still "handled" but writes no data; the x86
// emulator (emulate.c read_emulated) hands the guest its read cache, ctxt->mem_read.data, whose first
// bytes hold the previous emulated MMIO read. Checked against real KVM by differential.test.ts.
describe('in-kernel LAPIC reads the kernel refuses', () => {
  it('return the bytes the previous emulated MMIO read left in the emulator read cache', () => {
    const v = vmm();
    const a = new GuestAsm('stale');
    const lapic = (off: number) => APIC_DEFAULT_PHYS_BASE + off;
    a.label('start').load(r0, lapic(0x330), 4).load(r1, lapic(0xb0), 4).load(r2, lapic(0x30), 1).load(r3, lapic(0xb0), 4).load(r4, lapic(0x24), 4).hlt();
    load(v, a);
    expect(run(v)).toBe('EINTR');
    // LVT thermal (masked: 0x10000); EOI -> the same; version's low byte (0x14) over the cache's first
    // byte; EOI -> 0x10014; a read at 0x24 crosses the register's dword -> the same stale bytes.
    expect([...regs(v).slice(0, 5)]).toEqual([0x10000, 0x10000, 0x14, 0x10014, 0x10014]);
  });
});

describe('HLT, blocking and exits', () => {
  it('HLT with the in-kernel LAPIC blocks; with nothing to wake it KVM_RUN is -1/EINTR and exit_reason KVM_EXIT_INTR', () => {
    const v = vmm();
    load(v, new GuestAsm('h').label('start').sti().hlt());
    expect(run(v)).toBe('EINTR');
    expect(exitReason(v)).toBe(K.KVM_EXIT_INTR);
  });
  it('without an in-kernel LAPIC, HLT exits to userspace (KVM_EXIT_HLT)', () => {
    const v = vmm({ irqchip: 'none' });
    load(v, new GuestAsm('h').label('start').hlt().hlt());
    expect(run(v)).toBe(K.KVM_EXIT_HLT);
  });
  it('a halted vCPU wakes inside KVM_RUN for work the model has pending (an irqfd inject queued before the call)', () => {
    const v = vmm({ host: { policy: 'interleave', seed: 9 } });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, irqGuest([{ pin: 20, route: { vector: 0x60, level: true } }]));
    run(v);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 20, K.KVM_IRQFD_FLAG_RESAMPLE, efd(v.p));
    // A kernel-side signal (no syscall, so no scheduling point): the inject work item stays queued.
    (v.p.fileOrNull(e) as EventFdFile).ctx.signal();
    expect(v.host.sched.pendingWork).toBeGreaterThan(0);
    expect(run(v)).toBe('EINTR');
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).handled(0x60)).toBe(1);
  });
  it('ioctlAsync(KVM_RUN) waits in HLT until another part of the program signals an irqfd', async () => {
    const v = vmm();
    setRoutes(v.p, v.vm, [{ gsi: 40, msi: { lo: msiAddress(0), data: msiData(0x70) } }]);
    const a = new GuestAsm('async');
    a.label('start');
    maskPic(a);
    enableLapic(a);
    a.sti().label('idle').hlt().jmp('idle');
    a.handler(0x70, 'isr').label('isr').eoi().out(0x500, 1, 1).iret();
    load(v, a);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 40);
    const done = v.p.ioctlAsync(v.vcpus[0]!, K.KVM_RUN);
    await new Promise((r) => setImmediate(r));
    signal(v.p, e);
    expect(await done).toBe(0);
    expect(exitReason(v)).toBe(K.KVM_EXIT_IO);
  });
  it('a guest that spins without exiting returns -1/EINTR after its instruction budget', () => {
    const v = vmm();
    load(v, new GuestAsm('spin').label('start').jmp('start'));
    v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).setRunBudget(1000);
    expect(run(v)).toBe('EINTR');
    expect(exitReason(v)).toBe(K.KVM_EXIT_INTR);
  });
  it('an interrupt whose vector has no handler is a triple fault: KVM_EXIT_SHUTDOWN', () => {
    const v = vmm();
    const a = new GuestAsm('nohandler');
    a.label('start');
    enableLapic(a);
    a.sti().hlt();
    load(v, a);
    run(v);
    signalMsi(v.p, v.vm, msiAddress(0), 0x99);
    expect(run(v)).toBe(K.KVM_EXIT_SHUTDOWN);
  });
  it('no program loaded: KVM_EXIT_INTERNAL_ERROR (emulation failure)', () => {
    const v = vmm();
    expect(run(v)).toBe(K.KVM_EXIT_INTERNAL_ERROR);
    expect(v.runs[0]!.read32(32)).toBe(K.KVM_INTERNAL_ERROR_EMULATION);
  });
  it('post_kvm_run_save: if_flag, apic_base and ready_for_interrupt_injection are reported', () => {
    const v = vmm();
    load(v, new GuestAsm('h').label('start').sti().nop().out(0x80, 0, 1));
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    const m = v.runs[0]!;
    expect([m.read8(13), m.read8(12), Number(m.read64(24))]).toEqual([1, 1, 0xfee00900]);
  });
  it('post_kvm_run_save rewrites apic_base on every exit: a value userspace stored in kvm_run does not survive KVM_RUN', () => {
    // arch/x86/kvm/x86.c post_kvm_run_save(): kvm_run->apic_base = vcpu->arch.apic_base, unconditionally.
    const v = vmm();
    load(v, new GuestAsm('h').label('start').out(0x80, 0, 1).out(0x80, 1, 1));
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    const m = v.runs[0]!;
    m.write32(24, 0);
    m.write32(28, 0xdead);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(Number(m.read64(24))).toBe(0xfee00900);
  });
});

describe('interrupt priority in the guest (LAPIC TPR/PPR, IF, nesting)', () => {
  it('TPR holds back lower classes; a handler that executes STI is interrupted by a higher class only', () => {
    const v = vmm();
    setRoutes(v.p, v.vm, [0x41, 0x42, 0x81].map((vec, i) => ({ gsi: 40 + i, msi: { lo: msiAddress(0), data: msiData(vec) } })));
    const order: number[] = [];
    const a = new GuestAsm('prio');
    a.label('start');
    enableLapic(a);
    setTpr(a, 0x50);
    a.sti().out(0x80, 1, 1); // exit: the VMM raises 0x41
    a.nop().nop().out(0x80, 2, 1); // 0x41 (class 4) is below TPR class 5: still not taken
    setTpr(a, 0);
    a.label('idle').hlt().jmp('idle');
    for (const vec of [0x41, 0x42, 0x81]) {
      a.handler(vec, `h${vec}`).label(`h${vec}`);
      a.js(() => void order.push(vec));
      if (vec === 0x41) a.sti().out(0x80, 3, 1); // exit inside the handler: the VMM raises 0x42 and 0x81
      a.eoi().iret();
    }
    load(v, a);
    const fds = [0, 1, 2].map(() => efd(v.p));
    fds.forEach((f, i) => irqfd(v.p, v.vm, f, 40 + i));
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    signal(v.p, fds[0]!);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(order).toEqual([]);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(order).toEqual([0x41]);
    signal(v.p, fds[1]!);
    signal(v.p, fds[2]!);
    expect(run(v)).toBe('EINTR');
    expect(order).toEqual([0x41, 0x81, 0x42]);
  });
});

class FakeBar extends KFile {
  readonly kind = 'other' as const;
  readonly path = 'fake-bar';
  readonly regs = new Map<number, number>();
  readonly log: string[] = [];
  override mmap(_ctx: FileContext, req: MmapRequest): Backing {
    return new IoBacking(
      {
        read: (o, s) => {
          this.log.push(`r${s}@${o.toString(16)}`);
          return this.regs.get(o) ?? 0;
        },
        write: (o, s, val) => {
          this.log.push(`w${s}@${o.toString(16)}=${val.toString(16)}`);
          this.regs.set(o, val);
        },
      },
      req.offset,
      req.length,
    );
  }
}

/** A VM with slot 1 at 0xFE000000 over an mmap of a FakeBar (an MMIO-backed VMA). */
function barSlot(): { v: ReturnType<typeof vmm>; bar: FakeBar } {
  const v = vmm();
  const bar = new FakeBar();
  bar.flags = O_RDWR;
  const fd = v.p.fds.install(bar, false);
  const m = v.p.mmap(null, 0x1000, 3, 1, fd, 0);
  memRegion(v.p, v.vm, 1, 0, 0xfe00_0000, 0x1000, m.addr);
  return { v, bar };
}

describe('memory slots', () => {
  it('guest stores to a RAM slot land in the VMM mapping; loads read it', () => {
    const v = vmm();
    const ram = addRam(v.p, v.vm, 0, 0x10_0000, 0x2000);
    ram.write32(0x10, 0xcafe);
    const a = new GuestAsm('ram');
    a.label('start').load(r0, 0x10_0010, 4).add(r0, 1).store(0x10_1ff8, r0, 8).hlt();
    load(v, a);
    expect(run(v)).toBe('EINTR');
    expect(ram.read32(0x1ff8)).toBe(0xcaff);
  });
  it('a slot over a device BAR mmap (MMIO-backed VMA): guest accesses reach the device without exits', () => {
    const { v, bar } = barSlot();
    bar.regs.set(0x24, 5);
    const a = new GuestAsm('bar');
    a.label('start').load(r0, 0xfe00_0024, 4).store(0xfe00_0064, r0, 4).hlt();
    load(v, a);
    expect(run(v)).toBe('EINTR');
    expect(bar.log).toEqual(['r4@24', 'w4@64=5']);
  });
  it('BAR slot accesses of 1, 2 and 8 bytes: values truncated to the access, 8 bytes as two dwords (low first)', () => {
    const { v, bar } = barSlot();
    // A device answering with more bits than the access asked for: the guest sees only the access's bytes.
    bar.regs.set(0x10, 0x1_2345);
    bar.regs.set(0x20, 0x1ff);
    bar.regs.set(0x30, 0x8000_0001);
    bar.regs.set(0x34, 2);
    const a = new GuestAsm('bar-sizes');
    a.label('start').load(r0, 0xfe00_0010, 2).store(0xfe00_0040, r0, 4).load(r0, 0xfe00_0020, 1).store(0xfe00_0044, r0, 4);
    a.load(r0, 0xfe00_0030, 8).store(0xfe00_0048, r0, 8).mov(r0, 0x1_2345).store(0xfe00_0050, r0, 2).store(0xfe00_0054, r0, 1).hlt();
    load(v, a);
    expect(run(v)).toBe('EINTR');
    expect(bar.log).toEqual(['r2@10', 'w4@40=2345', 'r1@20', 'w4@44=ff', 'r4@30', 'r4@34', 'w4@48=80000001', 'w4@4c=2', 'w2@50=2345', 'w1@54=45']);
  });
  it('writes to a KVM_MEM_READONLY slot exit as MMIO; reads are served from memory', () => {
    const v = vmm();
    const m = v.p.mmap(null, 0x1000, 3, 0x22, -1, 0);
    m.write32(0, 9);
    memRegion(v.p, v.vm, 2, K.KVM_MEM_READONLY, 0x20_0000, 0x1000, m.addr);
    load(v, new GuestAsm('ro').label('start').load(r0, 0x20_0000, 4).store(0x20_0000, 1, 4).hlt());
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    expect(regs(v)[0]).toBe(9);
    expect(m.read32(0)).toBe(9);
  });
  it('a write to a KVM_MEM_READONLY slot reaches the in-kernel MMIO bus first (x86.c vcpu_mmio_write): an ioeventfd there is signalled, no exit', () => {
    const v = vmm();
    const m = v.p.mmap(null, 0x1000, 3, 0x22, -1, 0);
    memRegion(v.p, v.vm, 2, K.KVM_MEM_READONLY, 0x20_0000, 0x1000, m.addr);
    const e = efd(v.p);
    ioeventfd(v.p, v.vm, { addr: 0x20_0010, len: 4, fd: e });
    load(v, new GuestAsm('ro-ioeventfd').label('start').store(0x20_0010, 1, 4).store(0x20_0020, 2, 4).hlt());
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    expect(count(v.p, e)).toBe(1);
    expect(Number(v.runs[0]!.read64(32))).toBe(0x20_0020);
    expect(m.read32(0x10)).toBe(0);
  });
  it('a slot whose host range is not mapped fails KVM_RUN with EFAULT (KVM_EXIT_MEMORY_FAULT)', () => {
    const v = vmm();
    memRegion(v.p, v.vm, 3, 0, 0x30_0000, 0x1000, 0x1000_0000);
    load(v, new GuestAsm('f').label('start').load(r0, 0x30_0008, 4).hlt());
    expect(run(v)).toBe('EFAULT');
    expect(exitReason(v)).toBe(39);
    expect(Number(v.runs[0]!.read64(40))).toBe(0x30_0000);
  });
  it('KVM_SET_USER_MEMORY_REGION rules (__kvm_set_memory_region)', () => {
    const v = vmm();
    const m = v.p.mmap(null, 0x4000, 3, 0x22, -1, 0);
    const R = (slot: number, flags: number, gpa: number | bigint, size: number | bigint, ua: number | bigint = m.addr) => errno(() => memRegion(v.p, v.vm, slot, flags, gpa, size, ua));
    expect(R(0, 4, 0, 0x1000)).toBe('EINVAL');
    expect(R(32764, 0, 0, 0x1000)).toBe('EINVAL');
    expect(R(1 << 16, 0, 0, 0x1000)).toBe('EINVAL');
    expect(R(0, 0, 0x800, 0x1000)).toBe('EINVAL');
    expect(R(0, 0, 0, 0x1800)).toBe('EINVAL');
    expect(R(0, 0, 0, 0x1000, m.addr + 8)).toBe('EINVAL');
    expect(R(0, 0, 0, 0x1000, 0x7fff_ffff_f000)).toBe('EINVAL');
    expect(R(0, 0, 0, 0)).toBe('EINVAL');
    expect(R(0, 0, 0x10000, 0x2000)).toBe(0);
    expect(R(1, 0, 0x11000, 0x1000)).toBe('EEXIST');
    expect(R(0, 0, 0x10000, 0x3000)).toBe('EINVAL');
    expect(R(0, K.KVM_MEM_READONLY, 0x10000, 0x2000)).toBe('EINVAL');
    expect(R(0, K.KVM_MEM_LOG_DIRTY_PAGES, 0x10000, 0x2000)).toBe(0);
    expect(R(0, 0, 0x10000, 0x2000)).toBe(0);
    expect(R(0, 0, 0x40000, 0x2000)).toBe(0);
    expect(R(1, 0, 0x10000, 0x1000)).toBe(0);
    expect(R(0, 0, 0x40000, 0)).toBe(0);
    expect(R(0, 0, 0x40000, 0)).toBe('EINVAL');
  });
});

/** vCPU 0 sends INIT then SIPI to APIC `apicId` and halts; vCPU 1's program is one OUT 0x90. */
function loadInitSipi(v: Vmm, apicId: number): void {
  const bsp = new GuestAsm('bsp');
  bsp.label('start');
  enableLapic(bsp);
  bsp.store32(APIC_DEFAULT_PHYS_BASE + APIC_ICR2, apicId << 24).store32(APIC_DEFAULT_PHYS_BASE + APIC_ICR, 0x4500);
  bsp.store32(APIC_DEFAULT_PHYS_BASE + APIC_ICR, 0x4600 | 0x9a).hlt();
  load(v, bsp, 0);
  load(v, new GuestAsm('ap').label('start').out(0x90, 1, 1), 1);
}

describe('APs, IPIs and the split irqchip', () => {
  it('an AP waits for INIT/SIPI: KVM_RUN EINTR, then EAGAIN after the BSP sends INIT+SIPI, then it runs', () => {
    const v = vmm({ vcpus: 2 });
    loadInitSipi(v, 1);
    expect(run(v, 1)).toBe('EINTR');
    run(v, 0);
    expect(run(v, 1)).toBe('EAGAIN');
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
  });
  it('INIT leaves the APIC ID as it was (kvm_lapic_reset sets it only at RESET, lapic.c)', () => {
    const v = vmm({ vcpus: 2 });
    const s = K.kvm_lapic_state.alloc();
    v.p.ioctl(v.vcpus[1]!, K.KVM_GET_LAPIC, s);
    new DataView(s.bytes.buffer, s.bytes.byteOffset).setUint32(0x20, 0x05000000, true);
    v.p.ioctl(v.vcpus[1]!, K.KVM_SET_LAPIC, s);
    loadInitSipi(v, 5);
    run(v, 0);
    expect(run(v, 1)).toBe('EAGAIN');
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[1]!).lapic()!.id).toBe(5);
  });
  it('split irqchip: the EOI of a level-triggered MSI route below the reserved pins exits KVM_EXIT_IOAPIC_EOI with eoi.vector', () => {
    const v = vmm({ irqchip: 'split' });
    setRoutes(v.p, v.vm, [{ gsi: 5, msi: { lo: msiAddress(0), data: msiData(0x65, 0, true) } }]);
    const a = new GuestAsm('split');
    a.label('start');
    enableLapic(a);
    a.sti().label('idle').hlt().jmp('idle');
    a.handler(0x65, 'isr').label('isr').eoi().iret();
    load(v, a);
    run(v);
    irqLine(v.p, v.vm, 5, 1);
    expect(run(v)).toBe(K.KVM_EXIT_IOAPIC_EOI);
    expect(v.runs[0]!.read8(32)).toBe(0x65);
  });
});

describe('registers', () => {
  it('KVM_GET/SET_REGS map r0-r15, rip = instruction index, rflags.IF; the sync-regs block works the same', () => {
    const v = vmm();
    load(v, new GuestAsm('r').label('start').mov(r1, 5).sti().out(0x80, 0, 1).add(r1, r1).out(0x80, 0, 1));
    run(v);
    const g = K.kvm_regs.alloc();
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_REGS, g);
    expect([g.rbx, g.rip, g.rflags]).toEqual([5n, 2n, 0x202n]);
    g.rbx = 20n;
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_REGS, g);
    run(v);
    expect(regs(v)[1]).toBe(40);
    const m = v.runs[0]!;
    m.write64(288, BigInt(K.KVM_SYNC_X86_REGS));
    m.write64(296, 8n);
    expect(run(v)).toBe('EINVAL');
  });
});

// arch/x86/kvm/x86.c: kvm_arch_vcpu_ioctl_run ("re-sync apic's tpr": kvm_set_cr8(vcpu, kvm_run->cr8)
// without an in-kernel LAPIC, after sync_regs and before complete_userspace_io and immediate_exit),
// kvm_set_cr8 (CR8_RESERVED_BITS = ~X86_CR8_TPR), kvm_get_cr8, post_kvm_run_save (kvm_run->cr8 on
// every return), __get_sregs_common / __set_sregs_common (kvm_set_cr8's refusal is ignored);
// lapic.c kvm_lapic_set_tpr (TPR = cr8 << 4). [E]: measured on a 6.18 host.
describe('CR8: kvm_run.cr8 and KVM_GET/SET_SREGS', () => {
  const CR8 = K.kvm_run.offsetof('cr8');
  const sregs = (v: Vmm) => {
    const s = K.kvm_sregs.alloc();
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_SREGS, s);
    return s;
  };
  const setSregsCr8 = (v: Vmm, cr8: bigint): number | string => {
    const s = sregs(v);
    s.cr8 = cr8;
    return errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_SET_SREGS, s));
  };
  const tpr = (v: Vmm): number => v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.tpr;
  const guest = (v: Vmm) => v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest();

  it('no in-kernel LAPIC: KVM_RUN loads kvm_run.cr8 into CR8; the exit and KVM_GET_SREGS report it', () => {
    const v = vmm({ irqchip: 'none' });
    load(v, new GuestAsm('c').label('start').hlt().out(0x80, 0, 1).hlt());
    const m = v.runs[0]!;
    expect(sregs(v).cr8).toBe(0n);
    m.write64(CR8, 5n);
    expect(run(v)).toBe(K.KVM_EXIT_HLT);
    expect(m.read64(CR8)).toBe(5n);
    expect(sregs(v).cr8).toBe(5n);
    // Userspace owns the value: what it stores before the next entry is the CR8 from then on.
    m.write64(CR8, 0xfn);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect([m.read64(CR8), sregs(v).cr8]).toEqual([0xfn, 0xfn]);
    // Loaded before immediate_exit is honoured [E].
    m.write64(CR8, 3n);
    m.write8(1, 1);
    expect(run(v)).toBe('EINTR');
    expect([m.read64(CR8), sregs(v).cr8]).toEqual([3n, 3n]);
  });

  it('no in-kernel LAPIC: kvm_run.cr8 above 0xf fails KVM_RUN with EINVAL before the guest runs; nothing changes [E]', () => {
    const v = vmm({ irqchip: 'none' });
    load(v, new GuestAsm('c').label('start').load(r1, 0xe000_0000, 4).out(0x80, 0, 1).hlt());
    const m = v.runs[0]!;
    m.write64(CR8, 5n);
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    const before = guest(v);
    m.write32(40, 0x1234); // the MMIO read's data, to be completed on the next entry
    m.write64(CR8, 0x10n);
    m.write32(8, 0x77); // exit_reason: KVM_RUN fails before vcpu_run() would reset it
    expect(run(v)).toBe('EINVAL');
    // The pending read was not completed, no instruction ran, CR8 kept its value, and
    // post_kvm_run_save still rewrote kvm_run.cr8 with it.
    expect(guest(v)).toEqual(before);
    expect([m.read32(8), m.read64(CR8), sregs(v).cr8]).toEqual([0x77, 5n, 5n]);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).exits(K.KVM_EXIT_MMIO)).toBe(1);
    // Checked before immediate_exit, too: EINVAL, not EINTR.
    m.write64(CR8, 1n << 40n);
    m.write8(1, 1);
    expect(run(v)).toBe('EINVAL');
    m.write8(1, 0);
    // A valid value lets the same entry complete the read and run on.
    m.write64(CR8, 2n);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect([regs(v)[1], sregs(v).cr8]).toEqual([0x1234, 2n]);
  });

  it('no in-kernel LAPIC: a dirty sync-register block is applied before the cr8 check fails [E]', () => {
    const v = vmm({ irqchip: 'none' });
    load(v, new GuestAsm('c').label('start').out(0x80, 0, 1).hlt());
    const m = v.runs[0]!;
    const s = K.kvm_run.offsetof('s');
    m.write64(s + K.kvm_regs.offsetof('rbx'), 0x99n);
    m.write64(s + K.kvm_regs.offsetof('rflags'), 2n);
    m.write64(K.kvm_run.offsetof('kvm_dirty_regs'), BigInt(K.KVM_SYNC_X86_REGS));
    m.write64(CR8, 0x20n);
    expect(run(v)).toBe('EINVAL');
    expect(m.read64(K.kvm_run.offsetof('kvm_dirty_regs'))).toBe(0n);
    expect(regs(v)[1]).toBe(0x99);
    expect(guest(v).instructions).toBe(0);
  });

  it('no in-kernel LAPIC: KVM_SET_SREGS sets CR8; a reserved value is ignored and the call succeeds [E]; the next KVM_RUN reloads kvm_run.cr8', () => {
    const v = vmm({ irqchip: 'none' });
    load(v, new GuestAsm('c').label('start').out(0x80, 0, 1).out(0x80, 1, 1));
    expect(setSregsCr8(v, 9n)).toBe(0);
    expect(sregs(v).cr8).toBe(9n);
    expect(setSregsCr8(v, 0x13n)).toBe(0);
    expect(sregs(v).cr8).toBe(9n);
    // kvm_run.cr8 still holds what userspace last stored (0): KVM_RUN loads it over the SET_SREGS value.
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect([v.runs[0]!.read64(CR8), sregs(v).cr8]).toEqual([0n, 0n]);
  });

  it('in-kernel LAPIC: kvm_run.cr8 is not loaded (0x10 is no error) and reports TPR[7:4] on every exit [E]', () => {
    const v = vmm();
    const a = new GuestAsm('c').label('start');
    enableLapic(a);
    setTpr(a, 0x5c);
    a.out(0x80, 0, 1);
    setTpr(a, 0xf0);
    a.out(0x80, 1, 1).hlt();
    load(v, a);
    const m = v.runs[0]!;
    m.write64(CR8, 0x10n);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect([m.read64(CR8), sregs(v).cr8]).toEqual([5n, 5n]);
    m.write64(CR8, 0xan);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect([m.read64(CR8), tpr(v)]).toEqual([0xfn, 0xf0]);
  });

  it('in-kernel LAPIC: KVM_SET_SREGS cr8 writes TPR = cr8 << 4 (TPR[3:0] cleared); a reserved value leaves TPR alone [E]', () => {
    const v = vmm();
    const l = K.kvm_lapic_state.alloc();
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_LAPIC, l);
    new DataView(l.bytes.buffer, l.bytes.byteOffset).setUint32(0x80, 0x7f, true);
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_LAPIC, l);
    expect(sregs(v).cr8).toBe(7n);
    expect(setSregsCr8(v, 9n)).toBe(0);
    expect(tpr(v)).toBe(0x90);
    expect(setSregsCr8(v, 0x13n)).toBe(0);
    expect([tpr(v), sregs(v).cr8]).toEqual([0x90, 9n]);
  });
});

// IA32_APIC_BASE, vcpu->arch.apic_base: arch/x86/kvm/lapic.c kvm_lapic_reset (called by x86.c
// kvm_vcpu_reset with or without an in-kernel LAPIC: 0xfee00000 | ENABLE | BSP for vCPU 0),
// kvm_apic_set_base (the current value is accepted unchecked; reserved: bits 0-7 and 9, x2APIC enable
// without x2APIC in CPUID, bits >= MAXPHYADDR, 36 without CPUID), __kvm_apic_set_base; x86.c
// __set_sregs_common (kvm_apic_set_base fails: EINVAL before any register is set), __get_sregs_common
// and post_kvm_run_save (vcpu->arch.apic_base). [E]: measured on a 6.18 host.
describe('IA32_APIC_BASE: kvm_run.apic_base and KVM_GET/SET_SREGS', () => {
  const APIC_BASE = K.kvm_run.offsetof('apic_base');
  const sregs = (v: Vmm, i = 0) => {
    const s = K.kvm_sregs.alloc();
    v.p.ioctl(v.vcpus[i]!, K.KVM_GET_SREGS, s);
    return s;
  };
  const setSregs = (v: Vmm, f: (s: ReturnType<typeof sregs>) => void, i = 0): number | string => {
    const s = sregs(v, i);
    f(s);
    return errno(() => v.p.ioctl(v.vcpus[i]!, K.KVM_SET_SREGS, s));
  };
  /** KVM_RUN with immediate_exit over a stale kvm_run.apic_base: what post_kvm_run_save wrote. */
  const runApicBase = (v: Vmm, i = 0): bigint => {
    const m = v.runs[i]!;
    m.write64(APIC_BASE, 0x5a5an);
    m.write8(1, 1);
    expect(run(v, i)).toBe('EINTR');
    m.write8(1, 0);
    return m.read64(APIC_BASE);
  };

  it('no in-kernel LAPIC: the RESET value, BSP flag on vCPU 0 only, in KVM_GET_SREGS and kvm_run after every KVM_RUN [E]', () => {
    const v = vmm({ irqchip: 'none', vcpus: 2 });
    expect([sregs(v, 0).apic_base, sregs(v, 1).apic_base]).toEqual([0xfee00900n, 0xfee00800n]);
    expect([runApicBase(v, 0), runApicBase(v, 1)]).toEqual([0xfee00900n, 0xfee00800n]);
    // A guest exit rewrites it too.
    load(v, new GuestAsm('c').label('start').out(0x80, 0, 1).hlt());
    v.runs[0]!.write64(APIC_BASE, 0n);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(v.runs[0]!.read64(APIC_BASE)).toBe(0xfee00900n);
  });

  it('no in-kernel LAPIC: KVM_SET_SREGS apic_base is kept: disabled, moved, above 4 GiB (below MAXPHYADDR 36) [E]', () => {
    const v = vmm({ irqchip: 'none' });
    for (const base of [0xfee00800n, 0n, 0x100n, 0xfec00900n, 0x8_fee0_0900n]) {
      expect(setSregs(v, (s) => { s.apic_base = base; })).toBe(0);
      expect([sregs(v).apic_base, runApicBase(v)]).toEqual([base, base]);
    }
  });

  it('no in-kernel LAPIC: a refused apic_base fails KVM_SET_SREGS with EINVAL and changes no register [E]', () => {
    const v = vmm({ irqchip: 'none' });
    // (cr8 stays 0: every KVM_RUN below reloads kvm_run.cr8, 0, into CR8.)
    expect(setSregs(v, (s) => { s.apic_base = 0xfec00800n; })).toBe(0);
    const before = sregs(v);
    // bit 0; bit 9; x2APIC enable (no x2APIC CPUID); x2APIC without enable (invalid mode); bit 36; all.
    for (const bad of [0xfee00901n, 0xfee00a00n, 0xfee00d00n, 0xfee00400n, 0x10_fee0_0900n, 0xffff_ffff_ffff_ffffn]) {
      expect(setSregs(v, (s) => {
        s.apic_base = bad;
        s.cr8 = 9n;
        s.cr2 = 0x1234n;
        s.efer = 0x500n;
      })).toBe('EINVAL');
      expect(sregs(v).bytes).toEqual(before.bytes);
      expect(runApicBase(v)).toBe(0xfec00800n);
    }
  });

  it('in-kernel LAPIC: the LAPIC keeps it; a base above 4 GiB is kept in full [E]', () => {
    const v = vmm({ vcpus: 2 });
    expect([sregs(v, 0).apic_base, runApicBase(v, 0), sregs(v, 1).apic_base]).toEqual([0xfee00900n, 0xfee00900n, 0xfee00800n]);
    expect(setSregs(v, (s) => { s.apic_base = 0x8_fee0_0900n; })).toBe(0);
    const apic = () => v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!;
    expect(apic().apicBase).toBe(0x8_fee0_0900);
    expect([sregs(v).apic_base, runApicBase(v)]).toEqual([0x8_fee0_0900n, 0x8_fee0_0900n]);
    expect(setSregs(v, (s) => { s.apic_base = 0xfee00901n; s.cr8 = 9n; })).toBe('EINVAL');
    expect([apic().apicBase, apic().tpr]).toEqual([0x8_fee0_0900, 0]);
  });
});

describe('interrupt storm guard (ioapic.c IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT)', () => {
  it('after 10,000 immediate re-deliveries on EOI the next one waits 10 ms of virtual time', () => {
    const v = vmm();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, irqGuest([{ pin: 20, route: { vector: 0x60, level: true } }]));
    run(v);
    irqLine(v.p, v.vm, 20, 1);
    v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).setRunBudget(200_000);
    const t0 = v.host.control.now;
    const r = run(v);
    expect(r).toBe('EINTR');
    const vm = v.host.control.kvm.vm(v.p, v.vm);
    expect(vm.ioapicStormDelays).toBeGreaterThanOrEqual(1);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).handled(0x60)).toBeGreaterThan(10_000);
    expect(v.host.control.now - t0).toBeGreaterThanOrEqual(10_000_000);
  });
});
