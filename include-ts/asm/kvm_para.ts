// Mirrors <asm/kvm_para.h> (x86 uapi): the KVM paravirtual CPUID leaves, feature bits and MSRs, and the
// layouts KVM writes into guest memory for them (arch/x86/kvm/x86.c kvm_set_msr_common MSR_KVM_*).

export const KVM_CPUID_SIGNATURE = 0x40000000;
export const KVM_CPUID_FEATURES = 0x40000001;
export const KVM_FEATURE_CLOCKSOURCE = 0;
export const KVM_FEATURE_NOP_IO_DELAY = 1;
export const KVM_FEATURE_MMU_OP = 2;
export const KVM_FEATURE_CLOCKSOURCE2 = 3;
export const KVM_FEATURE_ASYNC_PF = 4;
export const KVM_FEATURE_STEAL_TIME = 5;
export const KVM_FEATURE_PV_EOI = 6;
export const KVM_FEATURE_PV_UNHALT = 7;
export const KVM_FEATURE_PV_TLB_FLUSH = 9;
export const KVM_FEATURE_ASYNC_PF_VMEXIT = 10;
export const KVM_FEATURE_PV_SEND_IPI = 11;
export const KVM_FEATURE_POLL_CONTROL = 12;
export const KVM_FEATURE_PV_SCHED_YIELD = 13;
export const KVM_FEATURE_ASYNC_PF_INT = 14;
export const KVM_FEATURE_MSI_EXT_DEST_ID = 15;
export const KVM_FEATURE_HC_MAP_GPA_RANGE = 16;
export const KVM_FEATURE_MIGRATION_CONTROL = 17;
export const KVM_HINTS_REALTIME = 0;
export const KVM_FEATURE_CLOCKSOURCE_STABLE_BIT = 24;

export const MSR_KVM_WALL_CLOCK = 0x11;
export const MSR_KVM_SYSTEM_TIME = 0x12;
export const KVM_MSR_ENABLED = 1;
export const MSR_KVM_WALL_CLOCK_NEW = 0x4b564d00;
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
export const MSR_KVM_ASYNC_PF_EN = 0x4b564d02;
export const MSR_KVM_STEAL_TIME = 0x4b564d03;
export const MSR_KVM_PV_EOI_EN = 0x4b564d04;
export const MSR_KVM_POLL_CONTROL = 0x4b564d05;
export const MSR_KVM_ASYNC_PF_INT = 0x4b564d06;
export const MSR_KVM_ASYNC_PF_ACK = 0x4b564d07;
export const MSR_KVM_MIGRATION_CONTROL = 0x4b564d08;

export const KVM_VCPU_PREEMPTED = 1 << 0;
export const KVM_VCPU_FLUSH_TLB = 1 << 1;

export const KVM_STEAL_ALIGNMENT_BITS = 5;
/** (-1ULL << (KVM_STEAL_ALIGNMENT_BITS + 1)): the address bits of MSR_KVM_STEAL_TIME. */
export const KVM_STEAL_VALID_BITS = 0xffff_ffff_ffff_ffc0n;
export const KVM_STEAL_RESERVED_MASK = ((1 << KVM_STEAL_ALIGNMENT_BITS) - 1) << 1;

export const KVM_ASYNC_PF_ENABLED = 1 << 0;
export const KVM_ASYNC_PF_SEND_ALWAYS = 1 << 1;
export const KVM_ASYNC_PF_DELIVERY_AS_PF_VMEXIT = 1 << 2;
export const KVM_ASYNC_PF_DELIVERY_AS_INT = 1 << 3;
/** GENMASK(7, 0). */
export const KVM_ASYNC_PF_VEC_MASK = 0xff;

export const KVM_MIGRATION_READY = 1 << 0;

export const KVM_PV_REASON_PAGE_NOT_PRESENT = 1;
export const KVM_PV_REASON_PAGE_READY = 2;

export const KVM_PV_EOI_BIT = 0;
export const KVM_PV_EOI_MASK = 0x1 << KVM_PV_EOI_BIT;
export const KVM_PV_EOI_ENABLED = KVM_PV_EOI_MASK;
export const KVM_PV_EOI_DISABLED = 0x0;
