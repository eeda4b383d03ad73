// Mirrors <asm/processor-flags.h> (x86 uapi): the CR0 and CR4 bits KVM_SET_SREGS validates
// (arch/x86/kvm/x86.c kvm_is_valid_sregs, kvm_is_valid_cr0, kvm_is_valid_cr4).

export const X86_CR0_PE = 0x00000001;
export const X86_CR0_MP = 0x00000002;
export const X86_CR0_EM = 0x00000004;
export const X86_CR0_TS = 0x00000008;
export const X86_CR0_ET = 0x00000010;
export const X86_CR0_NE = 0x00000020;
export const X86_CR0_WP = 0x00010000;
export const X86_CR0_AM = 0x00040000;
export const X86_CR0_NW = 0x20000000;
export const X86_CR0_CD = 0x40000000;
export const X86_CR0_PG = 0x80000000;

export const X86_CR4_VME = 0x00000001;
export const X86_CR4_PVI = 0x00000002;
export const X86_CR4_TSD = 0x00000004;
export const X86_CR4_DE = 0x00000008;
export const X86_CR4_PSE = 0x00000010;
export const X86_CR4_PAE = 0x00000020;
export const X86_CR4_MCE = 0x00000040;
export const X86_CR4_PGE = 0x00000080;
export const X86_CR4_PCE = 0x00000100;
export const X86_CR4_OSFXSR = 0x00000200;
export const X86_CR4_OSXMMEXCPT = 0x00000400;
export const X86_CR4_UMIP = 0x00000800;
export const X86_CR4_LA57 = 0x00001000;
export const X86_CR4_VMXE = 0x00002000;
export const X86_CR4_SMXE = 0x00004000;
export const X86_CR4_FSGSBASE = 0x00010000;
export const X86_CR4_PCIDE = 0x00020000;
export const X86_CR4_OSXSAVE = 0x00040000;
export const X86_CR4_SMEP = 0x00100000;
export const X86_CR4_SMAP = 0x00200000;
export const X86_CR4_PKE = 0x00400000;
