// arch/x86/kvm/cpuid.c (+ the ioctl glue in x86.c): what KVM reports of the host CPU on /dev/kvm
// (KVM_GET_SUPPORTED_CPUID, KVM_GET_EMULATED_CPUID) and each vCPU's guest CPUID (KVM_SET_CPUID,
// KVM_SET_CPUID2, KVM_GET_CPUID2), with what the guest CPUID changes in the model:
// - RDX after RESET/INIT (leaf 1 EAX), and the LAPIC timer's mode bits (periodic; TSC-deadline when
//   leaf 1 has it);
// - MAXPHYADDR (cpuid_query_maxphyaddr): leaf 0x80000008 EAX[7:0] when leaf 0x80000000 reaches it,
//   else 36; IA32_APIC_BASE and long-mode CR3 bits from there up are reserved;
// - cr4_guest_rsvd_bits (__cr4_reserved_bits): CR4.OSXSAVE, SMEP, SMAP, FSGSBASE, PKE and UMIP become
//   reserved unless both the guest CPUID and KVM (the supported table) have the feature;
// - the bits KVM keeps up to date itself (kvm_update_cpuid_runtime): leaf 1 OSXSAVE from CR4 and APIC
//   from IA32_APIC_BASE.EN, leaf 7 OSPKE from CR4.PKE, and the XSAVE sizes in leaf 0xD EBX
//   (xstate_required_size of the vCPU's XCR0, fpu.ts; IA32_XSS is 0). The model applies them whenever
//   the entries are read or compared, which is what updating them on every CR4/APIC_BASE/XCR0 change
//   amounts to;
// - guest_supported_xcr0 (cpuid_get_supported_xcr0): leaf 0xD.0 EDX:EAX & KVM's supported XCR0, the
//   bound KVM_SET_XCRS checks and KVM_GET_XSAVE filters by (fpu.ts).
// After the first guest entry (kvm_vcpu_has_run) only an identical table is accepted (EINVAL otherwise),
// as QEMU's vCPU hotplug needs. A table is validated before it replaces the old one, so a refused call
// changes nothing: E2BIG above 256 entries, EFAULT, EINVAL for a virtual-address width in leaf
// 0x80000008 other than 0, 48 or 57, EPERM for the dynamic XTILE_DATA xfeature (no arch_prctl
// permission exists in the model).
//
// The host table is what this machine's 6.18 kernel reports (an AMD EPYC under kvm_pvm, the host the
// model's CR4 and MSR rules were measured on), with the initial APIC IDs of the CPU the ioctl ran on
// (leaf 1 EBX[31:24], leaf 0xB EDX) zeroed. X2APIC, which KVM always offers (it emulates x2APIC mode),
// lets the guest (and the host) set IA32_APIC_BASE.EXTD (x86-regs.ts), and with a split irqchip makes the
// LAPIC version register advertise directed EOI (kvm_apic_set_version).

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64, setU32 } from '../../../abi/bytes.js';
import { kvm_cpuid_entry, kvm_cpuid_entry2, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../../../include-ts/asm/kvm.js';
import {
  X86_CR4_FSGSBASE, X86_CR4_OSXSAVE, X86_CR4_PKE, X86_CR4_SMAP, X86_CR4_SMEP, X86_CR4_UMIP,
} from '../../../include-ts/asm/processor-flags.js';
import { kvm_sregs } from '../../../include-ts/linux/kvm.js';
import { MSR_IA32_APICBASE_ENABLE } from '../../hw/x86/apicdef.js';
import type { KvmVcpu } from './vcpu.js';
import { kvmGetApicBase } from './x86-regs.js';
import { KVM_RESET_RDX } from './x86-reset.js';
import { KVM_IRQCHIP_KERNEL, KVM_SUPPRESS_EOI_BROADCAST_DISABLED } from './kvm-host.js';

/** KVM_MAX_CPUID_ENTRIES (arch/x86/include/asm/kvm_host.h). */
export const KVM_MAX_CPUID_ENTRIES = 256;
const ENTRY2 = kvm_cpuid_entry2.size;
const ENTRY = kvm_cpuid_entry.size;
const HDR = 8;

type Row = readonly [fn: number, index: number, flags: number, eax: number, ebx: number, ecx: number, edx: number];

/** KVM_GET_SUPPORTED_CPUID on the modelled host (see the header), in KVM's order. */
const SUPPORTED: readonly Row[] = [
  [0x00000000, 0, 0, 0x0000001c, 0x68747541, 0x444d4163, 0x69746e65],
  [0x00000001, 0, 0, 0x00a10f11, 0x00020800, 0x81202000, 0x078bfbff],
  [0x00000002, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000003, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000004, 0, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000005, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000006, 0, 0, 0x00000004, 0x00000000, 0x00000000, 0x00000000],
  [0x00000007, 0, 1, 0x00000001, 0x01800002, 0x00000104, 0x20000000],
  [0x00000007, 1, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000008, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000009, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000000a, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000000b, 0, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000000c, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000000d, 0, 1, 0x000000e7, 0x00000980, 0x00000980, 0x00000000],
  [0x0000000d, 1, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000000d, 2, 1, 0x00000100, 0x00000240, 0x00000000, 0x00000000],
  [0x0000000d, 5, 1, 0x00000040, 0x00000340, 0x00000000, 0x00000000],
  [0x0000000d, 6, 1, 0x00000200, 0x00000380, 0x00000000, 0x00000000],
  [0x0000000d, 7, 1, 0x00000400, 0x00000580, 0x00000000, 0x00000000],
  [0x0000000e, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000000f, 0, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000010, 0, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000011, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000012, 0, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000013, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000014, 0, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000015, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000016, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000017, 0, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000018, 0, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x00000019, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000001a, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000001b, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x0000001c, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000000, 0, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65],
  [0x80000001, 0, 0, 0x00a10f11, 0x40000000, 0x00400393, 0x23d3fbff],
  [0x80000002, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000003, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000004, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000005, 0, 0, 0xff48ff40, 0xff48ff40, 0x20080140, 0x20080140],
  [0x80000006, 0, 0, 0x5c002200, 0x6c004200, 0x04006140, 0x0a009140],
  [0x80000007, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000100],
  [0x80000008, 0, 0, 0x00003030, 0x50020005, 0x00007001, 0x00000000],
  [0x80000009, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000000a, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000000b, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000000c, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000000d, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000000e, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000000f, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000010, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000011, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000012, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000013, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000014, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000015, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000016, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000017, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000018, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000019, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000001a, 0, 0, 0x00000006, 0x00000000, 0x00000000, 0x00000000],
  [0x8000001b, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000001c, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000001d, 0, 1, 0x00000121, 0x01c0003f, 0x0000003f, 0x00000000],
  [0x8000001d, 1, 1, 0x00000122, 0x01c0003f, 0x0000003f, 0x00000000],
  [0x8000001d, 2, 1, 0x00000143, 0x01c0003f, 0x000007ff, 0x00000002],
  [0x8000001d, 3, 1, 0x00004163, 0x03c0003f, 0x00007fff, 0x00000001],
  [0x8000001d, 4, 1, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000001e, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x8000001f, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000020, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
  [0x80000021, 0, 0, 0x00000204, 0x00000000, 0x00000006, 0x00000000],
  // KVM_CPUID_SIGNATURE ("KVMKVMKVM\0\0\0") and KVM_CPUID_FEATURES.
  [0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d],
  [0x40000001, 0, 0, 0x01007efb, 0x00000000, 0x00000000, 0x00000000],
];

/**
 * KVM_GET_EMULATED_CPUID (__do_cpuid_func_emulated): the max basic leaf, MOVBE, and leaf 7 (RDPID only
 * with RDTSCP, which this host lacks).
 */
const EMULATED: readonly Row[] = [
  [0x00000000, 0, 0, 0x00000007, 0, 0, 0],
  [0x00000001, 0, 0, 0, 0, 1 << 22, 0],
  [0x00000007, 0, 1, 0, 0, 0, 0],
];
/**
 * The array room each enumeration needs: do_cpuid_func() checks for a free slot before every leaf it
 * visits, added or not. The supported walk ends on an added leaf; the emulated one visits 0x80000000
 * and KVM_CPUID_SIGNATURE after its last entry, so it needs one slot more than it returns.
 */
const SUPPORTED_ROOM = SUPPORTED.length;
const EMULATED_ROOM = EMULATED.length + 1;

function rowsToBytes(rows: readonly Row[]): Uint8Array {
  const b = new Uint8Array(rows.length * ENTRY2);
  rows.forEach((r, i) => {
    const o = i * ENTRY2;
    setU32(b, o, r[0]);
    setU32(b, o + 4, r[1]);
    setU32(b, o + 8, r[2]);
    for (let k = 0; k < 4; k++) setU32(b, o + 12 + k * 4, r[3 + k]!);
  });
  return b;
}
const SUPPORTED_BYTES = rowsToBytes(SUPPORTED);
const EMULATED_BYTES = rowsToBytes(EMULATED);

/**
 * kvm_dev_ioctl_get_cpuid(): E2BIG for fewer than one entry or too little room (nent is left as it was),
 * at most 256 entries considered; for the emulated table, EINVAL if any entry the user passed has
 * non-zero padding or cannot be read (sanity_check_entries); EFAULT if the entries cannot be written.
 */
export function devGetCpuid(arg: UserArg, emulated: boolean): number {
  const hdr = arg.user(HDR);
  let nent = getU32(hdr, 0);
  if (nent < 1) throw kerr('E2BIG', 'kvm_cpuid2.nent is 0: there is no room for any entry');
  nent = Math.min(nent, KVM_MAX_CPUID_ENTRIES);
  if (emulated) {
    if (arg.available(HDR + nent * ENTRY2) < HDR + nent * ENTRY2) throw kerr('EINVAL', `KVM_GET_EMULATED_CPUID reads the padding of all ${nent} entries, and the buffer does not hold them`);
    const b = arg.user(HDR + nent * ENTRY2);
    for (let i = 0; i < nent; i++) {
      const o = HDR + i * ENTRY2 + 28;
      if (getU32(b, o) | getU32(b, o + 4) | getU32(b, o + 8)) throw kerr('EINVAL', `entry ${i}'s padding is not zero (KVM_GET_EMULATED_CPUID wants it clean)`);
    }
  }
  const table = emulated ? EMULATED_BYTES : SUPPORTED_BYTES;
  const room = emulated ? EMULATED_ROOM : SUPPORTED_ROOM;
  if (nent < room) throw kerr('E2BIG', `kvm_cpuid2.nent ${nent} is too small: the table needs room for ${room} entries`);
  const n = table.length / ENTRY2;
  const out = arg.user(HDR + table.length);
  out.set(table, HDR);
  setU32(out, 0, n);
  return 0;
}

/** A vCPU's guest CPUID (vcpu->arch.cpuid_entries) and what KVM derives from it. */
export class GuestCpuid {
  /** The entries as the user passed them (kvm_cpuid_entry2 each, padding included). */
  entries: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  /** vcpu->arch.maxphyaddr. */
  maxPhyAddr = 36n;
  /** vcpu->arch.cr4_guest_rsvd_bits. */
  cr4GuestRsvd = 0n;
  /** vcpu->arch.guest_supported_xcr0 (cpuid_get_supported_xcr0): 0 until a table has leaf 0xD.0. */
  supportedXcr0 = 0n;
  /** vcpu->arch.pv_cpuid.features (kvm_apply_cpuid_pv_features_quirk): the KVM features leaf's EAX, 0 when a table has none. */
  pvFeatures = 0;

  get nent(): number {
    return this.entries.length / ENTRY2;
  }

  /** What kvm_vcpu_reset() puts in RDX: leaf 1's EAX (family/model/stepping), 0x600 without one. */
  resetRdx(): number {
    const o = find(this.entries, 1);
    return o >= 0 ? getU32(this.entries, o + EAX) : KVM_RESET_RDX;
  }

  /** guest_cpuid_has(): bit `bit` of register `reg` (0 EAX .. 3 EDX) in leaf fn/index. */
  /** guest_cpuid_has(): whether the guest CPUID has `f`. */
  has(f: CpuidFeature): boolean {
    return entriesHave(this.entries, f);
  }
}

/**
 * cpuid_entry2_find(): the first entry for `fn` whose index is not significant or equals `index`; with
 * `index` undefined (KVM_CPUID_INDEX_NOT_SIGNIFICANT, a lookup by KVM itself) the first entry for `fn`.
 * Returns the entry's byte offset, or -1.
 */
function find(e: Uint8Array, fn: number, index?: number): number {
  for (let o = 0; o < e.length; o += ENTRY2) {
    if (getU32(e, o) !== fn) continue;
    if (!(getU32(e, o + 8) & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || index === undefined || getU32(e, o + 4) === index) return o;
  }
  return -1;
}

const EAX = 12;
const EBX = 16;
const ECX = 20;
const EDX = 24;

/**
 * An X86_FEATURE_* bit: CPUID leaf, subleaf, register (its offset in kvm_cpuid_entry2: EAX..EDX) and
 * bit, as arch/x86/include/asm/cpufeatures.h and reverse_cpuid.h place it.
 */
export type CpuidFeature = readonly [fn: number, index: number, reg: number, bit: number];
export const X86_FEATURE_XSAVE: CpuidFeature = [1, 0, ECX, 26];
export const X86_FEATURE_TSC_DEADLINE_TIMER: CpuidFeature = [1, 0, ECX, 24];
export const X86_FEATURE_X2APIC: CpuidFeature = [1, 0, ECX, 21];
export const X86_FEATURE_FSGSBASE: CpuidFeature = [7, 0, EBX, 0];
export const X86_FEATURE_TSC_ADJUST: CpuidFeature = [7, 0, EBX, 1];
export const X86_FEATURE_SMEP: CpuidFeature = [7, 0, EBX, 7];
export const X86_FEATURE_SMAP: CpuidFeature = [7, 0, EBX, 20];
export const X86_FEATURE_UMIP: CpuidFeature = [7, 0, ECX, 2];
export const X86_FEATURE_PKU: CpuidFeature = [7, 0, ECX, 3];
export const X86_FEATURE_NX: CpuidFeature = [0x80000001, 0, EDX, 20];
export const X86_FEATURE_LM: CpuidFeature = [0x80000001, 0, EDX, 29];

function setBit(e: Uint8Array, o: number, bit: number, on: boolean): void {
  const v = getU32(e, o);
  setU32(e, o, on ? (v | (1 << bit)) >>> 0 : v & ~(1 << bit));
}

/**
 * cpuid_count() on the modelled host: its leaf 0xD sub-leaves equal what KVM reports for them here
 * (measured), so the supported table stands for the CPU itself. [eax, ebx, ecx, edx]; zeros if absent.
 */
export function hostCpuid(fn: number, index: number): readonly [number, number, number, number] {
  const o = find(SUPPORTED_BYTES, fn, index);
  return o < 0 ? [0, 0, 0, 0] : [getU32(SUPPORTED_BYTES, o + EAX), getU32(SUPPORTED_BYTES, o + EBX), getU32(SUPPORTED_BYTES, o + ECX), getU32(SUPPORTED_BYTES, o + EDX)];
}

/** kvm_caps.supported_xcr0: the XCR0 bits KVM offers (leaf 0xD.0 EDX:EAX of the supported table). */
export const KVM_SUPPORTED_XCR0 = ((): bigint => {
  const [eax, , , edx] = hostCpuid(0xd, 0);
  return (BigInt(edx) << 32n) | BigInt(eax);
})();

/**
 * xstate_required_size(): the XSAVE area size for the components in `xstateBv`, from the host's leaf
 * 0xD: the legacy area and header (576 bytes), then each extended component at its standard offset
 * (EBX), or, compacted, one after the other (64-byte aligned where ECX[1] says so).
 */
export function xstateRequiredSize(xstateBv: bigint, compacted: boolean): number {
  let ret = 512 + 64;
  const bv = xstateBv & ~3n; // XFEATURE_MASK_EXTEND
  for (let bit = 2; bv >> BigInt(bit); bit++) {
    if (!((bv >> BigInt(bit)) & 1n)) continue;
    const [eax, ebx, ecx] = hostCpuid(0xd, bit);
    const offset = compacted ? (ecx & 2 ? (ret + 63) & ~63 : ret) : ebx;
    ret = Math.max(ret, offset + eax);
  }
  return ret;
}

const SREGS_CR4 = kvm_sregs.offsetof('cr4');

/** kvm_update_cpuid_runtime() applied to a copy of `entries`, from the vCPU's current CR4 and APIC base. */
function withRuntime(v: KvmVcpu, entries: Uint8Array): Uint8Array {
  const cr4 = getU64(v.sregs, SREGS_CR4);
  const apicBase = kvmGetApicBase(v);
  const e = entries.slice();
  let o = find(e, 1);
  if (o >= 0) {
    setBit(e, o + ECX, 27, (cr4 & BigInt(X86_CR4_OSXSAVE)) !== 0n); // OSXSAVE
    setBit(e, o + EDX, 9, (apicBase & MSR_IA32_APICBASE_ENABLE) !== 0); // APIC
  }
  o = find(e, 7, 0);
  if (o >= 0) setBit(e, o + ECX, 4, (cr4 & BigInt(X86_CR4_PKE)) !== 0n); // OSPKE (the host has PKU)
  const xcr0 = v.fpu.xcr0;
  o = find(e, 0xd, 0);
  if (o >= 0) setU32(e, o + EBX, xstateRequiredSize(xcr0, false));
  o = find(e, 0xd, 1);
  // XSAVEC or XSAVES: the compacted size of XCR0 | IA32_XSS (0: the model has no XSS).
  if (o >= 0 && getU32(e, o + EAX) & ((1 << 1) | (1 << 3))) setU32(e, o + EBX, xstateRequiredSize(xcr0, true));
  return e;
}

/** The CR4 bits __cr4_reserved_bits() adds for features missing from the guest CPUID or from KVM. */
const CR4_FEATURES: readonly (readonly [cr4: number, feature: CpuidFeature])[] = [
  [X86_CR4_OSXSAVE, X86_FEATURE_XSAVE],
  [X86_CR4_SMEP, X86_FEATURE_SMEP],
  [X86_CR4_SMAP, X86_FEATURE_SMAP],
  [X86_CR4_FSGSBASE, X86_FEATURE_FSGSBASE],
  [X86_CR4_PKE, X86_FEATURE_PKU],
  [X86_CR4_UMIP, X86_FEATURE_UMIP],
];

/** Whether the entries' leaf for `f` (looked up as cpuid_entry2_find() does) has its bit. */
function entriesHave(e: Uint8Array, [fn, index, reg, bit]: CpuidFeature): boolean {
  const o = find(e, fn, index);
  return o >= 0 && ((getU32(e, o + reg) >>> bit) & 1) === 1;
}

/**
 * kvm_vcpu_after_set_cpuid(): MAXPHYADDR, the guest-reserved CR4 bits, the PV features, and with a
 * leaf 1 (only then) the LAPIC timer's mode bits (periodic, plus TSC-deadline if leaf 1 offers it;
 * before any KVM_SET_CPUID2 an LVTT write keeps no mode bit) and the LAPIC version
 * (kvm_apic_set_version: directed EOI with x2APIC, no in-kernel IOAPIC and
 * KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST not set).
 */
function afterSetCpuid(v: KvmVcpu): void {
  const c = v.guestCpuid;
  const e = c.entries;
  // Both under `if (best && apic)` for leaf 1: a table without one leaves the LAPIC as it was (measured).
  if (find(e, 1) >= 0 && v.lapic) {
    v.lapic.timerModeMask = entriesHave(e, X86_FEATURE_TSC_DEADLINE_TIMER) ? 3 << 17 : 1 << 17;
    kvmApicSetVersion(v);
  }
  const ext = find(e, 0x80000000);
  const phys = ext >= 0 && getU32(e, ext + EAX) >= 0x80000008 ? find(e, 0x80000008) : -1;
  c.maxPhyAddr = BigInt(phys >= 0 ? getU32(e, phys + EAX) & 0xff : 36);
  let rsvd = 0;
  for (const [cr4, f] of CR4_FEATURES) if (!entriesHave(e, f) || !entriesHave(SUPPORTED_BYTES, f)) rsvd |= cr4;
  c.cr4GuestRsvd = BigInt(rsvd);
  const xsave = find(e, 0xd, 0);
  c.supportedXcr0 = xsave < 0 ? 0n : ((BigInt(getU32(e, xsave + EDX)) << 32n) | BigInt(getU32(e, xsave + EAX))) & KVM_SUPPORTED_XCR0;
  const base = kvmCpuidBase(e);
  const kvmFeatures = base !== 0 ? find(e, base | 1) : -1;
  c.pvFeatures = kvmFeatures >= 0 ? getU32(e, kvmFeatures + EAX) : 0;
}

/**
 * kvm_apic_set_version(): the LAPIC version register, with directed EOI when the guest CPUID has x2APIC,
 * the IOAPIC is not in the kernel and KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST is not set, as they are
 * now. The kernel runs it after KVM_SET_CPUID* (with a leaf 1), KVM_SET_LAPIC (kvm_apic_set_state) and
 * kvm_lapic_reset (RESET, INIT).
 */
export function kvmApicSetVersion(v: KvmVcpu): void {
  const kvm = v.kvm;
  v.lapic?.setDirectedEoiCapable(v.guestCpuid.has(X86_FEATURE_X2APIC) && kvm.irqchipMode !== KVM_IRQCHIP_KERNEL && kvm.suppressEoiBroadcast !== KVM_SUPPRESS_EOI_BROADCAST_DISABLED);
}

/**
 * kvm_get_hypervisor_cpuid(vcpu, KVM_SIGNATURE): the first leaf 0x40000000 + n * 0x100 whose EBX:ECX:EDX
 * read "KVMKVMKVM\0\0\0" (KVM_CPUID_SIGNATURE and its KVM_CPUID_FEATURES), or 0.
 */
function kvmCpuidBase(e: Uint8Array): number {
  for (let base = 0x40000000; base < 0x40010000; base += 0x100) {
    const o = find(e, base);
    if (o >= 0 && getU32(e, o + EBX) === 0x4b4d564b && getU32(e, o + ECX) === 0x564b4d56 && getU32(e, o + EDX) === 0x4d) return base;
  }
  return 0;
}

/** kvm_check_cpuid(): the virtual-address width, then the dynamic xfeatures. */
function checkCpuid(e: Uint8Array): void {
  const o = find(e, 0x80000008);
  if (o >= 0) {
    const vaddr = (getU32(e, o + EAX) >>> 8) & 0xff;
    if (vaddr !== 0 && vaddr !== 48 && vaddr !== 57) throw kerr('EINVAL', `CPUID 0x80000008 gives ${vaddr} virtual-address bits; KVM accepts 48, 57 or 0`);
  }
  const x = find(e, 0xd, 0);
  // XFEATURE_MASK_USER_DYNAMIC is XTILE_DATA (bit 18): fpu_enable_guest_xfd_features() wants
  // arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM) first, which the model has no way to grant.
  if (x >= 0 && getU32(e, x + EAX) & (1 << 18)) throw kerr('EPERM', 'CPUID 0xD offers the dynamic XTILE_DATA state, which this process has no permission for (ARCH_REQ_XCOMP_GUEST_PERM)');
}

/**
 * kvm_set_cpuid(): `entries` replace the guest CPUID if they pass kvm_check_cpuid(); once the vCPU has
 * run, only a table equal to the current one (after the runtime bits) is accepted.
 */
function setCpuid(v: KvmVcpu, entries: Uint8Array): number {
  const c = v.guestCpuid;
  if (v.hasRun) {
    const a = withRuntime(v, entries);
    const b = withRuntime(v, c.entries);
    let same = a.length === b.length;
    // kvm_cpuid_check_equal() compares function, index, flags and the four registers, not the padding.
    for (let o = 0; same && o < a.length; o += ENTRY2) {
      for (let k = 0; k < 28; k += 4) if (getU32(a, o + k) !== getU32(b, o + k)) same = false;
    }
    if (!same) throw kerr('EINVAL', `vCPU ${v.vcpuId} has run: KVM_SET_CPUID* may only pass the table it already has`);
    c.entries = entries;
    return 0;
  }
  checkCpuid(entries);
  c.entries = entries;
  afterSetCpuid(v);
  return 0;
}

/** KVM_SET_CPUID2: E2BIG above 256 entries, EFAULT for entries the buffer does not hold. */
export function setCpuid2(v: KvmVcpu, arg: UserArg): number {
  const nent = getU32(arg.user(HDR), 0);
  if (nent > KVM_MAX_CPUID_ENTRIES) throw kerr('E2BIG', `kvm_cpuid2.nent ${nent} is above KVM_MAX_CPUID_ENTRIES (${KVM_MAX_CPUID_ENTRIES})`);
  const entries = arg.user(HDR + nent * ENTRY2).slice(HDR);
  return setCpuid(v, entries);
}

/** KVM_SET_CPUID (struct kvm_cpuid_entry, no index or flags): converted with index, flags and padding 0. */
export function setCpuid1(v: KvmVcpu, arg: UserArg): number {
  const nent = getU32(arg.user(HDR), 0);
  if (nent > KVM_MAX_CPUID_ENTRIES) throw kerr('E2BIG', `kvm_cpuid.nent ${nent} is above KVM_MAX_CPUID_ENTRIES (${KVM_MAX_CPUID_ENTRIES})`);
  const src = arg.user(HDR + nent * ENTRY);
  const entries = new Uint8Array(nent * ENTRY2);
  for (let i = 0; i < nent; i++) {
    const s = HDR + i * ENTRY;
    const o = i * ENTRY2;
    setU32(entries, o, getU32(src, s));
    for (let k = 0; k < 4; k++) setU32(entries, o + EAX + k * 4, getU32(src, s + 4 + k * 4));
  }
  return setCpuid(v, entries);
}

/** KVM_GET_CPUID2: E2BIG when there is too little room (nent is left as it was) [E]; else the entries, with the runtime bits, and their count. */
export function getCpuid2(v: KvmVcpu, arg: UserArg): number {
  const hdr = arg.user(HDR);
  const c = v.guestCpuid;
  const room = getU32(hdr, 0);
  if (room < c.nent) throw kerr('E2BIG', `kvm_cpuid2.nent ${room} is smaller than the vCPU's ${c.nent} entries`);
  const out = arg.user(HDR + c.entries.length);
  out.set(withRuntime(v, c.entries), HDR);
  setU32(out, 0, c.nent);
  return 0;
}
