// Mirrors <linux/kvm.h> on x86-64 (linux-libc-dev 6.1), which includes <asm/kvm.h> (re-exported here): every ioctl,
// capability, exit reason and struct that C can evaluate on x86 (ioctls on other architectures' structs are absent).
import { _IO, _IOR, _IOW, _IOWR } from '../../abi/ioc.js';
import { anon, array, flex, s16, s32, struct, u16, u32, u64, u8, union } from '../../abi/layout.js';
import {
  kvm_cpuid,
  kvm_cpuid2,
  kvm_debug_exit_arch,
  kvm_debugregs,
  kvm_fpu,
  kvm_guest_debug_arch,
  kvm_ioapic_state,
  kvm_lapic_state,
  kvm_memory_alias,
  kvm_msr_filter,
  kvm_msr_list,
  kvm_msrs,
  kvm_nested_state,
  kvm_pic_state,
  kvm_pit_state,
  kvm_pit_state2,
  kvm_pmu_event_filter,
  kvm_regs,
  kvm_sregs,
  kvm_sregs2,
  kvm_sync_regs,
  kvm_vcpu_events,
  kvm_xcrs,
  kvm_xsave,
} from '../asm/kvm.js';
export * from '../asm/kvm.js';

/** The KVM API version: KVM_GET_API_VERSION returns it. */
export const KVM_API_VERSION = 12;

/** Deprecated interfaces (trace points and the removed trace/debug ioctls' structs). */
export const KVM_TRC_SHIFT = 16;
export const KVM_TRC_ENTRYEXIT = 1 << KVM_TRC_SHIFT;
export const KVM_TRC_HANDLER = 1 << (KVM_TRC_SHIFT + 1);
export const KVM_TRC_VMENTRY = KVM_TRC_ENTRYEXIT + 0x01;
export const KVM_TRC_VMEXIT = KVM_TRC_ENTRYEXIT + 0x02;
export const KVM_TRC_PAGE_FAULT = KVM_TRC_HANDLER + 0x01;
export const KVM_TRC_HEAD_SIZE = 12;
export const KVM_TRC_CYCLE_SIZE = 8;
export const KVM_TRC_EXTRA_MAX = 7;
export const KVM_TRC_INJ_VIRQ = KVM_TRC_HANDLER + 0x02;
export const KVM_TRC_REDELIVER_EVT = KVM_TRC_HANDLER + 0x03;
export const KVM_TRC_PEND_INTR = KVM_TRC_HANDLER + 0x04;
export const KVM_TRC_IO_READ = KVM_TRC_HANDLER + 0x05;
export const KVM_TRC_IO_WRITE = KVM_TRC_HANDLER + 0x06;
export const KVM_TRC_CR_READ = KVM_TRC_HANDLER + 0x07;
export const KVM_TRC_CR_WRITE = KVM_TRC_HANDLER + 0x08;
export const KVM_TRC_DR_READ = KVM_TRC_HANDLER + 0x09;
export const KVM_TRC_DR_WRITE = KVM_TRC_HANDLER + 0x0A;
export const KVM_TRC_MSR_READ = KVM_TRC_HANDLER + 0x0B;
export const KVM_TRC_MSR_WRITE = KVM_TRC_HANDLER + 0x0C;
export const KVM_TRC_CPUID = KVM_TRC_HANDLER + 0x0D;
export const KVM_TRC_INTR = KVM_TRC_HANDLER + 0x0E;
export const KVM_TRC_NMI = KVM_TRC_HANDLER + 0x0F;
export const KVM_TRC_VMMCALL = KVM_TRC_HANDLER + 0x10;
export const KVM_TRC_HLT = KVM_TRC_HANDLER + 0x11;
export const KVM_TRC_CLTS = KVM_TRC_HANDLER + 0x12;
export const KVM_TRC_LMSW = KVM_TRC_HANDLER + 0x13;
export const KVM_TRC_APIC_ACCESS = KVM_TRC_HANDLER + 0x14;
export const KVM_TRC_TDP_FAULT = KVM_TRC_HANDLER + 0x15;
export const KVM_TRC_GTLB_WRITE = KVM_TRC_HANDLER + 0x16;
export const KVM_TRC_STLB_WRITE = KVM_TRC_HANDLER + 0x17;
export const KVM_TRC_STLB_INVAL = KVM_TRC_HANDLER + 0x18;
export const KVM_TRC_PPC_INSTR = KVM_TRC_HANDLER + 0x19;
export const kvm_user_trace_setup = struct('kvm_user_trace_setup', { buf_size: u32, buf_nr: u32 });
export const kvm_breakpoint = struct('kvm_breakpoint', { enabled: u32, padding: u32, address: u64 });
export const kvm_debug_guest = struct('kvm_debug_guest', {
  enabled: u32,
  pad: u32,
  breakpoints: array(kvm_breakpoint, 4),
  singlestep: u32,
});

/**
 * KVM_SET_MEMORY_REGION (obsolete) and KVM_SET_USER_MEMORY_REGION: a guest-physical range backed by process
 * memory at `userspace_addr`.
 */
export const kvm_memory_region = struct('kvm_memory_region', {
  slot: u32,
  flags: u32,
  guest_phys_addr: u64,
  memory_size: u64,
});
export const kvm_userspace_memory_region = struct('kvm_userspace_memory_region', {
  slot: u32,
  flags: u32,
  guest_phys_addr: u64,
  memory_size: u64,
  userspace_addr: u64,
});

/** kvm_userspace_memory_region.flags (bits 0-15 are uapi). */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
export const KVM_MEM_READONLY = 1 << 1;

/**
 * KVM_SET_USER_MEMORY_REGION2 (6.8): the v1 fields at the same offsets, then a guest_memfd binding and
 * room for more (160 bytes).
 */
export const kvm_userspace_memory_region2 = struct('kvm_userspace_memory_region2', {
  slot: u32,
  flags: u32,
  guest_phys_addr: u64,
  memory_size: u64,
  userspace_addr: u64,
  guest_memfd_offset: u64,
  guest_memfd: u32,
  pad1: u32,
  pad2: array(u64, 14),
});
/** Only in kvm_userspace_memory_region2.flags: the slot's private memory is in guest_memfd (6.8). */
export const KVM_MEM_GUEST_MEMFD = 1 << 2;

/** KVM_IRQ_LINE/KVM_IRQ_LINE_STATUS (`irq` in, `status` out: the same word) and KVM_GET_IRQCHIP/KVM_SET_IRQCHIP. */
export const kvm_irq_level = struct('kvm_irq_level', {
  irq_or_status: anon(union('kvm_irq_level_irq_or_status', { irq: u32, status: s32 })),
  level: u32,
});
export const kvm_irqchip = struct('kvm_irqchip', {
  chip_id: u32,
  pad: u32,
  chip: union('kvm_irqchip_chip', { dummy: array(u8, 512), pic: kvm_pic_state, ioapic: kvm_ioapic_state }),
});

/** KVM_CREATE_PIT2, and s390 storage-key and CMMA structs. */
export const kvm_pit_config = struct('kvm_pit_config', { flags: u32, pad: array(u32, 15) });
export const KVM_PIT_SPEAKER_DUMMY = 1;
export const kvm_s390_skeys = struct('kvm_s390_skeys', {
  start_gfn: u64,
  count: u64,
  skeydata_addr: u64,
  flags: u32,
  reserved: array(u32, 9),
});
export const KVM_S390_CMMA_PEEK = 1 << 0;
export const kvm_s390_cmma_log = struct('kvm_s390_cmma_log', {
  start_gfn: u64,
  count: u32,
  flags: u32,
  remaining_or_mask: anon(union('kvm_s390_cmma_log_remaining_or_mask', { remaining: u64, mask: u64 })),
  values: u64,
});

/** Payloads of the KVM_EXIT_HYPERV and KVM_EXIT_XEN exits. */
export const KVM_EXIT_HYPERV_SYNIC = 1;
export const KVM_EXIT_HYPERV_HCALL = 2;
export const KVM_EXIT_HYPERV_SYNDBG = 3;
export const kvm_hyperv_exit = struct('kvm_hyperv_exit', {
  type: u32,
  pad1: u32,
  u: union('kvm_hyperv_exit_u', {
    synic: struct('kvm_hyperv_exit_u_synic', { msr: u32, pad2: u32, control: u64, evt_page: u64, msg_page: u64 }),
    hcall: struct('kvm_hyperv_exit_u_hcall', { input: u64, result: u64, params: array(u64, 2) }),
    syndbg: struct('kvm_hyperv_exit_u_syndbg', {
      msr: u32,
      pad2: u32,
      control: u64,
      status: u64,
      send_page: u64,
      recv_page: u64,
      pending_page: u64,
    }),
  }),
});
export const KVM_EXIT_XEN_HCALL = 1;
export const kvm_xen_exit = struct('kvm_xen_exit', {
  type: u32,
  u: union('kvm_xen_exit_u', {
    hcall: struct('kvm_xen_exit_u_hcall', { longmode: u32, cpl: u32, input: u64, result: u64, params: array(u64, 6) }),
  }),
});

/** s390 storage keys, then the exit reasons of kvm_run.exit_reason. */
export const KVM_S390_GET_SKEYS_NONE = 1;
export const KVM_S390_SKEYS_MAX = 1048576;
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_SET_TPR = 11;
export const KVM_EXIT_TPR_ACCESS = 12;
export const KVM_EXIT_S390_SIEIC = 13;
export const KVM_EXIT_S390_RESET = 14;
export const KVM_EXIT_DCR = 15;
export const KVM_EXIT_NMI = 16;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_OSI = 18;
export const KVM_EXIT_PAPR_HCALL = 19;
export const KVM_EXIT_S390_UCONTROL = 20;
export const KVM_EXIT_WATCHDOG = 21;
export const KVM_EXIT_S390_TSCH = 22;
export const KVM_EXIT_EPR = 23;
export const KVM_EXIT_SYSTEM_EVENT = 24;
export const KVM_EXIT_S390_STSI = 25;
export const KVM_EXIT_IOAPIC_EOI = 26;
export const KVM_EXIT_HYPERV = 27;
export const KVM_EXIT_ARM_NISV = 28;
export const KVM_EXIT_X86_RDMSR = 29;
export const KVM_EXIT_X86_WRMSR = 30;
export const KVM_EXIT_DIRTY_RING_FULL = 31;
export const KVM_EXIT_AP_RESET_HOLD = 32;
export const KVM_EXIT_X86_BUS_LOCK = 33;
export const KVM_EXIT_XEN = 34;
export const KVM_EXIT_RISCV_SBI = 35;
export const KVM_EXIT_RISCV_CSR = 36;
export const KVM_EXIT_NOTIFY = 37;

/** Suberrors of KVM_EXIT_INTERNAL_ERROR (kvm_run.internal.suberror), and the emulation_failure flags. */
export const KVM_INTERNAL_ERROR_EMULATION = 1;
export const KVM_INTERNAL_ERROR_SIMUL_EX = 2;
export const KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
export const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;
export const KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = 1 << 0;

/**
 * The vCPU's shared run area, `mmap(vcpu_fd, 0, KVM_GET_VCPU_MMAP_SIZE)`: entry/exit state, the exit union
 * (selected by exit_reason) and the sync regs. Constants defined inside it come first.
 */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;
export const KVM_S390_RESET_POR = 1;
export const KVM_S390_RESET_CLEAR = 2;
export const KVM_S390_RESET_SUBSYSTEM = 4;
export const KVM_S390_RESET_CPU_INIT = 8;
export const KVM_S390_RESET_IPL = 16;
export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;
export const KVM_SYSTEM_EVENT_WAKEUP = 4;
export const KVM_SYSTEM_EVENT_SUSPEND = 5;
export const KVM_SYSTEM_EVENT_SEV_TERM = 6;
export const KVM_MSR_EXIT_REASON_INVAL = 1 << 0;
export const KVM_MSR_EXIT_REASON_UNKNOWN = 1 << 1;
export const KVM_MSR_EXIT_REASON_FILTER = 1 << 2;
export const KVM_NOTIFY_CONTEXT_INVALID = 1 << 0;
export const SYNC_REGS_SIZE_BYTES = 2048;
export const kvm_run = struct('kvm_run', {
  request_interrupt_window: u8,
  immediate_exit: u8,
  padding1: array(u8, 6),
  exit_reason: u32,
  ready_for_interrupt_injection: u8,
  if_flag: u8,
  flags: u16,
  cr8: u64,
  apic_base: u64,
  exit: anon(union('kvm_run_exit', {
    hw: struct('kvm_run_exit_hw', { hardware_exit_reason: u64 }),
    fail_entry: struct('kvm_run_exit_fail_entry', { hardware_entry_failure_reason: u64, cpu: u32 }),
    ex: struct('kvm_run_exit_ex', { exception: u32, error_code: u32 }),
    io: struct('kvm_run_exit_io', { direction: u8, size: u8, port: u16, count: u32, data_offset: u64 }),
    debug: struct('kvm_run_exit_debug', { arch: kvm_debug_exit_arch }),
    mmio: struct('kvm_run_exit_mmio', { phys_addr: u64, data: array(u8, 8), len: u32, is_write: u8 }),
    hypercall: struct('kvm_run_exit_hypercall', { nr: u64, args: array(u64, 6), ret: u64, longmode: u32, pad: u32 }),
    tpr_access: struct('kvm_run_exit_tpr_access', { rip: u64, is_write: u32, pad: u32 }),
    s390_sieic: struct('kvm_run_exit_s390_sieic', { icptcode: u8, ipa: u16, ipb: u32 }),
    s390_reset_flags: u64,
    s390_ucontrol: struct('kvm_run_exit_s390_ucontrol', { trans_exc_code: u64, pgm_code: u32 }),
    dcr: struct('kvm_run_exit_dcr', { dcrn: u32, data: u32, is_write: u8 }),
    internal: struct('kvm_run_exit_internal', { suberror: u32, ndata: u32, data: array(u64, 16) }),
    emulation_failure: struct('kvm_run_exit_emulation_failure', {
      suberror: u32,
      ndata: u32,
      flags: u64,
      insn_u: anon(union('kvm_run_exit_emulation_failure_insn_u', {
        insn: anon(struct('kvm_run_exit_emulation_failure_insn_u_insn', { insn_size: u8, insn_bytes: array(u8, 15) })),
      })),
    }),
    osi: struct('kvm_run_exit_osi', { gprs: array(u64, 32) }),
    papr_hcall: struct('kvm_run_exit_papr_hcall', { nr: u64, ret: u64, args: array(u64, 9) }),
    s390_tsch: struct('kvm_run_exit_s390_tsch', {
      subchannel_id: u16,
      subchannel_nr: u16,
      io_int_parm: u32,
      io_int_word: u32,
      ipb: u32,
      dequeued: u8,
    }),
    epr: struct('kvm_run_exit_epr', { epr: u32 }),
    system_event: struct('kvm_run_exit_system_event', {
      type: u32,
      ndata: u32,
      flags_or_data: anon(union('kvm_run_exit_system_event_flags_or_data', { flags: u64, data: array(u64, 16) })),
    }),
    s390_stsi: struct('kvm_run_exit_s390_stsi', { addr: u64, ar: u8, reserved: u8, fc: u8, sel1: u8, sel2: u16 }),
    eoi: struct('kvm_run_exit_eoi', { vector: u8 }),
    hyperv: kvm_hyperv_exit,
    arm_nisv: struct('kvm_run_exit_arm_nisv', { esr_iss: u64, fault_ipa: u64 }),
    msr: struct('kvm_run_exit_msr', { error: u8, pad: array(u8, 7), reason: u32, index: u32, data: u64 }),
    xen: kvm_xen_exit,
    riscv_sbi: struct('kvm_run_exit_riscv_sbi', {
      extension_id: u64,
      function_id: u64,
      args: array(u64, 6),
      ret: array(u64, 2),
    }),
    riscv_csr: struct('kvm_run_exit_riscv_csr', { csr_num: u64, new_value: u64, write_mask: u64, ret_value: u64 }),
    notify: struct('kvm_run_exit_notify', { flags: u32 }),
    padding: array(u8, 256),
  })),
  kvm_valid_regs: u64,
  kvm_dirty_regs: u64,
  s: union('kvm_run_s', { regs: kvm_sync_regs, padding: array(u8, SYNC_REGS_SIZE_BYTES) }),
});

/**
 * KVM_REGISTER_COALESCED_MMIO/KVM_UNREGISTER_COALESCED_MMIO zones, and the ring of coalesced writes at page
 * KVM_COALESCED_MMIO_PAGE_OFFSET of the vCPU mmap. KVM_COALESCED_MMIO_MAX is computed for 4 KiB pages (C uses
 * the kernel's PAGE_SIZE).
 */
export const kvm_coalesced_mmio_zone = struct('kvm_coalesced_mmio_zone', {
  addr: u64,
  size: u32,
  pad_or_pio: anon(union('kvm_coalesced_mmio_zone_pad_or_pio', { pad: u32, pio: u32 })),
});
export const kvm_coalesced_mmio = struct('kvm_coalesced_mmio', {
  phys_addr: u64,
  len: u32,
  pad_or_pio: anon(union('kvm_coalesced_mmio_pad_or_pio', { pad: u32, pio: u32 })),
  data: array(u8, 8),
});
export const kvm_coalesced_mmio_ring = struct('kvm_coalesced_mmio_ring', {
  first: u32,
  last: u32,
  coalesced_mmio: flex(kvm_coalesced_mmio),
});
export const KVM_COALESCED_MMIO_MAX = Math.floor((4096 - kvm_coalesced_mmio_ring.size) / kvm_coalesced_mmio.size);

/** KVM_TRANSLATE: guest-virtual to guest-physical. */
export const kvm_translation = struct('kvm_translation', {
  linear_address: u64,
  physical_address: u64,
  valid: u8,
  writeable: u8,
  usermode: u8,
  pad: array(u8, 5),
});

/** KVM_S390_MEM_OP, its operations and flags. */
export const kvm_s390_mem_op = struct('kvm_s390_mem_op', {
  gaddr: u64,
  flags: u64,
  size: u32,
  op: u32,
  buf: u64,
  access: anon(union('kvm_s390_mem_op_access', {
    ar_key: anon(struct('kvm_s390_mem_op_access_ar_key', { ar: u8, key: u8 })),
    sida_offset: u32,
    reserved: array(u8, 32),
  })),
});
export const KVM_S390_MEMOP_LOGICAL_READ = 0;
export const KVM_S390_MEMOP_LOGICAL_WRITE = 1;
export const KVM_S390_MEMOP_SIDA_READ = 2;
export const KVM_S390_MEMOP_SIDA_WRITE = 3;
export const KVM_S390_MEMOP_ABSOLUTE_READ = 4;
export const KVM_S390_MEMOP_ABSOLUTE_WRITE = 5;
export const KVM_S390_MEMOP_F_CHECK_ONLY = 1 << 0;
export const KVM_S390_MEMOP_F_INJECT_EXCEPTION = 1 << 1;
export const KVM_S390_MEMOP_F_SKEY_PROTECTION = 1 << 2;

/** KVM_INTERRUPT (inject an interrupt vector without an in-kernel irqchip). */
export const kvm_interrupt = struct('kvm_interrupt', { irq: u32 });

/** KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG (a user pointer to one bit per page). */
export const kvm_dirty_log = struct('kvm_dirty_log', {
  slot: u32,
  padding1: u32,
  dirty_bitmap_or_padding2: anon(union('kvm_dirty_log_dirty_bitmap_or_padding2', {
    dirty_bitmap: u64, // void *: a user pointer
    padding2: u64,
  })),
});
export const kvm_clear_dirty_log = struct('kvm_clear_dirty_log', {
  slot: u32,
  num_pages: u32,
  first_page: u64,
  dirty_bitmap_or_padding2: anon(union('kvm_clear_dirty_log_dirty_bitmap_or_padding2', {
    dirty_bitmap: u64, // void *: a user pointer
    padding2: u64,
  })),
});

/** KVM_SET_SIGNAL_MASK: `len` bytes of sigset follow (8 on x86-64). */
export const kvm_signal_mask = struct('kvm_signal_mask', { len: u32, sigset: flex(u8, 'len') });

/** KVM_TPR_ACCESS_REPORTING and KVM_SET_VAPIC_ADDR. */
export const kvm_tpr_access_ctl = struct('kvm_tpr_access_ctl', { enabled: u32, flags: u32, reserved: array(u32, 8) });
export const kvm_vapic_addr = struct('kvm_vapic_addr', { vapic_addr: u64 });

/** KVM_GET_MP_STATE/KVM_SET_MP_STATE states (not all apply to every architecture). */
export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
export const KVM_MP_STATE_SIPI_RECEIVED = 4;
export const KVM_MP_STATE_STOPPED = 5;
export const KVM_MP_STATE_CHECK_STOP = 6;
export const KVM_MP_STATE_OPERATING = 7;
export const KVM_MP_STATE_LOAD = 8;
export const KVM_MP_STATE_AP_RESET_HOLD = 9;
export const KVM_MP_STATE_SUSPENDED = 10;
export const kvm_mp_state = struct('kvm_mp_state', { mp_state: u32 });
export const kvm_s390_psw = struct('kvm_s390_psw', { mask: u64, addr: u64 });

/** s390 interrupt injection: interrupt types, the I/O interrupt encoding, and the per-type payloads. */
export const KVM_S390_SIGP_STOP = 0xfffe0000;
export const KVM_S390_PROGRAM_INT = 0xfffe0001;
export const KVM_S390_SIGP_SET_PREFIX = 0xfffe0002;
export const KVM_S390_RESTART = 0xfffe0003;
export const KVM_S390_INT_PFAULT_INIT = 0xfffe0004;
export const KVM_S390_INT_PFAULT_DONE = 0xfffe0005;
export const KVM_S390_MCHK = 0xfffe1000;
export const KVM_S390_INT_CLOCK_COMP = 0xffff1004;
export const KVM_S390_INT_CPU_TIMER = 0xffff1005;
export const KVM_S390_INT_VIRTIO = 0xffff2603;
export const KVM_S390_INT_SERVICE = 0xffff2401;
export const KVM_S390_INT_EMERGENCY = 0xffff1201;
export const KVM_S390_INT_EXTERNAL_CALL = 0xffff1202;
export function KVM_S390_INT_IO(ai: number, cssid: number, ssid: number, schid: number): number {
  return schid | (ssid << 16) | (cssid << 18) | (ai << 26);
}
export const KVM_S390_INT_IO_MIN = 0x00000000;
export const KVM_S390_INT_IO_MAX = 0xfffdffff;
export const KVM_S390_INT_IO_AI_MASK = 0x04000000;
export const kvm_s390_interrupt = struct('kvm_s390_interrupt', { type: u32, parm: u32, parm64: u64 });
export const kvm_s390_io_info = struct('kvm_s390_io_info', {
  subchannel_id: u16,
  subchannel_nr: u16,
  io_int_parm: u32,
  io_int_word: u32,
});
export const kvm_s390_ext_info = struct('kvm_s390_ext_info', { ext_params: u32, pad: u32, ext_params2: u64 });
export const KVM_S390_PGM_FLAGS_ILC_VALID = 0x01;
export const KVM_S390_PGM_FLAGS_ILC_0 = 0x02;
export const KVM_S390_PGM_FLAGS_ILC_1 = 0x04;
export const KVM_S390_PGM_FLAGS_ILC_MASK = 0x06;
export const KVM_S390_PGM_FLAGS_NO_REWIND = 0x08;
export const kvm_s390_pgm_info = struct('kvm_s390_pgm_info', {
  trans_exc_code: u64,
  mon_code: u64,
  per_address: u64,
  data_exc_code: u32,
  code: u16,
  mon_class_nr: u16,
  per_code: u8,
  per_atmid: u8,
  exc_access_id: u8,
  per_access_id: u8,
  op_access_id: u8,
  flags: u8,
  pad: array(u8, 2),
});
export const kvm_s390_prefix_info = struct('kvm_s390_prefix_info', { address: u32 });
export const kvm_s390_extcall_info = struct('kvm_s390_extcall_info', { code: u16 });
export const kvm_s390_emerg_info = struct('kvm_s390_emerg_info', { code: u16 });
export const KVM_S390_STOP_FLAG_STORE_STATUS = 0x01;
export const kvm_s390_stop_info = struct('kvm_s390_stop_info', { flags: u32 });
export const kvm_s390_mchk_info = struct('kvm_s390_mchk_info', {
  cr14: u64,
  mcic: u64,
  failing_storage_address: u64,
  ext_damage_code: u32,
  pad: u32,
  fixed_logout: array(u8, 16),
});
export const kvm_s390_irq = struct('kvm_s390_irq', {
  type: u64,
  u: union('kvm_s390_irq_u', {
    io: kvm_s390_io_info,
    ext: kvm_s390_ext_info,
    pgm: kvm_s390_pgm_info,
    emerg: kvm_s390_emerg_info,
    extcall: kvm_s390_extcall_info,
    prefix: kvm_s390_prefix_info,
    stop: kvm_s390_stop_info,
    mchk: kvm_s390_mchk_info,
    reserved: array(u8, 64),
  }),
});
export const kvm_s390_irq_state = struct('kvm_s390_irq_state', {
  buf: u64,
  flags: u32,
  len: u32,
  reserved: array(u32, 4),
});

/** KVM_SET_GUEST_DEBUG control bits and struct (the arch part is in asm/kvm.h). */
export const KVM_GUESTDBG_ENABLE = 0x00000001;
export const KVM_GUESTDBG_SINGLESTEP = 0x00000002;
export const kvm_guest_debug = struct('kvm_guest_debug', { control: u32, pad: u32, arch: kvm_guest_debug_arch });

/**
 * KVM_IOEVENTFD: flag bit numbers (an enum), the flags, and the struct (len 0 matches any length; PIO flag for
 * port I/O).
 */
export const kvm_ioeventfd_flag_nr_datamatch = 0;
export const kvm_ioeventfd_flag_nr_pio = 1;
export const kvm_ioeventfd_flag_nr_deassign = 2;
export const kvm_ioeventfd_flag_nr_virtio_ccw_notify = 3;
export const kvm_ioeventfd_flag_nr_fast_mmio = 4;
export const kvm_ioeventfd_flag_nr_max = 5;
export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << kvm_ioeventfd_flag_nr_datamatch;
export const KVM_IOEVENTFD_FLAG_PIO = 1 << kvm_ioeventfd_flag_nr_pio;
export const KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << kvm_ioeventfd_flag_nr_deassign;
export const KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY = 1 << kvm_ioeventfd_flag_nr_virtio_ccw_notify;
export const KVM_IOEVENTFD_VALID_FLAG_MASK = (1 << kvm_ioeventfd_flag_nr_max) - 1;
export const kvm_ioeventfd = struct('kvm_ioeventfd', {
  datamatch: u64,
  addr: u64,
  len: u32,
  fd: s32,
  flags: u32,
  pad: array(u8, 36),
});

/** KVM_CAP_X86_DISABLE_EXITS argument bits. */
export const KVM_X86_DISABLE_EXITS_MWAIT = 1 << 0;
export const KVM_X86_DISABLE_EXITS_HLT = 1 << 1;
export const KVM_X86_DISABLE_EXITS_PAUSE = 1 << 2;
export const KVM_X86_DISABLE_EXITS_CSTATE = 1 << 3;
export const KVM_X86_DISABLE_VALID_EXITS =
  KVM_X86_DISABLE_EXITS_MWAIT | KVM_X86_DISABLE_EXITS_HLT | KVM_X86_DISABLE_EXITS_PAUSE | KVM_X86_DISABLE_EXITS_CSTATE;

/** KVM_ENABLE_CAP (vCPU, or VM with KVM_CAP_ENABLE_CAP_VM): a capability and its arguments. */
export const kvm_enable_cap = struct('kvm_enable_cap', {
  cap: u32,
  flags: u32,
  args: array(u64, 4),
  pad: array(u8, 64),
});

/** PowerPC: paravirt info, MMU page sizes, HPT resizing. */
export const KVM_PPC_PVINFO_FLAGS_EV_IDLE = 1 << 0;
export const kvm_ppc_pvinfo = struct('kvm_ppc_pvinfo', { flags: u32, hcall: array(u32, 4), pad: array(u8, 108) });
export const KVM_PPC_PAGE_SIZES_MAX_SZ = 8;
export const kvm_ppc_one_page_size = struct('kvm_ppc_one_page_size', { page_shift: u32, pte_enc: u32 });
export const kvm_ppc_one_seg_page_size = struct('kvm_ppc_one_seg_page_size', {
  page_shift: u32,
  slb_enc: u32,
  enc: array(kvm_ppc_one_page_size, KVM_PPC_PAGE_SIZES_MAX_SZ),
});
export const KVM_PPC_PAGE_SIZES_REAL = 0x00000001;
export const KVM_PPC_1T_SEGMENTS = 0x00000002;
export const KVM_PPC_NO_HASH = 0x00000004;
export const kvm_ppc_smmu_info = struct('kvm_ppc_smmu_info', {
  flags: u64,
  slb_size: u32,
  data_keys: u16,
  instr_keys: u16,
  sps: array(kvm_ppc_one_seg_page_size, KVM_PPC_PAGE_SIZES_MAX_SZ),
});
export const kvm_ppc_resize_hpt = struct('kvm_ppc_resize_hpt', { flags: u64, shift: u32, pad: u32 });

/** The ioctl type of every KVM ioctl, and the numbers of the removed ioctls (kept for their structs). */
export const KVMIO = 0xAE;
export const __KVM_DEPRECATED_MAIN_W_0x06 = _IOW(KVMIO, 0x06, kvm_user_trace_setup);
export const __KVM_DEPRECATED_MAIN_0x07 = _IO(KVMIO, 0x07);
export const __KVM_DEPRECATED_MAIN_0x08 = _IO(KVMIO, 0x08);
export const __KVM_DEPRECATED_VCPU_W_0x87 = _IOW(KVMIO, 0x87, kvm_debug_guest);

/** KVM_CREATE_VM machine types (architecture-specific; 0 on x86). */
export const KVM_VM_S390_UCONTROL = 1;
export const KVM_VM_PPC_HV = 1;
export const KVM_VM_PPC_PR = 2;
export const KVM_VM_MIPS_AUTO = 0;
export const KVM_VM_MIPS_VZ = 1;
export const KVM_VM_MIPS_TE = 2;
export const KVM_S390_SIE_PAGE_OFFSET = 1;
export const KVM_VM_TYPE_ARM_IPA_SIZE_MASK = 0xff;
export function KVM_VM_TYPE_ARM_IPA_SIZE(x: number): number {
  return x & KVM_VM_TYPE_ARM_IPA_SIZE_MASK;
}

/** /dev/kvm (system) ioctls. */
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
export const KVM_GET_MSR_INDEX_LIST = _IOWR(KVMIO, 0x02, kvm_msr_list);
export const KVM_S390_ENABLE_SIE = _IO(KVMIO, 0x06);
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
export const KVM_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, kvm_cpuid2);
export const KVM_TRACE_ENABLE = __KVM_DEPRECATED_MAIN_W_0x06;
export const KVM_TRACE_PAUSE = __KVM_DEPRECATED_MAIN_0x07;
export const KVM_TRACE_DISABLE = __KVM_DEPRECATED_MAIN_0x08;
export const KVM_GET_EMULATED_CPUID = _IOWR(KVMIO, 0x09, kvm_cpuid2);
export const KVM_GET_MSR_FEATURE_INDEX_LIST = _IOWR(KVMIO, 0x0a, kvm_msr_list);

/** Extension ids for KVM_CHECK_EXTENSION (system, VM or vCPU fd) and KVM_ENABLE_CAP; the numbers are not contiguous. */
export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_HLT = 1;
export const KVM_CAP_MMU_SHADOW_CACHE_CONTROL = 2;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_VAPIC = 6;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_CLOCKSOURCE = 8;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_PIT = 11;
export const KVM_CAP_NOP_IO_DELAY = 12;
export const KVM_CAP_PV_MMU = 13;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_COALESCED_MMIO = 15;
export const KVM_CAP_SYNC_MMU = 16;
export const KVM_CAP_IOMMU = 18;
export const KVM_CAP_DESTROY_MEMORY_REGION_WORKS = 21;
export const KVM_CAP_USER_NMI = 22;
export const KVM_CAP_SET_GUEST_DEBUG = 23;
export const KVM_CAP_REINJECT_CONTROL = 24;
export const KVM_CAP_IRQ_ROUTING = 25;
export const KVM_CAP_IRQ_INJECT_STATUS = 26;
export const KVM_CAP_ASSIGN_DEV_IRQ = 29;
export const KVM_CAP_JOIN_MEMORY_REGIONS_WORKS = 30;
export const KVM_CAP_MCE = 31;
export const KVM_CAP_IRQFD = 32;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_SET_BOOT_CPU_ID = 34;
export const KVM_CAP_PIT_STATE2 = 35;
export const KVM_CAP_IOEVENTFD = 36;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_XEN_HVM = 38;
export const KVM_CAP_ADJUST_CLOCK = 39;
export const KVM_CAP_INTERNAL_ERROR_DATA = 40;
export const KVM_CAP_VCPU_EVENTS = 41;
export const KVM_CAP_S390_PSW = 42;
export const KVM_CAP_PPC_SEGSTATE = 43;
export const KVM_CAP_HYPERV = 44;
export const KVM_CAP_HYPERV_VAPIC = 45;
export const KVM_CAP_HYPERV_SPIN = 46;
export const KVM_CAP_PCI_SEGMENT = 47;
export const KVM_CAP_PPC_PAIRED_SINGLES = 48;
export const KVM_CAP_INTR_SHADOW = 49;
export const KVM_CAP_DEBUGREGS = 50;
export const KVM_CAP_X86_ROBUST_SINGLESTEP = 51;
export const KVM_CAP_PPC_OSI = 52;
export const KVM_CAP_PPC_UNSET_IRQ = 53;
export const KVM_CAP_ENABLE_CAP = 54;
export const KVM_CAP_XSAVE = 55;
export const KVM_CAP_XCRS = 56;
export const KVM_CAP_PPC_GET_PVINFO = 57;
export const KVM_CAP_PPC_IRQ_LEVEL = 58;
export const KVM_CAP_ASYNC_PF = 59;
export const KVM_CAP_TSC_CONTROL = 60;
export const KVM_CAP_GET_TSC_KHZ = 61;
export const KVM_CAP_PPC_BOOKE_SREGS = 62;
export const KVM_CAP_SPAPR_TCE = 63;
export const KVM_CAP_PPC_SMT = 64;
export const KVM_CAP_PPC_RMA = 65;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_PPC_HIOR = 67;
export const KVM_CAP_PPC_PAPR = 68;
export const KVM_CAP_SW_TLB = 69;
export const KVM_CAP_ONE_REG = 70;
export const KVM_CAP_S390_GMAP = 71;
export const KVM_CAP_TSC_DEADLINE_TIMER = 72;
export const KVM_CAP_S390_UCONTROL = 73;
export const KVM_CAP_SYNC_REGS = 74;
export const KVM_CAP_PCI_2_3 = 75;
export const KVM_CAP_KVMCLOCK_CTRL = 76;
export const KVM_CAP_SIGNAL_MSI = 77;
export const KVM_CAP_PPC_GET_SMMU_INFO = 78;
export const KVM_CAP_S390_COW = 79;
export const KVM_CAP_PPC_ALLOC_HTAB = 80;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_IRQFD_RESAMPLE = 82;
export const KVM_CAP_PPC_BOOKE_WATCHDOG = 83;
export const KVM_CAP_PPC_HTAB_FD = 84;
export const KVM_CAP_S390_CSS_SUPPORT = 85;
export const KVM_CAP_PPC_EPR = 86;
export const KVM_CAP_ARM_PSCI = 87;
export const KVM_CAP_ARM_SET_DEVICE_ADDR = 88;
export const KVM_CAP_DEVICE_CTRL = 89;
export const KVM_CAP_IRQ_MPIC = 90;
export const KVM_CAP_PPC_RTAS = 91;
export const KVM_CAP_IRQ_XICS = 92;
export const KVM_CAP_ARM_EL1_32BIT = 93;
export const KVM_CAP_SPAPR_MULTITCE = 94;
export const KVM_CAP_EXT_EMUL_CPUID = 95;
export const KVM_CAP_HYPERV_TIME = 96;
export const KVM_CAP_IOAPIC_POLARITY_IGNORED = 97;
export const KVM_CAP_ENABLE_CAP_VM = 98;
export const KVM_CAP_S390_IRQCHIP = 99;
export const KVM_CAP_IOEVENTFD_NO_LENGTH = 100;
export const KVM_CAP_VM_ATTRIBUTES = 101;
export const KVM_CAP_ARM_PSCI_0_2 = 102;
export const KVM_CAP_PPC_FIXUP_HCALL = 103;
export const KVM_CAP_PPC_ENABLE_HCALL = 104;
export const KVM_CAP_CHECK_EXTENSION_VM = 105;
export const KVM_CAP_S390_USER_SIGP = 106;
export const KVM_CAP_S390_VECTOR_REGISTERS = 107;
export const KVM_CAP_S390_MEM_OP = 108;
export const KVM_CAP_S390_USER_STSI = 109;
export const KVM_CAP_S390_SKEYS = 110;
export const KVM_CAP_MIPS_FPU = 111;
export const KVM_CAP_MIPS_MSA = 112;
export const KVM_CAP_S390_INJECT_IRQ = 113;
export const KVM_CAP_S390_IRQ_STATE = 114;
export const KVM_CAP_PPC_HWRNG = 115;
export const KVM_CAP_DISABLE_QUIRKS = 116;
export const KVM_CAP_X86_SMM = 117;
export const KVM_CAP_MULTI_ADDRESS_SPACE = 118;
export const KVM_CAP_GUEST_DEBUG_HW_BPS = 119;
export const KVM_CAP_GUEST_DEBUG_HW_WPS = 120;
export const KVM_CAP_SPLIT_IRQCHIP = 121;
export const KVM_CAP_IOEVENTFD_ANY_LENGTH = 122;
export const KVM_CAP_HYPERV_SYNIC = 123;
export const KVM_CAP_S390_RI = 124;
export const KVM_CAP_SPAPR_TCE_64 = 125;
export const KVM_CAP_ARM_PMU_V3 = 126;
export const KVM_CAP_VCPU_ATTRIBUTES = 127;
export const KVM_CAP_MAX_VCPU_ID = 128;
export const KVM_CAP_X2APIC_API = 129;
export const KVM_CAP_S390_USER_INSTR0 = 130;
export const KVM_CAP_MSI_DEVID = 131;
export const KVM_CAP_PPC_HTM = 132;
export const KVM_CAP_SPAPR_RESIZE_HPT = 133;
export const KVM_CAP_PPC_MMU_RADIX = 134;
export const KVM_CAP_PPC_MMU_HASH_V3 = 135;
export const KVM_CAP_IMMEDIATE_EXIT = 136;
export const KVM_CAP_MIPS_VZ = 137;
export const KVM_CAP_MIPS_TE = 138;
export const KVM_CAP_MIPS_64BIT = 139;
export const KVM_CAP_S390_GS = 140;
export const KVM_CAP_S390_AIS = 141;
export const KVM_CAP_SPAPR_TCE_VFIO = 142;
export const KVM_CAP_X86_DISABLE_EXITS = 143;
export const KVM_CAP_ARM_USER_IRQ = 144;
export const KVM_CAP_S390_CMMA_MIGRATION = 145;
export const KVM_CAP_PPC_FWNMI = 146;
export const KVM_CAP_PPC_SMT_POSSIBLE = 147;
export const KVM_CAP_HYPERV_SYNIC2 = 148;
export const KVM_CAP_HYPERV_VP_INDEX = 149;
export const KVM_CAP_S390_AIS_MIGRATION = 150;
export const KVM_CAP_PPC_GET_CPU_CHAR = 151;
export const KVM_CAP_S390_BPB = 152;
export const KVM_CAP_GET_MSR_FEATURES = 153;
export const KVM_CAP_HYPERV_EVENTFD = 154;
export const KVM_CAP_HYPERV_TLBFLUSH = 155;
export const KVM_CAP_S390_HPAGE_1M = 156;
export const KVM_CAP_NESTED_STATE = 157;
export const KVM_CAP_ARM_INJECT_SERROR_ESR = 158;
export const KVM_CAP_MSR_PLATFORM_INFO = 159;
export const KVM_CAP_PPC_NESTED_HV = 160;
export const KVM_CAP_HYPERV_SEND_IPI = 161;
export const KVM_CAP_COALESCED_PIO = 162;
export const KVM_CAP_HYPERV_ENLIGHTENED_VMCS = 163;
export const KVM_CAP_EXCEPTION_PAYLOAD = 164;
export const KVM_CAP_ARM_VM_IPA_SIZE = 165;
export const KVM_CAP_MANUAL_DIRTY_LOG_PROTECT = 166;
export const KVM_CAP_HYPERV_CPUID = 167;
export const KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 = 168;
export const KVM_CAP_PPC_IRQ_XIVE = 169;
export const KVM_CAP_ARM_SVE = 170;
export const KVM_CAP_ARM_PTRAUTH_ADDRESS = 171;
export const KVM_CAP_ARM_PTRAUTH_GENERIC = 172;
export const KVM_CAP_PMU_EVENT_FILTER = 173;
export const KVM_CAP_ARM_IRQ_LINE_LAYOUT_2 = 174;
export const KVM_CAP_HYPERV_DIRECT_TLBFLUSH = 175;
export const KVM_CAP_PPC_GUEST_DEBUG_SSTEP = 176;
export const KVM_CAP_ARM_NISV_TO_USER = 177;
export const KVM_CAP_ARM_INJECT_EXT_DABT = 178;
export const KVM_CAP_S390_VCPU_RESETS = 179;
export const KVM_CAP_S390_PROTECTED = 180;
export const KVM_CAP_PPC_SECURE_GUEST = 181;
export const KVM_CAP_HALT_POLL = 182;
export const KVM_CAP_ASYNC_PF_INT = 183;
export const KVM_CAP_LAST_CPU = 184;
export const KVM_CAP_SMALLER_MAXPHYADDR = 185;
export const KVM_CAP_S390_DIAG318 = 186;
export const KVM_CAP_STEAL_TIME = 187;
export const KVM_CAP_X86_USER_SPACE_MSR = 188;
export const KVM_CAP_X86_MSR_FILTER = 189;
export const KVM_CAP_ENFORCE_PV_FEATURE_CPUID = 190;
export const KVM_CAP_SYS_HYPERV_CPUID = 191;
export const KVM_CAP_DIRTY_LOG_RING = 192;
export const KVM_CAP_X86_BUS_LOCK_EXIT = 193;
export const KVM_CAP_PPC_DAWR1 = 194;
export const KVM_CAP_SET_GUEST_DEBUG2 = 195;
export const KVM_CAP_SGX_ATTRIBUTE = 196;
export const KVM_CAP_VM_COPY_ENC_CONTEXT_FROM = 197;
export const KVM_CAP_PTP_KVM = 198;
export const KVM_CAP_HYPERV_ENFORCE_CPUID = 199;
export const KVM_CAP_SREGS2 = 200;
export const KVM_CAP_EXIT_HYPERCALL = 201;
export const KVM_CAP_PPC_RPT_INVALIDATE = 202;
export const KVM_CAP_BINARY_STATS_FD = 203;
export const KVM_CAP_EXIT_ON_EMULATION_FAILURE = 204;
export const KVM_CAP_ARM_MTE = 205;
export const KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM = 206;
export const KVM_CAP_VM_GPA_BITS = 207;
export const KVM_CAP_XSAVE2 = 208;
export const KVM_CAP_SYS_ATTRIBUTES = 209;
export const KVM_CAP_PPC_AIL_MODE_3 = 210;
export const KVM_CAP_S390_MEM_OP_EXTENSION = 211;
export const KVM_CAP_PMU_CAPABILITY = 212;
export const KVM_CAP_DISABLE_QUIRKS2 = 213;
export const KVM_CAP_VM_TSC_CONTROL = 214;
export const KVM_CAP_SYSTEM_EVENT_DATA = 215;
export const KVM_CAP_ARM_SYSTEM_SUSPEND = 216;
export const KVM_CAP_S390_PROTECTED_DUMP = 217;
export const KVM_CAP_X86_TRIPLE_FAULT_EVENT = 218;
export const KVM_CAP_X86_NOTIFY_VMEXIT = 219;
export const KVM_CAP_VM_DISABLE_NX_HUGE_PAGES = 220;
export const KVM_CAP_S390_ZPCI_OP = 221;
export const KVM_CAP_S390_CPU_TOPOLOGY = 222;
export const KVM_CAP_DIRTY_LOG_RING_ACQ_REL = 223;
// Newer than the 6.1 headers installed here (6.8 unless said otherwise).
/** 6.3. */
export const KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP = 225;
export const KVM_CAP_USER_MEMORY2 = 231;
export const KVM_CAP_MEMORY_ATTRIBUTES = 233;
export const KVM_CAP_GUEST_MEMFD = 234;
export const KVM_CAP_VM_TYPES = 235;
/** 6.18. */
export const KVM_CAP_GUEST_MEMFD_FLAGS = 244;

/**
 * KVM_SET_GSI_ROUTING: the routing table, one entry per GSI route, typed by KVM_IRQ_ROUTING_* (`u` holds the
 * matching member).
 */
export const kvm_irq_routing_irqchip = struct('kvm_irq_routing_irqchip', { irqchip: u32, pin: u32 });
export const kvm_irq_routing_msi = struct('kvm_irq_routing_msi', {
  address_lo: u32,
  address_hi: u32,
  data: u32,
  pad_or_devid: anon(union('kvm_irq_routing_msi_pad_or_devid', { pad: u32, devid: u32 })),
});
export const kvm_irq_routing_s390_adapter = struct('kvm_irq_routing_s390_adapter', {
  ind_addr: u64,
  summary_addr: u64,
  ind_offset: u64,
  summary_offset: u32,
  adapter_id: u32,
});
export const kvm_irq_routing_hv_sint = struct('kvm_irq_routing_hv_sint', { vcpu: u32, sint: u32 });
export const kvm_irq_routing_xen_evtchn = struct('kvm_irq_routing_xen_evtchn', { port: u32, vcpu: u32, priority: u32 });
export const KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL = (-1) >>> 0;
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
export const KVM_IRQ_ROUTING_MSI = 2;
export const KVM_IRQ_ROUTING_S390_ADAPTER = 3;
export const KVM_IRQ_ROUTING_HV_SINT = 4;
export const KVM_IRQ_ROUTING_XEN_EVTCHN = 5;
export const kvm_irq_routing_entry = struct('kvm_irq_routing_entry', {
  gsi: u32,
  type: u32,
  flags: u32,
  pad: u32,
  u: union('kvm_irq_routing_entry_u', {
    irqchip: kvm_irq_routing_irqchip,
    msi: kvm_irq_routing_msi,
    adapter: kvm_irq_routing_s390_adapter,
    hv_sint: kvm_irq_routing_hv_sint,
    xen_evtchn: kvm_irq_routing_xen_evtchn,
    pad: array(u32, 8),
  }),
});
export const kvm_irq_routing = struct('kvm_irq_routing', {
  nr: u32,
  flags: u32,
  entries: flex(kvm_irq_routing_entry, 'nr'),
});

/** KVM_X86_SET_MCE: an injected machine check. */
export const kvm_x86_mce = struct('kvm_x86_mce', {
  status: u64,
  addr: u64,
  misc: u64,
  mcg_status: u64,
  bank: u8,
  pad1: array(u8, 7),
  pad2: array(u64, 3),
});

/** KVM_XEN_HVM_CONFIG flags (also reported by KVM_CHECK_EXTENSION(KVM_CAP_XEN_HVM)) and struct. */
export const KVM_XEN_HVM_CONFIG_HYPERCALL_MSR = 1 << 0;
export const KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL = 1 << 1;
export const KVM_XEN_HVM_CONFIG_SHARED_INFO = 1 << 2;
export const KVM_XEN_HVM_CONFIG_RUNSTATE = 1 << 3;
export const KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL = 1 << 4;
export const KVM_XEN_HVM_CONFIG_EVTCHN_SEND = 1 << 5;
export const kvm_xen_hvm_config = struct('kvm_xen_hvm_config', {
  flags: u32,
  msr: u32,
  blob_addr_32: u64,
  blob_addr_64: u64,
  blob_size_32: u8,
  blob_size_64: u8,
  pad2: array(u8, 30),
});

/**
 * KVM_IRQFD: signal GSI `gsi` when eventfd `fd` fires; with RESAMPLE (level-triggered), `resamplefd` is
 * signalled on EOI.
 */
export const KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;
export const KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;
export const kvm_irqfd = struct('kvm_irqfd', { fd: u32, gsi: u32, flags: u32, resamplefd: u32, pad: array(u8, 16) });

/** KVM_GET_CLOCK/KVM_SET_CLOCK: kvmclock value and the flags saying which fields are valid. */
export const KVM_CLOCK_TSC_STABLE = 2;
export const KVM_CLOCK_REALTIME = 1 << 2;
export const KVM_CLOCK_HOST_TSC = 1 << 3;
export const kvm_clock_data = struct('kvm_clock_data', {
  clock: u64,
  flags: u32,
  pad0: u32,
  realtime: u64,
  host_tsc: u64,
  pad: array(u32, 4),
});

/** PowerPC software TLB (KVM_CAP_SW_TLB, KVM_DIRTY_TLB). */
export const KVM_MMU_FSL_BOOKE_NOHV = 0;
export const KVM_MMU_FSL_BOOKE_HV = 1;
export const kvm_config_tlb = struct('kvm_config_tlb', { params: u64, array: u64, mmu_type: u32, array_len: u32 });
export const kvm_dirty_tlb = struct('kvm_dirty_tlb', { bitmap: u64, num_dirty: u32 });

/**
 * KVM_GET_ONE_REG/KVM_SET_ONE_REG and KVM_GET_REG_LIST: 64-bit register ids (architecture, size, index). The id
 * constants are bigints as a family, even the ones that would fit in a number.
 */
export const KVM_REG_ARCH_MASK = 0xff00000000000000n;
export const KVM_REG_GENERIC = 0x0000000000000000n;
export const KVM_REG_PPC = 0x1000000000000000n;
export const KVM_REG_X86 = 0x2000000000000000n;
export const KVM_REG_IA64 = 0x3000000000000000n;
export const KVM_REG_ARM = 0x4000000000000000n;
export const KVM_REG_S390 = 0x5000000000000000n;
export const KVM_REG_ARM64 = 0x6000000000000000n;
export const KVM_REG_MIPS = 0x7000000000000000n;
export const KVM_REG_RISCV = 0x8000000000000000n;
export const KVM_REG_SIZE_SHIFT = 52;
export const KVM_REG_SIZE_MASK = 0x00f0000000000000n;
export const KVM_REG_SIZE_U8 = 0x0000000000000000n;
export const KVM_REG_SIZE_U16 = 0x0010000000000000n;
export const KVM_REG_SIZE_U32 = 0x0020000000000000n;
export const KVM_REG_SIZE_U64 = 0x0030000000000000n;
export const KVM_REG_SIZE_U128 = 0x0040000000000000n;
export const KVM_REG_SIZE_U256 = 0x0050000000000000n;
export const KVM_REG_SIZE_U512 = 0x0060000000000000n;
export const KVM_REG_SIZE_U1024 = 0x0070000000000000n;
export const KVM_REG_SIZE_U2048 = 0x0080000000000000n;
export const kvm_reg_list = struct('kvm_reg_list', { n: u64, reg: flex(u64, 'n') });
export const kvm_one_reg = struct('kvm_one_reg', { id: u64, addr: u64 });

/** KVM_SIGNAL_MSI: inject one MSI (devid valid with KVM_MSI_VALID_DEVID); and the ARM device address struct. */
export const KVM_MSI_VALID_DEVID = 1 << 0;
export const kvm_msi = struct('kvm_msi', {
  address_lo: u32,
  address_hi: u32,
  data: u32,
  flags: u32,
  devid: u32,
  pad: array(u8, 12),
});
export const kvm_arm_device_addr = struct('kvm_arm_device_addr', { id: u64, addr: u64 });

/**
 * KVM_CREATE_DEVICE and device attributes (KVM_SET/GET/HAS_DEVICE_ATTR); the VFIO pseudo-device's group
 * attributes; device types.
 */
export const KVM_CREATE_DEVICE_TEST = 1;
export const kvm_create_device = struct('kvm_create_device', { type: u32, fd: u32, flags: u32 });
export const kvm_device_attr = struct('kvm_device_attr', { flags: u32, group: u32, attr: u64, addr: u64 });
/** The group and attributes were renamed for VFIO device cdevs (6.6); the GROUP names remain aliases. */
export const KVM_DEV_VFIO_FILE = 1;
export const KVM_DEV_VFIO_FILE_ADD = 1;
export const KVM_DEV_VFIO_FILE_DEL = 2;
export const KVM_DEV_VFIO_GROUP = 1;
export const KVM_DEV_VFIO_GROUP_ADD = 1;
export const KVM_DEV_VFIO_GROUP_DEL = 2;
export const KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE = 3;
export const KVM_DEV_TYPE_FSL_MPIC_20 = 1;
export const KVM_DEV_TYPE_FSL_MPIC_42 = 2;
export const KVM_DEV_TYPE_XICS = 3;
export const KVM_DEV_TYPE_VFIO = 4;
export const KVM_DEV_TYPE_ARM_VGIC_V2 = 5;
export const KVM_DEV_TYPE_FLIC = 6;
export const KVM_DEV_TYPE_ARM_VGIC_V3 = 7;
export const KVM_DEV_TYPE_ARM_VGIC_ITS = 8;
export const KVM_DEV_TYPE_XIVE = 9;
export const KVM_DEV_TYPE_ARM_PV_TIME = 10;
export const KVM_DEV_TYPE_MAX = 11;
export const kvm_vfio_spapr_tce = struct('kvm_vfio_spapr_tce', { groupfd: s32, tablefd: s32 });

/** VM ioctls: vCPUs, memory slots, dirty log, MMU pages, TSS and identity-map addresses. */
export const KVM_SET_MEMORY_REGION = _IOW(KVMIO, 0x40, kvm_memory_region);
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
export const KVM_GET_DIRTY_LOG = _IOW(KVMIO, 0x42, kvm_dirty_log);
export const KVM_SET_MEMORY_ALIAS = _IOW(KVMIO, 0x43, kvm_memory_alias);
export const KVM_SET_NR_MMU_PAGES = _IO(KVMIO, 0x44);
export const KVM_GET_NR_MMU_PAGES = _IO(KVMIO, 0x45);
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, kvm_userspace_memory_region);
export const KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47);
export const KVM_SET_IDENTITY_MAP_ADDR = _IOW(KVMIO, 0x48, u64);
export const KVM_SET_USER_MEMORY_REGION2 = _IOW(KVMIO, 0x49, kvm_userspace_memory_region2);

/** s390 user-controlled VMs. */
export const kvm_s390_ucas_mapping = struct('kvm_s390_ucas_mapping', { user_addr: u64, vcpu_addr: u64, length: u64 });
export const KVM_S390_UCAS_MAP = _IOW(KVMIO, 0x50, kvm_s390_ucas_mapping);
export const KVM_S390_UCAS_UNMAP = _IOW(KVMIO, 0x51, kvm_s390_ucas_mapping);
export const KVM_S390_VCPU_FAULT = _IOW(KVMIO, 0x52, u64);

/**
 * VM ioctls: in-kernel irqchip (PIC/IOAPIC), PIT, GSI routing, coalesced MMIO, irqfd/ioeventfd, clock.
 * KVM_IRQ_LINE_STATUS and KVM_REGISTER_COALESCED_MMIO share nr 0x67 (different direction and size).
 */
export const KVM_CREATE_IRQCHIP = _IO(KVMIO, 0x60);
export const KVM_IRQ_LINE = _IOW(KVMIO, 0x61, kvm_irq_level);
export const KVM_GET_IRQCHIP = _IOWR(KVMIO, 0x62, kvm_irqchip);
export const KVM_SET_IRQCHIP = _IOR(KVMIO, 0x63, kvm_irqchip);
export const KVM_CREATE_PIT = _IO(KVMIO, 0x64);
export const KVM_GET_PIT = _IOWR(KVMIO, 0x65, kvm_pit_state);
export const KVM_SET_PIT = _IOR(KVMIO, 0x66, kvm_pit_state);
export const KVM_IRQ_LINE_STATUS = _IOWR(KVMIO, 0x67, kvm_irq_level);
export const KVM_REGISTER_COALESCED_MMIO = _IOW(KVMIO, 0x67, kvm_coalesced_mmio_zone);
export const KVM_UNREGISTER_COALESCED_MMIO = _IOW(KVMIO, 0x68, kvm_coalesced_mmio_zone);
export const KVM_SET_GSI_ROUTING = _IOW(KVMIO, 0x6a, kvm_irq_routing);
export const KVM_REINJECT_CONTROL = _IO(KVMIO, 0x71);
export const KVM_IRQFD = _IOW(KVMIO, 0x76, kvm_irqfd);
export const KVM_CREATE_PIT2 = _IOW(KVMIO, 0x77, kvm_pit_config);
export const KVM_SET_BOOT_CPU_ID = _IO(KVMIO, 0x78);
export const KVM_IOEVENTFD = _IOW(KVMIO, 0x79, kvm_ioeventfd);
export const KVM_XEN_HVM_CONFIG = _IOW(KVMIO, 0x7a, kvm_xen_hvm_config);
export const KVM_SET_CLOCK = _IOW(KVMIO, 0x7b, kvm_clock_data);
export const KVM_GET_CLOCK = _IOR(KVMIO, 0x7c, kvm_clock_data);

/** Capability-gated VM (and some vCPU) ioctls, each available with the KVM_CAP_* of the same name. */
export const KVM_GET_PIT2 = _IOR(KVMIO, 0x9f, kvm_pit_state2);
export const KVM_SET_PIT2 = _IOW(KVMIO, 0xa0, kvm_pit_state2);
export const KVM_PPC_GET_PVINFO = _IOW(KVMIO, 0xa1, kvm_ppc_pvinfo);
export const KVM_SET_TSC_KHZ = _IO(KVMIO, 0xa2);
export const KVM_GET_TSC_KHZ = _IO(KVMIO, 0xa3);
export const KVM_SIGNAL_MSI = _IOW(KVMIO, 0xa5, kvm_msi);
export const KVM_PPC_GET_SMMU_INFO = _IOR(KVMIO, 0xa6, kvm_ppc_smmu_info);
export const KVM_PPC_ALLOCATE_HTAB = _IOWR(KVMIO, 0xa7, u32);
export const KVM_ARM_SET_DEVICE_ADDR = _IOW(KVMIO, 0xab, kvm_arm_device_addr);
export const KVM_PPC_RESIZE_HPT_PREPARE = _IOR(KVMIO, 0xad, kvm_ppc_resize_hpt);
export const KVM_PPC_RESIZE_HPT_COMMIT = _IOR(KVMIO, 0xae, kvm_ppc_resize_hpt);
export const KVM_SET_PMU_EVENT_FILTER = _IOW(KVMIO, 0xb2, kvm_pmu_event_filter);
export const KVM_PPC_SVM_OFF = _IO(KVMIO, 0xb3);

/**
 * KVM_CREATE_DEVICE (VM fd), and the device attribute ioctls (device fd; since KVM_CAP_VM/VCPU_ATTRIBUTES also
 * VM and vCPU fds).
 */
export const KVM_CREATE_DEVICE = _IOWR(KVMIO, 0xe0, kvm_create_device);
export const KVM_SET_DEVICE_ATTR = _IOW(KVMIO, 0xe1, kvm_device_attr);
export const KVM_GET_DEVICE_ATTR = _IOW(KVMIO, 0xe2, kvm_device_attr);
export const KVM_HAS_DEVICE_ATTR = _IOW(KVMIO, 0xe3, kvm_device_attr);

/** vCPU ioctls. */
export const KVM_RUN = _IO(KVMIO, 0x80);
export const KVM_GET_REGS = _IOR(KVMIO, 0x81, kvm_regs);
export const KVM_SET_REGS = _IOW(KVMIO, 0x82, kvm_regs);
export const KVM_GET_SREGS = _IOR(KVMIO, 0x83, kvm_sregs);
export const KVM_SET_SREGS = _IOW(KVMIO, 0x84, kvm_sregs);
export const KVM_TRANSLATE = _IOWR(KVMIO, 0x85, kvm_translation);
export const KVM_INTERRUPT = _IOW(KVMIO, 0x86, kvm_interrupt);
export const KVM_DEBUG_GUEST = __KVM_DEPRECATED_VCPU_W_0x87;
export const KVM_GET_MSRS = _IOWR(KVMIO, 0x88, kvm_msrs);
export const KVM_SET_MSRS = _IOW(KVMIO, 0x89, kvm_msrs);
export const KVM_SET_CPUID = _IOW(KVMIO, 0x8a, kvm_cpuid);
export const KVM_SET_SIGNAL_MASK = _IOW(KVMIO, 0x8b, kvm_signal_mask);
export const KVM_GET_FPU = _IOR(KVMIO, 0x8c, kvm_fpu);
export const KVM_SET_FPU = _IOW(KVMIO, 0x8d, kvm_fpu);
export const KVM_GET_LAPIC = _IOR(KVMIO, 0x8e, kvm_lapic_state);
export const KVM_SET_LAPIC = _IOW(KVMIO, 0x8f, kvm_lapic_state);
export const KVM_SET_CPUID2 = _IOW(KVMIO, 0x90, kvm_cpuid2);
export const KVM_GET_CPUID2 = _IOWR(KVMIO, 0x91, kvm_cpuid2);
export const KVM_TPR_ACCESS_REPORTING = _IOWR(KVMIO, 0x92, kvm_tpr_access_ctl);
export const KVM_SET_VAPIC_ADDR = _IOW(KVMIO, 0x93, kvm_vapic_addr);
export const KVM_S390_INTERRUPT = _IOW(KVMIO, 0x94, kvm_s390_interrupt);
export const KVM_S390_STORE_STATUS_NOADDR = -1;
export const KVM_S390_STORE_STATUS_PREFIXED = -2;
export const KVM_S390_STORE_STATUS = _IOW(KVMIO, 0x95, u64);
export const KVM_S390_SET_INITIAL_PSW = _IOW(KVMIO, 0x96, kvm_s390_psw);
export const KVM_S390_INITIAL_RESET = _IO(KVMIO, 0x97);
export const KVM_GET_MP_STATE = _IOR(KVMIO, 0x98, kvm_mp_state);
export const KVM_SET_MP_STATE = _IOW(KVMIO, 0x99, kvm_mp_state);
export const KVM_NMI = _IO(KVMIO, 0x9a);
export const KVM_SET_GUEST_DEBUG = _IOW(KVMIO, 0x9b, kvm_guest_debug);
export const KVM_X86_SETUP_MCE = _IOW(KVMIO, 0x9c, u64);
export const KVM_X86_GET_MCE_CAP_SUPPORTED = _IOR(KVMIO, 0x9d, u64);
export const KVM_X86_SET_MCE = _IOW(KVMIO, 0x9e, kvm_x86_mce);
export const KVM_GET_VCPU_EVENTS = _IOR(KVMIO, 0x9f, kvm_vcpu_events);
export const KVM_SET_VCPU_EVENTS = _IOW(KVMIO, 0xa0, kvm_vcpu_events);
export const KVM_GET_DEBUGREGS = _IOR(KVMIO, 0xa1, kvm_debugregs);
export const KVM_SET_DEBUGREGS = _IOW(KVMIO, 0xa2, kvm_debugregs);
export const KVM_ENABLE_CAP = _IOW(KVMIO, 0xa3, kvm_enable_cap);
export const KVM_GET_XSAVE = _IOR(KVMIO, 0xa4, kvm_xsave);
export const KVM_SET_XSAVE = _IOW(KVMIO, 0xa5, kvm_xsave);
export const KVM_GET_XCRS = _IOR(KVMIO, 0xa6, kvm_xcrs);
export const KVM_SET_XCRS = _IOW(KVMIO, 0xa7, kvm_xcrs);
export const KVM_DIRTY_TLB = _IOW(KVMIO, 0xaa, kvm_dirty_tlb);
export const KVM_GET_ONE_REG = _IOW(KVMIO, 0xab, kvm_one_reg);
export const KVM_SET_ONE_REG = _IOW(KVMIO, 0xac, kvm_one_reg);
export const KVM_KVMCLOCK_CTRL = _IO(KVMIO, 0xad);
export const KVM_GET_REG_LIST = _IOWR(KVMIO, 0xb0, kvm_reg_list);
export const KVM_S390_MEM_OP = _IOW(KVMIO, 0xb1, kvm_s390_mem_op);
export const KVM_S390_GET_SKEYS = _IOW(KVMIO, 0xb2, kvm_s390_skeys);
export const KVM_S390_SET_SKEYS = _IOW(KVMIO, 0xb3, kvm_s390_skeys);
export const KVM_S390_IRQ = _IOW(KVMIO, 0xb4, kvm_s390_irq);
export const KVM_S390_SET_IRQ_STATE = _IOW(KVMIO, 0xb5, kvm_s390_irq_state);
export const KVM_S390_GET_IRQ_STATE = _IOW(KVMIO, 0xb6, kvm_s390_irq_state);
export const KVM_SMI = _IO(KVMIO, 0xb7);
export const KVM_S390_GET_CMMA_BITS = _IOWR(KVMIO, 0xb8, kvm_s390_cmma_log);
export const KVM_S390_SET_CMMA_BITS = _IOW(KVMIO, 0xb9, kvm_s390_cmma_log);

/** Memory encryption (SEV) ioctls on the VM fd. */
export const KVM_MEMORY_ENCRYPT_OP = _IOWR(KVMIO, 0xba, u64);
export const kvm_enc_region = struct('kvm_enc_region', { addr: u64, size: u64 });
export const KVM_MEMORY_ENCRYPT_REG_REGION = _IOR(KVMIO, 0xbb, kvm_enc_region);
export const KVM_MEMORY_ENCRYPT_UNREG_REGION = _IOR(KVMIO, 0xbc, kvm_enc_region);

/** Capability-gated ioctls (continued): nested state, dirty-log clearing, Hyper-V CPUID, ARM SVE, s390 resets. */
export const KVM_GET_NESTED_STATE = _IOWR(KVMIO, 0xbe, kvm_nested_state);
export const KVM_SET_NESTED_STATE = _IOW(KVMIO, 0xbf, kvm_nested_state);
export const KVM_CLEAR_DIRTY_LOG = _IOWR(KVMIO, 0xc0, kvm_clear_dirty_log);
export const KVM_GET_SUPPORTED_HV_CPUID = _IOWR(KVMIO, 0xc1, kvm_cpuid2);
export const KVM_ARM_VCPU_FINALIZE = _IOW(KVMIO, 0xc2, s32);
export const KVM_S390_NORMAL_RESET = _IO(KVMIO, 0xc3);
export const KVM_S390_CLEAR_RESET = _IO(KVMIO, 0xc4);

/** s390 protected virtualization (KVM_S390_PV_COMMAND) commands and structs. */
export const kvm_s390_pv_sec_parm = struct('kvm_s390_pv_sec_parm', { origin: u64, length: u64 });
export const kvm_s390_pv_unp = struct('kvm_s390_pv_unp', { addr: u64, size: u64, tweak: u64 });
export const KVM_PV_DUMP_INIT = 0;
export const KVM_PV_DUMP_CONFIG_STOR_STATE = 1;
export const KVM_PV_DUMP_COMPLETE = 2;
export const KVM_PV_DUMP_CPU = 3;
export const kvm_s390_pv_dmp = struct('kvm_s390_pv_dmp', {
  subcmd: u64,
  buff_addr: u64,
  buff_len: u64,
  gaddr: u64,
  reserved: array(u64, 4),
});
export const KVM_PV_INFO_VM = 0;
export const KVM_PV_INFO_DUMP = 1;
export const kvm_s390_pv_info_dump = struct('kvm_s390_pv_info_dump', {
  dump_cpu_buffer_len: u64,
  dump_config_mem_buffer_per_1m: u64,
  dump_config_finalize_len: u64,
});
export const kvm_s390_pv_info_vm = struct('kvm_s390_pv_info_vm', {
  inst_calls_list: array(u64, 4),
  max_cpus: u64,
  max_guests: u64,
  max_guest_addr: u64,
  feature_indication: u64,
});
export const kvm_s390_pv_info_header = struct('kvm_s390_pv_info_header', {
  id: u32,
  len_max: u32,
  len_written: u32,
  reserved: u32,
});
export const kvm_s390_pv_info = struct('kvm_s390_pv_info', {
  header: kvm_s390_pv_info_header,
  dump_or_vm: anon(union('kvm_s390_pv_info_dump_or_vm', { dump: kvm_s390_pv_info_dump, vm: kvm_s390_pv_info_vm })),
});
export const KVM_PV_ENABLE = 0;
export const KVM_PV_DISABLE = 1;
export const KVM_PV_SET_SEC_PARMS = 2;
export const KVM_PV_UNPACK = 3;
export const KVM_PV_VERIFY = 4;
export const KVM_PV_PREP_RESET = 5;
export const KVM_PV_UNSHARE_ALL = 6;
export const KVM_PV_INFO = 7;
export const KVM_PV_DUMP = 8;
export const kvm_pv_cmd = struct('kvm_pv_cmd', {
  cmd: u32,
  rc: u16,
  rrc: u16,
  data: u64,
  flags: u32,
  reserved: array(u32, 3),
});
export const KVM_S390_PV_COMMAND = _IOWR(KVMIO, 0xc5, kvm_pv_cmd);

/** KVM_X86_SET_MSR_FILTER and KVM_RESET_DIRTY_RINGS. */
export const KVM_X86_SET_MSR_FILTER = _IOW(KVMIO, 0xc6, kvm_msr_filter);
export const KVM_RESET_DIRTY_RINGS = _IO(KVMIO, 0xc7);

/** Xen emulation: per-VM attributes (KVM_XEN_HVM_GET/SET_ATTR) and their types. */
export const KVM_XEN_EVTCHN_DEASSIGN = 1 << 0;
export const KVM_XEN_EVTCHN_UPDATE = 1 << 1;
export const KVM_XEN_EVTCHN_RESET = 1 << 2;
export const kvm_xen_hvm_attr = struct('kvm_xen_hvm_attr', {
  type: u16,
  pad: array(u16, 3),
  u: union('kvm_xen_hvm_attr_u', {
    long_mode: u8,
    vector: u8,
    shared_info: struct('kvm_xen_hvm_attr_u_shared_info', { gfn: u64 }),
    evtchn: struct('kvm_xen_hvm_attr_u_evtchn', {
      send_port: u32,
      type: u32,
      flags: u32,
      deliver: union('kvm_xen_hvm_attr_u_evtchn_deliver', {
        port: struct('kvm_xen_hvm_attr_u_evtchn_deliver_port', { port: u32, vcpu: u32, priority: u32 }),
        eventfd: struct('kvm_xen_hvm_attr_u_evtchn_deliver_eventfd', { port: u32, fd: s32 }),
        padding: array(u32, 4),
      }),
    }),
    xen_version: u32,
    pad: array(u64, 8),
  }),
});
export const KVM_XEN_HVM_GET_ATTR = _IOWR(KVMIO, 0xc8, kvm_xen_hvm_attr);
export const KVM_XEN_HVM_SET_ATTR = _IOW(KVMIO, 0xc9, kvm_xen_hvm_attr);
export const KVM_XEN_ATTR_TYPE_LONG_MODE = 0x0;
export const KVM_XEN_ATTR_TYPE_SHARED_INFO = 0x1;
export const KVM_XEN_ATTR_TYPE_UPCALL_VECTOR = 0x2;
export const KVM_XEN_ATTR_TYPE_EVTCHN = 0x3;
export const KVM_XEN_ATTR_TYPE_XEN_VERSION = 0x4;

/** Xen event-channel send, KVM_GET_SREGS2/KVM_SET_SREGS2, and per-vCPU Xen attributes and their types. */
export const KVM_XEN_HVM_EVTCHN_SEND = _IOW(KVMIO, 0xd0, kvm_irq_routing_xen_evtchn);
export const KVM_GET_SREGS2 = _IOR(KVMIO, 0xcc, kvm_sregs2);
export const KVM_SET_SREGS2 = _IOW(KVMIO, 0xcd, kvm_sregs2);
export const kvm_xen_vcpu_attr = struct('kvm_xen_vcpu_attr', {
  type: u16,
  pad: array(u16, 3),
  u: union('kvm_xen_vcpu_attr_u', {
    gpa: u64,
    pad: array(u64, 8),
    runstate: struct('kvm_xen_vcpu_attr_u_runstate', {
      state: u64,
      state_entry_time: u64,
      time_running: u64,
      time_runnable: u64,
      time_blocked: u64,
      time_offline: u64,
    }),
    vcpu_id: u32,
    timer: struct('kvm_xen_vcpu_attr_u_timer', { port: u32, priority: u32, expires_ns: u64 }),
    vector: u8,
  }),
});
export const KVM_XEN_VCPU_GET_ATTR = _IOWR(KVMIO, 0xca, kvm_xen_vcpu_attr);
export const KVM_XEN_VCPU_SET_ATTR = _IOW(KVMIO, 0xcb, kvm_xen_vcpu_attr);
export const KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO = 0x0;
export const KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO = 0x1;
export const KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR = 0x2;
export const KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT = 0x3;
export const KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA = 0x4;
export const KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST = 0x5;
export const KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID = 0x6;
export const KVM_XEN_VCPU_ATTR_TYPE_TIMER = 0x7;
export const KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR = 0x8;

/**
 * SEV commands (`enum sev_cmd_id`, the `id` of KVM_MEMORY_ENCRYPT_OP's `struct kvm_sev_cmd`) and their parameter
 * structs.
 */
export const KVM_SEV_INIT = 0;
export const KVM_SEV_ES_INIT = 1;
export const KVM_SEV_LAUNCH_START = 2;
export const KVM_SEV_LAUNCH_UPDATE_DATA = 3;
export const KVM_SEV_LAUNCH_UPDATE_VMSA = 4;
export const KVM_SEV_LAUNCH_SECRET = 5;
export const KVM_SEV_LAUNCH_MEASURE = 6;
export const KVM_SEV_LAUNCH_FINISH = 7;
export const KVM_SEV_SEND_START = 8;
export const KVM_SEV_SEND_UPDATE_DATA = 9;
export const KVM_SEV_SEND_UPDATE_VMSA = 10;
export const KVM_SEV_SEND_FINISH = 11;
export const KVM_SEV_RECEIVE_START = 12;
export const KVM_SEV_RECEIVE_UPDATE_DATA = 13;
export const KVM_SEV_RECEIVE_UPDATE_VMSA = 14;
export const KVM_SEV_RECEIVE_FINISH = 15;
export const KVM_SEV_GUEST_STATUS = 16;
export const KVM_SEV_DBG_DECRYPT = 17;
export const KVM_SEV_DBG_ENCRYPT = 18;
export const KVM_SEV_CERT_EXPORT = 19;
export const KVM_SEV_GET_ATTESTATION_REPORT = 20;
export const KVM_SEV_SEND_CANCEL = 21;
export const KVM_SEV_NR_MAX = 22;
export const kvm_sev_cmd = struct('kvm_sev_cmd', { id: u32, data: u64, error: u32, sev_fd: u32 });
export const kvm_sev_launch_start = struct('kvm_sev_launch_start', {
  handle: u32,
  policy: u32,
  dh_uaddr: u64,
  dh_len: u32,
  session_uaddr: u64,
  session_len: u32,
});
export const kvm_sev_launch_update_data = struct('kvm_sev_launch_update_data', { uaddr: u64, len: u32 });
export const kvm_sev_launch_secret = struct('kvm_sev_launch_secret', {
  hdr_uaddr: u64,
  hdr_len: u32,
  guest_uaddr: u64,
  guest_len: u32,
  trans_uaddr: u64,
  trans_len: u32,
});
export const kvm_sev_launch_measure = struct('kvm_sev_launch_measure', { uaddr: u64, len: u32 });
export const kvm_sev_guest_status = struct('kvm_sev_guest_status', { handle: u32, policy: u32, state: u32 });
export const kvm_sev_dbg = struct('kvm_sev_dbg', { src_uaddr: u64, dst_uaddr: u64, len: u32 });
export const kvm_sev_attestation_report = struct('kvm_sev_attestation_report', {
  mnonce: array(u8, 16),
  uaddr: u64,
  len: u32,
});
export const kvm_sev_send_start = struct('kvm_sev_send_start', {
  policy: u32,
  pdh_cert_uaddr: u64,
  pdh_cert_len: u32,
  plat_certs_uaddr: u64,
  plat_certs_len: u32,
  amd_certs_uaddr: u64,
  amd_certs_len: u32,
  session_uaddr: u64,
  session_len: u32,
});
export const kvm_sev_send_update_data = struct('kvm_sev_send_update_data', {
  hdr_uaddr: u64,
  hdr_len: u32,
  guest_uaddr: u64,
  guest_len: u32,
  trans_uaddr: u64,
  trans_len: u32,
});
export const kvm_sev_receive_start = struct('kvm_sev_receive_start', {
  handle: u32,
  policy: u32,
  pdh_uaddr: u64,
  pdh_len: u32,
  session_uaddr: u64,
  session_len: u32,
});
export const kvm_sev_receive_update_data = struct('kvm_sev_receive_update_data', {
  hdr_uaddr: u64,
  hdr_len: u32,
  guest_uaddr: u64,
  guest_len: u32,
  trans_uaddr: u64,
  trans_len: u32,
});

/** Legacy KVM device assignment (removed from the kernel; kept as uapi). */
export const KVM_DEV_ASSIGN_ENABLE_IOMMU = 1 << 0;
export const KVM_DEV_ASSIGN_PCI_2_3 = 1 << 1;
export const KVM_DEV_ASSIGN_MASK_INTX = 1 << 2;
export const kvm_assigned_pci_dev = struct('kvm_assigned_pci_dev', {
  assigned_dev_id: u32,
  busnr: u32,
  devfn: u32,
  flags: u32,
  segnr: u32,
  reserved_union: anon(union('kvm_assigned_pci_dev_reserved_union', { reserved: array(u32, 11) })),
});
export const KVM_ASSIGN_PCI_DEVICE = _IOR(KVMIO, 0x69, kvm_assigned_pci_dev);
export const KVM_DEASSIGN_PCI_DEVICE = _IOW(KVMIO, 0x72, kvm_assigned_pci_dev);
export const KVM_ASSIGN_SET_INTX_MASK = _IOW(KVMIO, 0xa4, kvm_assigned_pci_dev);
export const KVM_DEV_IRQ_HOST_INTX = 1 << 0;
export const KVM_DEV_IRQ_HOST_MSI = 1 << 1;
export const KVM_DEV_IRQ_HOST_MSIX = 1 << 2;
export const KVM_DEV_IRQ_GUEST_INTX = 1 << 8;
export const KVM_DEV_IRQ_GUEST_MSI = 1 << 9;
export const KVM_DEV_IRQ_GUEST_MSIX = 1 << 10;
export const KVM_DEV_IRQ_HOST_MASK = 0x00ff;
export const KVM_DEV_IRQ_GUEST_MASK = 0xff00;
export const kvm_assigned_irq = struct('kvm_assigned_irq', {
  assigned_dev_id: u32,
  host_irq: u32,
  guest_irq: u32,
  flags: u32,
  reserved_union: anon(union('kvm_assigned_irq_reserved_union', { reserved: array(u32, 12) })),
});
export const __KVM_DEPRECATED_VM_R_0x70 = _IOR(KVMIO, 0x70, kvm_assigned_irq);
export const KVM_ASSIGN_IRQ = __KVM_DEPRECATED_VM_R_0x70;
export const KVM_ASSIGN_DEV_IRQ = _IOW(KVMIO, 0x70, kvm_assigned_irq);
export const KVM_DEASSIGN_DEV_IRQ = _IOW(KVMIO, 0x75, kvm_assigned_irq);
export const kvm_assigned_msix_nr = struct('kvm_assigned_msix_nr', {
  assigned_dev_id: u32,
  entry_nr: u16,
  padding: u16,
});
export const KVM_ASSIGN_SET_MSIX_NR = _IOW(KVMIO, 0x73, kvm_assigned_msix_nr);
export const KVM_MAX_MSIX_PER_DEV = 256;
export const kvm_assigned_msix_entry = struct('kvm_assigned_msix_entry', {
  assigned_dev_id: u32,
  gsi: u32,
  entry: u16,
  padding: array(u16, 3),
});
export const KVM_ASSIGN_SET_MSIX_ENTRY = _IOW(KVMIO, 0x74, kvm_assigned_msix_entry);

/** KVM_CAP_X2APIC_API argument bits. */
export const KVM_X2APIC_API_USE_32BIT_IDS = 1 << 0;
export const KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK = 1 << 1;

/** ARM: bits for kvm_run.s.regs.device_irq_level. */
export const KVM_ARM_DEV_EL1_VTIMER = 1 << 0;
export const KVM_ARM_DEV_EL1_PTIMER = 1 << 1;
export const KVM_ARM_DEV_PMU = 1 << 2;

/** KVM_HYPERV_EVENTFD; KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 bits. */
export const kvm_hyperv_eventfd = struct('kvm_hyperv_eventfd', {
  conn_id: u32,
  fd: s32,
  flags: u32,
  padding: array(u32, 3),
});
export const KVM_HYPERV_EVENTFD = _IOW(KVMIO, 0xbd, kvm_hyperv_eventfd);
export const KVM_HYPERV_CONN_ID_MASK = 0x00ffffff;
export const KVM_HYPERV_EVENTFD_DEASSIGN = 1 << 0;
export const KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE = 1 << 0;
export const KVM_DIRTY_LOG_INITIALLY_SET = 1 << 1;

/**
 * Dirty ring entries (KVM_CAP_DIRTY_LOG_RING) at page KVM_DIRTY_LOG_PAGE_OFFSET of the vCPU mmap, and their
 * flags; bus-lock and PMU capability bits.
 */
export const KVM_DIRTY_GFN_F_DIRTY = 1 << 0;
export const KVM_DIRTY_GFN_F_RESET = 1 << 1;
export const KVM_DIRTY_GFN_F_MASK = 0x3;
export const kvm_dirty_gfn = struct('kvm_dirty_gfn', { flags: u32, slot: u32, offset: u64 });
export const KVM_BUS_LOCK_DETECTION_OFF = 1 << 0;
export const KVM_BUS_LOCK_DETECTION_EXIT = 1 << 1;
export const KVM_PMU_CAP_DISABLE = 1 << 0;

/** Binary statistics (KVM_GET_STATS_FD): the header, descriptor flag fields, and the descriptor (name follows). */
export const kvm_stats_header = struct('kvm_stats_header', {
  flags: u32,
  name_size: u32,
  num_desc: u32,
  id_offset: u32,
  desc_offset: u32,
  data_offset: u32,
});
export const KVM_STATS_TYPE_SHIFT = 0;
export const KVM_STATS_TYPE_MASK = 0xF << KVM_STATS_TYPE_SHIFT;
export const KVM_STATS_TYPE_CUMULATIVE = 0x0 << KVM_STATS_TYPE_SHIFT;
export const KVM_STATS_TYPE_INSTANT = 0x1 << KVM_STATS_TYPE_SHIFT;
export const KVM_STATS_TYPE_PEAK = 0x2 << KVM_STATS_TYPE_SHIFT;
export const KVM_STATS_TYPE_LINEAR_HIST = 0x3 << KVM_STATS_TYPE_SHIFT;
export const KVM_STATS_TYPE_LOG_HIST = 0x4 << KVM_STATS_TYPE_SHIFT;
export const KVM_STATS_TYPE_MAX = KVM_STATS_TYPE_LOG_HIST;
export const KVM_STATS_UNIT_SHIFT = 4;
export const KVM_STATS_UNIT_MASK = 0xF << KVM_STATS_UNIT_SHIFT;
export const KVM_STATS_UNIT_NONE = 0x0 << KVM_STATS_UNIT_SHIFT;
export const KVM_STATS_UNIT_BYTES = 0x1 << KVM_STATS_UNIT_SHIFT;
export const KVM_STATS_UNIT_SECONDS = 0x2 << KVM_STATS_UNIT_SHIFT;
export const KVM_STATS_UNIT_CYCLES = 0x3 << KVM_STATS_UNIT_SHIFT;
export const KVM_STATS_UNIT_BOOLEAN = 0x4 << KVM_STATS_UNIT_SHIFT;
export const KVM_STATS_UNIT_MAX = KVM_STATS_UNIT_BOOLEAN;
export const KVM_STATS_BASE_SHIFT = 8;
export const KVM_STATS_BASE_MASK = 0xF << KVM_STATS_BASE_SHIFT;
export const KVM_STATS_BASE_POW10 = 0x0 << KVM_STATS_BASE_SHIFT;
export const KVM_STATS_BASE_POW2 = 0x1 << KVM_STATS_BASE_SHIFT;
export const KVM_STATS_BASE_MAX = KVM_STATS_BASE_POW2;
export const kvm_stats_desc = struct('kvm_stats_desc', {
  flags: u32,
  exponent: s16,
  size: u16,
  offset: u32,
  bucket_size: u32,
  name: flex(u8),
});
export const KVM_GET_STATS_FD = _IO(KVMIO, 0xce);

/** KVM_GET_XSAVE2, s390 protected dump, and KVM_CAP_X86_NOTIFY_VMEXIT bits. */
export const KVM_GET_XSAVE2 = _IOR(KVMIO, 0xcf, kvm_xsave);
export const KVM_S390_PV_CPU_COMMAND = _IOWR(KVMIO, 0xd0, kvm_pv_cmd);
export const KVM_X86_NOTIFY_VMEXIT_ENABLED = 1 << 0;
export const KVM_X86_NOTIFY_VMEXIT_USER = 1 << 1;

/** s390 zPCI interpretation (KVM_S390_ZPCI_OP): struct, operations and flags. */
export const kvm_s390_zpci_op = struct('kvm_s390_zpci_op', {
  fh: u32,
  op: u8,
  pad: array(u8, 3),
  u: union('kvm_s390_zpci_op_u', {
    reg_aen: struct('kvm_s390_zpci_op_u_reg_aen', {
      ibv: u64,
      sb: u64,
      flags: u32,
      noi: u32,
      isc: u8,
      sbo: u8,
      pad: u16,
    }),
    reserved: array(u64, 8),
  }),
});
export const KVM_S390_ZPCI_OP = _IOW(KVMIO, 0xd1, kvm_s390_zpci_op);

/** KVM_SET_MEMORY_ATTRIBUTES (6.8, VM fd): attributes of a guest-physical range. */
export const kvm_memory_attributes = struct('kvm_memory_attributes', {
  address: u64,
  size: u64,
  attributes: u64,
  flags: u64,
});
export const KVM_SET_MEMORY_ATTRIBUTES = _IOW(KVMIO, 0xd2, kvm_memory_attributes);
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1 << 3;

/** KVM_CREATE_GUEST_MEMFD (6.8, VM fd): a file of guest memory that the VMM need not map. */
export const kvm_create_guest_memfd = struct('kvm_create_guest_memfd', {
  size: u64,
  flags: u64,
  reserved: array(u64, 6),
});
export const KVM_CREATE_GUEST_MEMFD = _IOWR(KVMIO, 0xd4, kvm_create_guest_memfd);
/** kvm_create_guest_memfd.flags (6.18). */
export const GUEST_MEMFD_FLAG_MMAP = 1 << 0;
export const GUEST_MEMFD_FLAG_INIT_SHARED = 1 << 1;
export const KVM_S390_ZPCIOP_REG_AEN = 0;
export const KVM_S390_ZPCIOP_DEREG_AEN = 1;
export const KVM_S390_ZPCIOP_REGAEN_HOST = 1 << 0;
