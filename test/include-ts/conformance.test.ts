// ABI conformance: include-ts against the installed C headers, as compiled by this machine's gcc.
//
// Every export of each include-ts module is checked generically: numbers and bigints (constants and
// ioctl numbers) against the macro's value, layouts against sizeof/_Alignof/offsetof/member sizes and
// bitfield positions, strings against the string macro, functions (function-like macros) against the
// macro applied to sample arguments. One C program per header group. It also proves coverage: every
// integer/string/function-like macro, enumerator and struct that <linux/vfio.h> defines itself must be
// exported by include-ts/linux/vfio.ts; for <linux/kvm.h> the items an x86 VMM needs must be present,
// and the coverage of the whole header is reported.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordType } from '../../abi/layout.js';
import { constantProbe, gccAvailable, integerConstants, probeSource, recordProbes, runProbe, type ProbeItem, type ProbeMismatch, type ProbeResult } from '../../abi/cprobe.js';
import * as asmGenericIoctls from '../../include-ts/asm-generic/ioctls.js';
import * as asmKvm from '../../include-ts/asm/kvm.js';
import * as processorFlags from '../../include-ts/asm/processor-flags.js';
import * as kvmPara from '../../include-ts/asm/kvm_para.js';
import * as eventfd from '../../include-ts/linux/eventfd.js';
import * as eventpoll from '../../include-ts/linux/eventpoll.js';
import * as fcntl from '../../include-ts/linux/fcntl.js';
import * as linuxFs from '../../include-ts/linux/fs.js';
import * as watchQueue from '../../include-ts/linux/watch_queue.js';
import * as kvm from '../../include-ts/linux/kvm.js';
import * as mman from '../../include-ts/linux/mman.js';
import * as memfd from '../../include-ts/linux/memfd.js';
import * as pciRegs from '../../include-ts/linux/pci_regs.js';
import * as poll from '../../include-ts/linux/poll.js';
import * as resource from '../../include-ts/linux/resource.js';
import * as capability from '../../include-ts/linux/capability.js';
import * as asmStat from '../../include-ts/asm/stat.js';
import * as linuxStat from '../../include-ts/linux/stat.js';
import * as vfio from '../../include-ts/linux/vfio.js';
import * as iommufd from '../../include-ts/linux/iommufd.js';

type Module = Readonly<Record<string, unknown>>;

interface Group {
  /** The header this group mirrors, as named in the summary line. */
  readonly header: string;
  readonly includes: readonly string[];
  readonly module: Module;
  /** Exports that belong to another group (re-exports, or names only another group's header defines). */
  readonly exclude?: Module;
  readonly prelude?: string;
  readonly flags?: readonly string[];
  /**
   * Macros newer than the installed headers may be: where the header lacks one, the probe defines it
   * with its definition from the newer uapi header, so its value is still computed by gcc from the
   * installed header's terms. A test checks that the installed header lacks only names newer than it.
   */
  readonly newer?: Readonly<Record<string, NewerMacro>>;
}

interface NewerMacro {
  /** The first kernel whose uapi header defines it. */
  readonly since: string;
  /** Its definition there, in terms the installed header defines. */
  readonly definition: string;
}

/** include/uapi/linux/fcntl.h (6.18) names that the installed 6.1 headers do not have yet. */
const FCNTL_NEWER: Readonly<Record<string, NewerMacro>> = {
  F_DUPFD_QUERY: { since: '6.10', definition: '(F_LINUX_SPECIFIC_BASE + 3)' },
  F_CREATED_QUERY: { since: '6.12', definition: '(F_LINUX_SPECIFIC_BASE + 4)' },
  F_SEAL_EXEC: { since: '6.3', definition: '0x0020' },
};

const MMAN_NEWER: Readonly<Record<string, NewerMacro>> = {
  MAP_DROPPABLE: { since: '6.11', definition: '0x08' },
  MADV_GUARD_INSTALL: { since: '6.13', definition: '102' },
  MADV_GUARD_REMOVE: { since: '6.13', definition: '103' },
};

const MEMFD_NEWER: Readonly<Record<string, NewerMacro>> = {
  MFD_NOEXEC_SEAL: { since: '6.3', definition: '0x0008U' },
  MFD_EXEC: { since: '6.3', definition: '0x0010U' },
};

const STATX_NEWER: Readonly<Record<string, NewerMacro>> = {
  STATX_MNT_ID_UNIQUE: { since: '6.8', definition: '0x00004000U' },
};

/** The group's prelude, then a fallback definition of each newer macro the headers lack. */
function preludeOf(group: Group): string {
  const fallbacks = Object.entries(group.newer ?? {}).map(([n, m]) => `#ifndef ${n}\n#define ${n} ${m.definition}\n#endif`);
  return [group.prelude ?? '', ...fallbacks].join('\n');
}

/** include/uapi/linux/kvm.h (6.18) names that the installed 6.1 headers do not have yet. */
const KVM_NEWER: Readonly<Record<string, NewerMacro>> = {
  KVM_MEM_GUEST_MEMFD: { since: '6.8', definition: '(1UL << 2)' },
  KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP: { since: '6.3', definition: '225' },
  KVM_CAP_USER_MEMORY2: { since: '6.8', definition: '231' },
  KVM_CAP_MEMORY_ATTRIBUTES: { since: '6.8', definition: '233' },
  KVM_CAP_GUEST_MEMFD: { since: '6.8', definition: '234' },
  KVM_CAP_VM_TYPES: { since: '6.8', definition: '235' },
  KVM_CAP_GUEST_MEMFD_FLAGS: { since: '6.18', definition: '244' },
  KVM_SET_USER_MEMORY_REGION2: { since: '6.8', definition: '_IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)' },
  KVM_SET_MEMORY_ATTRIBUTES: { since: '6.8', definition: '_IOW(KVMIO, 0xd2, struct kvm_memory_attributes)' },
  KVM_MEMORY_ATTRIBUTE_PRIVATE: { since: '6.8', definition: '(1ULL << 3)' },
  KVM_CREATE_GUEST_MEMFD: { since: '6.8', definition: '_IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)' },
  GUEST_MEMFD_FLAG_MMAP: { since: '6.18', definition: '(1ULL << 0)' },
  GUEST_MEMFD_FLAG_INIT_SHARED: { since: '6.18', definition: '(1ULL << 1)' },
  KVM_DEV_VFIO_FILE: { since: '6.6', definition: 'KVM_DEV_VFIO_GROUP' },
  KVM_DEV_VFIO_FILE_ADD: { since: '6.6', definition: 'KVM_DEV_VFIO_GROUP_ADD' },
  KVM_DEV_VFIO_FILE_DEL: { since: '6.6', definition: 'KVM_DEV_VFIO_GROUP_DEL' },
};
/** The 6.8 structs of those ioctls, as the 6.18 header defines them, where the installed header lacks them. */
const KVM_NEWER_STRUCTS = `#ifndef KVM_CAP_USER_MEMORY2
struct kvm_userspace_memory_region2 { __u32 slot; __u32 flags; __u64 guest_phys_addr; __u64 memory_size;
  __u64 userspace_addr; __u64 guest_memfd_offset; __u32 guest_memfd; __u32 pad1; __u64 pad2[14]; };
struct kvm_memory_attributes { __u64 address; __u64 size; __u64 attributes; __u64 flags; };
struct kvm_create_guest_memfd { __u64 size; __u64 flags; __u64 reserved[6]; };
#endif`;
/** arch/x86/include/uapi/asm/kvm.h (6.18) VM types. */
const ASM_KVM_NEWER: Readonly<Record<string, NewerMacro>> = {
  KVM_X86_DEFAULT_VM: { since: '6.8', definition: '0' },
  KVM_X86_SW_PROTECTED_VM: { since: '6.8', definition: '1' },
  KVM_X86_SEV_VM: { since: '6.10', definition: '2' },
  KVM_X86_SEV_ES_VM: { since: '6.10', definition: '3' },
  KVM_X86_SNP_VM: { since: '6.11', definition: '4' },
  KVM_X86_TDX_VM: { since: '6.16', definition: '5' },
};

/** include/uapi/linux/vfio.h (6.18) device cdev names that the installed 6.1 headers do not have yet. */
const VFIO_NEWER: Readonly<Record<string, NewerMacro>> = {
  VFIO_DEVICE_BIND_FLAG_TOKEN: { since: '6.17', definition: '(1 << 0)' },
  VFIO_DEVICE_BIND_IOMMUFD: { since: '6.6', definition: '_IO(VFIO_TYPE, VFIO_BASE + 18)' },
  VFIO_DEVICE_ATTACH_PASID: { since: '6.13', definition: '(1 << 0)' },
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: { since: '6.6', definition: '_IO(VFIO_TYPE, VFIO_BASE + 19)' },
  VFIO_DEVICE_DETACH_PASID: { since: '6.13', definition: '(1 << 0)' },
  VFIO_DEVICE_DETACH_IOMMUFD_PT: { since: '6.6', definition: '_IO(VFIO_TYPE, VFIO_BASE + 20)' },
  VFIO_PCI_DEVID_OWNED: { since: '6.5', definition: '0' },
  VFIO_PCI_DEVID_NOT_OWNED: { since: '6.5', definition: '-1' },
  VFIO_PCI_HOT_RESET_FLAG_DEV_ID: { since: '6.5', definition: '(1 << 0)' },
  VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED: { since: '6.5', definition: '(1 << 1)' },
};
/** Their structs as the 6.18 header defines them, where the installed header lacks them. */
const VFIO_NEWER_STRUCTS = `#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd { __u32 argsz; __u32 flags; __s32 iommufd; __u32 out_devid; __aligned_u64 token_uuid_ptr; };
struct vfio_device_attach_iommufd_pt { __u32 argsz; __u32 flags; __u32 pt_id; __u32 pasid; };
struct vfio_device_detach_iommufd_pt { __u32 argsz; __u32 flags; __u32 pasid; };
#endif`;
/**
 * <linux/iommufd.h> appeared in 6.2; where the installed headers lack it, the probe declares what
 * include-ts/linux/iommufd.ts mirrors as the 6.18 header defines it (enums, structs, ioctl macros), so gcc still
 * computes every layout and number from C declarations.
 */
const IOMMUFD_FALLBACK = `#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#else
#define IOMMUFD_TYPE (';')
enum { IOMMUFD_CMD_BASE = 0x80, IOMMUFD_CMD_DESTROY = IOMMUFD_CMD_BASE, IOMMUFD_CMD_IOAS_ALLOC = 0x81,
  IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82, IOMMUFD_CMD_IOAS_COPY = 0x83, IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84,
  IOMMUFD_CMD_IOAS_MAP = 0x85, IOMMUFD_CMD_IOAS_UNMAP = 0x86, IOMMUFD_CMD_OPTION = 0x87, IOMMUFD_CMD_VFIO_IOAS = 0x88,
  IOMMUFD_CMD_HWPT_ALLOC = 0x89, IOMMUFD_CMD_GET_HW_INFO = 0x8a, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b,
  IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c, IOMMUFD_CMD_HWPT_INVALIDATE = 0x8d, IOMMUFD_CMD_FAULT_QUEUE_ALLOC = 0x8e,
  IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f, IOMMUFD_CMD_VIOMMU_ALLOC = 0x90, IOMMUFD_CMD_VDEVICE_ALLOC = 0x91,
  IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92, IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93, IOMMUFD_CMD_HW_QUEUE_ALLOC = 0x94 };
struct iommu_destroy { __u32 size; __u32 id; };
struct iommu_ioas_alloc { __u32 size; __u32 flags; __u32 out_ioas_id; };
struct iommu_iova_range { __aligned_u64 start; __aligned_u64 last; };
struct iommu_ioas_iova_ranges { __u32 size; __u32 ioas_id; __u32 num_iovas; __u32 __reserved;
  __aligned_u64 allowed_iovas; __aligned_u64 out_iova_alignment; };
struct iommu_ioas_allow_iovas { __u32 size; __u32 ioas_id; __u32 num_iovas; __u32 __reserved; __aligned_u64 allowed_iovas; };
enum iommufd_ioas_map_flags { IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0, IOMMU_IOAS_MAP_WRITEABLE = 1 << 1, IOMMU_IOAS_MAP_READABLE = 1 << 2 };
struct iommu_ioas_map { __u32 size; __u32 flags; __u32 ioas_id; __u32 __reserved; __aligned_u64 user_va;
  __aligned_u64 length; __aligned_u64 iova; };
struct iommu_ioas_copy { __u32 size; __u32 flags; __u32 dst_ioas_id; __u32 src_ioas_id; __aligned_u64 length;
  __aligned_u64 dst_iova; __aligned_u64 src_iova; };
struct iommu_ioas_unmap { __u32 size; __u32 ioas_id; __aligned_u64 iova; __aligned_u64 length; };
enum iommufd_option { IOMMU_OPTION_RLIMIT_MODE = 0, IOMMU_OPTION_HUGE_PAGES = 1 };
enum iommufd_option_ops { IOMMU_OPTION_OP_SET = 0, IOMMU_OPTION_OP_GET = 1 };
struct iommu_option { __u32 size; __u32 option_id; __u16 op; __u16 __reserved; __u32 object_id; __aligned_u64 val64; };
enum iommufd_vfio_ioas_op { IOMMU_VFIO_IOAS_GET = 0, IOMMU_VFIO_IOAS_SET = 1, IOMMU_VFIO_IOAS_CLEAR = 2 };
struct iommu_vfio_ioas { __u32 size; __u32 ioas_id; __u16 op; __u16 __reserved; };
enum iommufd_hwpt_alloc_flags { IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0, IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
  IOMMU_HWPT_FAULT_ID_VALID = 1 << 2, IOMMU_HWPT_ALLOC_PASID = 1 << 3 };
enum iommu_hwpt_data_type { IOMMU_HWPT_DATA_NONE = 0, IOMMU_HWPT_DATA_VTD_S1 = 1, IOMMU_HWPT_DATA_ARM_SMMUV3 = 2 };
struct iommu_hwpt_alloc { __u32 size; __u32 flags; __u32 dev_id; __u32 pt_id; __u32 out_hwpt_id; __u32 __reserved;
  __u32 data_type; __u32 data_len; __aligned_u64 data_uptr; __u32 fault_id; __u32 __reserved2; };
enum iommu_hw_info_vtd_flags { IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0 };
struct iommu_hw_info_vtd { __u32 flags; __u32 __reserved; __aligned_u64 cap_reg; __aligned_u64 ecap_reg; };
enum iommu_hw_info_type { IOMMU_HW_INFO_TYPE_NONE = 0, IOMMU_HW_INFO_TYPE_DEFAULT = 0, IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
  IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2, IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3 };
enum iommufd_hw_capabilities { IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0, IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1,
  IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2 };
enum iommufd_hw_info_flags { IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0 };
struct iommu_hw_info { __u32 size; __u32 flags; __u32 dev_id; __u32 data_len; __aligned_u64 data_uptr;
  union { __u32 in_data_type; __u32 out_data_type; }; __u8 out_max_pasid_log2; __u8 __reserved[3];
  __aligned_u64 out_capabilities; };
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)
#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)
#define IOMMU_IOAS_ALLOW_IOVAS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOW_IOVAS)
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)
#define IOMMU_IOAS_MAP_FILE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE)
#define IOMMU_IOAS_COPY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_COPY)
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)
#define IOMMU_OPTION _IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION)
#define IOMMU_VFIO_IOAS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VFIO_IOAS)
#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC)
#define IOMMU_GET_HW_INFO _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO)
#define IOMMU_HWPT_SET_DIRTY_TRACKING _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING)
#define IOMMU_HWPT_GET_DIRTY_BITMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP)
#define IOMMU_HWPT_INVALIDATE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE)
#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC)
#define IOMMU_VIOMMU_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VIOMMU_ALLOC)
#define IOMMU_VDEVICE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VDEVICE_ALLOC)
#define IOMMU_IOAS_CHANGE_PROCESS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_CHANGE_PROCESS)
#define IOMMU_VEVENTQ_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VEVENTQ_ALLOC)
#define IOMMU_HW_QUEUE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HW_QUEUE_ALLOC)
#endif`;

const GROUPS: readonly Group[] = [
  { header: 'linux/vfio.h', includes: ['linux/vfio.h'], module: vfio, newer: VFIO_NEWER, prelude: VFIO_NEWER_STRUCTS },
  { header: 'linux/iommufd.h', includes: ['linux/types.h', 'linux/ioctl.h'], module: iommufd, prelude: IOMMUFD_FALLBACK },
  { header: 'asm/kvm.h', includes: ['asm/kvm.h'], module: asmKvm, newer: ASM_KVM_NEWER },
  { header: 'asm/processor-flags.h', includes: ['asm/processor-flags.h'], module: processorFlags },
  // KVM_ASYNC_PF_VEC_MASK is GENMASK(7, 0), which no uapi header defines.
  { header: 'asm/kvm_para.h', includes: ['asm/kvm_para.h'], module: kvmPara, prelude: '#define GENMASK(h, l) (((~0UL) << (l)) & (~0UL >> (63 - (h))))' },
  // KVM_COALESCED_MMIO_MAX is written in terms of the kernel's PAGE_SIZE (4 KiB on x86).
  {
    header: 'linux/kvm.h', includes: ['linux/kvm.h'], module: kvm, exclude: asmKvm, newer: KVM_NEWER,
    prelude: `#ifndef PAGE_SIZE\n#define PAGE_SIZE 4096\n#endif\n${KVM_NEWER_STRUCTS}`,
  },
  { header: 'linux/pci_regs.h', includes: ['linux/pci_regs.h'], module: pciRegs },
  { header: 'sys/eventfd.h', includes: ['sys/eventfd.h'], module: eventfd },
  // glibc's <fcntl.h>, and the kernel's own <linux/fcntl.h> (F_LINUX_SPECIFIC_BASE and the 6.10+ commands).
  // glibc's x86-64 O_LARGEFILE is 0 (every 64-bit open is large), and its __O_TMPFILE includes
  // O_DIRECTORY; the kernel's flags are checked below.
  { header: 'fcntl.h', includes: ['fcntl.h'], module: fcntl, exclude: { ...FCNTL_NEWER, O_LARGEFILE: null, __O_TMPFILE: null }, flags: ['-D_GNU_SOURCE'] },
  { header: 'linux/fcntl.h', includes: ['linux/fcntl.h'], module: fcntl, newer: FCNTL_NEWER },
  { header: 'linux/fs.h', includes: ['linux/fs.h'], module: linuxFs },
  { header: 'linux/watch_queue.h', includes: ['linux/watch_queue.h'], module: watchQueue },
  // glibc 2.36 lacks the newest advice; the kernel's <linux/mman.h> has all but the 6.13 guard regions.
  { header: 'sys/mman.h', includes: ['sys/mman.h'], module: mman, flags: ['-D_GNU_SOURCE'], exclude: { MADV_COLLAPSE: null, MADV_SOFT_OFFLINE: null, MADV_GUARD_INSTALL: null, MADV_GUARD_REMOVE: null, MAP_DROPPABLE: null } },
  { header: 'linux/mman.h', includes: ['linux/mman.h'], module: mman, exclude: { MAP_FAILED: null }, newer: MMAN_NEWER },
  { header: 'linux/memfd.h', includes: ['linux/memfd.h'], module: memfd, newer: MEMFD_NEWER },
  // EPOLLNVAL and friends are in the kernel's <linux/eventpoll.h>; glibc's <sys/epoll.h> lacks EPOLLNVAL.
  { header: 'poll.h', includes: ['poll.h', 'linux/eventpoll.h'], module: poll, flags: ['-D_GNU_SOURCE'] },
  // The kernel's header, not glibc's <sys/epoll.h>: it has EPOLL_URING_WAKE and EPOLLNVAL, and its
  // struct epoll_event is the kernel's (data a __u64, packed on x86-64: 12 bytes, data at offset 4).
  { header: 'linux/eventpoll.h', includes: ['linux/eventpoll.h'], module: eventpoll },
  { header: 'asm-generic/ioctls.h', includes: ['asm-generic/ioctls.h'], module: asmGenericIoctls },
  // MLOCK_LIMIT is written in terms of the kernel's PAGE_SIZE.
  { header: 'linux/resource.h', includes: ['linux/resource.h'], module: resource, prelude: '#ifndef PAGE_SIZE\n#define PAGE_SIZE 4096\n#endif' },
  { header: 'linux/capability.h', includes: ['linux/capability.h'], module: capability },
  { header: 'asm/stat.h', includes: ['asm/stat.h'], module: asmStat },
  // glibc's <sys/stat.h> (its own struct stat is another layout: only the mode bits are checked there);
  // with _GNU_SOURCE it brings the kernel's <linux/stat.h>: struct statx and the STATX_* bits.
  { header: 'sys/stat.h', includes: ['sys/stat.h'], module: linuxStat, flags: ['-D_GNU_SOURCE'], newer: STATX_NEWER },
];

function isLayout(v: unknown): v is RecordType {
  return typeof v === 'object' && v !== null && ((v as RecordType).kind === 'struct' || (v as RecordType).kind === 'union') && Array.isArray((v as RecordType).fields);
}

/** Arguments a function-like macro is applied to, by arity (kept below 2^31: the C macros compute in int). */
const SAMPLE_ARGS: Readonly<Record<number, readonly (readonly number[])[]>> = {
  1: [[0], [1], [2], [3], [4], [5], [6], [7], [0x12], [0x1234], [0x12345678], [0x7ffff0f7]],
  4: [[0, 0, 0, 0], [1, 2, 1, 0x1234], [0, 0xff, 3, 0xffff], [1, 0, 0, 1]],
};

/** Probe items for every export of a module (the C names must exist in the group's headers). */
function probeItems(group: Group): ProbeItem[] {
  const items: ProbeItem[] = [];
  for (const [name, value] of Object.entries(group.module)) {
    if (group.exclude && name in group.exclude) continue;
    if (typeof value === 'number' || typeof value === 'bigint') {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error(`${group.header}: ${name} = ${value} is not a safe integer`);
      items.push(constantProbe(name, value));
    } else if (typeof value === 'string') {
      items.push({ key: name, cExpr: '0', cBlock: `printf("%s", ${name});`, expected: 0n, expectedText: value });
    } else if (typeof value === 'function') {
      const fn = value as (...args: number[]) => number;
      const samples = SAMPLE_ARGS[fn.length];
      if (!samples) throw new Error(`${group.header}: no sample arguments for ${name} with ${fn.length} parameters`);
      for (const args of samples) items.push(constantProbe(`${name}(${args.join(', ')})`, fn(...args)));
    } else if (isLayout(value)) {
      if (value.name !== name) throw new Error(`${group.header}: export ${name} holds the layout of ${value.cname}`);
      const cf = value.flexField?.type.kind === 'flex' ? value.flexField.type.countField : undefined;
      if (cf !== undefined && !value.fields.some((f) => f.name === cf && f.offset < value.flexField!.offset)) {
        throw new Error(`${group.header}: ${value.cname}.${value.flexField!.name} counts with ${cf}, which is not a member before it`);
      }
      items.push(...recordProbes(value));
    } else {
      throw new Error(`${group.header}: export ${name} is neither a constant, a string, a function-like macro nor a layout`);
    }
  }
  return items;
}

// ------------------------------------------------------------------------------------------------
// What the headers define themselves (for the coverage proof)

function gcc(args: readonly string[], input: string): string {
  return execFileSync('gcc', [...args], { input, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The file gcc opens for `#include <name>` (e.g. asm/kvm.h lives under the multiarch directory). */
function headerPath(name: string): string {
  const out = gcc(['-E', '-x', 'c', '-'], `#include <${name}>\n`);
  for (const m of out.matchAll(/^# \d+ "([^"]+)"/gm)) if (m[1]!.endsWith(`/${name}`)) return m[1]!;
  throw new Error(`gcc did not open ${name}`);
}

interface HeaderDefs {
  /** Object-like macros with an integer value, string macros, and function-like macros defined in the header's own text. */
  readonly integers: string[];
  readonly strings: string[];
  readonly functions: string[];
  readonly enumerators: string[];
  readonly structs: string[];
}

function headerDefs(name: string): HeaderDefs {
  const text = readFileSync(headerPath(name), 'utf8').replace(/\\\n/g, ' ');
  const code = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, '');
  // gcc's view of each macro: `#define NAME(params) body` / `#define NAME body`.
  const macros = new Map<string, { params: boolean; body: string }>();
  for (const m of gcc(['-dM', '-E', '-x', 'c', '-'], `#include <${name}>\n`).matchAll(/^#define (\w+)(\([^)]*\))?(?: (.*))?$/gm)) {
    macros.set(m[1]!, { params: m[2] !== undefined, body: (m[3] ?? '').trim() });
  }
  const defs: HeaderDefs = { integers: [], strings: [], functions: [], enumerators: [], structs: [] };
  const seen = new Set<string>();
  for (const m of code.matchAll(/^\s*#\s*define\s+(\w+)/gm)) {
    const n = m[1]!;
    const def = macros.get(n);
    if (seen.has(n) || !def) continue; // not defined in this configuration (e.g. an #ifndef fallback)
    seen.add(n);
    if (def.params) defs.functions.push(n);
    else if (def.body === '' || def.body === n) continue; // include guard, feature flag, enumerator alias
    else if (def.body.startsWith('"')) defs.strings.push(n);
    else defs.integers.push(n);
  }
  const noPp = code.replace(/^\s*#.*$/gm, '');
  for (const m of noPp.matchAll(/\benum\s*\w*\s*\{([^}]*)\}/g)) {
    for (const e of m[1]!.split(',')) {
      const id = e.trim().split(/[\s=]/)[0];
      if (id) defs.enumerators.push(id);
    }
  }
  for (const m of noPp.matchAll(/\bstruct\s+(\w+)\s*\{/g)) defs.structs.push(m[1]!);
  return defs;
}

interface Coverage {
  readonly total: number;
  readonly covered: number;
  readonly missing: string[];
}

function coverage(defs: HeaderDefs, mod: Module): Coverage {
  const missing: string[] = [];
  const want = (n: string, ok: (v: unknown) => boolean, what: string) => {
    if (!ok(mod[n])) missing.push(`${what} ${n}`);
  };
  const isInt = (v: unknown) => typeof v === 'number' || typeof v === 'bigint';
  defs.integers.forEach((n) => want(n, isInt, 'macro'));
  defs.enumerators.forEach((n) => want(n, isInt, 'enumerator'));
  defs.strings.forEach((n) => want(n, (v) => typeof v === 'string', 'string macro'));
  defs.functions.forEach((n) => want(n, (v) => typeof v === 'function', 'function-like macro'));
  defs.structs.forEach((n) => want(n, (v) => isLayout(v) && v.name === n, 'struct'));
  const total = defs.integers.length + defs.enumerators.length + defs.strings.length + defs.functions.length + defs.structs.length;
  return { total, covered: total - missing.length, missing };
}

// ------------------------------------------------------------------------------------------------

function prerequisites(): string | null {
  if (!gccAvailable()) return 'gcc is not installed (CI installs gcc, libc6-dev and linux-libc-dev)';
  for (const h of GROUPS.flatMap((g) => g.includes)) {
    try {
      gcc(['-fsyntax-only', '-x', 'c', '-'], `#include <${h}>\n`);
    } catch {
      return `<${h}> cannot be compiled (install libc6-dev and linux-libc-dev)`;
    }
  }
  return null;
}

function headerVersion(): string {
  try {
    const out = gcc(['-dM', '-E', '-x', 'c', '-'], '#include <linux/version.h>\n');
    const v = (k: string) => out.match(new RegExp(`#define ${k} (\\d+)`))?.[1];
    return `${v('LINUX_VERSION_MAJOR')}.${v('LINUX_VERSION_PATCHLEVEL')}.${v('LINUX_VERSION_SUBLEVEL')}`;
  } catch {
    return 'unknown';
  }
}

/**
 * runProbe, except that items C rejects (a member or macro the header does not have) become
 * mismatches of their own instead of failing the whole compile.
 */
function probeGroup(group: Group, items: readonly ProbeItem[]): ProbeResult {
  const prelude = preludeOf(group);
  const src = probeSource(group.includes, items, prelude);
  let stderr = '';
  try {
    gcc(['-std=gnu11', '-fsyntax-only', '-w', ...(group.flags ?? []), '-x', 'c', '-'], src);
  } catch (e) {
    stderr = String((e as { stderr?: unknown }).stderr ?? '');
  }
  const rejected = new Map<string, string>();
  if (stderr) {
    const lines = src.split('\n');
    const keyAt = (line: number): string | undefined => {
      for (let i = line - 1; i >= 0; i--) {
        const m = lines[i]!.match(/^  printf\("%s\\t", (".*")\);$/);
        if (m) return JSON.parse(m[1]!) as string;
      }
      return undefined;
    };
    for (const m of stderr.matchAll(/^<stdin>:(\d+):\d+: error: (.*)$/gm)) {
      const key = keyAt(Number(m[1]));
      if (key === undefined) throw new Error(`the probe for <${group.header}> does not compile:\n${stderr}`);
      if (!rejected.has(key)) rejected.set(key, m[2]!);
    }
  }
  const res = runProbe(group.includes, items.filter((it) => !rejected.has(it.key)), prelude, group.flags ?? []);
  const notInC: ProbeMismatch[] = [...rejected].map(([key, err]) => ({ key, expected: 'present', actual: `not in the C header (${err})` }));
  return { compared: items.length, mismatches: [...notInC, ...res.mismatches] };
}

function describeMismatches(header: string, res: ProbeResult): string {
  return (
    `${res.mismatches.length} of ${res.compared} items of <${header}> differ from gcc's (installed uapi headers ${headerVersion()}; include-ts mirrors 6.1):\n` +
    res.mismatches.map((m) => `  ${m.key}: include-ts ${m.expected}, C ${m.actual}`).join('\n')
  );
}

const missingPrereq = prerequisites();

describe('ABI conformance of include-ts with the installed C headers (gcc, x86-64)', () => {
  if (missingPrereq) {
    console.warn(`ABI conformance SKIPPED: ${missingPrereq}`);
    it.skip(`SKIPPED: ${missingPrereq}`, () => {});
    return;
  }
  const counts = new Map<string, { compared: number; mismatches: number }>();
  afterAll(() => {
    if (counts.size === 0) return;
    const total = [...counts.values()].reduce((a, c) => a + c.compared, 0);
    const bad = [...counts.values()].reduce((a, c) => a + c.mismatches, 0);
    const per = [...counts.entries()].map(([h, c]) => `${h} ${c.compared} items`).join(', ');
    console.log(`ABI conformance (uapi headers ${headerVersion()}): ${per}, total ${total}, ${bad} mismatches`);
  });

  for (const group of GROUPS) {
    it(`<${group.header}>: every export matches the C header`, () => {
      const items = probeItems(group);
      const res = probeGroup(group, items);
      counts.set(group.header, { compared: res.compared, mismatches: res.mismatches.length });
      expect(res.mismatches, describeMismatches(group.header, res)).toEqual([]);
      expect(res.compared).toBeGreaterThan(0);
    });
  }

  it('macros newer than the installed headers: exported by include-ts, and missing from the headers only if the headers are older', () => {
    const installed = headerVersion();
    const older = (a: string, b: string): boolean => {
      const [x, y] = [a, b].map((v) => v.split('.').map(Number));
      for (let i = 0; i < Math.max(x!.length, y!.length); i++) if ((x![i] ?? 0) !== (y![i] ?? 0)) return (x![i] ?? 0) < (y![i] ?? 0);
      return false;
    };
    let checked = 0;
    for (const group of GROUPS) {
      const newer = Object.entries(group.newer ?? {});
      if (newer.length === 0) continue;
      const present = integerConstants(group.includes[0]!, newer.map(([n]) => n));
      for (const [name, m] of newer) {
        expect(typeof group.module[name], `${name} is exported by the module of <${group.header}>`).toBe('number');
        if (!present.has(name)) {
          expect(older(installed, m.since), `<${group.header}> ${installed} lacks ${name}, which is in uapi headers since ${m.since}`).toBe(true);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('<linux/vfio.h>: every macro, enumerator and struct it defines is in include-ts/linux/vfio.ts', () => {
    const defs = headerDefs('linux/vfio.h');
    const cov = coverage(defs, vfio);
    console.log(
      `coverage linux/vfio.h: ${cov.covered}/${cov.total} (${defs.integers.length} integer macros, ${defs.strings.length} string macros, ` +
        `${defs.functions.length} function-like macros, ${defs.enumerators.length} enumerators, ${defs.structs.length} structs)`,
    );
    expect(cov.missing, `missing from include-ts/linux/vfio.ts:\n  ${cov.missing.join('\n  ')}`).toEqual([]);
    // Sanity of the extraction itself.
    expect(defs.integers).toContain('VFIO_IOMMU_GET_INFO');
    expect(defs.structs).toContain('vfio_irq_set');
    expect(defs.strings).toContain('VFIO_DEVICE_API_PCI_STRING');
  });

  it('<asm/kvm.h>: every macro and struct it defines is in include-ts/asm/kvm.ts', () => {
    const defs = headerDefs('asm/kvm.h');
    const cov = coverage(defs, asmKvm);
    console.log(`coverage asm/kvm.h: ${cov.covered}/${cov.total}`);
    expect(cov.missing, `missing from include-ts/asm/kvm.ts:\n  ${cov.missing.join('\n  ')}`).toEqual([]);
  });

  it('<linux/pci_regs.h>: every macro it defines is in include-ts/linux/pci_regs.ts', () => {
    const defs = headerDefs('linux/pci_regs.h');
    const cov = coverage(defs, pciRegs);
    console.log(`coverage linux/pci_regs.h: ${cov.covered}/${cov.total}`);
    expect(cov.missing, `missing from include-ts/linux/pci_regs.ts:\n  ${cov.missing.join('\n  ')}`).toEqual([]);
  });

  it('<linux/kvm.h>: the items an x86 VMM uses are present; coverage of the whole header is reported', () => {
    const defs = headerDefs('linux/kvm.h');
    // Every capability, exit reason and internal-error code of the header, plus the named essentials.
    const families = [...defs.integers, ...defs.enumerators].filter((n) => /^KVM_(CAP|EXIT|INTERNAL_ERROR)_/.test(n));
    const required = [...new Set([...families, ...KVM_REQUIRED])];
    const absent = required.filter((n) => !(n in kvm));
    expect(absent, `required by an x86 VMM but missing from include-ts/linux/kvm.ts: ${absent.join(', ')}`).toEqual([]);
    for (const n of KVM_REQUIRED_LAYOUTS) expect(isLayout((kvm as Module)[n]), `${n} is a layout`).toBe(true);
    expect('KVM_MAX_IRQ_ROUTES' in kvm, 'KVM_MAX_IRQ_ROUTES is kernel-internal, not uapi').toBe(false);

    const cov = coverage(defs, kvm);
    // What is missing must be what C itself cannot evaluate on x86 (ioctls on other architectures' structs).
    const missingMacros = cov.missing.filter((m) => m.startsWith('macro ')).map((m) => m.slice('macro '.length));
    const evaluable = integerConstants('linux/kvm.h', missingMacros, GROUPS.find((g) => g.header === 'linux/kvm.h')!.prelude);
    console.log(
      `coverage linux/kvm.h: ${cov.covered}/${cov.total} (${required.length} required items present; ` +
        `not covered: ${cov.missing.length}, of which not integer constants on x86: ${missingMacros.filter((n) => !evaluable.has(n)).join(', ') || 'none'})`,
    );
    expect([...evaluable], 'integer macros of <linux/kvm.h> missing from include-ts/linux/kvm.ts').toEqual([]);
  });
});

/** What an x86 VMM doing PCI passthrough uses from <linux/kvm.h> (with <asm/kvm.h>). */
const KVM_REQUIRED_LAYOUTS = [
  'kvm_userspace_memory_region', 'kvm_irq_level', 'kvm_irqchip', 'kvm_pic_state', 'kvm_ioapic_state', 'kvm_irq_routing',
  'kvm_irq_routing_entry', 'kvm_irq_routing_irqchip', 'kvm_irq_routing_msi', 'kvm_irqfd', 'kvm_ioeventfd', 'kvm_msi',
  'kvm_enable_cap', 'kvm_run', 'kvm_regs', 'kvm_sregs', 'kvm_segment', 'kvm_dtable', 'kvm_lapic_state', 'kvm_fpu',
  'kvm_msr_entry', 'kvm_msrs', 'kvm_cpuid_entry2', 'kvm_cpuid2', 'kvm_pit_config', 'kvm_pit_state', 'kvm_pit_state2',
  'kvm_pit_channel_state', 'kvm_vcpu_events', 'kvm_debugregs', 'kvm_xcrs', 'kvm_sync_regs', 'kvm_signal_mask',
  'kvm_coalesced_mmio_zone', 'kvm_coalesced_mmio', 'kvm_coalesced_mmio_ring', 'kvm_clock_data',
];
const KVM_REQUIRED = [
  ...KVM_REQUIRED_LAYOUTS,
  'KVMIO', 'KVM_API_VERSION', 'KVM_GET_API_VERSION', 'KVM_CREATE_VM', 'KVM_CHECK_EXTENSION', 'KVM_GET_VCPU_MMAP_SIZE',
  'KVM_CREATE_VCPU', 'KVM_RUN', 'KVM_SET_USER_MEMORY_REGION', 'KVM_MEM_LOG_DIRTY_PAGES', 'KVM_MEM_READONLY',
  'KVM_CREATE_IRQCHIP', 'KVM_IRQ_LINE', 'KVM_IRQ_LINE_STATUS', 'KVM_GET_IRQCHIP', 'KVM_SET_IRQCHIP',
  'KVM_IRQCHIP_PIC_MASTER', 'KVM_IRQCHIP_PIC_SLAVE', 'KVM_IRQCHIP_IOAPIC', 'KVM_NR_INTERRUPTS', 'KVM_IOAPIC_NUM_PINS',
  'KVM_APIC_REG_SIZE', 'KVM_SET_GSI_ROUTING', 'KVM_IRQ_ROUTING_IRQCHIP', 'KVM_IRQ_ROUTING_MSI',
  'KVM_IRQ_ROUTING_S390_ADAPTER', 'KVM_IRQ_ROUTING_HV_SINT', 'KVM_IRQ_ROUTING_XEN_EVTCHN', 'KVM_IRQFD',
  'KVM_IRQFD_FLAG_DEASSIGN', 'KVM_IRQFD_FLAG_RESAMPLE', 'KVM_IOEVENTFD', 'KVM_IOEVENTFD_FLAG_DATAMATCH',
  'KVM_IOEVENTFD_FLAG_PIO', 'KVM_IOEVENTFD_FLAG_DEASSIGN', 'KVM_SIGNAL_MSI', 'KVM_MSI_VALID_DEVID', 'KVM_ENABLE_CAP',
  'KVM_GET_LAPIC', 'KVM_SET_LAPIC', 'KVM_GET_REGS', 'KVM_SET_REGS', 'KVM_GET_SREGS', 'KVM_SET_SREGS',
  'KVM_SET_SIGNAL_MASK', 'KVM_REGISTER_COALESCED_MMIO', 'KVM_UNREGISTER_COALESCED_MMIO', 'KVM_SET_TSS_ADDR',
  'KVM_SET_IDENTITY_MAP_ADDR', 'KVM_CREATE_PIT2', 'KVM_GET_CLOCK', 'KVM_SET_CLOCK', 'KVM_X2APIC_API_USE_32BIT_IDS',
  'KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK', 'KVM_PIO_PAGE_OFFSET', 'KVM_COALESCED_MMIO_PAGE_OFFSET',
  'KVM_GET_MSRS', 'KVM_SET_MSRS', 'KVM_SET_CPUID2', 'KVM_GET_SUPPORTED_CPUID', 'KVM_GET_FPU', 'KVM_SET_FPU',
  'KVM_GET_VCPU_EVENTS', 'KVM_SET_VCPU_EVENTS', 'KVM_GET_DEBUGREGS', 'KVM_SET_DEBUGREGS', 'KVM_GET_XCRS', 'KVM_SET_XCRS',
  'KVM_GET_PIT2', 'KVM_SET_PIT2', 'KVM_GET_MP_STATE', 'KVM_SET_MP_STATE', 'KVM_NMI', 'KVM_INTERRUPT',
];
