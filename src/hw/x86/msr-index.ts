// arch/x86/include/asm/msr-index.h (not a uapi header, so not in include-ts): the architectural MSR
// numbers and EFER bits the KVM model handles (src/linux/kvm/msr.ts), with their C names.

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APICBASE = 0x1b;
export const MSR_IA32_TSC_ADJUST = 0x3b;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_IA32_CR_PAT = 0x277;
export const MSR_MTRRdefType = 0x2ff;
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
/** Machine-check architecture (src/linux/kvm/mce.ts). */
export const MSR_IA32_P5_MC_ADDR = 0x0;
export const MSR_IA32_P5_MC_TYPE = 0x1;
export const MSR_IA32_MCG_CAP = 0x179;
export const MSR_IA32_MCG_STATUS = 0x17a;
export const MSR_IA32_MCG_CTL = 0x17b;
export const MSR_IA32_MCG_EXT_CTL = 0x4d0;
export const MSR_IA32_MC0_CTL = 0x400;
export const MSR_IA32_MC0_STATUS = 0x401;
export const MSR_IA32_MC0_ADDR = 0x402;
export const MSR_IA32_MC0_MISC = 0x403;
export const MSR_IA32_MC0_CTL2 = 0x280;
/** The x2APIC registers as MSRs: APIC_BASE_MSR + (xAPIC offset >> 4), up to 0x8ff (apicdef.h). */
export const APIC_BASE_MSR = 0x800;

export const MSR_EFER = 0xc0000080;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SYSCALL_MASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
/** AMD's HWCR (McStatusWrEn, bit 18, lets a guest write MCi_STATUS). */
export const MSR_K7_HWCR = 0xc0010015;

/** EFER bits. */
export const EFER_SCE = 1 << 0;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NX = 1 << 11;
export const EFER_SVME = 1 << 12;
export const EFER_LMSLE = 1 << 13;
export const EFER_FFXSR = 1 << 14;

/** IA32_MISC_ENABLE bits KVM sets at RESET. */
export const MSR_IA32_MISC_ENABLE_BTS_UNAVAIL = 1 << 11;
export const MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL = 1 << 12;

/** IA32_PAT after RESET: WB, WT, UC-, UC in both halves. */
export const MSR_IA32_CR_PAT_DEFAULT = 0x0007040600070406n;
/** MSR-based features (x86.c msr_based_features): microcode revision, ARCH_CAPABILITIES, PERF_CAPABILITIES, PLATFORM_INFO. */
export const MSR_IA32_UCODE_REV = 0x8b;
export const MSR_IA32_ARCH_CAPABILITIES = 0x10a;
export const MSR_IA32_PERF_CAPABILITIES = 0x345;
export const MSR_PLATFORM_INFO = 0xce;
