// struct kvm and the KVM module state (virt/kvm/kvm_main.c: kvm_create_vm, kvm_destroy_vm,
// kvm_vm_release; virt/kvm/eventfd.c: kvm_register_irq_ack_notifier, kvm_notify_acked_irq,
// kvm_irq_has_notifier, the irqfd cleanup workqueue). A VM belongs to the process that created it:
// its memory slots name that process's addresses, and VM and vCPU ioctls from another process fail
// with EIO.

import { CoalescedMmio } from './coalesced-mmio.js';
import type { MsrFilter } from './msr-filter.js';
import type { Kernel } from '../kernel.js';
import type { HaltPollParams } from './halt-poll.js';
import { KvmVmStat } from './stats.js';
import type { Process } from '../process.js';
import type { EventFdCtx } from '../eventfd.js';
import type { HwContext } from '../../hw/x86/lapic.js';
import type { Scheduler, WorkItem } from '../../sim/scheduler.js';
import type { TraceBus } from '../../sim/trace.js';
import { IoBus } from './io-bus.js';
import { MemSlots } from './memslot.js';
import { KVM_IRQCHIP_NUM_PINS, RoutingTable } from './irqchip.js';
import { ApicMap } from './lapic.js';
import { IrqfdRegistry, type Irqfd } from './irqfd.js';
import { IoeventfdRegistry } from './ioeventfd.js';
import { KvmMsixTables } from './msix-table/tables.js';
import type { KvmPic } from './i8259.js';
import type { KvmPit } from './i8254.js';
import type { KvmIoapic } from './ioapic.js';
import type { KvmVcpu } from './vcpu.js';
import type { KvmDevice } from './device.js';
import { KVM_IRQCHIP_NONE, KVM_IRQCHIP_SPLIT, KVM_MAX_VCPUS, KVM_SUPPRESS_EOI_BROADCAST_QUIRKED } from './kvm-host.js';
import { requestScanIoapic } from './scan-ioapic.js';
import { KvmTsc } from './tsc.js';
import { KvmClock } from './kvmclock.js';

/** struct kvm_irq_ack_notifier. */
export interface AckNotifier {
  readonly gsi: number;
  irqAcked(): void;
}

/** struct kvm_irq_mask_notifier: told when the pin a GSI maps to is masked or unmasked. */
export interface MaskNotifier {
  readonly gsi: number;
  maskChanged(masked: boolean): void;
}

/** The KVM module: every VM, the shared irqfd cleanup workqueue, and which eventfd feeds which irqfd. */
export class KvmModule {
  readonly vms = new Set<Kvm>();
  /** Host CPUs online (KVM_CAP_NR_VCPUS reports min(this, KVM_MAX_VCPUS)). */
  onlineCpus = 8;
  private nextVmId = 1;
  private readonly cleanup: WorkItem[] = [];
  private readonly bound = new Map<EventFdCtx, Irqfd>();

  constructor(
    readonly kernel: Kernel,
    /** kvm.halt_poll_ns and its siblings (halt-poll.ts). */
    readonly haltPoll: HaltPollParams,
  ) {}

  allocVmId(): number {
    return this.nextVmId++;
  }

  /** queue_work(irqfd_cleanup_wq, ...). */
  queueCleanup(w: WorkItem): void {
    if (this.kernel.sched.queueWork(w)) this.cleanup.push(w);
  }

  cleanupDone(w: WorkItem): void {
    const i = this.cleanup.indexOf(w);
    if (i >= 0) this.cleanup.splice(i, 1);
  }

  /** flush_workqueue(irqfd_cleanup_wq): runs every queued shutdown now (of any VM). */
  flushCleanup(): void {
    while (this.cleanup.length) {
      const w = this.cleanup.shift()!;
      this.kernel.sched.flushWork(w);
    }
  }

  bind(ctx: EventFdCtx, irqfd: Irqfd): void {
    this.bound.set(ctx, irqfd);
  }

  unbind(ctx: EventFdCtx, irqfd: Irqfd): void {
    if (this.bound.get(ctx) === irqfd) this.bound.delete(ctx);
  }

  boundIrqfd(ctx: EventFdCtx): Irqfd | undefined {
    return this.bound.get(ctx);
  }
}

export class Kvm {
  readonly id: number;
  readonly sched: Scheduler;
  readonly trace: TraceBus;
  readonly hw: HwContext;
  /** kvm->arch.irqchip_mode. */
  irqchipMode = KVM_IRQCHIP_NONE;
  nrReservedIoapicPins = 0;
  /** KVM_CAP_X2APIC_API state. */
  x2apicFormat = false;
  x2apicBroadcastQuirkDisabled = false;
  /** kvm->arch.suppress_eoi_broadcast_mode (KVM_SUPPRESS_EOI_BROADCAST_*). */
  suppressEoiBroadcast = KVM_SUPPRESS_EOI_BROADCAST_QUIRKED;
  /** kvm->arch.exception_payload_enabled / triple_fault_event (KVM_ENABLE_CAP; vcpu-events.ts). */
  exceptionPayloadEnabled = false;
  tripleFaultEvent = false;
  /** kvm->arch.user_space_msr_mask (KVM_CAP_X86_USER_SPACE_MSR) and msr_filter (msr-filter.ts). */
  userSpaceMsrMask = 0;
  msrFilter: MsrFilter | null = null;
  /** vCPUs in creation order (kvm->vcpu_array). */
  readonly vcpus: KvmVcpu[] = [];
  createdVcpus = 0;
  /** KVM_CAP_HALT_POLL: kvm->override_halt_poll_ns and kvm->max_halt_poll_ns (halt-poll.ts). */
  overrideHaltPollNs = false;
  maxHaltPollNs = 0;
  /** kvm->dirty_ring_size: bytes of each vCPU's dirty ring, 0 without KVM_CAP_DIRTY_LOG_RING (dirty-ring.ts). */
  dirtyRingSize = 0;
  /** KVM_SET_IDENTITY_MAP_ADDR (kvm->arch.ept_identity_map_addr). */
  identityMapAddr = 0n;
  readonly maxVcpus = KVM_MAX_VCPUS;
  readonly bspVcpuId = 0;
  /** kvm->stat: what KVM_GET_STATS_FD reports (stats.ts). */
  readonly stat = new KvmVmStat();
  readonly memslots: MemSlots;
  readonly mmioBus = new IoBus('mmio');
  readonly pioBus = new IoBus('pio');
  /**
   * KVM_FAST_MMIO_BUS: the twins of zero-length MMIO ioeventfds. Never dispatched here: a zero-length
   * entry on mmioBus already matches any write to its address, which is what the fast path is for.
   */
  readonly fastMmioBus = new IoBus('fast-mmio');
  pic: KvmPic | null = null;
  /** kvm->arch.vpit (i8254.ts). */
  pit: KvmPit | null = null;
  ioapic: KvmIoapic | null = null;
  routing = new RoutingTable(0);
  readonly apicMap = new ApicMap();
  readonly irqfds: IrqfdRegistry;
  readonly ioeventfds: IoeventfdRegistry;
  /** KVM_REGISTER_COALESCED_MMIO zones and the ring (coalesced-mmio.ts). */
  readonly coalesced = new CoalescedMmio(this);
  /** In-kernel MSI-X tables (the proposed KVM_DEFINE_MSIX_TABLE family). */
  readonly msix: KvmMsixTables;
  private readonly ackNotifiers: AckNotifier[] = [];
  /** kvm->arch.mask_notifier_list (only the PIT registers one in this model). */
  private readonly maskNotifiers: MaskNotifier[] = [];
  /** kvm->arch's TSC state: default rate, last write, synchronization generation (tsc.ts). */
  readonly tsc = new KvmTsc();
  /** kvm->arch.kvmclock_offset (kvmclock.ts). */
  readonly kvmclock: KvmClock;
  /** kvm->devices: KVM_CREATE_DEVICE's devices, newest first (device.ts). */
  readonly devices: KvmDevice[] = [];
  /**
   * kvm->arch.noncoherent_dma_count: kvm_arch_register/unregister_noncoherent_dma (kvm-vfio, for files
   * whose DMA is not enforced cache-coherent). Kept for inspection: the model has no MTRR/PAT memory types.
   */
  noncoherentDmaCount = 0;
  /** The VM fd was released (irqfds detached). */
  released = false;
  /** kvm->users_count: the VM fd and every vCPU fd. */
  private users = 1;

  constructor(
    readonly module: KvmModule,
    readonly kernel: Kernel,
    /** The creating process (kvm->mm). */
    readonly proc: Process,
  ) {
    this.id = module.allocVmId();
    this.sched = kernel.sched;
    this.trace = kernel.trace;
    this.hw = { sched: kernel.sched, trace: kernel.trace };
    this.memslots = new MemSlots(proc.mm);
    this.irqfds = new IrqfdRegistry(this);
    this.ioeventfds = new IoeventfdRegistry(this);
    this.msix = new KvmMsixTables(this);
    this.kvmclock = new KvmClock(kernel.sched.now);
    module.vms.add(this);
  }

  vcpuById(id: number): KvmVcpu | undefined {
    return this.vcpus.find((v) => v.vcpuId === id);
  }

  /** rcu_assign_pointer(kvm->irq_routing, new) + kvm_irq_routing_update(). */
  installRouting(rt: RoutingTable): void {
    this.routing = rt;
    this.irqfds.routingUpdate();
    // kvm_arch_irq_routing_update(): only a split irqchip's EOI set is made of routes.
    if (this.irqchipMode === KVM_IRQCHIP_SPLIT) requestScanIoapic(this);
  }

  /** kvm_register_irq_ack_notifier() (+ kvm_vcpu_request_scan_ioapic). */
  registerAckNotifier(n: AckNotifier): void {
    this.ackNotifiers.unshift(n);
    requestScanIoapic(this);
  }

  unregisterAckNotifier(n: AckNotifier): void {
    const i = this.ackNotifiers.indexOf(n);
    if (i >= 0) this.ackNotifiers.splice(i, 1);
    requestScanIoapic(this);
  }

  /** kvm_register_irq_mask_notifier() / kvm_unregister_irq_mask_notifier(). */
  registerMaskNotifier(n: MaskNotifier): void {
    this.maskNotifiers.unshift(n);
  }

  unregisterMaskNotifier(n: MaskNotifier): void {
    const i = this.maskNotifiers.indexOf(n);
    if (i >= 0) this.maskNotifiers.splice(i, 1);
  }

  /**
   * kvm_fire_mask_notifiers(): the GSI routed to (irqchip, pin), if any, and its notifiers. The PIC
   * passes pins 0-15 for both chips, so the slave's (8-15, routed as pins 0-7) never match a route.
   */
  fireMaskNotifiers(irqchip: number, pin: number, masked: boolean): void {
    if (this.maskNotifiers.length === 0 || pin >= KVM_IRQCHIP_NUM_PINS) return;
    const gsi = this.routing.gsiOf(irqchip, pin);
    if (gsi === -1) return;
    for (const n of this.maskNotifiers) if (n.gsi === gsi) n.maskChanged(masked);
  }

  /** kvm_irq_has_notifier(). */
  hasAckNotifier(irqchip: number, pin: number): boolean {
    const gsi = this.routing.gsiOf(irqchip, pin);
    if (gsi === -1) return false;
    return this.ackNotifiers.some((n) => n.gsi === gsi);
  }

  /** kvm_notify_acked_irq(): runs the ack notifiers of the GSI behind (irqchip, pin). */
  notifyAckedIrq(irqchip: number, pin: number): void {
    const gsi = this.routing.gsiOf(irqchip, pin);
    if (gsi === -1) return;
    const ns = this.ackNotifiers;
    for (let i = 0; i < ns.length; i++) {
      const n = ns[i]!;
      if (n.gsi === gsi) n.irqAcked();
    }
  }

  /** kvm_get_kvm(): a vCPU fd keeps the VM alive. */
  get(): void {
    this.users++;
  }

  /** kvm_put_kvm(): the last reference destroys the VM. */
  put(): void {
    if (--this.users > 0) return;
    this.pit?.destroy();
    this.ioapic?.destroy();
    this.ioeventfds.destroy();
    this.module.vms.delete(this);
  }

  /** kvm_vm_release(): the VM fd is closing; irqfds detach now, vCPUs may keep running. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.irqfds.release();
    this.put();
  }
}
