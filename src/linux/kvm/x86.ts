// The x86 VM and vCPU ioctls (arch/x86/kvm/x86.c: kvm_arch_vm_ioctl, kvm_vm_ioctl_enable_cap,
// kvm_vm_ioctl_check_extension, kvm_vm_ioctl_irq_line, kvm_vm_ioctl_get/set_irqchip,
// kvm_arch_vcpu_ioctl, kvm_arch_vcpu_ioctl_get/set_mpstate, __get/__set_sregs(_common), kvm_is_valid_sregs).
//
// KVM_CREATE_IRQCHIP: EEXIST if an irqchip (full or split) exists, EINVAL once a vCPU was created;
// creates the 8259 pair, the IOAPIC and the default routes; vCPUs created afterwards get a LAPIC.
// KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP): flags must be 0; args[0] (reserved IOAPIC pins) at most
// 4096 [E] -> else EINVAL; an irqchip already there or a vCPU created -> EEXIST; empty routing.
// KVM_ENABLE_CAP(KVM_CAP_X2APIC_API): unknown bits -> EINVAL; enable-suppress-EOI-broadcast needs a
// split irqchip and excludes disable-suppress [E]. KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR): args[0]
// with bits other than KVM_MSR_EXIT_REASON_VALID_MASK -> EINVAL (guest-msr.ts). KVM_GET/SET_IRQCHIP: ENXIO without a full irqchip,
// chip_id >= 3 -> EINVAL. KVM_IRQ_LINE(_STATUS): ENXIO without an irqchip; any GSI is accepted.

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getS32, getU16, getU32, getU64, getU64n, setU32, setU64, setU64n } from '../../../abi/bytes.js';
import {
  X86_CR0_CD, X86_CR0_NW, X86_CR0_PE, X86_CR0_PG, X86_CR4_DE, X86_CR4_FSGSBASE, X86_CR4_MCE, X86_CR4_OSFXSR,
  X86_CR4_OSXMMEXCPT, X86_CR4_OSXSAVE, X86_CR4_PAE, X86_CR4_PCE, X86_CR4_PGE, X86_CR4_PKE, X86_CR4_PSE, X86_CR4_PVI,
  X86_CR4_SMAP, X86_CR4_SMEP, X86_CR4_TSD, X86_CR4_UMIP, X86_CR4_VME,
} from '../../../include-ts/asm/processor-flags.js';
import { EFER_LMA, EFER_LME } from '../../hw/x86/msr-index.js';
import { APIC_ICR, APIC_ICR2, APIC_ID, APIC_LDR, APIC_SPIV, MSR_IA32_APICBASE_BSP } from '../../hw/x86/apicdef.js';
import {
  KVM_CAP_CHECK_EXTENSION_VM, KVM_CAP_DEBUGREGS, KVM_CAP_DESTROY_MEMORY_REGION_WORKS, KVM_CAP_ENABLE_CAP_VM, KVM_CAP_HALT_POLL, KVM_CAP_HLT,
  KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_IOAPIC_POLARITY_IGNORED, KVM_CAP_IOEVENTFD, KVM_CAP_IOEVENTFD_ANY_LENGTH,
  KVM_CAP_IOEVENTFD_NO_LENGTH, KVM_CAP_IRQCHIP, KVM_CAP_IRQFD, KVM_CAP_IRQFD_RESAMPLE, KVM_CAP_IRQ_INJECT_STATUS,
  KVM_CAP_IRQ_ROUTING, KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, KVM_CAP_MAX_VCPUS, KVM_CAP_MAX_VCPU_ID, KVM_CAP_MP_STATE,
  KVM_CAP_NR_MEMSLOTS, KVM_CAP_NR_VCPUS, KVM_CAP_READONLY_MEM, KVM_CAP_SIGNAL_MSI, KVM_CAP_SPLIT_IRQCHIP,
  KVM_CAP_SYNC_MMU, KVM_CAP_USER_MEMORY, KVM_CAP_X2APIC_API, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER,
  KVM_IRQCHIP_PIC_SLAVE, KVM_MP_STATE_AP_RESET_HOLD, KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED,
  KVM_CAP_EXT_CPUID, KVM_CAP_EXT_EMUL_CPUID, KVM_CAP_VCPU_EVENTS, KVM_CAP_USER_NMI, KVM_CAP_EXCEPTION_PAYLOAD,
  KVM_CAP_X86_TRIPLE_FAULT_EVENT, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_CAP_SET_IDENTITY_MAP_ADDR, KVM_CAP_SET_TSS_ADDR,
  KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_SIPI_RECEIVED, KVM_MP_STATE_UNINITIALIZED, kvm_enable_cap, kvm_irq_level,
  kvm_debugregs, kvm_irqchip, kvm_sregs,
} from '../../../include-ts/linux/kvm.js';
import { LAPIC_EVENT_SIPI, LAPIC_REGS_BYTES, x2apicLdr } from '../../hw/x86/lapic.js';
import {
  KVM_IRQCHIP_KERNEL, KVM_IRQCHIP_NONE, KVM_IRQCHIP_SPLIT, KVM_MAX_IRQ_ROUTES, KVM_MAX_VCPUS, KVM_MAX_VCPU_IDS,
  KVM_USERSPACE_IRQ_SOURCE_ID, KVM_USER_MEM_SLOTS, KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK, KVM_X2APIC_API_USE_32BIT_IDS,
  KVM_X2APIC_API_VALID_FLAGS, KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST, KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST, KVM_SUPPRESS_EOI_BROADCAST_DISABLED, KVM_SUPPRESS_EOI_BROADCAST_ENABLED,
  MAX_NR_RESERVED_IOAPIC_PINS,
} from './kvm-host.js';
import { acceptEvents } from './x86-run.js';
import { defaultRoutes, kvmSetIrq, RoutingTable, setIrqRouting } from './irqchip.js';
import { KvmIoapic } from './ioapic.js';
import { KvmPic } from './i8259.js';
import { KVM_MSIX_MAX_TABLES } from './msix-table/tables.js';
import { KVM_MAX_MCE_BANKS } from './mce.js';
import { KVM_CAP_MSIX_TABLE } from '../../../include-ts/proposed/kvm_msix_table.js';
import * as KC from '../../../include-ts/linux/kvm.js';
import { KVM_CLOCK_VALID_FLAGS } from './kvmclock.js';
import { HAS_TSC_CONTROL } from './tsc.js';
import type { KvmVcpu } from './vcpu.js';
import { enableManualDirtyLogProtect, KVM_DIRTY_LOG_MANUAL_CAPS } from './dirty-log.js';
import type { Kvm, KvmModule } from './vm.js';
import {
  apicBaseRefusal, kvmApicSetBase, kvmGetApicBase, kvmGetCr8, kvmRipRead, kvmSetCr8, regsFromBytes, regsToBytes,
} from './x86-regs.js';
import { RESET_RIP, SREGS_CS_BASE, SREGS_CS_SELECTOR } from './x86-reset.js';
import { KVM_CAP_XCRS, KVM_CAP_XSAVE, KVM_CAP_XSAVE2 } from '../../../include-ts/linux/kvm.js';
import { xsave2Size } from './fpu.js';
import { kvmApicSetVersion } from './cpuid.js';
import { KVM_SUPPORTED_VM_TYPES } from './vm-type.js';
import { KVM_GMEM_SUPPORTED_FLAGS } from './guest-memfd.js';
import { KVM_MSR_EXIT_REASON_VALID_MASK } from './guest-msr.js';
import { KVM_COALESCED_MMIO_PAGE_OFFSET } from './coalesced-mmio.js';
import { enforcePvFeatureCpuid } from './pv-msrs.js';
import { enableDirtyLogRing, KVM_DIRTY_RING_MAX_BYTES } from './dirty-ring.js';

/**
 * kvm_vm_ioctl_check_extension_generic() + the x86 part: what this model implements, with the values
 * a 6.18 host reports for them [E]. Capabilities of features the model does not implement report 0.
 */
export function checkExtension(module: KvmModule, kvm: Kvm | null, cap: number): number {
  switch (cap) {
    case KC.KVM_CAP_COALESCED_MMIO:
      return KVM_COALESCED_MMIO_PAGE_OFFSET;
    case KC.KVM_CAP_COALESCED_PIO:
      return 1;
    case KVM_CAP_IRQCHIP:
    case KVM_CAP_HLT:
    case KVM_CAP_USER_MEMORY:
    case KVM_CAP_MP_STATE:
    case KVM_CAP_SYNC_MMU:
    case KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
    case KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
    case KVM_CAP_IRQ_INJECT_STATUS:
    case KVM_CAP_IRQFD:
    case KVM_CAP_IOEVENTFD:
    case KVM_CAP_SIGNAL_MSI:
    case KVM_CAP_READONLY_MEM:
    case KVM_CAP_IRQFD_RESAMPLE:
    case KVM_CAP_IOAPIC_POLARITY_IGNORED:
    case KVM_CAP_ENABLE_CAP_VM:
    case KVM_CAP_IOEVENTFD_NO_LENGTH:
    case KVM_CAP_CHECK_EXTENSION_VM:
    case KVM_CAP_SPLIT_IRQCHIP:
    case KVM_CAP_IOEVENTFD_ANY_LENGTH:
    case KVM_CAP_IMMEDIATE_EXIT:
    case KVM_CAP_HALT_POLL:
    case KVM_CAP_EXT_CPUID:
    case KVM_CAP_EXT_EMUL_CPUID:
    case KVM_CAP_SET_TSS_ADDR:
    case KVM_CAP_SET_IDENTITY_MAP_ADDR:
    case KVM_CAP_DEBUGREGS:
    case KC.KVM_CAP_GET_TSC_KHZ:
    case KC.KVM_CAP_VCPU_ATTRIBUTES:
    case KVM_CAP_VCPU_EVENTS:
    case KVM_CAP_USER_NMI:
    case KVM_CAP_EXCEPTION_PAYLOAD:
    case KVM_CAP_X86_TRIPLE_FAULT_EVENT:
    case KC.KVM_CAP_X86_USER_SPACE_MSR:
    case KC.KVM_CAP_X86_MSR_FILTER:
    case KC.KVM_CAP_PIT:
    case KC.KVM_CAP_PIT2:
    case KC.KVM_CAP_PIT_STATE2:
    case KC.KVM_CAP_REINJECT_CONTROL:
    // kvm_vm_ioctl_check_extension_generic(): the stats fds (stats.ts).
    case KC.KVM_CAP_BINARY_STATS_FD:
    case KC.KVM_CAP_ENFORCE_PV_FEATURE_CPUID:
    case KC.KVM_CAP_KVMCLOCK_CTRL:
    // KVM_CREATE_DEVICE (device.ts; this host answers 1 on /dev/kvm and VM fds).
    case KC.KVM_CAP_DEVICE_CTRL:
      // KVM_CAP_INTR_SHADOW is 0 on x86 (never reported); KVM_CAP_X86_ROBUST_SINGLESTEP (1 on the host)
      // and KVM_CAP_X86_SMM (0 here: no CONFIG_KVM_SMM) describe features the model does not have.
      return 1;
    case KC.KVM_CAP_ADJUST_CLOCK:
      return KVM_CLOCK_VALID_FLAGS;
    case KC.KVM_CAP_TSC_CONTROL:
    case KC.KVM_CAP_VM_TSC_CONTROL:
      return HAS_TSC_CONTROL ? 1 : 0;
    case KVM_CAP_XSAVE:
    case KVM_CAP_XCRS:
      return 1;
    case KVM_CAP_XSAVE2:
      return xsave2Size();
    case KVM_CAP_NR_VCPUS:
      return Math.min(module.onlineCpus, KVM_MAX_VCPUS);
    case KVM_CAP_MAX_VCPUS:
      return KVM_MAX_VCPUS;
    case KC.KVM_CAP_MCE:
      return KVM_MAX_MCE_BANKS;
    case KVM_CAP_MAX_VCPU_ID:
      return KVM_MAX_VCPU_IDS;
    case KVM_CAP_NR_MEMSLOTS:
      return KVM_USER_MEM_SLOTS;
    case KC.KVM_CAP_USER_MEMORY2:
      return 1;
    case KC.KVM_CAP_VM_TYPES:
      return KVM_SUPPORTED_VM_TYPES;
    // KVM_CAP_MEMORY_ATTRIBUTES is 0 (default): no private memory (vm-type.ts). guest_memfd (guest-memfd.ts):
    case KC.KVM_CAP_GUEST_MEMFD:
      return 1;
    case KC.KVM_CAP_GUEST_MEMFD_FLAGS:
      return KVM_GMEM_SUPPORTED_FLAGS;
    case KVM_CAP_IRQ_ROUTING:
      return KVM_MAX_IRQ_ROUTES;
    case KVM_CAP_MSIX_TABLE:
      // The proposed in-kernel MSI-X table: how many tables a VM may define.
      return KVM_MSIX_MAX_TABLES;
    case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
      return KVM_DIRTY_LOG_MANUAL_CAPS;
    case KC.KVM_CAP_DIRTY_LOG_RING:
    case KC.KVM_CAP_DIRTY_LOG_RING_ACQ_REL:
      return KVM_DIRTY_RING_MAX_BYTES;
    case KC.KVM_CAP_GET_MSR_FEATURES:
      // feature-msrs.ts.
      return 1;
    case KVM_CAP_X2APIC_API:
      // Enabling suppress-EOI-broadcast needs a split irqchip: a VM without one does not offer it [E].
      return kvm === null || kvm.irqchipMode === KVM_IRQCHIP_SPLIT ? KVM_X2APIC_API_VALID_FLAGS : KVM_X2APIC_API_VALID_FLAGS & ~KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST;
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------------
// VM ioctls

/** KVM_CREATE_IRQCHIP. */
export function createIrqchip(kvm: Kvm): number {
  if (kvm.irqchipMode !== KVM_IRQCHIP_NONE) throw kerr('EEXIST', `the VM already has ${kvm.irqchipMode === KVM_IRQCHIP_SPLIT ? 'a split' : 'an in-kernel'} irqchip`);
  if (kvm.createdVcpus) throw kerr('EINVAL', `the VM already has ${kvm.createdVcpus} vCPU(s); KVM_CREATE_IRQCHIP must come before KVM_CREATE_VCPU`);
  kvm.pic = new KvmPic(kvm);
  kvm.ioapic = new KvmIoapic(kvm);
  kvm.irqchipMode = KVM_IRQCHIP_KERNEL;
  setIrqRouting(kvm, defaultRoutes());
  return 0;
}

/**
 * KVM_SET_TSS_ADDR (kvm_vm_ioctl_set_tss_addr): the three pages VMX needs for real mode without
 * unrestricted guest must sit below 4 GiB, so an address above (unsigned int)(-3 * PAGE_SIZE) is
 * EINVAL [E]. Hosts with unrestricted guest (and SVM) then store nothing: neither does the model.
 */
export function setTssAddr(addr: bigint): number {
  if (addr > 0xffff_d000n) throw kerr('EINVAL', `TSS address 0x${addr.toString(16)} leaves no room below 4 GiB for its 3 pages (the limit is 0xffffd000)`);
  return 0;
}

/**
 * KVM_SET_IDENTITY_MAP_ADDR: EINVAL once the VM has vCPUs (checked before the argument is read), then
 * EFAULT for an unreadable u64 [E]; the address is kept (VMX's EPT identity map for real mode).
 */
export function setIdentityMapAddr(kvm: Kvm, arg: UserArg): number {
  if (kvm.createdVcpus) throw kerr('EINVAL', `the VM already has ${kvm.createdVcpus} vCPU(s); KVM_SET_IDENTITY_MAP_ADDR must come before KVM_CREATE_VCPU`);
  kvm.identityMapAddr = getU64(arg.user(8), 0);
  return 0;
}

/**
 * KVM_ENABLE_CAP on a vCPU fd (kvm_vcpu_ioctl_enable_cap): flags must be 0; the model's only vCPU
 * capability is KVM_CAP_ENFORCE_PV_FEATURE_CPUID (pv-msrs.ts); any other is EINVAL.
 */
export function vcpuEnableCap(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_enable_cap.size);
  const cap = getU32(b, 0);
  const flags = getU32(b, 4);
  if (flags) throw kerr('EINVAL', `kvm_enable_cap.flags must be 0 (got 0x${flags.toString(16)})`);
  if (cap !== KC.KVM_CAP_ENFORCE_PV_FEATURE_CPUID) throw kerr('EINVAL', `capability ${cap} cannot be enabled on a vCPU (the model has KVM_CAP_ENFORCE_PV_FEATURE_CPUID only)`);
  enforcePvFeatureCpuid(v, getU64(b, kvm_enable_cap.offsetof('args')) !== 0n);
  return 0;
}

/** KVM_ENABLE_CAP on a VM fd (kvm_vm_ioctl_enable_cap_generic + kvm_vm_ioctl_enable_cap). */
export function enableCap(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_enable_cap.size);
  const cap = getU32(b, 0);
  const flags = getU32(b, 4);
  const args0 = getU64(b, kvm_enable_cap.offsetof('args'));
  if (cap === KVM_CAP_HALT_POLL) {
    if (flags || args0 > 0xffff_ffffn) throw kerr('EINVAL', 'KVM_CAP_HALT_POLL takes flags 0 and a 32-bit args[0]');
    // The VM's own maximum from now on (halt-poll.ts), instead of kvm.halt_poll_ns.
    kvm.maxHaltPollNs = Number(args0);
    kvm.overrideHaltPollNs = true;
    return 0;
  }
  // kvm_vm_ioctl_enable_cap_generic() checks no flags for the dirty ring [E].
  if (cap === KC.KVM_CAP_DIRTY_LOG_RING || cap === KC.KVM_CAP_DIRTY_LOG_RING_ACQ_REL) return enableDirtyLogRing(kvm, args0);
  if (cap === KC.KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP) throw kerr('EINVAL', 'KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP is not available on x86 (no CONFIG_NEED_KVM_DIRTY_RING_WITH_BITMAP)');
  if (flags) throw kerr('EINVAL', `kvm_enable_cap.flags must be 0 (got 0x${flags.toString(16)})`);
  switch (cap) {
    case KVM_CAP_EXCEPTION_PAYLOAD:
      // kvm->arch.exception_payload_enabled = args[0] (a bool: any non-zero value enables, 0 disables).
      kvm.exceptionPayloadEnabled = args0 !== 0n;
      return 0;
    case KVM_CAP_X86_TRIPLE_FAULT_EVENT:
      kvm.tripleFaultEvent = args0 !== 0n;
      return 0;
    case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
      return enableManualDirtyLogProtect(kvm, args0);
    case KC.KVM_CAP_X86_USER_SPACE_MSR:
      if (args0 & ~BigInt(KVM_MSR_EXIT_REASON_VALID_MASK)) throw kerr('EINVAL', `args[0] 0x${args0.toString(16)} has bits other than KVM_MSR_EXIT_REASON_INVAL|UNKNOWN|FILTER (0x${KVM_MSR_EXIT_REASON_VALID_MASK.toString(16)})`);
      kvm.userSpaceMsrMask = Number(args0);
      return 0;
    case KVM_CAP_SPLIT_IRQCHIP:
      if (args0 > BigInt(MAX_NR_RESERVED_IOAPIC_PINS)) throw kerr('EINVAL', `args[0] (reserved IOAPIC pins) ${args0} is above ${MAX_NR_RESERVED_IOAPIC_PINS}`);
      if (kvm.irqchipMode !== KVM_IRQCHIP_NONE) throw kerr('EEXIST', 'the VM already has an irqchip');
      if (kvm.createdVcpus) throw kerr('EEXIST', 'the VM already has vCPUs; KVM_CAP_SPLIT_IRQCHIP must come before KVM_CREATE_VCPU');
      kvm.irqchipMode = KVM_IRQCHIP_SPLIT;
      kvm.nrReservedIoapicPins = Number(args0);
      kvm.installRouting(new RoutingTable(0));
      return 0;
    case KVM_CAP_X2APIC_API: {
      const a = Number(args0 & 0xffff_ffffn);
      if (args0 > 0xffff_ffffn || a & ~KVM_X2APIC_API_VALID_FLAGS) throw kerr('EINVAL', `args[0] 0x${args0.toString(16)} has bits other than KVM_X2APIC_API_VALID_FLAGS (0x${KVM_X2APIC_API_VALID_FLAGS.toString(16)})`);
      if (a & KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST && a & KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST) throw kerr('EINVAL', 'suppress-EOI-broadcast cannot be enabled and disabled at once');
      if (a & KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST && kvm.irqchipMode !== KVM_IRQCHIP_SPLIT) throw kerr('EINVAL', 'enabling suppress-EOI-broadcast needs a split irqchip');
      if (a & KVM_X2APIC_API_USE_32BIT_IDS) kvm.x2apicFormat = true;
      if (a & KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK) kvm.x2apicBroadcastQuirkDisabled = true;
      if (a & KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST) kvm.suppressEoiBroadcast = KVM_SUPPRESS_EOI_BROADCAST_ENABLED;
      if (a & KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST) kvm.suppressEoiBroadcast = KVM_SUPPRESS_EOI_BROADCAST_DISABLED;
      return 0;
    }
    default:
      throw kerr('EINVAL', `capability ${cap} cannot be enabled on a VM in this model`);
  }
}

/** KVM_IRQ_LINE / KVM_IRQ_LINE_STATUS (kvm_vm_ioctl_irq_line): source 0, status written back. */
export function irqLine(kvm: Kvm, arg: UserArg, withStatus: boolean): number {
  const b = arg.user(kvm_irq_level.size);
  if (kvm.irqchipMode === KVM_IRQCHIP_NONE) throw kerr('ENXIO', 'the VM has no in-kernel irqchip');
  const irq = getU32(b, 0);
  const level = getU32(b, 4);
  const status = kvmSetIrq(kvm, KVM_USERSPACE_IRQ_SOURCE_ID, irq, level !== 0, withStatus);
  if (withStatus) setU32(b, 0, status >>> 0);
  return 0;
}

function chipName(id: number): string {
  return id === KVM_IRQCHIP_PIC_MASTER ? 'PIC master' : id === KVM_IRQCHIP_PIC_SLAVE ? 'PIC slave' : 'IOAPIC';
}

/** KVM_GET_IRQCHIP / KVM_SET_IRQCHIP. */
export function irqchipState(kvm: Kvm, arg: UserArg, set: boolean): number {
  const b = arg.user(kvm_irqchip.size);
  if (kvm.irqchipMode !== KVM_IRQCHIP_KERNEL) throw kerr('ENXIO', kvm.irqchipMode === KVM_IRQCHIP_SPLIT ? 'the IOAPIC and PIC of a split irqchip are in userspace' : 'the VM has no in-kernel irqchip');
  const id = getU32(b, 0);
  if (id > KVM_IRQCHIP_IOAPIC) throw kerr('EINVAL', `chip_id ${id} is not 0 (PIC master), 1 (PIC slave) or 2 (IOAPIC)`);
  const chip = b.subarray(kvm_irqchip.offsetof('chip'));
  if (set) {
    if (id === KVM_IRQCHIP_IOAPIC) kvm.ioapic!.setState(chip);
    else kvm.pic!.setState(id, chip);
  } else if (id === KVM_IRQCHIP_IOAPIC) kvm.ioapic!.getState(chip);
  else kvm.pic!.getState(id, chip);
  if (kvm.trace.active && set) kvm.trace.emit({ type: 'irq', t: kvm.sched.now, hop: id === KVM_IRQCHIP_IOAPIC ? 'ioapic' : 'pic', at: `vm${kvm.id}`, detail: `KVM_SET_IRQCHIP ${chipName(id)}` });
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// vCPU ioctls

/** kvm_apic_get_state(): the page, then kvm_apic_state_fixup(get). */
export function getLapic(v: KvmVcpu, arg: UserArg): number {
  const apic = v.lapic;
  if (!apic) throw kerr('EINVAL', 'the vCPU has no in-kernel LAPIC (create the irqchip before the vCPU)');
  const out = arg.user(LAPIC_REGS_BYTES);
  apic.getState(out);
  if (apic.x2apicMode) {
    // The legacy format shows the x2APIC ID where the xAPIC ID would be; the 64-bit ICR's high half is
    // copied to ICR2 for userspace.
    if (!v.kvm.x2apicFormat) setU32(out, APIC_ID, (apic.x2apicId << 24) >>> 0);
    setU32(out, APIC_ICR2, apic.icrHigh);
  }
  return 0;
}

/**
 * kvm_apic_set_state(): SPIV first, then kvm_apic_state_fixup(set) on the kernel's copy: in x2APIC mode
 * the ID must be the x2APIC ID with KVM_X2APIC_API_USE_32BIT_IDS (EINVAL, with SPIV already stored, as
 * in the kernel) and is replaced by it otherwise; LDR is derived from it; ICR2 becomes the ICR's high half.
 */
export function setLapic(v: KvmVcpu, arg: UserArg): number {
  const apic = v.lapic;
  if (!apic) throw kerr('EINVAL', 'the vCPU has no in-kernel LAPIC (create the irqchip before the vCPU)');
  const s = arg.user(LAPIC_REGS_BYTES).slice();
  apic.setSpiv(getU32(s, APIC_SPIV));
  if (apic.x2apicMode) {
    const id = apic.x2apicId;
    if (v.kvm.x2apicFormat && getU32(s, APIC_ID) !== id) {
      throw kerr('EINVAL', `vCPU ${v.vcpuId} is in x2APIC mode with KVM_X2APIC_API_USE_32BIT_IDS: kvm_lapic_state's APIC ID (0x${getU32(s, APIC_ID).toString(16)}) must be its x2APIC ID ${id} (SPIV was stored already)`);
    }
    setU32(s, APIC_ID, id);
    setU32(s, APIC_LDR, x2apicLdr(id));
    setU32(s, APIC_ICR + 4, getU32(s, APIC_ICR2));
  }
  apic.setState(s);
  // kvm_apic_set_version(): the LVR the user passed is replaced by what the vCPU and VM say now.
  kvmApicSetVersion(v);
  v.kvm.ioapic?.rtcRestoreOne(v);
  return 0;
}

export function getRegs(v: KvmVcpu, arg: UserArg): number {
  regsToBytes(v, arg.user(144));
  return 0;
}

export function setRegs(v: KvmVcpu, arg: UserArg): number {
  regsFromBytes(v, arg.user(144));
  return 0;
}

const SREGS_APIC_BASE = kvm_sregs.offsetof('apic_base');
const SREGS_CR8 = kvm_sregs.offsetof('cr8');
const SREGS_CR0 = kvm_sregs.offsetof('cr0');
const SREGS_CR3 = kvm_sregs.offsetof('cr3');
const SREGS_CR4 = kvm_sregs.offsetof('cr4');
const SREGS_EFER = kvm_sregs.offsetof('efer');
const SREGS_CS_L = kvm_sregs.offsetof('cs.l');
const SREGS_INTERRUPT_BITMAP = kvm_sregs.offsetof('interrupt_bitmap');
/** KVM_NR_INTERRUPTS: interrupt_bitmap's bits. */
const KVM_NR_INTERRUPTS = 256;

/**
 * The CR4 bits the modelled host supports (everything else is cr4_reserved_bits): the architectural
 * base (VME..OSXMMEXCPT), UMIP, FSGSBASE, OSXSAVE, SMEP, SMAP and PKE, as on the machine the
 * differential test runs on (an AMD EPYC under kvm_pvm). Host-dependent: LA57 needs a 5-level-paging
 * host, VMXE nested VMX, PCIDE is refused on this host; SMXE and the reserved bits never pass. Before
 * KVM_SET_CPUID2 the guest CPUID reserves nothing more (cr4_guest_rsvd_bits is empty).
 */
export const CR4_SUPPORTED = BigInt(
  X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE
  | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_UMIP | X86_CR4_FSGSBASE | X86_CR4_OSXSAVE | X86_CR4_SMEP | X86_CR4_SMAP
  | X86_CR4_PKE,
);

/**
 * Why kvm_is_valid_sregs() refuses `b`, or null: long mode (EFER.LME with CR0.PG) needs CR4.PAE,
 * EFER.LMA and a CR3 below MAXPHYADDR; outside it neither EFER.LMA nor a 64-bit code segment (cs.l);
 * then kvm_is_valid_cr4 (CR4_SUPPORTED, then the guest CPUID's cr4_guest_rsvd_bits) and kvm_is_valid_cr0 (no bits above 31, NW needs CD, PG needs
 * PE). EFER itself is not checked against efer_reserved_bits (KVM_SET_SREGS stores any EFER).
 */
export function sregsRefusal(v: KvmVcpu, b: Uint8Array): string | null {
  const efer = getU64(b, SREGS_EFER);
  const cr0 = getU64(b, SREGS_CR0);
  const cr4 = getU64(b, SREGS_CR4);
  const lme = (efer & BigInt(EFER_LME)) !== 0n;
  const lma = (efer & BigInt(EFER_LMA)) !== 0n;
  if (lme && cr0 & BigInt(X86_CR0_PG)) {
    if (!(cr4 & BigInt(X86_CR4_PAE))) return 'EFER.LME with CR0.PG (long mode) needs CR4.PAE';
    if (!lma) return 'EFER.LME with CR0.PG (long mode) needs EFER.LMA';
    const cr3 = getU64(b, SREGS_CR3);
    const maxPhy = v.guestCpuid.maxPhyAddr;
    if (cr3 >> maxPhy) return `cr3 0x${cr3.toString(16)} has bits at or above MAXPHYADDR (${maxPhy})`;
  } else {
    if (lma) return 'EFER.LMA is set outside long mode (it needs EFER.LME and CR0.PG)';
    if (b[SREGS_CS_L]) return 'cs.l (a 64-bit code segment) is set outside long mode';
  }
  if (cr4 & ~CR4_SUPPORTED) return `cr4 0x${cr4.toString(16)} sets bits this host does not support (0x${(cr4 & ~CR4_SUPPORTED).toString(16)})`;
  const guestRsvd = cr4 & v.guestCpuid.cr4GuestRsvd;
  if (guestRsvd) return `cr4 0x${cr4.toString(16)} sets bits whose features the guest CPUID (KVM_SET_CPUID2) lacks (0x${guestRsvd.toString(16)})`;
  if (cr0 >> 32n) return `cr0 0x${cr0.toString(16)} has bits above 31`;
  if (cr0 & BigInt(X86_CR0_NW) && !(cr0 & BigInt(X86_CR0_CD))) return 'CR0.NW without CR0.CD';
  if (cr0 & BigInt(X86_CR0_PG) && !(cr0 & BigInt(X86_CR0_PE))) return 'CR0.PG without CR0.PE';
  return null;
}

/**
 * __get_sregs_common() / __get_sregs(): cr8 is kvm_get_cr8() (TPR[7:4], or the vCPU's CR8 without an
 * in-kernel LAPIC); apic_base is vcpu->arch.apic_base (the LAPIC's, or the vCPU's own without one);
 * interrupt_bitmap has the bit of the injected interrupt, if any.
 */
export function getSregs(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_sregs.size);
  b.set(v.sregs);
  setU64n(b, SREGS_APIC_BASE, kvmGetApicBase(v));
  setU64n(b, SREGS_CR8, kvmGetCr8(v));
  if (v.injectedIrq >= 0 && !v.irqSoft) b[SREGS_INTERRUPT_BITMAP + (v.injectedIrq >> 3)] = 1 << (v.injectedIrq & 7);
  return 0;
}

/** find_first_bit() over interrupt_bitmap, or -1. */
function firstPendingVector(b: Uint8Array): number {
  for (let i = 0; i < KVM_NR_INTERRUPTS / 8; i++) {
    const byte = b[SREGS_INTERRUPT_BITMAP + i]!;
    if (byte !== 0) return i * 8 + 31 - Math.clz32(byte & -byte);
  }
  return -1;
}

/**
 * kvm_arch_vcpu_ioctl_set_sregs() -> __set_sregs(): kvm_is_valid_sregs (sregsRefusal) and
 * kvm_apic_set_base(vcpu, apic_base, true) (reserved bits, invalid mode) are checked before anything is
 * set: EINVAL, and nothing changes. apic_base is kept with or without an in-kernel LAPIC. cr8 goes
 * through kvm_set_cr8(), whose refusal of reserved bits is ignored: CR8 (TPR) keeps its value. The
 * first vector set in interrupt_bitmap becomes the injected interrupt (an empty bitmap keeps the one
 * queued before). A BSP whose state is the RESET vector (rip 0xfff0, cs 0xf000/0xffff0000, CR0.PE
 * clear) becomes runnable ("older userspace won't unhalt the vcpu on reset").
 */
export function setSregs(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_sregs.size);
  const invalid = sregsRefusal(v, b);
  if (invalid !== null) throw kerr('EINVAL', `kvm_sregs is not a valid CPU state: ${invalid}; no register was changed`);
  const base = getU64(b, SREGS_APIC_BASE);
  const why = apicBaseRefusal(v, base);
  if (why !== null) throw kerr('EINVAL', `apic_base 0x${base.toString(16)} is refused: ${why}; no register was changed`);
  v.sregs.set(b);
  v.sregs.fill(0, SREGS_INTERRUPT_BITMAP, SREGS_INTERRUPT_BITMAP + KVM_NR_INTERRUPTS / 8);
  kvmApicSetBase(v, base);
  kvmSetCr8(v, getU64n(b, SREGS_CR8));
  const vec = firstPendingVector(b);
  if (vec >= 0) {
    // kvm_queue_interrupt(vcpu, vec, false)
    v.injectedIrq = vec;
    v.irqNr = vec;
    v.irqSoft = false;
  }
  if (kvmGetApicBase(v) & MSR_IA32_APICBASE_BSP && kvmRipRead(v) === RESET_RIP && getU16(b, SREGS_CS_SELECTOR) === 0xf000
    && getU64(b, SREGS_CS_BASE) === 0xffff0000n && !(getU64(b, SREGS_CR0) & BigInt(X86_CR0_PE))) {
    v.mpState = KVM_MP_STATE_RUNNABLE;
    v.cpu.halted = false;
  }
  return 0;
}

/** kvm_arch_vcpu_ioctl_get_mpstate(): pending INIT/SIPI are accepted first (kvm_apic_accept_events). */
export function getMpState(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(4);
  acceptEvents(v);
  setU32(b, 0, v.mpState);
  return 0;
}

/** kvm_arch_vcpu_ioctl_set_mpstate(). */
export function setMpState(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(4);
  const st = getU32(b, 0);
  switch (st) {
    case KVM_MP_STATE_UNINITIALIZED:
    case KVM_MP_STATE_HALTED:
    case KVM_MP_STATE_AP_RESET_HOLD:
    case KVM_MP_STATE_INIT_RECEIVED:
    case KVM_MP_STATE_SIPI_RECEIVED:
      if (!v.lapic) throw kerr('EINVAL', `mp_state ${st} needs the in-kernel LAPIC`);
      break;
    case KVM_MP_STATE_RUNNABLE:
      break;
    default:
      throw kerr('EINVAL', `mp_state ${st} is not an x86 state`);
  }
  if (st === KVM_MP_STATE_SIPI_RECEIVED) {
    v.mpState = KVM_MP_STATE_INIT_RECEIVED;
    v.lapic!.pendingEvents |= LAPIC_EVENT_SIPI;
  } else {
    v.mpState = st;
    v.cpu.halted = st === KVM_MP_STATE_HALTED;
  }
  v.kick();
  return 0;
}

const DBG_DB = kvm_debugregs.offsetof('db');
const DBG_DR6 = kvm_debugregs.offsetof('dr6');
const DBG_DR7 = kvm_debugregs.offsetof('dr7');
const DBG_FLAGS = kvm_debugregs.offsetof('flags');

/** kvm_vcpu_ioctl_x86_get_debugregs(): the struct zeroed, then DR0-3, DR6 and DR7 as stored. */
export function getDebugregs(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_debugregs.size);
  b.fill(0);
  for (let i = 0; i < 4; i++) setU64(b, DBG_DB + i * 8, v.db[i]!);
  setU64(b, DBG_DR6, v.dr6);
  setU64n(b, DBG_DR7, v.dr7);
  return 0;
}

/**
 * kvm_vcpu_ioctl_x86_set_debugregs(): flags must be 0, DR6 and DR7 fit in 32 bits (kvm_dr6_valid,
 * kvm_dr7_valid), else EINVAL and nothing changes; the values are stored as given (no fixed bits forced).
 */
export function setDebugregs(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_debugregs.size);
  const flags = getU64(b, DBG_FLAGS);
  if (flags) throw kerr('EINVAL', `kvm_debugregs.flags 0x${flags.toString(16)} must be 0`);
  const dr6 = getU64(b, DBG_DR6);
  const dr7 = getU64(b, DBG_DR7);
  if (dr6 >> 32n) throw kerr('EINVAL', `dr6 0x${dr6.toString(16)} has bits above 31 set`);
  if (dr7 >> 32n) throw kerr('EINVAL', `dr7 0x${dr7.toString(16)} has bits above 31 set`);
  for (let i = 0; i < 4; i++) v.db[i] = getU64(b, DBG_DB + i * 8);
  v.dr6 = dr6;
  v.dr7 = Number(dr7);
  return 0;
}

/** KVM_SET_SIGNAL_MASK: NULL clears; otherwise len must be sizeof(sigset_t) = 8. */
export function setSignalMask(v: KvmVcpu, arg: UserArg): number {
  if (!arg.isBuffer && arg.value() === 0) {
    v.sigmask = null;
    return 0;
  }
  const hdr = arg.user(4);
  const len = getS32(hdr, 0);
  if (len !== 8) throw kerr('EINVAL', `kvm_signal_mask.len ${len} is not sizeof(sigset_t) (8)`);
  v.sigmask = arg.user(12).slice(4, 12);
  return 0;
}
