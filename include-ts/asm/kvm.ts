// Mirrors <asm/kvm.h> for x86-64 (linux-libc-dev 6.1): the x86 register, irqchip, CPUID, MSR and vCPU-state
// structs of KVM and their constants.
import { array, bits, flex, s64, struct, u16, u32, u64, u8, union } from '../../abi/layout.js';

/**
 * Page offsets (in pages) within the vCPU mmap: the PIO data page, the coalesced MMIO ring, the dirty ring. Then
 * the x86 exception vectors.
 */
export const KVM_PIO_PAGE_OFFSET = 1;
export const KVM_COALESCED_MMIO_PAGE_OFFSET = 2;
export const KVM_DIRTY_LOG_PAGE_OFFSET = 64;
export const DE_VECTOR = 0;
export const DB_VECTOR = 1;
export const BP_VECTOR = 3;
export const OF_VECTOR = 4;
export const BR_VECTOR = 5;
export const UD_VECTOR = 6;
export const NM_VECTOR = 7;
export const DF_VECTOR = 8;
export const TS_VECTOR = 10;
export const NP_VECTOR = 11;
export const SS_VECTOR = 12;
export const GP_VECTOR = 13;
export const PF_VECTOR = 14;
export const MF_VECTOR = 16;
export const AC_VECTOR = 17;
export const MC_VECTOR = 18;
export const XM_VECTOR = 19;
export const VE_VECTOR = 20;

/**
 * Number of interrupt vectors (the width of kvm_sregs.interrupt_bitmap). kvm_memory_alias is for the obsolete
 * KVM_SET_MEMORY_ALIAS.
 */
export const KVM_NR_INTERRUPTS = 256;
export const kvm_memory_alias = struct('kvm_memory_alias', {
  slot: u32,
  flags: u32,
  guest_phys_addr: u64,
  memory_size: u64,
  target_phys_addr: u64,
});

/**
 * KVM_GET_IRQCHIP/KVM_SET_IRQCHIP payloads: the 8259 PIC and the IOAPIC (24 redirection entries, as u64 or as
 * bitfields), and the chip ids of kvm_irqchip.chip_id.
 */
export const kvm_pic_state = struct('kvm_pic_state', {
  last_irr: u8,
  irr: u8,
  imr: u8,
  isr: u8,
  priority_add: u8,
  irq_base: u8,
  read_reg_select: u8,
  poll: u8,
  special_mask: u8,
  init_state: u8,
  auto_eoi: u8,
  rotate_on_auto_eoi: u8,
  special_fully_nested_mode: u8,
  init4: u8,
  elcr: u8,
  elcr_mask: u8,
});
export const KVM_IOAPIC_NUM_PINS = 24;
export const kvm_ioapic_state = struct('kvm_ioapic_state', {
  base_address: u64,
  ioregsel: u32,
  id: u32,
  irr: u32,
  pad: u32,
  redirtbl: array(union('kvm_ioapic_state_redirtbl', {
    bits: u64,
    fields: struct('kvm_ioapic_state_redirtbl_fields', {
      vector: u8,
      delivery_mode: bits(u8, 3),
      dest_mode: bits(u8, 1),
      delivery_status: bits(u8, 1),
      polarity: bits(u8, 1),
      remote_irr: bits(u8, 1),
      trig_mode: bits(u8, 1),
      mask: bits(u8, 1),
      reserve: bits(u8, 7),
      reserved: array(u8, 4),
      dest_id: u8,
    }),
  }), KVM_IOAPIC_NUM_PINS),
});
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;
export const KVM_NR_IRQCHIPS = 3;
export const KVM_RUN_X86_SMM = 1 << 0;
export const KVM_RUN_X86_BUS_LOCK = 1 << 1;

/** KVM_GET_REGS/KVM_SET_REGS: the general-purpose registers. */
export const kvm_regs = struct('kvm_regs', {
  rax: u64,
  rbx: u64,
  rcx: u64,
  rdx: u64,
  rsi: u64,
  rdi: u64,
  rsp: u64,
  rbp: u64,
  r8: u64,
  r9: u64,
  r10: u64,
  r11: u64,
  r12: u64,
  r13: u64,
  r14: u64,
  r15: u64,
  rip: u64,
  rflags: u64,
});

/**
 * KVM_GET_LAPIC/KVM_SET_LAPIC: the local APIC register page (C `char`, kept as bytes). kvm_segment/kvm_dtable
 * are parts of kvm_sregs.
 */
export const KVM_APIC_REG_SIZE = 0x400;
export const kvm_lapic_state = struct('kvm_lapic_state', { regs: array(u8, KVM_APIC_REG_SIZE) });
export const kvm_segment = struct('kvm_segment', {
  base: u64,
  limit: u32,
  selector: u16,
  type: u8,
  present: u8,
  dpl: u8,
  db: u8,
  s: u8,
  l: u8,
  g: u8,
  avl: u8,
  unusable: u8,
  padding: u8,
});
export const kvm_dtable = struct('kvm_dtable', { base: u64, limit: u16, padding: array(u16, 3) });

/**
 * KVM_GET_SREGS/KVM_SET_SREGS (and the SREGS2 variant with PDPTRs): segments, descriptor tables, control
 * registers, EFER, APIC base.
 */
export const kvm_sregs = struct('kvm_sregs', {
  cs: kvm_segment,
  ds: kvm_segment,
  es: kvm_segment,
  fs: kvm_segment,
  gs: kvm_segment,
  ss: kvm_segment,
  tr: kvm_segment,
  ldt: kvm_segment,
  gdt: kvm_dtable,
  idt: kvm_dtable,
  cr0: u64,
  cr2: u64,
  cr3: u64,
  cr4: u64,
  cr8: u64,
  efer: u64,
  apic_base: u64,
  interrupt_bitmap: array(u64, Math.floor((KVM_NR_INTERRUPTS + 63) / 64)),
});
export const kvm_sregs2 = struct('kvm_sregs2', {
  cs: kvm_segment,
  ds: kvm_segment,
  es: kvm_segment,
  fs: kvm_segment,
  gs: kvm_segment,
  ss: kvm_segment,
  tr: kvm_segment,
  ldt: kvm_segment,
  gdt: kvm_dtable,
  idt: kvm_dtable,
  cr0: u64,
  cr2: u64,
  cr3: u64,
  cr4: u64,
  cr8: u64,
  efer: u64,
  apic_base: u64,
  flags: u64,
  pdptrs: array(u64, 4),
});
export const KVM_SREGS2_FLAGS_PDPTRS_VALID = 1;

/** KVM_GET_FPU/KVM_SET_FPU (fxsave layout); kvm_msr_entry is one MSR of kvm_msrs. */
export const kvm_fpu = struct('kvm_fpu', {
  fpr: array(array(u8, 16), 8),
  fcw: u16,
  fsw: u16,
  ftwx: u8,
  pad1: u8,
  last_opcode: u16,
  last_ip: u64,
  last_dp: u64,
  xmm: array(array(u8, 16), 16),
  mxcsr: u32,
  pad2: u32,
});
export const kvm_msr_entry = struct('kvm_msr_entry', { index: u32, reserved: u32, data: u64 });

/** KVM_GET_MSRS/KVM_SET_MSRS: `nmsrs` entries follow. */
export const kvm_msrs = struct('kvm_msrs', { nmsrs: u32, pad: u32, entries: flex(kvm_msr_entry, 'nmsrs') });

/** KVM_GET_MSR_INDEX_LIST: `nmsrs` MSR indexes follow. */
export const kvm_msr_list = struct('kvm_msr_list', { nmsrs: u32, indices: flex(u32, 'nmsrs') });

/** KVM_X86_SET_MSR_FILTER: up to 16 ranges, each a user pointer to an allow bitmap. */
export const KVM_MSR_FILTER_MAX_BITMAP_SIZE = 0x600;
export const KVM_MSR_FILTER_READ = 1 << 0;
export const KVM_MSR_FILTER_WRITE = 1 << 1;
export const kvm_msr_filter_range = struct('kvm_msr_filter_range', {
  flags: u32,
  nmsrs: u32,
  base: u32,
  bitmap: u64, // __u8 *: a user pointer
});
export const KVM_MSR_FILTER_MAX_RANGES = 16;
export const KVM_MSR_FILTER_DEFAULT_ALLOW = 0 << 0;
export const KVM_MSR_FILTER_DEFAULT_DENY = 1 << 0;
export const kvm_msr_filter = struct('kvm_msr_filter', {
  flags: u32,
  ranges: array(kvm_msr_filter_range, KVM_MSR_FILTER_MAX_RANGES),
});
export const kvm_cpuid_entry = struct('kvm_cpuid_entry', {
  function: u32,
  eax: u32,
  ebx: u32,
  ecx: u32,
  edx: u32,
  padding: u32,
});

/** KVM_SET_CPUID (legacy) and KVM_SET_CPUID2/KVM_GET_SUPPORTED_CPUID: `nent` entries follow. */
export const kvm_cpuid = struct('kvm_cpuid', { nent: u32, padding: u32, entries: flex(kvm_cpuid_entry, 'nent') });
export const kvm_cpuid_entry2 = struct('kvm_cpuid_entry2', {
  function: u32,
  index: u32,
  flags: u32,
  eax: u32,
  ebx: u32,
  ecx: u32,
  edx: u32,
  padding: array(u32, 3),
});
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1 << 0;
export const KVM_CPUID_FLAG_STATEFUL_FUNC = 1 << 1;
export const KVM_CPUID_FLAG_STATE_READ_NEXT = 1 << 2;
export const kvm_cpuid2 = struct('kvm_cpuid2', { nent: u32, padding: u32, entries: flex(kvm_cpuid_entry2, 'nent') });

/**
 * KVM_GET_PIT/KVM_SET_PIT (and PIT2 with flags): the three i8254 channels; kvm_debug_exit_arch is kvm_run's
 * debug exit.
 */
export const kvm_pit_channel_state = struct('kvm_pit_channel_state', {
  count: u32,
  latched_count: u16,
  count_latched: u8,
  status_latched: u8,
  status: u8,
  read_state: u8,
  write_state: u8,
  write_latch: u8,
  rw_mode: u8,
  mode: u8,
  bcd: u8,
  gate: u8,
  count_load_time: s64,
});
export const kvm_debug_exit_arch = struct('kvm_debug_exit_arch', {
  exception: u32,
  pad: u32,
  pc: u64,
  dr6: u64,
  dr7: u64,
});
export const KVM_GUESTDBG_USE_SW_BP = 0x00010000;
export const KVM_GUESTDBG_USE_HW_BP = 0x00020000;
export const KVM_GUESTDBG_INJECT_DB = 0x00040000;
export const KVM_GUESTDBG_INJECT_BP = 0x00080000;
export const KVM_GUESTDBG_BLOCKIRQ = 0x00100000;

/**
 * KVM_SET_GUEST_DEBUG (x86 part): debug registers; KVM_GUESTDBG_* flags above are the x86 additions to
 * kvm_guest_debug.control.
 */
export const kvm_guest_debug_arch = struct('kvm_guest_debug_arch', { debugreg: array(u64, 8) });
export const kvm_pit_state = struct('kvm_pit_state', { channels: array(kvm_pit_channel_state, 3) });
export const KVM_PIT_FLAGS_HPET_LEGACY = 0x00000001;
export const KVM_PIT_FLAGS_SPEAKER_DATA_ON = 0x00000002;
export const kvm_pit_state2 = struct('kvm_pit_state2', {
  channels: array(kvm_pit_channel_state, 3),
  flags: u32,
  reserved: array(u32, 9),
});
export const kvm_reinject_control = struct('kvm_reinject_control', { pit_reinject: u8, reserved: array(u8, 31) });

/**
 * KVM_GET_VCPU_EVENTS/KVM_SET_VCPU_EVENTS: flags saying which optional fields are valid, interrupt shadow
 * states, and the struct.
 */
export const KVM_VCPUEVENT_VALID_NMI_PENDING = 0x00000001;
export const KVM_VCPUEVENT_VALID_SIPI_VECTOR = 0x00000002;
export const KVM_VCPUEVENT_VALID_SHADOW = 0x00000004;
export const KVM_VCPUEVENT_VALID_SMM = 0x00000008;
export const KVM_VCPUEVENT_VALID_PAYLOAD = 0x00000010;
export const KVM_VCPUEVENT_VALID_TRIPLE_FAULT = 0x00000020;
export const KVM_X86_SHADOW_INT_MOV_SS = 0x01;
export const KVM_X86_SHADOW_INT_STI = 0x02;
export const kvm_vcpu_events = struct('kvm_vcpu_events', {
  exception: struct('kvm_vcpu_events_exception', {
    injected: u8,
    nr: u8,
    has_error_code: u8,
    pending: u8,
    error_code: u32,
  }),
  interrupt: struct('kvm_vcpu_events_interrupt', { injected: u8, nr: u8, soft: u8, shadow: u8 }),
  nmi: struct('kvm_vcpu_events_nmi', { injected: u8, pending: u8, masked: u8, pad: u8 }),
  sipi_vector: u32,
  flags: u32,
  smi: struct('kvm_vcpu_events_smi', { smm: u8, pending: u8, smm_inside_nmi: u8, latched_init: u8 }),
  triple_fault: struct('kvm_vcpu_events_triple_fault', { pending: u8 }),
  reserved: array(u8, 26),
  exception_has_payload: u8,
  exception_payload: u64,
});

/** KVM_GET_DEBUGREGS/KVM_SET_DEBUGREGS. */
export const kvm_debugregs = struct('kvm_debugregs', {
  db: array(u64, 4),
  dr6: u64,
  dr7: u64,
  flags: u64,
  reserved: array(u64, 9),
});

/**
 * KVM_GET_XSAVE/KVM_SET_XSAVE/KVM_GET_XSAVE2 (4 KiB, more with KVM_CAP_XSAVE2) and KVM_GET_XCRS/KVM_SET_XCRS;
 * KVM_SYNC_X86_* select kvm_run.s.regs parts.
 */
export const kvm_xsave = struct('kvm_xsave', { region: array(u32, 1024), extra: flex(u32) });
export const KVM_MAX_XCRS = 16;
export const kvm_xcr = struct('kvm_xcr', { xcr: u32, reserved: u32, value: u64 });
export const kvm_xcrs = struct('kvm_xcrs', {
  nr_xcrs: u32,
  flags: u32,
  xcrs: array(kvm_xcr, KVM_MAX_XCRS),
  padding: array(u64, 16),
});
export const KVM_SYNC_X86_REGS = 1 << 0;
export const KVM_SYNC_X86_SREGS = 1 << 1;
export const KVM_SYNC_X86_EVENTS = 1 << 2;
export const KVM_SYNC_X86_VALID_FIELDS = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;

/**
 * The x86 registers shared through kvm_run.s (KVM_CAP_SYNC_REGS); then KVM_CAP_DISABLE_QUIRKS bits and the
 * nested-state constants.
 */
export const kvm_sync_regs = struct('kvm_sync_regs', { regs: kvm_regs, sregs: kvm_sregs, events: kvm_vcpu_events });
export const KVM_X86_QUIRK_LINT0_REENABLED = 1 << 0;
export const KVM_X86_QUIRK_CD_NW_CLEARED = 1 << 1;
export const KVM_X86_QUIRK_LAPIC_MMIO_HOLE = 1 << 2;
export const KVM_X86_QUIRK_OUT_7E_INC_RIP = 1 << 3;
export const KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT = 1 << 4;
export const KVM_X86_QUIRK_FIX_HYPERCALL_INSN = 1 << 5;
export const KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS = 1 << 6;
export const KVM_STATE_NESTED_FORMAT_VMX = 0;
export const KVM_STATE_NESTED_FORMAT_SVM = 1;
export const KVM_STATE_NESTED_GUEST_MODE = 0x00000001;
export const KVM_STATE_NESTED_RUN_PENDING = 0x00000002;
export const KVM_STATE_NESTED_EVMCS = 0x00000004;
export const KVM_STATE_NESTED_MTF_PENDING = 0x00000008;
export const KVM_STATE_NESTED_GIF_SET = 0x00000100;
export const KVM_STATE_NESTED_SMM_GUEST_MODE = 0x00000001;
export const KVM_STATE_NESTED_SMM_VMXON = 0x00000002;
export const KVM_STATE_NESTED_VMX_VMCS_SIZE = 0x1000;
export const KVM_STATE_NESTED_SVM_VMCB_SIZE = 0x1000;
export const KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE = 0x00000001;

/**
 * Attribute of the system fd's device-attr group 0; the VMX/SVM nested state
 * (KVM_GET_NESTED_STATE/KVM_SET_NESTED_STATE).
 */
export const KVM_X86_XCOMP_GUEST_SUPP = 0;
export const kvm_vmx_nested_state_data = struct('kvm_vmx_nested_state_data', {
  vmcs12: array(u8, KVM_STATE_NESTED_VMX_VMCS_SIZE),
  shadow_vmcs12: array(u8, KVM_STATE_NESTED_VMX_VMCS_SIZE),
});
export const kvm_vmx_nested_state_hdr = struct('kvm_vmx_nested_state_hdr', {
  vmxon_pa: u64,
  vmcs12_pa: u64,
  smm: struct('kvm_vmx_nested_state_hdr_smm', { flags: u16 }),
  pad: u16,
  flags: u32,
  preemption_timer_deadline: u64,
});
export const kvm_svm_nested_state_data = struct('kvm_svm_nested_state_data', {
  vmcb12: array(u8, KVM_STATE_NESTED_SVM_VMCB_SIZE),
});
export const kvm_svm_nested_state_hdr = struct('kvm_svm_nested_state_hdr', { vmcb_pa: u64 });
export const kvm_nested_state = struct('kvm_nested_state', {
  flags: u16,
  format: u16,
  size: u32,
  hdr: union('kvm_nested_state_hdr', {
    vmx: kvm_vmx_nested_state_hdr,
    svm: kvm_svm_nested_state_hdr,
    pad: array(u8, 120),
  }),
  data: union('kvm_nested_state_data', {
    vmx: array(kvm_vmx_nested_state_data, 0),
    svm: array(kvm_svm_nested_state_data, 0),
  }),
});

/** KVM_SET_PMU_EVENT_FILTER: `nevents` PMU event selectors follow. */
export const kvm_pmu_event_filter = struct('kvm_pmu_event_filter', {
  action: u32,
  nevents: u32,
  fixed_counter_bitmap: u32,
  flags: u32,
  pad: array(u32, 4),
  events: flex(u64, 'nevents'),
});
export const KVM_PMU_EVENT_ALLOW = 0;
export const KVM_PMU_EVENT_DENY = 1;

/** vCPU device-attr group and attribute for the TSC offset (KVM_{GET,SET,HAS}_DEVICE_ATTR). */
export const KVM_VCPU_TSC_CTRL = 0;
export const KVM_VCPU_TSC_OFFSET = 0;

/** KVM_CREATE_VM's type on x86 (newer than the 6.1 headers: 6.8; SEV 6.10, SNP 6.11, TDX 6.16). */
export const KVM_X86_DEFAULT_VM = 0;
export const KVM_X86_SW_PROTECTED_VM = 1;
export const KVM_X86_SEV_VM = 2;
export const KVM_X86_SEV_ES_VM = 3;
export const KVM_X86_SNP_VM = 4;
export const KVM_X86_TDX_VM = 5;
