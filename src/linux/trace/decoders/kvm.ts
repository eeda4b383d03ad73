// Names for the KVM ioctls (<linux/kvm.h>, x86), one table per file kind: /dev/kvm, a VM fd and a vCPU
// fd. Numbers are unique within each table (KVM_GET_PIT2 and KVM_GET_VCPU_EVENTS share _IOR(0x9f) only
// in name, not in size, and live on different fds anyway). Ioctls of other architectures are left out.
import * as K from '../../../../include-ts/linux/kvm.js';
import { struct, u64 } from '../../../../abi/layout.js';
import { ioctlTable, type FlagSet, type IoctlDesc, type IoctlTable, type ValueNames } from '../ioctl-desc.js';

const flags = (...bits: ReadonlyArray<readonly [number, string, number?]>): FlagSet => ({ bits });

/** Names of the exports of <linux/kvm.h> that start with `prefix`, by value (first name wins). */
function namesByPrefix(prefix: string, exclude: RegExp = /^$/): ValueNames {
  const m = new Map<number, string>();
  for (const [name, v] of Object.entries(K)) {
    if (name.startsWith(prefix) && !exclude.test(name) && typeof v === 'number' && !m.has(v)) m.set(v, name);
  }
  return m;
}

/**
 * KVM_CAP_* by number: KVM_CHECK_EXTENSION's argument and kvm_enable_cap.cap. strace 6.1's list ends at
 * KVM_CAP_DIRTY_LOG_RING_ACQ_REL (223): newer ones print as their number with a `KVM_CAP_???` comment.
 */
export const KVM_CAP_NAMES: ValueNames = namesByPrefix('KVM_CAP_', /^KVM_CAP_(USER_MEMORY2|MEMORY_ATTRIBUTES|GUEST_MEMFD|GUEST_MEMFD_FLAGS|VM_TYPES)$/);
/** KVM_EXIT_* by number (kvm_run.exit_reason), for the run-loop view of the tracer. */
export const KVM_EXIT_NAMES: ValueNames = namesByPrefix('KVM_EXIT_', /^KVM_EXIT_(IO_IN|IO_OUT|HYPERV_|XEN_HCALL)/);
/** KVM_IRQ_ROUTING_* by number (kvm_irq_routing_entry.type). */
export const KVM_IRQ_ROUTING_TYPE_NAMES: ValueNames = namesByPrefix('KVM_IRQ_ROUTING_', /PRIO_2LEVEL$/);
/** kvm_irqchip.chip_id and kvm_irq_routing_irqchip.irqchip. */
export const KVM_IRQCHIP_NAMES: ValueNames = new Map([
  [K.KVM_IRQCHIP_PIC_MASTER, 'KVM_IRQCHIP_PIC_MASTER'],
  [K.KVM_IRQCHIP_PIC_SLAVE, 'KVM_IRQCHIP_PIC_SLAVE'],
  [K.KVM_IRQCHIP_IOAPIC, 'KVM_IRQCHIP_IOAPIC'],
]);
const MP_STATE_NAMES = namesByPrefix('KVM_MP_STATE_');

// strace 6.1's kvm_mem_flags has no KVM_MEM_GUEST_MEMFD (6.8).
const MEM_FLAGS: FlagSet = { ...flags([K.KVM_MEM_LOG_DIRTY_PAGES, 'KVM_MEM_LOG_DIRTY_PAGES'], [K.KVM_MEM_READONLY, 'KVM_MEM_READONLY']), unknown: 'KVM_MEM_???' };
const IRQFD_FLAGS = flags([K.KVM_IRQFD_FLAG_DEASSIGN, 'KVM_IRQFD_FLAG_DEASSIGN'], [K.KVM_IRQFD_FLAG_RESAMPLE, 'KVM_IRQFD_FLAG_RESAMPLE']);
const IOEVENTFD_FLAGS = flags(
  [K.KVM_IOEVENTFD_FLAG_DATAMATCH, 'KVM_IOEVENTFD_FLAG_DATAMATCH'],
  [K.KVM_IOEVENTFD_FLAG_PIO, 'KVM_IOEVENTFD_FLAG_PIO'],
  [K.KVM_IOEVENTFD_FLAG_DEASSIGN, 'KVM_IOEVENTFD_FLAG_DEASSIGN'],
  [K.KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY, 'KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY'],
);
const MSI_FLAGS = flags([K.KVM_MSI_VALID_DEVID, 'KVM_MSI_VALID_DEVID']);
const CLOCK_FLAGS = flags(
  [K.KVM_CLOCK_TSC_STABLE, 'KVM_CLOCK_TSC_STABLE'],
  [K.KVM_CLOCK_REALTIME, 'KVM_CLOCK_REALTIME'],
  [K.KVM_CLOCK_HOST_TSC, 'KVM_CLOCK_HOST_TSC'],
);
const PIT_CONFIG_FLAGS = flags([K.KVM_PIT_SPEAKER_DUMMY, 'KVM_PIT_SPEAKER_DUMMY']);
const PIT_STATE2_FLAGS = flags(
  [K.KVM_PIT_FLAGS_HPET_LEGACY, 'KVM_PIT_FLAGS_HPET_LEGACY'],
  [K.KVM_PIT_FLAGS_SPEAKER_DATA_ON, 'KVM_PIT_FLAGS_SPEAKER_DATA_ON'],
);
const VCPU_EVENT_FLAGS = flags(
  [K.KVM_VCPUEVENT_VALID_NMI_PENDING, 'KVM_VCPUEVENT_VALID_NMI_PENDING'],
  [K.KVM_VCPUEVENT_VALID_SIPI_VECTOR, 'KVM_VCPUEVENT_VALID_SIPI_VECTOR'],
  [K.KVM_VCPUEVENT_VALID_SHADOW, 'KVM_VCPUEVENT_VALID_SHADOW'],
  [K.KVM_VCPUEVENT_VALID_SMM, 'KVM_VCPUEVENT_VALID_SMM'],
  [K.KVM_VCPUEVENT_VALID_PAYLOAD, 'KVM_VCPUEVENT_VALID_PAYLOAD'],
  [K.KVM_VCPUEVENT_VALID_TRIPLE_FAULT, 'KVM_VCPUEVENT_VALID_TRIPLE_FAULT'],
);
const GUESTDBG_FLAGS = flags(
  [K.KVM_GUESTDBG_ENABLE, 'KVM_GUESTDBG_ENABLE'],
  [K.KVM_GUESTDBG_SINGLESTEP, 'KVM_GUESTDBG_SINGLESTEP'],
  [K.KVM_GUESTDBG_USE_SW_BP, 'KVM_GUESTDBG_USE_SW_BP'],
  [K.KVM_GUESTDBG_USE_HW_BP, 'KVM_GUESTDBG_USE_HW_BP'],
  [K.KVM_GUESTDBG_INJECT_DB, 'KVM_GUESTDBG_INJECT_DB'],
  [K.KVM_GUESTDBG_INJECT_BP, 'KVM_GUESTDBG_INJECT_BP'],
  [K.KVM_GUESTDBG_BLOCKIRQ, 'KVM_GUESTDBG_BLOCKIRQ'],
);
const CPUID_FLAGS = flags(
  [K.KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 'KVM_CPUID_FLAG_SIGNIFCANT_INDEX'],
  [K.KVM_CPUID_FLAG_STATEFUL_FUNC, 'KVM_CPUID_FLAG_STATEFUL_FUNC'],
  [K.KVM_CPUID_FLAG_STATE_READ_NEXT, 'KVM_CPUID_FLAG_STATE_READ_NEXT'],
);
const XEN_HVM_CONFIG_FLAGS = flags(
  [K.KVM_XEN_HVM_CONFIG_HYPERCALL_MSR, 'KVM_XEN_HVM_CONFIG_HYPERCALL_MSR'],
  [K.KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL, 'KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL'],
  [K.KVM_XEN_HVM_CONFIG_SHARED_INFO, 'KVM_XEN_HVM_CONFIG_SHARED_INFO'],
  [K.KVM_XEN_HVM_CONFIG_RUNSTATE, 'KVM_XEN_HVM_CONFIG_RUNSTATE'],
  [K.KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL, 'KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL'],
  [K.KVM_XEN_HVM_CONFIG_EVTCHN_SEND, 'KVM_XEN_HVM_CONFIG_EVTCHN_SEND'],
);
const MSR_FILTER_FLAGS = flags([K.KVM_MSR_FILTER_DEFAULT_DENY, 'KVM_MSR_FILTER_DEFAULT_DENY']);
const MSR_FILTER_RANGE_FLAGS = flags([K.KVM_MSR_FILTER_READ, 'KVM_MSR_FILTER_READ'], [K.KVM_MSR_FILTER_WRITE, 'KVM_MSR_FILTER_WRITE']);
const HYPERV_EVENTFD_FLAGS = flags([K.KVM_HYPERV_EVENTFD_DEASSIGN, 'KVM_HYPERV_EVENTFD_DEASSIGN']);
const SREGS2_FLAGS = flags([K.KVM_SREGS2_FLAGS_PDPTRS_VALID, 'KVM_SREGS2_FLAGS_PDPTRS_VALID']);

/** Argument of the ioctls that take a `__u64 *` (KVM_SET_IDENTITY_MAP_ADDR; strace 6.1 prints the MCE ones' pointers). */
const u64Arg = struct('__u64', { value: u64 });

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/**
 * kvm_irq_routing.entries: each entry with the union member its `type` selects (the generic printer
 * would show the first member, irqchip, for every entry).
 */
function routingEntries(bytes: Uint8Array): string {
  const r = K.kvm_irq_routing.view(bytes);
  const esz = K.kvm_irq_routing_entry.size;
  const base = K.kvm_irq_routing.offsetof('entries');
  const n = Math.min(r.nr, Math.floor((bytes.length - base) / esz));
  const out: string[] = [];
  for (let i = 0; i < Math.min(n, 16); i++) {
    const e = K.kvm_irq_routing_entry.view(bytes, base + i * esz);
    const type = KVM_IRQ_ROUTING_TYPE_NAMES.get(e.type) ?? String(e.type);
    let u: string;
    switch (e.type) {
      case K.KVM_IRQ_ROUTING_IRQCHIP:
        u = `irqchip={irqchip=${KVM_IRQCHIP_NAMES.get(e.u.irqchip.irqchip) ?? e.u.irqchip.irqchip}, pin=${e.u.irqchip.pin}}`;
        break;
      case K.KVM_IRQ_ROUTING_MSI: {
        const m = e.u.msi;
        const devid = e.flags & K.KVM_MSI_VALID_DEVID ? `, devid=${m.devid}` : '';
        u = `msi={address_lo=${hex(m.address_lo)}, address_hi=${hex(m.address_hi)}, data=${hex(m.data)}${devid}}`;
        break;
      }
      case K.KVM_IRQ_ROUTING_S390_ADAPTER: {
        const a = e.u.adapter;
        u = `adapter={ind_addr=${hex(a.ind_addr)}, summary_addr=${hex(a.summary_addr)}, ind_offset=${a.ind_offset}, summary_offset=${a.summary_offset}, adapter_id=${a.adapter_id}}`;
        break;
      }
      case K.KVM_IRQ_ROUTING_HV_SINT:
        u = `hv_sint={vcpu=${e.u.hv_sint.vcpu}, sint=${e.u.hv_sint.sint}}`;
        break;
      case K.KVM_IRQ_ROUTING_XEN_EVTCHN: {
        const x = e.u.xen_evtchn;
        u = `xen_evtchn={port=${x.port}, vcpu=${x.vcpu}, priority=${x.priority}}`;
        break;
      }
      default:
        u = `pad=[${e.u.pad.toArray().join(', ')}]`;
    }
    const fl = e.flags & K.KVM_MSI_VALID_DEVID ? 'KVM_MSI_VALID_DEVID' : String(e.flags);
    out.push(`{gsi=${e.gsi}, type=${type}, flags=${fl}, u={${u}}}`);
  }
  if (n > 16) out.push('...');
  return `[${out.join(', ')}]`;
}

const REGS_HEX = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags'];
const SREGS_HEX = ['base', 'limit', 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', 'apic_base', 'interrupt_bitmap', 'pdptrs'];
const CPUID_HEX = ['function', 'index', 'eax', 'ebx', 'ecx', 'edx'];

const d = (name: string, desc: Omit<IoctlDesc, 'name'>): IoctlDesc => ({ name, ...desc });

const checkExtension = d('KVM_CHECK_EXTENSION', { arg: 'value', valueNames: KVM_CAP_NAMES, valueUnknown: 'KVM_CAP_???' });
const enableCap = d('KVM_ENABLE_CAP', { arg: 'struct', layout: K.kvm_enable_cap, values: { cap: KVM_CAP_NAMES } });
const msrList = { arg: 'struct', layout: K.kvm_msr_list, out: true, inout: true, hex: ['indices'] } as const;
const getMsrs = d('KVM_GET_MSRS', { arg: 'struct', layout: K.kvm_msrs, out: true, inout: true, hex: ['index', 'data'] });
// strace 6.1 names KVM_CREATE_DEVICE and the device-attr ioctls but does not decode their structs: the pointer.
const deviceAttr = { arg: 'ptr' } as const;
const getSupportedHvCpuid = d('KVM_GET_SUPPORTED_HV_CPUID', {
  arg: 'struct', layout: K.kvm_cpuid2, out: true, inout: true, hex: CPUID_HEX, flags: { 'entries.flags': CPUID_FLAGS },
});
// _IO, argument ignored by the kernel; strace 6.1 prints it as %#lx (`KVM_GET_STATS_FD, 0x7`).
const getStatsFd = d('KVM_GET_STATS_FD', { arg: 'value', hex: ['arg'] });

/** /dev/kvm. */
export const KVM_SYSTEM_IOCTLS: IoctlTable = ioctlTable([
  [K.KVM_GET_API_VERSION, d('KVM_GET_API_VERSION', { arg: 'none' })],
  // strace 6.1 does not decode the VM type: %#lx.
  [K.KVM_CREATE_VM, d('KVM_CREATE_VM', { arg: 'value', hex: ['arg'] })],
  [K.KVM_GET_MSR_INDEX_LIST, d('KVM_GET_MSR_INDEX_LIST', msrList)],
  [K.KVM_CHECK_EXTENSION, checkExtension],
  [K.KVM_GET_VCPU_MMAP_SIZE, d('KVM_GET_VCPU_MMAP_SIZE', { arg: 'none' })],
  [K.KVM_GET_SUPPORTED_CPUID, d('KVM_GET_SUPPORTED_CPUID', {
    arg: 'struct', layout: K.kvm_cpuid2, out: true, inout: true, hex: CPUID_HEX, flags: { 'entries.flags': CPUID_FLAGS },
  })],
  [K.KVM_GET_EMULATED_CPUID, d('KVM_GET_EMULATED_CPUID', {
    arg: 'struct', layout: K.kvm_cpuid2, out: true, inout: true, hex: CPUID_HEX, flags: { 'entries.flags': CPUID_FLAGS },
  })],
  [K.KVM_GET_MSR_FEATURE_INDEX_LIST, d('KVM_GET_MSR_FEATURE_INDEX_LIST', msrList)],
  [K.KVM_GET_MSRS, getMsrs],
  [K.KVM_X86_GET_MCE_CAP_SUPPORTED, d('KVM_X86_GET_MCE_CAP_SUPPORTED', { arg: 'ptr' })],
  [K.KVM_GET_SUPPORTED_HV_CPUID, getSupportedHvCpuid],
  [K.KVM_SET_DEVICE_ATTR, d('KVM_SET_DEVICE_ATTR', deviceAttr)],
  [K.KVM_GET_DEVICE_ATTR, d('KVM_GET_DEVICE_ATTR', deviceAttr)],
  [K.KVM_HAS_DEVICE_ATTR, d('KVM_HAS_DEVICE_ATTR', deviceAttr)],
  // Not a /dev/kvm ioctl (EINVAL), but strace names it by number on any fd.
  [K.KVM_GET_STATS_FD, getStatsFd],
]);

/** A VM fd (from KVM_CREATE_VM). */
export const KVM_VM_IOCTLS: IoctlTable = ioctlTable([
  [K.KVM_CHECK_EXTENSION, checkExtension],
  [K.KVM_CREATE_VCPU, d('KVM_CREATE_VCPU', { arg: 'value' })],
  [K.KVM_SET_MEMORY_REGION, d('KVM_SET_MEMORY_REGION', {
    arg: 'struct', layout: K.kvm_memory_region, flags: { flags: MEM_FLAGS }, hex: ['guest_phys_addr', 'memory_size'],
  })],
  [K.KVM_SET_USER_MEMORY_REGION, d('KVM_SET_USER_MEMORY_REGION', {
    // strace 6.1: slot and memory_size %u, flags printflags(kvm_mem_flags), the addresses %#x.
    arg: 'struct', layout: K.kvm_userspace_memory_region, flags: { flags: MEM_FLAGS },
    hex: ['guest_phys_addr', 'userspace_addr'], altHex: ['guest_phys_addr', 'userspace_addr'],
  })],
  [K.KVM_GET_DIRTY_LOG, d('KVM_GET_DIRTY_LOG', { arg: 'struct', layout: K.kvm_dirty_log, hex: ['dirty_bitmap'] })],
  [K.KVM_CLEAR_DIRTY_LOG, d('KVM_CLEAR_DIRTY_LOG', { arg: 'struct', layout: K.kvm_clear_dirty_log, hex: ['dirty_bitmap'] })],
  [K.KVM_SET_NR_MMU_PAGES, d('KVM_SET_NR_MMU_PAGES', { arg: 'value' })],
  [K.KVM_GET_NR_MMU_PAGES, d('KVM_GET_NR_MMU_PAGES', { arg: 'none' })],
  [K.KVM_SET_TSS_ADDR, d('KVM_SET_TSS_ADDR', { arg: 'value' })],
  [K.KVM_SET_IDENTITY_MAP_ADDR, d('KVM_SET_IDENTITY_MAP_ADDR', { arg: 'struct', layout: u64Arg, hex: ['value'] })],
  [K.KVM_CREATE_IRQCHIP, d('KVM_CREATE_IRQCHIP', { arg: 'none' })],
  [K.KVM_IRQ_LINE, d('KVM_IRQ_LINE', { arg: 'struct', layout: K.kvm_irq_level })],
  [K.KVM_IRQ_LINE_STATUS, d('KVM_IRQ_LINE_STATUS', { arg: 'struct', layout: K.kvm_irq_level, out: true, inout: true })],
  [K.KVM_GET_IRQCHIP, d('KVM_GET_IRQCHIP', {
    arg: 'struct', layout: K.kvm_irqchip, out: true, inout: true, values: { chip_id: KVM_IRQCHIP_NAMES },
  })],
  [K.KVM_SET_IRQCHIP, d('KVM_SET_IRQCHIP', { arg: 'struct', layout: K.kvm_irqchip, values: { chip_id: KVM_IRQCHIP_NAMES } })],
  [K.KVM_CREATE_PIT, d('KVM_CREATE_PIT', { arg: 'none' })],
  [K.KVM_GET_PIT, d('KVM_GET_PIT', { arg: 'struct', layout: K.kvm_pit_state, out: true })],
  [K.KVM_SET_PIT, d('KVM_SET_PIT', { arg: 'struct', layout: K.kvm_pit_state })],
  [K.KVM_REGISTER_COALESCED_MMIO, d('KVM_REGISTER_COALESCED_MMIO', { arg: 'struct', layout: K.kvm_coalesced_mmio_zone, hex: ['addr'] })],
  [K.KVM_UNREGISTER_COALESCED_MMIO, d('KVM_UNREGISTER_COALESCED_MMIO', { arg: 'struct', layout: K.kvm_coalesced_mmio_zone, hex: ['addr'] })],
  [K.KVM_SET_GSI_ROUTING, d('KVM_SET_GSI_ROUTING', { arg: 'struct', layout: K.kvm_irq_routing, formatTail: routingEntries })],
  [K.KVM_REINJECT_CONTROL, d('KVM_REINJECT_CONTROL', { arg: 'struct', layout: K.kvm_reinject_control })],
  [K.KVM_IRQFD, d('KVM_IRQFD', { arg: 'struct', layout: K.kvm_irqfd, flags: { flags: IRQFD_FLAGS } })],
  [K.KVM_CREATE_PIT2, d('KVM_CREATE_PIT2', { arg: 'struct', layout: K.kvm_pit_config, flags: { flags: PIT_CONFIG_FLAGS } })],
  [K.KVM_SET_BOOT_CPU_ID, d('KVM_SET_BOOT_CPU_ID', { arg: 'value' })],
  [K.KVM_IOEVENTFD, d('KVM_IOEVENTFD', {
    arg: 'struct', layout: K.kvm_ioeventfd, flags: { flags: IOEVENTFD_FLAGS }, hex: ['datamatch', 'addr'],
  })],
  [K.KVM_XEN_HVM_CONFIG, d('KVM_XEN_HVM_CONFIG', {
    arg: 'struct', layout: K.kvm_xen_hvm_config, flags: { flags: XEN_HVM_CONFIG_FLAGS }, hex: ['msr', 'blob_addr_32', 'blob_addr_64'],
  })],
  [K.KVM_SET_CLOCK, d('KVM_SET_CLOCK', { arg: 'struct', layout: K.kvm_clock_data, flags: { flags: CLOCK_FLAGS } })],
  [K.KVM_GET_CLOCK, d('KVM_GET_CLOCK', { arg: 'struct', layout: K.kvm_clock_data, out: true, flags: { flags: CLOCK_FLAGS } })],
  [K.KVM_GET_PIT2, d('KVM_GET_PIT2', { arg: 'struct', layout: K.kvm_pit_state2, out: true, flags: { flags: PIT_STATE2_FLAGS } })],
  [K.KVM_SET_PIT2, d('KVM_SET_PIT2', { arg: 'struct', layout: K.kvm_pit_state2, flags: { flags: PIT_STATE2_FLAGS } })],
  [K.KVM_SET_TSC_KHZ, d('KVM_SET_TSC_KHZ', { arg: 'value', hex: ['arg'] })],
  [K.KVM_GET_TSC_KHZ, d('KVM_GET_TSC_KHZ', { arg: 'none' })],
  [K.KVM_SIGNAL_MSI, d('KVM_SIGNAL_MSI', {
    arg: 'struct', layout: K.kvm_msi, flags: { flags: MSI_FLAGS }, hex: ['address_lo', 'address_hi', 'data'],
  })],
  [K.KVM_SET_PMU_EVENT_FILTER, d('KVM_SET_PMU_EVENT_FILTER', { arg: 'struct', layout: K.kvm_pmu_event_filter, hex: ['events'] })],
  [K.KVM_CREATE_DEVICE, d('KVM_CREATE_DEVICE', { arg: 'ptr' })],
  [K.KVM_SET_DEVICE_ATTR, d('KVM_SET_DEVICE_ATTR', deviceAttr)],
  [K.KVM_GET_DEVICE_ATTR, d('KVM_GET_DEVICE_ATTR', deviceAttr)],
  [K.KVM_HAS_DEVICE_ATTR, d('KVM_HAS_DEVICE_ATTR', deviceAttr)],
  [K.KVM_ENABLE_CAP, enableCap],
  [K.KVM_MEMORY_ENCRYPT_OP, d('KVM_MEMORY_ENCRYPT_OP', { arg: 'struct', layout: K.kvm_sev_cmd, out: true, inout: true, hex: ['data'] })],
  [K.KVM_MEMORY_ENCRYPT_REG_REGION, d('KVM_MEMORY_ENCRYPT_REG_REGION', { arg: 'struct', layout: K.kvm_enc_region, hex: ['addr', 'size'] })],
  [K.KVM_MEMORY_ENCRYPT_UNREG_REGION, d('KVM_MEMORY_ENCRYPT_UNREG_REGION', { arg: 'struct', layout: K.kvm_enc_region, hex: ['addr', 'size'] })],
  [K.KVM_HYPERV_EVENTFD, d('KVM_HYPERV_EVENTFD', { arg: 'struct', layout: K.kvm_hyperv_eventfd, flags: { flags: HYPERV_EVENTFD_FLAGS } })],
  [K.KVM_X86_SET_MSR_FILTER, d('KVM_X86_SET_MSR_FILTER', {
    arg: 'struct', layout: K.kvm_msr_filter, flags: { flags: MSR_FILTER_FLAGS, 'ranges.flags': MSR_FILTER_RANGE_FLAGS },
    hex: ['base', 'bitmap'],
  })],
  [K.KVM_RESET_DIRTY_RINGS, d('KVM_RESET_DIRTY_RINGS', { arg: 'none' })],
  [K.KVM_XEN_HVM_GET_ATTR, d('KVM_XEN_HVM_GET_ATTR', { arg: 'struct', layout: K.kvm_xen_hvm_attr, out: true, inout: true })],
  [K.KVM_XEN_HVM_SET_ATTR, d('KVM_XEN_HVM_SET_ATTR', { arg: 'struct', layout: K.kvm_xen_hvm_attr })],
  [K.KVM_XEN_HVM_EVTCHN_SEND, d('KVM_XEN_HVM_EVTCHN_SEND', { arg: 'struct', layout: K.kvm_irq_routing_xen_evtchn })],
  [K.KVM_GET_STATS_FD, getStatsFd],
]);

/** A vCPU fd (from KVM_CREATE_VCPU). */
export const KVM_VCPU_IOCTLS: IoctlTable = ioctlTable([
  [K.KVM_RUN, d('KVM_RUN', { arg: 'none' })],
  [K.KVM_GET_REGS, d('KVM_GET_REGS', { arg: 'struct', layout: K.kvm_regs, out: true, hex: REGS_HEX })],
  [K.KVM_SET_REGS, d('KVM_SET_REGS', { arg: 'struct', layout: K.kvm_regs, hex: REGS_HEX })],
  [K.KVM_GET_SREGS, d('KVM_GET_SREGS', { arg: 'struct', layout: K.kvm_sregs, out: true, hex: SREGS_HEX })],
  [K.KVM_SET_SREGS, d('KVM_SET_SREGS', { arg: 'struct', layout: K.kvm_sregs, hex: SREGS_HEX })],
  [K.KVM_TRANSLATE, d('KVM_TRANSLATE', {
    arg: 'struct', layout: K.kvm_translation, out: true, inout: true, hex: ['linear_address', 'physical_address'],
  })],
  [K.KVM_INTERRUPT, d('KVM_INTERRUPT', { arg: 'struct', layout: K.kvm_interrupt })],
  [K.KVM_GET_MSRS, getMsrs],
  [K.KVM_SET_MSRS, d('KVM_SET_MSRS', { arg: 'struct', layout: K.kvm_msrs, hex: ['index', 'data'] })],
  [K.KVM_SET_CPUID, d('KVM_SET_CPUID', { arg: 'struct', layout: K.kvm_cpuid, hex: CPUID_HEX })],
  [K.KVM_SET_SIGNAL_MASK, d('KVM_SET_SIGNAL_MASK', { arg: 'struct', layout: K.kvm_signal_mask, hex: ['sigset'] })],
  [K.KVM_GET_FPU, d('KVM_GET_FPU', { arg: 'struct', layout: K.kvm_fpu, out: true, hex: ['fcw', 'fsw', 'ftwx', 'last_ip', 'last_dp', 'mxcsr'] })],
  [K.KVM_SET_FPU, d('KVM_SET_FPU', { arg: 'struct', layout: K.kvm_fpu, hex: ['fcw', 'fsw', 'ftwx', 'last_ip', 'last_dp', 'mxcsr'] })],
  [K.KVM_GET_LAPIC, d('KVM_GET_LAPIC', { arg: 'struct', layout: K.kvm_lapic_state, out: true, hex: ['regs'] })],
  [K.KVM_SET_LAPIC, d('KVM_SET_LAPIC', { arg: 'struct', layout: K.kvm_lapic_state, hex: ['regs'] })],
  [K.KVM_SET_CPUID2, d('KVM_SET_CPUID2', { arg: 'struct', layout: K.kvm_cpuid2, hex: CPUID_HEX, flags: { 'entries.flags': CPUID_FLAGS } })],
  [K.KVM_GET_CPUID2, d('KVM_GET_CPUID2', {
    arg: 'struct', layout: K.kvm_cpuid2, out: true, inout: true, hex: CPUID_HEX, flags: { 'entries.flags': CPUID_FLAGS },
  })],
  [K.KVM_TPR_ACCESS_REPORTING, d('KVM_TPR_ACCESS_REPORTING', { arg: 'struct', layout: K.kvm_tpr_access_ctl, out: true, inout: true })],
  [K.KVM_SET_VAPIC_ADDR, d('KVM_SET_VAPIC_ADDR', { arg: 'struct', layout: K.kvm_vapic_addr, hex: ['vapic_addr'] })],
  [K.KVM_GET_MP_STATE, d('KVM_GET_MP_STATE', { arg: 'struct', layout: K.kvm_mp_state, out: true, values: { mp_state: MP_STATE_NAMES } })],
  [K.KVM_SET_MP_STATE, d('KVM_SET_MP_STATE', { arg: 'struct', layout: K.kvm_mp_state, values: { mp_state: MP_STATE_NAMES } })],
  [K.KVM_NMI, d('KVM_NMI', { arg: 'none' })],
  [K.KVM_SET_GUEST_DEBUG, d('KVM_SET_GUEST_DEBUG', {
    arg: 'struct', layout: K.kvm_guest_debug, flags: { control: GUESTDBG_FLAGS }, hex: ['debugreg'],
  })],
  [K.KVM_X86_SETUP_MCE, d('KVM_X86_SETUP_MCE', { arg: 'ptr' })],
  [K.KVM_X86_SET_MCE, d('KVM_X86_SET_MCE', { arg: 'ptr' })],
  [K.KVM_GET_VCPU_EVENTS, d('KVM_GET_VCPU_EVENTS', { arg: 'struct', layout: K.kvm_vcpu_events, out: true, flags: { flags: VCPU_EVENT_FLAGS } })],
  [K.KVM_SET_VCPU_EVENTS, d('KVM_SET_VCPU_EVENTS', { arg: 'struct', layout: K.kvm_vcpu_events, flags: { flags: VCPU_EVENT_FLAGS } })],
  [K.KVM_GET_DEBUGREGS, d('KVM_GET_DEBUGREGS', { arg: 'struct', layout: K.kvm_debugregs, out: true, hex: ['db', 'dr6', 'dr7'] })],
  [K.KVM_SET_DEBUGREGS, d('KVM_SET_DEBUGREGS', { arg: 'struct', layout: K.kvm_debugregs, hex: ['db', 'dr6', 'dr7'] })],
  [K.KVM_ENABLE_CAP, enableCap],
  [K.KVM_GET_XSAVE, d('KVM_GET_XSAVE', { arg: 'struct', layout: K.kvm_xsave, out: true, hex: ['region'] })],
  [K.KVM_SET_XSAVE, d('KVM_SET_XSAVE', { arg: 'struct', layout: K.kvm_xsave, hex: ['region'] })],
  [K.KVM_GET_XSAVE2, d('KVM_GET_XSAVE2', { arg: 'struct', layout: K.kvm_xsave, out: true, hex: ['region', 'extra'] })],
  [K.KVM_GET_XCRS, d('KVM_GET_XCRS', { arg: 'struct', layout: K.kvm_xcrs, out: true, hex: ['value'] })],
  [K.KVM_SET_XCRS, d('KVM_SET_XCRS', { arg: 'struct', layout: K.kvm_xcrs, hex: ['value'] })],
  [K.KVM_KVMCLOCK_CTRL, d('KVM_KVMCLOCK_CTRL', { arg: 'none' })],
  [K.KVM_GET_ONE_REG, d('KVM_GET_ONE_REG', { arg: 'struct', layout: K.kvm_one_reg, hex: ['id', 'addr'] })],
  [K.KVM_SET_ONE_REG, d('KVM_SET_ONE_REG', { arg: 'struct', layout: K.kvm_one_reg, hex: ['id', 'addr'] })],
  [K.KVM_SMI, d('KVM_SMI', { arg: 'none' })],
  [K.KVM_GET_NESTED_STATE, d('KVM_GET_NESTED_STATE', { arg: 'struct', layout: K.kvm_nested_state, out: true, inout: true })],
  [K.KVM_SET_NESTED_STATE, d('KVM_SET_NESTED_STATE', { arg: 'struct', layout: K.kvm_nested_state })],
  [K.KVM_GET_SUPPORTED_HV_CPUID, getSupportedHvCpuid],
  [K.KVM_GET_SREGS2, d('KVM_GET_SREGS2', { arg: 'struct', layout: K.kvm_sregs2, out: true, hex: SREGS_HEX, flags: { flags: SREGS2_FLAGS } })],
  [K.KVM_SET_SREGS2, d('KVM_SET_SREGS2', { arg: 'struct', layout: K.kvm_sregs2, hex: SREGS_HEX, flags: { flags: SREGS2_FLAGS } })],
  [K.KVM_XEN_VCPU_GET_ATTR, d('KVM_XEN_VCPU_GET_ATTR', { arg: 'struct', layout: K.kvm_xen_vcpu_attr, out: true, inout: true })],
  [K.KVM_XEN_VCPU_SET_ATTR, d('KVM_XEN_VCPU_SET_ATTR', { arg: 'struct', layout: K.kvm_xen_vcpu_attr })],
  [K.KVM_SET_TSC_KHZ, d('KVM_SET_TSC_KHZ', { arg: 'value', hex: ['arg'] })],
  [K.KVM_GET_TSC_KHZ, d('KVM_GET_TSC_KHZ', { arg: 'none' })],
  [K.KVM_SET_DEVICE_ATTR, d('KVM_SET_DEVICE_ATTR', deviceAttr)],
  [K.KVM_GET_DEVICE_ATTR, d('KVM_GET_DEVICE_ATTR', deviceAttr)],
  [K.KVM_HAS_DEVICE_ATTR, d('KVM_HAS_DEVICE_ATTR', deviceAttr)],
  [K.KVM_GET_STATS_FD, getStatsFd],
]);
