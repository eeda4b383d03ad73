// Domains and vCPUs (xen/include/xen/sched.h `struct domain`, `struct vcpu`) with the HVM/VMX parts the
// posted-interrupt path uses: the vCPU's pause flags and runstate, its processor, its VMCS, virtual
// LAPIC and posted-interrupt descriptor (v->arch.hvm.vmx.pi_desc), the PI blocking link whose `lock`
// names the list it is on (vmcs.h:101-104, null: on no list), and the domain's PI hooks
// (d->arch.hvm.pi_ops, asm/hvm/domain.h:43-51) and passthrough pirqs (struct hvm_pirq_dpci).
import type { Vmcs } from '../hw/vmx/vmcs.js';
import type { PiDesc } from '../hw/iommu/vtd/pi-desc.js';
import type { Lapic } from '../hw/x86/lapic.js';
import type { PciFunction } from '../hw/pci/function.js';
import type { GuestCpu } from '../guest/cpu.js';
import type { GuestMailbox } from '../guest/idle-loop.js';
import type { XenCpu } from './percpu.js';

/** v->pause_flags bits. */
export const _VPF_blocked = 1 << 0;
export const _VPF_down = 1 << 1;

/** d->arch.hvm.pi_ops.flags */
export const PI_CSW_FROM = 1 << 0;
export const PI_CSW_TO = 1 << 1;

export type Runstate = 'running' | 'runnable' | 'blocked' | 'offline';

export class Vcpu {
  processor: number;
  /** v->is_running: current on some CPU (root or non-root). */
  isRunning = false;
  pauseFlags = 0;
  pauseCount = 0;
  /** v->arch.hvm.vmx.pi_blocking.lock: the CPU whose list holds this vCPU, or null. */
  piBlockingLock: XenCpu | null = null;
  /** v->arch.hvm.vmx.eoi_exitmap_changed and Xen's copy of the EOI-exit bitmap. */
  eoiExitmapChanged = 0;
  readonly eoiExitBitmap = new Uint32Array(8);
  /** Set by vcpu_migrate: move to this CPU when descheduled (-1: none). */
  migrateTo = -1;
  /** The CPU whose VMCS state it last ran with (v->arch.hvm.vmx.active_cpu). */
  lastCpu = -1;
  /** Counters: vcpu_kick calls, wakeups by the PI wakeup handler, times it blocked. */
  kicks = 0;
  piWakeups = 0;
  blocks = 0;

  constructor(
    readonly domain: Domain,
    readonly id: number,
    processor: number,
    readonly vmcs: Vmcs,
    readonly vlapic: Lapic,
    readonly guest: GuestCpu,
    readonly box: GuestMailbox,
    readonly piDesc: PiDesc,
    readonly piDescAddr: number,
  ) {
    this.processor = processor;
  }

  get label(): string {
    return `d${this.domain.id}v${this.id}`;
  }

  get blocked(): boolean {
    return (this.pauseFlags & _VPF_blocked) !== 0;
  }

  /** vcpu_runnable(): no pause flags and not paused. */
  get runnable(): boolean {
    return this.pauseFlags === 0 && this.pauseCount === 0 && this.domain.pauseCount === 0;
  }

  get runstate(): Runstate {
    if (this.isRunning) return 'running';
    if (this.runnable) return 'runnable';
    if (this.blocked && this.pauseCount === 0 && this.domain.pauseCount === 0 && (this.pauseFlags & _VPF_down) === 0) return 'blocked';
    return 'offline';
  }
}

/** HVM_IRQ_DPCI_* flags of struct hvm_pirq_dpci. */
export const HVM_IRQ_DPCI_MACH_PCI = 1 << 0;
export const HVM_IRQ_DPCI_MACH_MSI = 1 << 1;
export const HVM_IRQ_DPCI_MAPPED = 1 << 2;
export const HVM_IRQ_DPCI_GUEST_PCI = 1 << 4;
export const HVM_IRQ_DPCI_GUEST_MSI = 1 << 5;

/** struct hvm_pirq_dpci (plus the struct pirq it lives in). */
export class PirqDpci {
  flags = 0;
  /** gmsi: guest vector, gflags (without UNMASKED), the single destination vCPU (-1: none), posted. */
  gvec = 0;
  gflags = 0;
  destVcpuId = -1;
  posted = false;
  masked = false;
  /** STATE_SCHED: queued on a CPU's dpci list. */
  sched = false;
  /** Host irq this pirq is mapped to (domain_pirq_to_irq), -1 when unmapped. */
  irq = -1;

  constructor(
    readonly domain: Domain,
    readonly pirq: number,
  ) {}
}

export class Domain {
  readonly vcpus: Vcpu[] = [];
  pauseCount = 0;
  /** d->arch.hvm.pi_ops */
  piFlags = 0;
  piVcpuBlock = false;
  /** Devices assigned (reassign_device_ownership). */
  readonly devices = new Set<PciFunction>();
  /** pirq -> its state; nr_pirqs bounds the namespace. */
  readonly pirqs = new Map<number, PirqDpci>();
  /** hvm_domain_irq(d)->round_robin_prev_vcpu */
  roundRobinPrevVcpu = 0;
  /** Whether the domain has a dpci struct yet (allocated at the first pt_irq_create_bind). */
  hasDpci = false;
  /** is_iommu_enabled(d): created with the IOMMU (passthrough possible). */
  iommuEnabled = false;

  constructor(
    readonly id: number,
    readonly isHvm: boolean,
    readonly nrPirqs: number,
  ) {}
}
