// The x86 VM and vCPU ioctls (arch/x86/kvm/x86.c: kvm_arch_vm_ioctl, kvm_vm_ioctl_enable_cap,
// kvm_vm_ioctl_check_extension, kvm_vm_ioctl_irq_line, kvm_vm_ioctl_get/set_irqchip,
// kvm_arch_vcpu_ioctl, kvm_arch_vcpu_ioctl_get/set_mpstate, __get/__set_sregs_common).
//
// KVM_CREATE_IRQCHIP: EEXIST if an irqchip (full or split) exists, EINVAL once a vCPU was created;
// creates the 8259 pair, the IOAPIC and the default routes; vCPUs created afterwards get a LAPIC.
// KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP): flags must be 0; args[0] (reserved IOAPIC pins) at most
// 4096 [E] -> else EINVAL; an irqchip already there or a vCPU created -> EEXIST; empty routing.
// KVM_ENABLE_CAP(KVM_CAP_X2APIC_API): unknown bits -> EINVAL; enable-suppress-EOI-broadcast needs a
// split irqchip and excludes disable-suppress [E]. KVM_GET/SET_IRQCHIP: ENXIO without a full irqchip,
// chip_id >= 3 -> EINVAL. KVM_IRQ_LINE(_STATUS): ENXIO without an irqchip; any GSI is accepted.

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getS32, getU32, getU64, getU64n, setU32, setU64n } from '../../../abi/bytes.js';
import {
  KVM_CAP_CHECK_EXTENSION_VM, KVM_CAP_DESTROY_MEMORY_REGION_WORKS, KVM_CAP_ENABLE_CAP_VM, KVM_CAP_HALT_POLL, KVM_CAP_HLT,
  KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_IOAPIC_POLARITY_IGNORED, KVM_CAP_IOEVENTFD, KVM_CAP_IOEVENTFD_ANY_LENGTH,
  KVM_CAP_IOEVENTFD_NO_LENGTH, KVM_CAP_IRQCHIP, KVM_CAP_IRQFD, KVM_CAP_IRQFD_RESAMPLE, KVM_CAP_IRQ_INJECT_STATUS,
  KVM_CAP_IRQ_ROUTING, KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, KVM_CAP_MAX_VCPUS, KVM_CAP_MAX_VCPU_ID, KVM_CAP_MP_STATE,
  KVM_CAP_NR_MEMSLOTS, KVM_CAP_NR_VCPUS, KVM_CAP_READONLY_MEM, KVM_CAP_SIGNAL_MSI, KVM_CAP_SPLIT_IRQCHIP,
  KVM_CAP_SYNC_MMU, KVM_CAP_USER_MEMORY, KVM_CAP_X2APIC_API, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER,
  KVM_IRQCHIP_PIC_SLAVE, KVM_MP_STATE_AP_RESET_HOLD, KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED,
  KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_SIPI_RECEIVED, KVM_MP_STATE_UNINITIALIZED, kvm_enable_cap, kvm_irq_level,
  kvm_irqchip, kvm_sregs,
} from '../../../include-ts/linux/kvm.js';
import { LAPIC_EVENT_SIPI, LAPIC_REGS_BYTES } from '../../hw/x86/lapic.js';
import {
  KVM_IRQCHIP_KERNEL, KVM_IRQCHIP_NONE, KVM_IRQCHIP_SPLIT, KVM_MAX_IRQ_ROUTES, KVM_MAX_VCPUS, KVM_MAX_VCPU_IDS,
  KVM_USERSPACE_IRQ_SOURCE_ID, KVM_USER_MEM_SLOTS, KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK, KVM_X2APIC_API_USE_32BIT_IDS,
  KVM_X2APIC_API_VALID_FLAGS, KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST, KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST,
  MAX_NR_RESERVED_IOAPIC_PINS,
} from './kvm-host.js';
import { defaultRoutes, kvmSetIrq, RoutingTable, setIrqRouting } from './irqchip.js';
import { KvmIoapic } from './ioapic.js';
import { KvmPic } from './i8259.js';
import { KVM_MSIX_MAX_TABLES } from './msix-table/tables.js';
import { KVM_CAP_MSIX_TABLE } from '../../../include-ts/proposed/kvm_msix_table.js';
import type { KvmVcpu } from './vcpu.js';
import type { Kvm, KvmModule } from './vm.js';
import {
  apicBaseRefusal, kvmApicSetBase, kvmGetApicBase, kvmGetCr8, kvmSetCr8, regsFromBytes, regsToBytes,
} from './x86-regs.js';

/**
 * kvm_vm_ioctl_check_extension_generic() + the x86 part: what this model implements, with the values
 * a 6.18 host reports for them [E]. Capabilities of features the model does not implement report 0.
 */
export function checkExtension(module: KvmModule, kvm: Kvm | null, cap: number): number {
  switch (cap) {
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
      return 1;
    case KVM_CAP_NR_VCPUS:
      return Math.min(module.onlineCpus, KVM_MAX_VCPUS);
    case KVM_CAP_MAX_VCPUS:
      return KVM_MAX_VCPUS;
    case KVM_CAP_MAX_VCPU_ID:
      return KVM_MAX_VCPU_IDS;
    case KVM_CAP_NR_MEMSLOTS:
      return KVM_USER_MEM_SLOTS;
    case KVM_CAP_IRQ_ROUTING:
      return KVM_MAX_IRQ_ROUTES;
    case KVM_CAP_MSIX_TABLE:
      // The proposed in-kernel MSI-X table: how many tables a VM may define.
      return KVM_MSIX_MAX_TABLES;
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

/** KVM_ENABLE_CAP on a VM fd (kvm_vm_ioctl_enable_cap_generic + kvm_vm_ioctl_enable_cap). */
export function enableCap(kvm: Kvm, arg: UserArg): number {
  const b = arg.user(kvm_enable_cap.size);
  const cap = getU32(b, 0);
  const flags = getU32(b, 4);
  const args0 = getU64(b, kvm_enable_cap.offsetof('args'));
  if (cap === KVM_CAP_HALT_POLL) {
    if (flags || args0 > 0xffff_ffffn) throw kerr('EINVAL', 'KVM_CAP_HALT_POLL takes flags 0 and a 32-bit args[0]');
    return 0;
  }
  if (flags) throw kerr('EINVAL', `kvm_enable_cap.flags must be 0 (got 0x${flags.toString(16)})`);
  switch (cap) {
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
      kvm.x2apicApiFlags |= a;
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

export function getLapic(v: KvmVcpu, arg: UserArg): number {
  if (!v.lapic) throw kerr('EINVAL', 'the vCPU has no in-kernel LAPIC (create the irqchip before the vCPU)');
  v.lapic.getState(arg.user(LAPIC_REGS_BYTES));
  return 0;
}

export function setLapic(v: KvmVcpu, arg: UserArg): number {
  if (!v.lapic) throw kerr('EINVAL', 'the vCPU has no in-kernel LAPIC (create the irqchip before the vCPU)');
  v.lapic.setState(arg.user(LAPIC_REGS_BYTES));
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

/**
 * __get_sregs_common(): cr8 is kvm_get_cr8() (TPR[7:4], or the vCPU's CR8 without an in-kernel LAPIC);
 * apic_base is vcpu->arch.apic_base (the LAPIC's, or the vCPU's own without one).
 */
export function getSregs(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_sregs.size);
  b.set(v.sregs);
  setU64n(b, SREGS_APIC_BASE, kvmGetApicBase(v));
  setU64n(b, SREGS_CR8, kvmGetCr8(v));
  return 0;
}

/**
 * __set_sregs_common(): only IA32_APIC_BASE is checked (kvm_apic_set_base(vcpu, apic_base, true):
 * reserved bits, invalid mode), before anything is set: EINVAL, and nothing changes. It is kept with or
 * without an in-kernel LAPIC. cr8 goes through kvm_set_cr8(), whose refusal of reserved bits is
 * ignored: the call succeeds and CR8 (TPR) keeps its value.
 */
export function setSregs(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_sregs.size);
  const base = getU64(b, SREGS_APIC_BASE);
  const why = apicBaseRefusal(v, base);
  if (why !== null) throw kerr('EINVAL', `apic_base 0x${base.toString(16)} is refused: ${why}; no register was changed`);
  v.sregs.set(b);
  kvmApicSetBase(v, base);
  kvmSetCr8(v, getU64n(b, SREGS_CR8));
  return 0;
}

export function getMpState(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(4);
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
