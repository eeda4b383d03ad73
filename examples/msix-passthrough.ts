// MSI-X passthrough end to end: the NIC (host 06:00.0) assigned to a KVM guest whose MSI-X driver
// programs and unmasks its vectors, the way QEMU does it (hw/vfio/pci.c vfio_msix_enable,
// vfio_msix_vector_do_use / vfio_msix_vector_release; hw/pci/msix.c): the guest's MSI-X table and PBA
// are the VMM's own — BAR3 is not mapped into the guest, so every table access exits (KVM_EXIT_MMIO) —
// and the capability's Message Control is emulated too (vfio-pci drops MSI-X capability writes).
// When the guest enables MSI-X, the VMM enables the device's vectors through VFIO_DEVICE_SET_IRQS with
// one eventfd each. A vector the guest has unmasked (Enable set, Function Mask clear) gets a GSI route
// built from the guest's entry (KVM_SET_GSI_ROUTING) and an irqfd on its eventfd (KVM_IRQFD); masking
// deassigns the irqfd, after which the VMM itself polls the eventfd and records a signal as the vector's
// pending bit in its emulated PBA; unmasking with the bit set delivers the message once (KVM_SIGNAL_MSI)
// before the irqfd is assigned again. An entry rewritten while in use updates its route.
// Run: npx tsx --conditions=source examples/msix-passthrough.ts
import { fileURLToPath } from 'node:url';
import { Host, type Process } from 'vfio-kvm-shim';
import type { Mapping } from '../src/linux/mm/address-space.js';
import type { GuestProgram } from '../src/guest/program.js';
import { msixDriver } from '../src/guest/drivers/msix.js';
import { O_RDWR } from 'vfio-kvm-shim/include-ts/linux/fcntl';
import { EFD_CLOEXEC, EFD_NONBLOCK } from 'vfio-kvm-shim/include-ts/linux/eventfd';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import * as K from 'vfio-kvm-shim/include-ts/linux/kvm';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import { bindToVfioPci, irqSet, KvmVfio, openVfioDevice } from './lib/vfio.js';
import { halted } from './intx-passthrough.js';

export const NIC_BDF = '0000:06:00.0';
export const GUEST_BDF = { bus: 0, dev: 5, fn: 0 } as const;
export const BAR0_GPA = 0xfe00_0000;
export const BAR3_GPA = 0xfe10_0000;
/** The device's MSI-X capability offset and the first GSI the VMM uses for MSI routes. */
export const MSIX_CAP = 0xa0;
export const FIRST_MSI_GSI = 24;
const CONFIG_OFFSET = BigInt(V.VFIO_PCI_CONFIG_REGION_INDEX) << 40n;
const ENABLE = 0x8000;
const MASKALL = 0x4000;

export interface MsixCounts {
  /** Messages the device sent per vector (its table entries are the kernel's). */
  readonly deviceSent: number[];
  /** Guest handler entries per guest vector. */
  readonly guestHandled: ReadonlyMap<number, number>;
  /** Deliveries the VMM made itself from its PBA (KVM_SIGNAL_MSI). */
  readonly pbaDeliveries: number;
  /** irqfd assigns and deassigns. */
  readonly irqfdAssigns: number;
  readonly irqfdDeassigns: number;
}

/** A QEMU-shaped VMM with the MSI-X NIC assigned and its MSI-X table emulated. */
export class MsixPassthroughVmm {
  readonly qemu: Process;
  readonly device: number;
  readonly vm: number;
  readonly vcpu: number;
  readonly run: Mapping;
  /** The guest-visible table (16 bytes an entry, Vector Control mask set at reset) and PBA. */
  readonly table: Uint8Array;
  readonly pba: boolean[];
  readonly efds: number[];
  /** Whether vector v has its irqfd assigned. */
  readonly assigned: boolean[];
  /** Vectors the VMM delivers itself (no irqfd: it polls the eventfd and uses KVM_SIGNAL_MSI). */
  readonly userspace: boolean[];
  /** Message Control as the guest sees it. */
  control = 0;
  /** VFIO has the device's vectors enabled. */
  vfioEnabled = false;
  pbaDeliveries = 0;
  irqfdAssigns = 0;
  irqfdDeassigns = 0;
  private configAddr = 0;
  readonly tableOffset: number;
  readonly pbaOffset: number;

  constructor(
    readonly host: Host,
    /** Vectors the VMM offers the guest (the guest table has this many entries). */
    readonly nvec: number,
    say: (s: string) => void = () => {},
  ) {
    const group = bindToVfioPci(host.spawn({ name: 'libvirtd' }), NIC_BDF);

    const q = host.spawn({ name: 'qemu', nofile: 8192 });
    this.qemu = q;
    const kvm = q.open('/dev/kvm', O_RDWR);
    this.vm = q.ioctl(kvm, K.KVM_CREATE_VM, 0);
    const kvmVfio = new KvmVfio(q, this.vm);
    say('QEMU: VFIO container and group, the group added to the VM\'s kvm-vfio device (vfio_kvm_device_add_fd), the device');
    this.device = openVfioDevice(q, group, NIC_BDF, undefined, kvmVfio).device;
    const x = host.control.pci.nic().msix!;
    this.tableOffset = x.tableOffset;
    this.pbaOffset = x.pbaOffset;

    say('QEMU: the in-kernel irqchip; BAR0 mapped into the guest, BAR3 (MSI-X table and PBA) trapped');
    q.ioctl(this.vm, K.KVM_CREATE_IRQCHIP);
    this.vcpu = q.ioctl(this.vm, K.KVM_CREATE_VCPU, 0);
    this.run = q.mmap(null, q.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, this.vcpu, 0);
    const bar0 = q.mmap(null, 0x20000, PROT_READ | PROT_WRITE, MAP_SHARED, this.device, 0);
    const slot = K.kvm_userspace_memory_region.alloc();
    slot.slot = 0;
    slot.guest_phys_addr = BigInt(BAR0_GPA);
    slot.memory_size = 0x20000n;
    slot.userspace_addr = BigInt(bar0.addr);
    q.ioctl(this.vm, K.KVM_SET_USER_MEMORY_REGION, slot);

    this.table = new Uint8Array(nvec * 16);
    for (let v = 0; v < nvec; v++) this.table[v * 16 + 12] = 1;
    this.pba = new Array<boolean>(nvec).fill(false);
    this.assigned = new Array<boolean>(nvec).fill(false);
    this.userspace = new Array<boolean>(nvec).fill(false);
    this.efds = [];
    for (let v = 0; v < nvec; v++) this.efds.push(q.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  }

  /** The guest's MSI-X driver: entry i -> vector vectors[i] on APIC 0, all unmasked unless listed. */
  static driver(vectors: readonly number[], masked: readonly number[] = []): GuestProgram {
    return msixDriver({
      tableAddr: BAR3_GPA,
      vectors: vectors.map((vector, entry) => ({ entry, vector, masked: masked.includes(entry) })),
      cap: { bdf: GUEST_BDF, offset: MSIX_CAP },
    });
  }

  load(program: GuestProgram): void {
    this.host.control.kvm.loadGuest(this.qemu, this.vcpu, program);
  }

  // ---- the emulated table ---------------------------------------------------------------------------

  protected entryWord(v: number, off: number): number {
    const t = this.table;
    const o = v * 16 + off;
    return (t[o]! | (t[o + 1]! << 8) | (t[o + 2]! << 16) | (t[o + 3]! << 24)) >>> 0;
  }

  /** msix_is_masked(): the guest's view of whether vector v is masked. */
  masked(v: number): boolean {
    return !(this.control & ENABLE) || (this.control & MASKALL) !== 0 || (this.table[v * 16 + 12]! & 1) !== 0;
  }

  /** The whole routing table: the IOAPIC pins and one MSI route per vector in use (KVM_SET_GSI_ROUTING replaces all). */
  protected commitRoutes(): void {
    const msi: number[] = [];
    for (let v = 0; v < this.nvec; v++) if (this.assigned[v]) msi.push(v);
    const r = K.kvm_irq_routing.alloc(24 + msi.length);
    r.nr = 24 + msi.length;
    for (let pin = 0; pin < 24; pin++) {
      const e = r.entries.get(pin);
      e.gsi = pin;
      e.type = K.KVM_IRQ_ROUTING_IRQCHIP;
      e.u.irqchip.irqchip = K.KVM_IRQCHIP_IOAPIC;
      e.u.irqchip.pin = pin;
    }
    msi.forEach((v, i) => {
      const e = r.entries.get(24 + i);
      e.gsi = FIRST_MSI_GSI + v;
      e.type = K.KVM_IRQ_ROUTING_MSI;
      e.u.msi.address_lo = this.entryWord(v, 0);
      e.u.msi.address_hi = this.entryWord(v, 4);
      e.u.msi.data = this.entryWord(v, 8);
    });
    this.qemu.ioctl(this.vm, K.KVM_SET_GSI_ROUTING, r);
  }

  protected irqfd(v: number, assign: boolean): void {
    const a = K.kvm_irqfd.alloc();
    a.fd = this.efds[v]!;
    a.gsi = FIRST_MSI_GSI + v;
    a.flags = assign ? 0 : K.KVM_IRQFD_FLAG_DEASSIGN;
    this.qemu.ioctl(this.vm, K.KVM_IRQFD, a);
    if (assign) this.irqfdAssigns++;
    else this.irqfdDeassigns++;
  }

  /** Reads vector v's eventfd without blocking (a signal no irqfd took); true if it was signalled. */
  private drain(v: number): boolean {
    const b = new Uint8Array(8);
    try {
      this.qemu.read(this.efds[v]!, b);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN') throw e;
      return false;
    }
  }

  /** msix_notify() from the VMM: the guest's message for vector v, injected with KVM_SIGNAL_MSI. */
  private deliver(v: number): void {
    const m = K.kvm_msi.alloc();
    m.address_lo = this.entryWord(v, 0);
    m.address_hi = this.entryWord(v, 4);
    m.data = this.entryWord(v, 8);
    this.qemu.ioctl(this.vm, K.KVM_SIGNAL_MSI, m);
  }

  /** vfio_msix_vector_do_use / _release + msix_handle_mask_update: bring vector v in line with the guest's masks. */
  protected update(v: number): void {
    if (!this.vfioEnabled) return;
    const inUse = !this.masked(v);
    const wantIrqfd = inUse && !this.userspace[v];
    if (wantIrqfd && !this.assigned[v]) {
      // A signal that arrived while no irqfd listened is pending; deliver it before the irqfd takes over.
      if (this.drain(v)) this.pba[v] = true;
      this.assigned[v] = true;
      this.commitRoutes();
      this.flushPending(v);
      this.irqfd(v, true);
      return;
    }
    if (!wantIrqfd && this.assigned[v]) {
      this.irqfd(v, false);
      this.assigned[v] = false;
      this.commitRoutes();
    }
    if (inUse) this.flushPending(v);
  }

  /** msix_handle_mask_update(): an unmasked vector with its pending bit set is sent and the bit cleared. */
  private flushPending(v: number): void {
    if (!this.pba[v]) return;
    this.pba[v] = false;
    this.pbaDeliveries++;
    this.deliver(v);
  }

  /** Stops (or resumes) using an irqfd for vector v: the VMM then delivers it from its own event loop. */
  setUserspaceDelivery(v: number, on: boolean): void {
    this.userspace[v] = on;
    this.update(v);
  }

  private updateAll(): void {
    for (let v = 0; v < this.nvec; v++) this.update(v);
  }

  /** The guest changed Message Control: enabling MSI-X enables the device's vectors in VFIO. */
  protected writeControl(value: number): void {
    const was = this.control;
    this.control = value & (ENABLE | MASKALL);
    if (this.control & ENABLE && !(was & ENABLE) && !this.vfioEnabled) {
      this.qemu.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_MSIX_IRQ_INDEX, 0, this.nvec, this.efds));
      this.vfioEnabled = true;
    } else if (!(this.control & ENABLE) && this.vfioEnabled) {
      for (let v = 0; v < this.nvec; v++) if (this.assigned[v]) this.irqfd(v, false);
      this.assigned.fill(false);
      this.commitRoutes();
      this.qemu.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_NONE | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_MSIX_IRQ_INDEX, 0, 0));
      this.vfioEnabled = false;
      return;
    }
    this.updateAll();
  }

  /** A guest write to its table (msix_table_mmio_write). */
  private tableWrite(off: number, size: number, value: number): void {
    const v = off >> 4;
    if (v >= this.nvec) return;
    for (let i = 0; i < size; i++) this.table[off + i] = (value >>> (8 * i)) & 0xff;
    this.table[v * 16 + 12] = this.table[v * 16 + 12]! & 1;
    if ((off & 15) < 12 && this.assigned[v]) this.commitRoutes();
    this.update(v);
  }

  // ---- the run loop -----------------------------------------------------------------------------------

  /** The VMM's loop: KVM_RUN until the guest idles; masked vectors' eventfds are polled into the PBA. */
  runUntilIdle(maxExits = 100_000): void {
    const q = this.qemu;
    const run = K.kvm_run.view(this.run.bytes!);
    for (let i = 0; i < maxExits; i++) {
      this.poll();
      try {
        q.ioctl(this.vcpu, K.KVM_RUN);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EINTR') throw e;
        // Interrupted: a halted guest nothing can wake is idle; a runnable one just used up its slice.
        this.poll();
        if (halted(q, this.vcpu)) return;
        continue;
      }
      if (run.exit_reason === K.KVM_EXIT_IO) this.portIo(run.io.direction === K.KVM_EXIT_IO_OUT, run.io.port, run.io.size, Number(run.io.data_offset));
      else if (run.exit_reason === K.KVM_EXIT_MMIO) this.mmio(Number(run.mmio.phys_addr), run.mmio.len, run.mmio.is_write !== 0);
      else this.otherExit(run.exit_reason);
    }
    throw new Error('the guest did not settle');
  }

  /** An exit this VMM does not expect (examples/msix-kernel-table.ts handles the in-kernel table's). */
  protected otherExit(reason: number): void {
    throw new Error(`unexpected exit ${reason}`);
  }

  /** The VMM's event loop for vectors without an irqfd: a signal is delivered, or recorded as pending while masked. */
  poll(): void {
    if (!this.vfioEnabled) return;
    for (let v = 0; v < this.nvec; v++) {
      if (this.assigned[v] || !this.drain(v)) continue;
      if (this.masked(v)) this.pba[v] = true;
      else this.deliver(v);
    }
  }

  private portIo(out: boolean, port: number, size: number, dataOffset: number): void {
    const b = this.run.bytes!;
    const dv = new DataView(b.buffer, b.byteOffset);
    if (port === 0xcf8 && size === 4) {
      if (out) this.configAddr = dv.getUint32(dataOffset, true);
      else dv.setUint32(dataOffset, this.configAddr, true);
      return;
    }
    if (port < 0xcfc || port > 0xcff) return;
    const a = this.configAddr;
    const ours = (a & 0x8000_0000) !== 0 && ((a >>> 16) & 0xff) === GUEST_BDF.bus && ((a >>> 11) & 0x1f) === GUEST_BDF.dev && ((a >>> 8) & 7) === GUEST_BDF.fn;
    const reg = (a & 0xfc) + (port - 0xcfc);
    if (!ours) {
      if (!out) b.fill(0xff, dataOffset, dataOffset + size);
      return;
    }
    if (reg === MSIX_CAP + 2 && size === 2) {
      if (out) this.writeControl(dv.getUint16(dataOffset, true));
      else dv.setUint16(dataOffset, (this.qemuConfig16(MSIX_CAP + 2) & ~(ENABLE | MASKALL)) | this.control, true);
      return;
    }
    if (out) this.qemu.pwrite(this.device, b.subarray(dataOffset, dataOffset + size), CONFIG_OFFSET + BigInt(reg));
    else this.qemu.pread(this.device, b.subarray(dataOffset, dataOffset + size), CONFIG_OFFSET + BigInt(reg));
  }

  private qemuConfig16(reg: number): number {
    const b = new Uint8Array(2);
    this.qemu.pread(this.device, b, CONFIG_OFFSET + BigInt(reg));
    return b[0]! | (b[1]! << 8);
  }

  private mmio(addr: number, len: number, write: boolean): void {
    const at = K.kvm_run.offsetof('mmio.data');
    const data = this.run.bytes!.subarray(at, at + 8);
    const dv = new DataView(data.buffer, data.byteOffset, 8);
    const off = addr - BAR3_GPA;
    if (off >= 0 && off < this.nvec * 16) {
      if (write) this.tableWrite(off, len, dv.getUint32(0, true));
      else dv.setUint32(0, this.entryWord(off >> 4, off & 12), true);
    } else if (off >= this.pbaOffset - this.tableOffset && !write) {
      let bits = 0;
      const base = (off - (this.pbaOffset - this.tableOffset)) * 8;
      for (let i = 0; i < 32 && base + i < this.nvec; i++) if (this.pba[base + i]) bits |= 1 << i;
      dv.setUint32(0, bits >>> 0, true);
    }
  }

  /** Where the guest's table lives, for the demo's text. */
  get tableOwner(): string {
    return 'VMM\'s';
  }

  /** Entry v's pending bit as the guest would read it from the PBA. */
  pending(v: number): boolean {
    return this.pba[v]!;
  }

  counts(): MsixCounts {
    const x = this.host.control.pci.nic().msix!;
    return {
      deviceSent: Array.from(x.sent.subarray(0, this.nvec)),
      guestHandled: this.host.control.kvm.vcpu(this.qemu, this.vcpu).guest().handled,
      pbaDeliveries: this.pbaDeliveries,
      irqfdAssigns: this.irqfdAssigns,
      irqfdDeassigns: this.irqfdDeassigns,
    };
  }
}

export interface MsixPassthroughResult {
  readonly lines: string[];
  readonly counts: MsixCounts;
  readonly vmm: MsixPassthroughVmm;
}

/**
 * The demo: 4 vectors (entry 3 left masked by the guest), raises, then the guest unmasks entry 3. `Vmm`
 * picks where the table lives (examples/msix-kernel-table.ts runs the same demo with it in the kernel).
 */
export function msixPassthrough(sink: (line: string) => void = (l) => console.log(l), host = Host.create(), raises: readonly number[] = [0, 1, 1, 2, 3, 3], Vmm: typeof MsixPassthroughVmm = MsixPassthroughVmm): MsixPassthroughResult {
  const lines: string[] = [];
  const out = (l: string) => {
    lines.push(l);
    sink(l);
  };
  const stop = host.strace(out);
  try {
    const vmm = new Vmm(host, 4, (s) => out(`# ${s}`));
    const vectors = [0x50, 0x51, 0x52, 0x53];
    out('# the guest enables MSI-X and programs entries 0-3 (vectors 0x50-0x53), leaving entry 3 masked');
    vmm.load(MsixPassthroughVmm.driver(vectors, [3]));
    vmm.runUntilIdle();
    out(`# the NIC raises queues ${raises.join(', ')}`);
    for (const q of raises) host.control.pci.ring(q, NIC_BDF);
    vmm.runUntilIdle();
    out(`# entry 3 is masked in the ${vmm.tableOwner} table: its raises wait in the PBA (pending: ${vmm.pending(3)})`);
    out('# the guest unmasks entry 3');
    vmm.load(MsixPassthroughVmm.driver(vectors));
    vmm.runUntilIdle();
    const c = vmm.counts();
    out(`# per vector: device sent ${c.deviceSent.join('/')}, guest handled ${vectors.map((v) => c.guestHandled.get(v) ?? 0).join('/')}, PBA deliveries ${c.pbaDeliveries}, irqfd assigns ${c.irqfdAssigns}, deassigns ${c.irqfdDeassigns}`);
    return { lines, counts: c, vmm };
  } finally {
    stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) msixPassthrough();
