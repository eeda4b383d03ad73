// <linux/memfd.h>: memfd_create(2) flags (mm/memfd.c).
export const MFD_CLOEXEC = 0x0001;
export const MFD_ALLOW_SEALING = 0x0002;
export const MFD_HUGETLB = 0x0004;
/** Since 6.3: not executable, and sealed so (F_SEAL_EXEC); MFD_EXEC asks for the exec bits. */
export const MFD_NOEXEC_SEAL = 0x0008;
export const MFD_EXEC = 0x0010;
/** The huge page size, log2, in bits 26-31 with MFD_HUGETLB (HUGETLB_FLAG_ENCODE_SHIFT/MASK). */
export const MFD_HUGE_SHIFT = 26;
export const MFD_HUGE_MASK = 0x3f;
