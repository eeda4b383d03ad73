// The proposed in-kernel MSI-X table (docs/proposals/kvm-msix-table.md) against a table emulated in
// userspace, on the same guest and device: exits to userspace and ioctls (other than KVM_RUN) per
// guest mask/unmask cycle and per 1,000 interrupts, plus the model's interrupt rate for each.
//
// Guest: the MSI-X driver (src/guest/drivers/msix.ts) with one vector, in the Linux pattern of seed 004
// at a high interrupt rate: each handler masks its entry and reads the table back to flush the write
// (msi_set_mask_bit + readl), writes the device's doorbell, EOIs, and unmasks. Device: an in-test
// device whose doorbell is an ioeventfd (no exit in either VMM); each doorbell ring makes it raise its
// next interrupt at once, i.e. while the entry is masked, so every interrupt is taken from the pending
// bit on unmask. A second workload leaves the entry unmasked (a modern Linux guest without storms).
//
// VMM A ("userspace table") follows QEMU's hw/pci/msix.c + vector notifiers: the table and PBA live in
// userspace and every guest access to them is a KVM_EXIT_MMIO; on mask it releases the vector
// (KVM_IRQFD deassign, then it polls the device's eventfd itself and sets pending bits), on unmask it
// uses it again (KVM_SET_GSI_ROUTING only if the message changed, KVM_IRQFD assign) and sends a
// pending message with KVM_SIGNAL_MSI. That is the ioctl pattern of QEMU's virtio-pci irqfd path; VFIO
// passthrough swaps the two KVM_IRQFD calls for VFIO_DEVICE_SET_IRQS (see the doc's results table).
// VMM B ("in-kernel table") defines the table, binds the entry to the irqfd's GSI, and only re-routes
// on KVM_EXIT_MSIX_ENTRY_UPDATED. The same comparison then runs on VFIO passthrough of the NIC with the
// two example VMMs (examples/msix-passthrough.ts, examples/msix-kernel-table.ts), the NIC raising the
// vector again from inside the guest's handler, while the entry is masked.
import { Host } from '../src/index.js';
import type { Process } from '../src/linux/process.js';
import type { Mapping } from '../src/linux/mm/address-space.js';
import * as K from '../include-ts/linux/kvm.js';
import * as P from '../include-ts/proposed/kvm_msix_table.js';
import { O_RDWR } from '../include-ts/linux/fcntl.js';
import { EFD_NONBLOCK } from '../include-ts/linux/eventfd.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../include-ts/linux/mman.js';
import { EventFdFile } from '../src/linux/eventfd.js';
import { msixDriver } from '../src/guest/drivers/msix.js';
import { SyscallError } from '../src/linux/errors.js';
import type { SyscallEvent } from '../src/sim/trace.js';
import { bytesPerOp, opsPerSecond, type BenchResult } from './lib/harness.js';
import { enableLapicBySetLapic } from './kvm.js';
import { BAR3_GPA, GUEST_BDF, MSIX_CAP, MsixPassthroughVmm, NIC_BDF } from '../examples/msix-passthrough.js';
import { MsixKernelTableVmm } from '../examples/msix-kernel-table.js';

const TABLE = 0xfeb0_0000;
const PBA = 0xfeb0_1000;
const DOORBELL = 0xfeb0_2000;
const GSI = 40;
const VECTOR = 0x41;
const RUN_EXIT = 8;
const MMIO_ADDR = K.kvm_run.offsetof('mmio.phys_addr');
const MMIO_DATA = K.kvm_run.offsetof('mmio.data');
const MMIO_LEN = K.kvm_run.offsetof('mmio.len');
const MMIO_WRITE = K.kvm_run.offsetof('mmio.is_write');
const UPD = K.kvm_run.offsetof('hw');

export type TableMode = 'userspace' | 'kernel';

export interface Counts {
  /** KVM_RUN returns with an exit for userspace (the final idle return excluded). */
  exits: number;
  /** ioctls other than KVM_RUN. */
  ioctls: number;
  /** Every syscall the VMM made (KVM_RUN, other ioctls, eventfd reads...). */
  syscalls: number;
  /** Guest handler entries. */
  interrupts: number;
}

/** The in-test device: each doorbell ring (an ioeventfd, in the kernel) raises the next interrupt. */
class DoorbellDevice {
  remaining = 0;
  constructor(irq: EventFdFile, door: EventFdFile) {
    door.ctx.wqh.add({
      wake: () => {
        door.ctx.doRead();
        if (this.remaining > 0) {
          this.remaining--;
          irq.ctx.signal();
        }
        return false;
      },
    });
  }
}

class Vm {
  readonly host = Host.create({ preset: 'empty' });
  readonly p: Process = this.host.spawn();
  readonly vm: number;
  readonly vcpu: number;
  readonly run: Mapping;
  readonly irqFd: number;
  readonly device: DoorbellDevice;
  readonly irq: EventFdFile;

  constructor(maskInHandler: boolean) {
    const p = this.p;
    const kvm = p.open('/dev/kvm', O_RDWR);
    this.vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
    p.ioctl(this.vm, K.KVM_CREATE_IRQCHIP);
    this.vcpu = p.ioctl(this.vm, K.KVM_CREATE_VCPU, 0);
    this.run = p.mmap(null, p.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, this.vcpu, 0);
    this.irqFd = p.eventfd(0, EFD_NONBLOCK);
    const door = p.eventfd(0, EFD_NONBLOCK);
    const io = K.kvm_ioeventfd.alloc();
    io.addr = BigInt(DOORBELL);
    io.len = 4;
    io.fd = door;
    p.ioctl(this.vm, K.KVM_IOEVENTFD, io);
    this.irq = p.fileOrNull(this.irqFd) as EventFdFile;
    this.device = new DoorbellDevice(this.irq, p.fileOrNull(door) as EventFdFile);
    this.host.control.kvm.loadGuest(p, this.vcpu, msixDriver({ tableAddr: TABLE, vectors: [{ entry: 0, vector: VECTOR }], ackAddr: DOORBELL, maskInHandler }));
  }

  setRoute(lo: number, hi: number, data: number): void {
    const r = K.kvm_irq_routing.alloc(1);
    r.nr = 1;
    const e = r.entries.get(0);
    e.gsi = GSI;
    e.type = K.KVM_IRQ_ROUTING_MSI;
    e.u.msi.address_lo = lo >>> 0;
    e.u.msi.address_hi = hi >>> 0;
    e.u.msi.data = data >>> 0;
    this.p.ioctl(this.vm, K.KVM_SET_GSI_ROUTING, r);
  }

  irqfd(assign: boolean): void {
    const a = K.kvm_irqfd.alloc();
    a.fd = this.irqFd;
    a.gsi = GSI;
    a.flags = assign ? 0 : K.KVM_IRQFD_FLAG_DEASSIGN;
    this.p.ioctl(this.vm, K.KVM_IRQFD, a);
  }

  /** KVM_RUN; false when the guest idles with nothing left to wake it (-1/EINTR). */
  enter(): boolean {
    try {
      this.p.ioctl(this.vcpu, K.KVM_RUN);
      return true;
    } catch (e) {
      if (e instanceof SyscallError && e.code === 'EINTR') return false;
      throw e;
    }
  }

  get handled(): number {
    return this.host.control.kvm.vcpu(this.p, this.vcpu).handled(VECTOR);
  }
}

/** VMM A: QEMU's userspace MSI-X table (hw/pci/msix.c) with irqfd vector notifiers. */
class UserspaceTableVmm {
  private readonly table = new Uint32Array([0, 0, 0, 1]);
  private pending = false;
  private used = false;
  private routed = [-1, -1, -1];
  private readonly buf = new Uint8Array(8);

  constructor(readonly m: Vm) {}

  /** QEMU's main loop handler for the vector's eventfd while it is released: the message is pending. */
  private poll(): void {
    if (this.used) return;
    try {
      if (this.m.p.read(this.m.irqFd, this.buf) > 0) this.notify();
    } catch (e) {
      if (!(e instanceof SyscallError && e.code === 'EAGAIN')) throw e;
    }
  }

  private notify(): void {
    if (this.table[3]! & 1) this.pending = true;
    else this.send();
  }

  private send(): void {
    const m = K.kvm_msi.alloc();
    m.address_lo = this.table[0]!;
    m.address_hi = this.table[1]!;
    m.data = this.table[2]!;
    this.m.p.ioctl(this.m.vm, K.KVM_SIGNAL_MSI, m);
  }

  /** msix_fire_vector_notifier(): use on unmask, release on mask. */
  private maskChanged(masked: boolean): void {
    if (masked) {
      if (this.used) this.m.irqfd(false);
      this.used = false;
      return;
    }
    this.poll();
    if (this.routed[0] !== this.table[0] || this.routed[1] !== this.table[1] || this.routed[2] !== this.table[2]) {
      this.m.setRoute(this.table[0]!, this.table[1]!, this.table[2]!);
      this.routed = [this.table[0]!, this.table[1]!, this.table[2]!];
    }
    this.m.irqfd(true);
    this.used = true;
    if (this.pending) {
      this.pending = false;
      this.send();
    }
  }

  /** One KVM_RUN and the exit it returns; false when the guest idles. */
  step(): boolean {
    const m = this.m;
    if (!m.enter()) return false;
    this.poll();
    const reason = m.run.read32(RUN_EXIT);
    if (reason !== K.KVM_EXIT_MMIO) return true; // port I/O of the guest's PIC masking: nothing to do
    const addr = Number(m.run.read64(MMIO_ADDR));
    const isWrite = m.run.read8(MMIO_WRITE) !== 0;
    const len = m.run.read32(MMIO_LEN);
    if (addr >= PBA && addr < PBA + 8) {
      if (!isWrite) m.run.write32(MMIO_DATA, this.pending ? 1 : 0);
      return true;
    }
    const i = (addr - TABLE) >> 2;
    if (!isWrite) {
      m.run.write32(MMIO_DATA, this.table[i]!);
      return true;
    }
    if (len !== 4) return true;
    const v = m.run.read32(MMIO_DATA);
    if (i === 3) {
      const was = (this.table[3]! & 1) !== 0;
      this.table[3] = v & 1;
      if (was !== ((v & 1) !== 0)) this.maskChanged((v & 1) !== 0);
    } else {
      this.table[i] = v;
    }
    return true;
  }
}

/** VMM B: the proposed in-kernel table; only KVM_EXIT_MSIX_ENTRY_UPDATED reaches it. */
class KernelTableVmm {
  constructor(readonly m: Vm) {
    const t = P.kvm_msix_table.alloc();
    t.argsz = t.bytes.length;
    t.flags = P.KVM_MSIX_CTRL_ENABLE;
    t.table_id = 0;
    t.nr_entries = 1;
    t.msix_base_gpa = BigInt(TABLE);
    t.pending_bitmap_base_gpa = BigInt(PBA);
    m.p.ioctl(m.vm, P.KVM_DEFINE_MSIX_TABLE, t);
    m.irqfd(true);
    const b = P.kvm_msix_entry_irq.alloc();
    b.argsz = b.bytes.length;
    b.irq.type = P.KVM_MSIX_IRQ_GSI;
    b.irq.u.gsi = GSI;
    m.p.ioctl(m.vm, P.KVM_SET_MSIX_ENTRY_IRQ, b);
  }

  step(): boolean {
    const m = this.m;
    if (!m.enter()) return false;
    if (m.run.read32(RUN_EXIT) === P.KVM_EXIT_MSIX_ENTRY_UPDATED) {
      const f = (name: 'address_lo' | 'address_hi' | 'data') => m.run.read32(UPD + P.kvm_run_msix_entry_updated.offsetof(name));
      m.setRoute(f('address_lo'), f('address_hi'), f('data'));
    }
    return true;
  }
}

/**
 * Counts syscalls into `c`: KVM_RUN returns with an exit, other ioctls (not KVM_GET_MP_STATE, the
 * passthrough VMMs' idle check when KVM_RUN returns EINTR), and every syscall.
 */
function countSyscalls(host: Host, c: Counts): () => void {
  return host.trace.on((ev) => {
    if (ev.type !== 'syscall') return;
    c.syscalls++;
    const s = ev as SyscallEvent;
    if (s.syscall !== 'ioctl') return;
    if (s.request === K.KVM_RUN) {
      if (s.errno === 0) c.exits++;
    } else if (s.request !== K.KVM_GET_MP_STATE) c.ioctls++;
  });
}

/**
 * Runs `n` device interrupts through the guest with `mode`'s VMM and counts what the interrupt phase
 * cost (setup — the guest programming its entry — excluded). `trace` false skips counting (timing).
 */
export function measure(mode: TableMode, n: number, maskInHandler: boolean, trace = true): Counts & { ns: number } {
  const m = new Vm(maskInHandler);
  const vmm = mode === 'kernel' ? new KernelTableVmm(m) : new UserspaceTableVmm(m);
  while (vmm.step()) {
    /* setup: the driver programs and unmasks its entry, then idles */
  }
  const c: Counts = { exits: 0, ioctls: 0, syscalls: 0, interrupts: 0 };
  const stop = trace ? countSyscalls(m.host, c) : () => {};
  const before = m.handled;
  const t0 = performance.now();
  m.device.remaining = n - 1;
  m.irq.ctx.signal();
  m.host.control.flush();
  while (vmm.step()) {
    /* the interrupt phase */
  }
  const ns = (performance.now() - t0) * 1e6;
  stop();
  c.interrupts = m.handled - before;
  return { ...c, ns };
}

/**
 * The in-kernel hot path without a guest program: the entry's mask write, a device raise while masked
 * (eventfd_signal -> irqfd wakeup -> gate -> pending bit), the flushing read, the unmask write (-> the
 * message in flight), the delivery work, and the LAPIC taking the vector with EOI. MMIO goes through
 * kvm->mmio_bus exactly as a guest access in KVM_RUN does.
 */
function hotPathOp(): (i: number) => void {
  const m = new Vm(true);
  new KernelTableVmm(m);
  enableLapicBySetLapic(m.p, m.vcpu);
  const vc = m.host.control.kvm.vcpu(m.p, m.vcpu).vcpu;
  const kvm = vc.kvm;
  const apic = vc.lapic!;
  const ctrl = TABLE + 12;
  const e = P.kvm_msix_entry.alloc();
  e.argsz = e.bytes.length;
  e.address_lo = 0xfee0_0000;
  e.data = VECTOR;
  e.vector_control = 1;
  m.p.ioctl(m.vm, P.KVM_SET_MSIX_ENTRY, e);
  m.setRoute(0xfee0_0000, 0, VECTOR);
  const sched = m.host.sched;
  const ctx = m.irq.ctx;
  return () => {
    kvm.mmioBus.write(ctrl, 4, 1, vc);
    ctx.signal();
    kvm.mmioBus.read(ctrl, 4);
    kvm.mmioBus.write(ctrl, 4, 0, vc);
    sched.flush();
    apic.ackInterrupt();
    apic.eoi();
  };
}

/**
 * The same workload on VFIO passthrough of the NIC: examples/msix-passthrough.ts (QEMU's VFIO path: the
 * table trapped in the VMM; on mask the vector's irqfd is deassigned and its route dropped, the VMM
 * polls the eventfd into its PBA; on unmask the route and the irqfd come back and the pending message is
 * sent with KVM_SIGNAL_MSI) against examples/msix-kernel-table.ts (the proposed in-kernel table). The
 * guest handler masks + flushes, and while the entry is masked the NIC raises the vector again (its
 * doorbell, as the next packet arriving).
 */
export function measureVfio(mode: TableMode, n: number, trace = true): Counts & { ns: number } {
  const host = Host.create();
  const vmm = mode === 'kernel' ? new MsixKernelTableVmm(host, 1) : new MsixPassthroughVmm(host, 1);
  let left = 0;
  const onInterrupt = () => {
    if (left === 0) return;
    left--;
    host.control.pci.ring(0, NIC_BDF);
  };
  vmm.load(msixDriver({ tableAddr: BAR3_GPA, vectors: [{ entry: 0, vector: VECTOR }], cap: { bdf: GUEST_BDF, offset: MSIX_CAP }, maskInHandler: true, onInterrupt }));
  vmm.runUntilIdle();
  const c: Counts = { exits: 0, ioctls: 0, syscalls: 0, interrupts: 0 };
  const stop = trace ? countSyscalls(host, c) : () => {};
  const cpu = host.control.kvm.vcpu(vmm.qemu, vmm.vcpu);
  const before = cpu.handled(VECTOR);
  const t0 = performance.now();
  left = n - 1;
  host.control.pci.ring(0, NIC_BDF);
  vmm.runUntilIdle(10 * n + 100);
  const ns = (performance.now() - t0) * 1e6;
  stop();
  c.interrupts = cpu.handled(VECTOR) - before;
  return { ...c, ns };
}

const N = 1000;

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const maskInHandler of [true, false]) {
    const wl = maskInHandler ? 'mask+flush+unmask per interrupt' : 'no masking';
    for (const mode of ['userspace', 'kernel'] as const) {
      const c = measure(mode, N, maskInHandler);
      if (c.interrupts !== N) throw new Error(`${mode}/${wl}: the guest handled ${c.interrupts} of ${N} interrupts`);
      const label = mode === 'kernel' ? 'in-kernel table' : 'userspace table';
      if (maskInHandler) {
        out.push({ name: `${label}, ${wl}: exits per mask/unmask cycle`, rate: c.exits / N, unit: 'exits/cycle' });
        out.push({ name: `${label}, ${wl}: ioctls (besides KVM_RUN) per mask/unmask cycle`, rate: c.ioctls / N, unit: 'ioctls/cycle' });
      }
      out.push({ name: `${label}, ${wl}: exits per 1,000 interrupts`, rate: (c.exits * 1000) / N, unit: 'exits' });
      out.push({ name: `${label}, ${wl}: ioctls (besides KVM_RUN) per 1,000 interrupts`, rate: (c.ioctls * 1000) / N, unit: 'ioctls', note: `${c.syscalls} syscalls in all` });
      // The model's own speed for the same work (no tracing): median of 3 runs of 20,000 interrupts.
      const rates = [0, 1, 2].map(() => {
        const t = measure(mode, 20_000, maskInHandler, false);
        return (20_000 / t.ns) * 1e9;
      });
      out.push({ name: `${label}, ${wl}: model throughput`, rate: rates.sort((a, b) => a - b)[1]!, unit: 'interrupts/s' });
    }
  }
  for (const mode of ['userspace', 'kernel'] as const) {
    const c = measureVfio(mode, N);
    if (c.interrupts !== N) throw new Error(`VFIO ${mode}: the guest handled ${c.interrupts} of ${N} interrupts`);
    const label = mode === 'kernel' ? 'VFIO passthrough, in-kernel table (examples/msix-kernel-table.ts)' : 'VFIO passthrough, userspace table (examples/msix-passthrough.ts)';
    out.push({ name: `${label}: exits per mask/unmask cycle`, rate: c.exits / N, unit: 'exits/cycle' });
    out.push({ name: `${label}: ioctls (besides KVM_RUN) per mask/unmask cycle`, rate: c.ioctls / N, unit: 'ioctls/cycle' });
    out.push({ name: `${label}: exits per 1,000 interrupts`, rate: (c.exits * 1000) / N, unit: 'exits' });
    out.push({ name: `${label}: ioctls (besides KVM_RUN) per 1,000 interrupts`, rate: (c.ioctls * 1000) / N, unit: 'ioctls', note: `${c.syscalls} syscalls in all` });
    const rates = [0, 1, 2].map(() => (5000 / measureVfio(mode, 5000, false).ns) * 1e9);
    out.push({ name: `${label}: model throughput`, rate: rates.sort((a, b) => a - b)[1]!, unit: 'interrupts/s' });
  }
  const op = hotPathOp();
  out.push({ name: 'in-kernel table hot path (mask, masked raise, flushing read, unmask, delivery, EOI)', rate: opsPerSecond(op), unit: 'cycles/s' });
  out.push({ name: 'in-kernel table hot path: heap bytes allocated per cycle once warm', rate: bytesPerOp(op), unit: 'bytes/cycle', target: '0' });
  return out;
}
