// INTx passthrough end to end: the edu device (host 00:03.0) assigned to a KVM guest whose driver
// raises interrupts, handles them and EOIs — device -> host IRQ -> vfio automask -> trigger eventfd ->
// KVM irqfd -> guest IOAPIC -> LAPIC -> guest handler -> EOI -> resampler -> resamplefd -> vfio unmask.
//
// Two wirings (QEMU hw/vfio/pci.c):
// - 'resample' (vfio_intx_enable_kvm): with the in-kernel irqchip, mask INTx, bind the trigger eventfd to
//   GSI 16 with KVM_IRQFD_FLAG_RESAMPLE and a second eventfd as resamplefd, register that eventfd with
//   VFIO as the unmask eventfd (SET_IRQS ACTION_UNMASK|DATA_EVENTFD), unmask ("let 'em rip"). The
//   guest's EOI unmasks the device inside the kernels; the VMM never sees the interrupt.
// - 'eoi-exit': no resampling. A split irqchip (the IOAPIC in the VMM): the VMM emulates the guest's
//   IOAPIC writes into an MSI route for GSI 16 (level), binds a plain irqfd, and unmasks with the
//   VFIO_DEVICE_SET_IRQS UNMASK ioctl when the guest's EOI exits (KVM_EXIT_IOAPIC_EOI).
// The guest sees the device at 00:04.0: its config space is VFIO's (port 0xCF8/0xCFC exits forwarded to
// the config region), BAR0 is the device's BAR mmap'ed into a memory slot.
// Run: npx tsx --conditions=source examples/intx-passthrough.ts [eoi-exit]
import { fileURLToPath } from 'node:url';
import { Host, type Process } from 'vfio-kvm-shim';
import type { Mapping } from '../src/linux/mm/address-space.js';
import type { GuestProgram } from '../src/guest/program.js';
import { eduDriver } from '../src/guest/drivers/edu.js';
import { O_RDWR } from 'vfio-kvm-shim/include-ts/linux/fcntl';
import { EFD_CLOEXEC, EFD_NONBLOCK } from 'vfio-kvm-shim/include-ts/linux/eventfd';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import * as K from 'vfio-kvm-shim/include-ts/linux/kvm';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import { EDU_BDF } from './lib/edu.js';
import { bindToVfioPci, irqSet, KvmVfio, openVfioDevice } from './lib/vfio.js';

export type IntxMode = 'resample' | 'eoi-exit';

export { EDU_BDF };
/** Where the guest finds the device and its BAR, and the interrupt wiring it sees. */
export const GUEST_BDF = { bus: 0, dev: 4, fn: 0 } as const;
export const BAR0_GPA = 0xfea0_0000;
export const GSI = 16;
export const VECTOR = 0x41;
const CONFIG_OFFSET = BigInt(V.VFIO_PCI_CONFIG_REGION_INDEX) << 40n;
const IOAPIC_BASE = 0xfec0_0000;

export interface IntxCounts {
  /** Device INTx assertions (the wire going high). */
  readonly deviceAsserts: number;
  /** Host interrupts on the edu's line (/proc/interrupts). */
  readonly hostIrqs: number;
  /** Signals of the trigger eventfd (vfio_intx_handler and re-signals on unmask). */
  readonly triggerSignals: number;
  /** Signals the irqfd consumed. */
  readonly irqfdInjections: number;
  /** Guest handler entries for the vector. */
  readonly guestHandled: number;
  /** Guest EOIs the resampler saw (resample mode) or the VMM saw as exits (eoi-exit mode). */
  readonly eois: number;
  /** Unmasks: resamplefd signals consumed by vfio's virqfd, or UNMASK ioctls. */
  readonly unmasks: number;
}

/** KVM_GET_MP_STATE: the vCPU is halted (waiting for an interrupt). */
export function halted(q: Process, vcpu: number): boolean {
  const s = K.kvm_mp_state.alloc();
  q.ioctl(vcpu, K.KVM_GET_MP_STATE, s);
  return s.mp_state === K.KVM_MP_STATE_HALTED;
}

/** A QEMU-shaped VMM with the edu device assigned. */
export class IntxPassthroughVmm {
  readonly qemu: Process;
  readonly device: number;
  readonly vm: number;
  /** The VM's kvm-vfio device, which knows the group. */
  readonly kvmVfio: KvmVfio;
  readonly vcpu: number;
  readonly run: Mapping;
  readonly trigger: number;
  readonly unmask: number;
  /** KVM_EXIT_IOAPIC_EOI exits seen (eoi-exit mode). */
  eoiExits = 0;
  /** VFIO UNMASK ioctls issued (eoi-exit mode). */
  unmaskIoctls = 0;
  private configAddr = 0;
  private ioregsel = 0;
  private readonly rte = new Uint32Array(48);
  private readonly assertsAtStart: number;

  constructor(
    readonly host: Host,
    readonly mode: IntxMode,
    say: (s: string) => void = () => {},
  ) {
    // libvirt: the device leaves its host driver (none for edu) for vfio-pci.
    const group = bindToVfioPci(host.spawn({ name: 'libvirtd' }), EDU_BDF);

    const q = host.spawn({ name: 'qemu' });
    this.qemu = q;
    const kvm = q.open('/dev/kvm', O_RDWR);
    this.vm = q.ioctl(kvm, K.KVM_CREATE_VM, 0);
    this.kvmVfio = new KvmVfio(q, this.vm);
    say('QEMU: VFIO container and group, the group added to the VM\'s kvm-vfio device (vfio_kvm_device_add_fd), the device');
    this.device = openVfioDevice(q, group, EDU_BDF, undefined, this.kvmVfio).device;

    say(`QEMU: ${mode === 'resample' ? 'the in-kernel irqchip' : 'a split irqchip (IOAPIC in the VMM)'} and one vCPU`);
    if (mode === 'resample') q.ioctl(this.vm, K.KVM_CREATE_IRQCHIP);
    else {
      const cap = K.kvm_enable_cap.alloc();
      cap.cap = K.KVM_CAP_SPLIT_IRQCHIP;
      cap.args.set(0, 24n);
      q.ioctl(this.vm, K.KVM_ENABLE_CAP, cap);
    }
    this.vcpu = q.ioctl(this.vm, K.KVM_CREATE_VCPU, 0);
    this.run = q.mmap(null, q.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, this.vcpu, 0);

    say('QEMU: BAR0 mmap\'ed from the device fd and mapped into the guest at its BAR address');
    const bar0 = q.mmap(null, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, this.device, 0);
    const slot = K.kvm_userspace_memory_region.alloc();
    slot.slot = 0;
    slot.guest_phys_addr = BigInt(BAR0_GPA);
    slot.memory_size = BigInt(1 << 20);
    slot.userspace_addr = BigInt(bar0.addr);
    q.ioctl(this.vm, K.KVM_SET_USER_MEMORY_REGION, slot);

    this.trigger = q.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    this.unmask = q.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    say('vfio_intx_enable: INTx with the trigger eventfd');
    q.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1, [this.trigger]));
    const fd = K.kvm_irqfd.alloc();
    fd.fd = this.trigger;
    fd.gsi = GSI;
    if (mode === 'resample') {
      say('vfio_intx_enable_kvm: mask, irqfd with RESAMPLE, the resamplefd as VFIO\'s unmask eventfd, unmask');
      q.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_NONE | V.VFIO_IRQ_SET_ACTION_MASK, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
      fd.flags = K.KVM_IRQFD_FLAG_RESAMPLE;
      fd.resamplefd = this.unmask;
      q.ioctl(this.vm, K.KVM_IRQFD, fd);
      q.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_UNMASK, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1, [this.unmask]));
      q.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_NONE | V.VFIO_IRQ_SET_ACTION_UNMASK, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
    } else {
      say('plain irqfd on GSI 16; its MSI route follows the guest\'s IOAPIC entry; EOI exits unmask');
      q.ioctl(this.vm, K.KVM_IRQFD, fd);
    }
    this.assertsAtStart = host.control.pci.device(EDU_BDF).intx!.assertions;
  }

  /** The guest's edu driver: INTx on pin 16, vector 0x41, `selfTest` raise/handle cycles. */
  static driver(selfTest: number): GuestProgram {
    return eduDriver({ bar0: BAR0_GPA, mode: 'intx', vector: VECTOR, ioapicPin: GSI, bdf: GUEST_BDF, selfTest });
  }

  load(program: GuestProgram): void {
    this.host.control.kvm.loadGuest(this.qemu, this.vcpu, program);
  }

  /** The VMM's KVM_RUN loop until the guest idles with nothing left that could wake it (EINTR). */
  runUntilIdle(maxExits = 100_000): void {
    const q = this.qemu;
    const run = K.kvm_run.view(this.run.bytes!);
    for (let i = 0; i < maxExits; i++) {
      try {
        q.ioctl(this.vcpu, K.KVM_RUN);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EINTR') throw e;
        // Interrupted: a halted guest nothing can wake is idle; a runnable one just used up its slice.
        if (halted(q, this.vcpu)) return;
        continue;
      }
      switch (run.exit_reason) {
        case K.KVM_EXIT_IO:
          this.portIo(run.io.direction === K.KVM_EXIT_IO_OUT, run.io.port, run.io.size, Number(run.io.data_offset));
          break;
        case K.KVM_EXIT_MMIO:
          this.mmio(Number(run.mmio.phys_addr), run.mmio.is_write !== 0);
          break;
        case K.KVM_EXIT_IOAPIC_EOI:
          this.eoiExit(run.eoi.vector);
          break;
        default:
          throw new Error(`unexpected exit ${run.exit_reason}`);
      }
    }
    throw new Error('the guest did not settle');
  }

  /** Port I/O exits: PCI configuration mechanism #1 for the assigned device, the 8259s ignored. */
  private portIo(out: boolean, port: number, size: number, dataOffset: number): void {
    const b = this.run.bytes!;
    const get = () => (size === 4 ? b[dataOffset]! | (b[dataOffset + 1]! << 8) | (b[dataOffset + 2]! << 16) | (b[dataOffset + 3]! << 24) : size === 2 ? b[dataOffset]! | (b[dataOffset + 1]! << 8) : b[dataOffset]!) >>> 0;
    if (port === 0xcf8 && size === 4) {
      if (out) this.configAddr = get();
      else new DataView(b.buffer, b.byteOffset).setUint32(dataOffset, this.configAddr, true);
      return;
    }
    if (port < 0xcfc || port > 0xcff) return; // 8259 OCW1 writes and the like: the PIC is not used
    const a = this.configAddr;
    const bus = (a >>> 16) & 0xff;
    const dev = (a >>> 11) & 0x1f;
    const fn = (a >>> 8) & 7;
    const reg = (a & 0xfc) + (port - 0xcfc);
    const ours = (a & 0x8000_0000) !== 0 && bus === GUEST_BDF.bus && dev === GUEST_BDF.dev && fn === GUEST_BDF.fn;
    if (out) {
      if (ours) this.qemu.pwrite(this.device, b.subarray(dataOffset, dataOffset + size), CONFIG_OFFSET + BigInt(reg));
    } else if (ours) this.qemu.pread(this.device, b.subarray(dataOffset, dataOffset + size), CONFIG_OFFSET + BigInt(reg));
    else b.fill(0xff, dataOffset, dataOffset + size);
  }

  /** MMIO exits: the IOAPIC of a split irqchip (IOREGSEL/IOWIN); a redirection entry becomes an MSI route. */
  private mmio(addr: number, write: boolean): void {
    const at = K.kvm_run.offsetof('mmio.data');
    const data = this.run.bytes!.subarray(at, at + 8);
    const dv = new DataView(data.buffer, data.byteOffset, 8);
    if (addr === IOAPIC_BASE) {
      if (write) this.ioregsel = dv.getUint32(0, true) & 0xff;
      else dv.setUint32(0, this.ioregsel, true);
    } else if (addr === IOAPIC_BASE + 0x10) {
      const index = (this.ioregsel - 0x10) >> 1;
      if (write) {
        this.rte[this.ioregsel - 0x10] = dv.getUint32(0, true);
        if (index === GSI) this.updateRoute();
      } else dv.setUint32(0, this.ioregsel >= 0x10 ? this.rte[this.ioregsel - 0x10]! : 0, true);
    }
  }

  /** The split irqchip's GSI 16 route: the guest's entry as a level-triggered MSI (or none while masked). */
  private updateRoute(): void {
    const lo = this.rte[2 * GSI]!;
    const hi = this.rte[2 * GSI + 1]!;
    const masked = (lo & (1 << 16)) !== 0;
    const r = K.kvm_irq_routing.alloc(masked ? 0 : 1);
    r.nr = masked ? 0 : 1;
    if (!masked) {
      const e = r.entries.get(0);
      e.gsi = GSI;
      e.type = K.KVM_IRQ_ROUTING_MSI;
      e.u.msi.address_lo = (0xfee0_0000 | ((hi >>> 24) << 12)) >>> 0;
      e.u.msi.address_hi = 0;
      e.u.msi.data = (lo & 0xff) | (lo & (1 << 15) ? 0xc000 : 0);
    }
    this.qemu.ioctl(this.vm, K.KVM_SET_GSI_ROUTING, r);
  }

  /** KVM_EXIT_IOAPIC_EOI: the guest EOId a level vector the VMM's IOAPIC delivered: unmask INTx. */
  private eoiExit(vector: number): void {
    this.eoiExits++;
    if (vector !== (this.rte[2 * GSI]! & 0xff)) return;
    this.unmaskIoctls++;
    this.qemu.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_NONE | V.VFIO_IRQ_SET_ACTION_UNMASK, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
  }

  counts(): IntxCounts {
    const ctl = this.host.control;
    const ctx = (fd: number) => (this.qemu.fileOrNull(fd) as unknown as { ctx: { signals: number } }).ctx;
    const irqfds = ctl.kvm.vm(this.qemu, this.vm).irqfds();
    const resamplers = ctl.kvm.vm(this.qemu, this.vm).resamplers();
    return {
      deviceAsserts: ctl.pci.device(EDU_BDF).intx!.assertions - this.assertsAtStart,
      hostIrqs: ctl.irq.desc(19)?.count ?? 0,
      triggerSignals: ctx(this.trigger).signals,
      irqfdInjections: irqfds.reduce((s, i) => s + i.signals, 0),
      guestHandled: ctl.kvm.vcpu(this.qemu, this.vcpu).handled(VECTOR),
      eois: this.mode === 'resample' ? resamplers.reduce((s, r) => s + r.acks, 0) : this.eoiExits,
      unmasks: this.mode === 'resample' ? ctx(this.unmask).signals : this.unmaskIoctls,
    };
  }
}

export interface IntxPassthroughResult {
  readonly lines: string[];
  readonly counts: IntxCounts;
  /** Guest registers: r1 self-test cycles, r2 interrupts handled with status set, r3 spurious entries. */
  readonly guest: { readonly cycles: number; readonly handled: number; readonly spurious: number };
}

/** The demo: `cycles` raise/handle/EOI cycles in the guest, traced strace-style with interrupt hops. */
export function intxPassthrough(sink: (line: string) => void = (l) => console.log(l), mode: IntxMode = 'resample', cycles = 3, host = Host.create()): IntxPassthroughResult {
  const lines: string[] = [];
  const out = (l: string) => {
    lines.push(l);
    sink(l);
  };
  const stop = host.strace(out, { irqs: true });
  try {
    const vmm = new IntxPassthroughVmm(host, mode, (s) => out(`# ${s}`));
    out(`# the guest's edu driver: ${cycles} cycles of raise -> handle (read status, ack) -> EOI`);
    vmm.load(IntxPassthroughVmm.driver(cycles));
    vmm.runUntilIdle();
    const c = vmm.counts();
    const g = host.control.kvm.vcpu(vmm.qemu, vmm.vcpu).guest();
    out(`# per stage: device asserts ${c.deviceAsserts}, host IRQs ${c.hostIrqs}, trigger signals ${c.triggerSignals}, irqfd injections ${c.irqfdInjections}, guest handler ${c.guestHandled}, EOIs ${c.eois}, unmasks ${c.unmasks}`);
    return { lines, counts: c, guest: { cycles: g.regs[1]!, handled: g.regs[2]!, spurious: g.regs[3]! } };
  } finally {
    stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) intxPassthrough(undefined, process.argv[2] === 'eoi-exit' ? 'eoi-exit' : 'resample');
