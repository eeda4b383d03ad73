// A vCPU's FPU/XSAVE state and XCR0 as KVM keeps them: arch/x86/kvm/x86.c (KVM_GET/SET_FPU,
// KVM_GET/SET_XSAVE, KVM_GET_XSAVE2, KVM_GET/SET_XCRS, __kvm_set_xcr, kvm_xstate_reset) on top of
// arch/x86/kernel/fpu/core.c (fpu_alloc_guest_fpstate, fpstate_init_user, fpu_copy_guest_fpstate_to_uabi,
// fpu_copy_uabi_to_guest_fpstate) and arch/x86/kernel/fpu/xstate.c (__copy_xstate_to_uabi_buf,
// copy_uabi_to_xstate, validate_user_xstate_header).
//
// The guest fpstate is one XSAVE image (the model keeps it in the standard format; the kernel's
// compacted layout is invisible to userspace): the 512-byte legacy (FXSAVE) area, the header's
// xfeatures, and each host component at its leaf 0xD offset. Its bytes are stored as written:
// - KVM_SET_FPU writes the raw legacy fields and leaves xfeatures alone, so KVM_GET_XSAVE keeps showing
//   the init x87 state for a component whose xfeatures bit is clear, while KVM_GET_FPU shows the raw
//   bytes. Neither FPU ioctl carries MXCSR: GET reports 0 and SET ignores it (never vetted, so never
//   refused) [E].
// - KVM_GET_XSAVE builds the image from xfeatures & what the guest CPUID allows (guest_supported_xcr0,
//   plus x87 and SSE always): components not in it read as their init state (init_fpstate: FCW 0x37f,
//   MXCSR 0x1f80 and the host's MXCSR mask, zeros elsewhere); bytes 464..471 carry the host's user
//   xfeatures (the ptrace/signal-frame convention); everything past the last component is zero.
// - KVM_SET_XSAVE accepts any xfeatures within KVM's supported XCR0 (not the guest CPUID's), with
//   xcomp_bv and the header's reserved bytes 0, and MXCSR within the host's feature mask when x87, SSE or
//   AVX is present (else MXCSR is not even looked at); it copies only the components present, and SSE or
//   AVX without x87 still takes MXCSR and its mask. A refused image changes nothing [E].
// - XCR0 is x87 at RESET and kept at INIT (kvm_vcpu_reset sets it only when !init_event); KVM_SET_XCRS
//   needs no CR4.OSXSAVE [E]. INIT clears only MPX/CET components KVM supports (kvm_xstate_reset): none
//   on the modelled host, so INIT keeps the whole FPU state.
// - Every KVM_RUN loads the fpstate into the CPU and saves it back (kvm_load_guest_fpu before anything
//   else, kvm_put_guest_fpu at the end, immediate_exit and early errors included). XSAVES's init
//   optimization then drops from xfeatures each component left in its init state, without writing its
//   bytes: on this host x87 counts FCW, FSW, FTW and the ST registers' 80 bits (not FOP/FIP/FDP),
//   SSE the XMM registers and MXCSR, the others every byte [E]; with SSE saved, MXCSR_MASK becomes the
//   CPU's own [E]. Guest programs have no FPU instructions,
//   so nothing else changes (what the CPU stores for FOP/FIP/FDP while FSW.ES is clear is not modelled).
//
// Host facts (this machine, the host of cpuid.ts): XSAVE components x87, SSE, AVX, AVX-512 opmask,
// ZMM_Hi256, Hi16_ZMM (XCR0 0xe7, 2432 bytes standard), no PKRU, MXCSR feature mask 0x2ffff, and
// guest_fpu.uabi_size = sizeof(struct kvm_xsave) (no AMX), so KVM_GET_XSAVE2 writes 4096 bytes.

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getU16, getU32, getU64, setU16, setU32, setU64 } from '../../../abi/bytes.js';
import { kvm_fpu, kvm_xcrs, kvm_xsave, KVM_MAX_XCRS } from '../../../include-ts/asm/kvm.js';
import { hostCpuid, KVM_SUPPORTED_XCR0, xstateRequiredSize } from './cpuid.js';
import type { KvmVcpu } from './vcpu.js';

export const XFEATURE_MASK_FP = 1n << 0n;
export const XFEATURE_MASK_SSE = 1n << 1n;
export const XFEATURE_MASK_YMM = 1n << 2n;
export const XFEATURE_MASK_BNDREGS = 1n << 3n;
export const XFEATURE_MASK_BNDCSR = 1n << 4n;
/** OPMASK | ZMM_Hi256 | Hi16_ZMM. */
export const XFEATURE_MASK_AVX512 = 7n << 5n;
export const XFEATURE_MASK_PKRU = 1n << 9n;
/** CET_USER | CET_KERNEL (supervisor states; INIT clears them). */
export const XFEATURE_MASK_CET_ALL = 3n << 11n;
/** XTILE_CFG | XTILE_DATA. */
export const XFEATURE_MASK_XTILE = 3n << 17n;
const XFEATURE_MASK_XTILE_DATA = 1n << 18n;
const FPSSE = XFEATURE_MASK_FP | XFEATURE_MASK_SSE;

/** FCW and MXCSR after FNINIT/reset (fpstate_init_fxstate: cwd 0x37f, MXCSR_DEFAULT). */
export const FCW_DEFAULT = 0x37f;
export const MXCSR_DEFAULT = 0x1f80;
/** mxcsr_feature_mask: the host's FXSAVE MXCSR_MASK (DAZ and AMD's misaligned-SSE bit 17) [E]. */
export const MXCSR_FEATURE_MASK = 0x2ffff;
/**
 * The host's user xfeatures (fpu_user_cfg.max_features, = user_xfeatures of a guest fpstate): its XCR0,
 * which here equals KVM's supported XCR0 [E].
 */
export const HOST_XFEATURES = KVM_SUPPORTED_XCR0;
/** guest_fpu.uabi_size: sizeof(struct kvm_xsave) without dynamic (AMX) features. */
export const XSAVE_UABI_SIZE = kvm_xsave.size;

// struct fxregs_state and struct xstate_header offsets.
const FX_CWD = 0;
const FX_SWD = 2;
const FX_TWD = 4;
const FX_FOP = 6;
const FX_RIP = 8;
const FX_RDP = 16;
const FX_MXCSR = 24;
const FX_MXCSR_MASK = 28;
const FX_ST = 32;
const FX_XMM = 160;
const FX_PADDING = 416;
const FX_SW_RESERVED = 464;
const HDR = 512;
const HDR_XCOMP_BV = HDR + 8;
const HDR_RESERVED = HDR + 16;
const HDR_END = HDR + 64;

/** xstate_offsets[] / xstate_sizes[]: x87 and SSE in the legacy area, the rest from the host's leaf 0xD. */
const COMPONENTS: readonly (readonly [bit: number, offset: number, size: number])[] = (() => {
  const c: [number, number, number][] = [[0, 0, FX_XMM], [1, FX_XMM, FX_PADDING - FX_XMM]];
  for (let i = 2; i < 64; i++) {
    if (!((HOST_XFEATURES >> BigInt(i)) & 1n)) continue;
    const [eax, ebx] = hostCpuid(0xd, i);
    c.push([i, ebx, eax]);
  }
  return c;
})();
/** The standard-format size of every host component. */
const XSTATE_SIZE = xstateRequiredSize(HOST_XFEATURES, false);

/** init_fpstate's legacy area (fxsave after XRSTOR of the init state): FCW, MXCSR and its mask. */
const INIT_LEGACY = (() => {
  const b = new Uint8Array(FX_PADDING);
  setU16(b, FX_CWD, FCW_DEFAULT);
  setU32(b, FX_MXCSR, MXCSR_DEFAULT);
  setU32(b, FX_MXCSR_MASK, MXCSR_FEATURE_MASK);
  return b;
})();

/** vcpu->arch.guest_fpu (its fpstate) and vcpu->arch.xcr0. */
export class GuestFpu {
  /** fpstate->regs.xsave, standard format; the header's xfeatures are kept in `xfeatures`. */
  readonly regs = new Uint8Array(XSTATE_SIZE);
  /** xsave.header.xfeatures: the components whose bytes in `regs` are live. */
  xfeatures = 0n;
  /** The image went through swapThroughCpu() and nothing wrote it since (KVM_SET_FPU/SET_XSAVE/INIT clear it). */
  swapped = false;
  /** vcpu->arch.xcr0. */
  xcr0 = XFEATURE_MASK_FP;

  /** fpu_alloc_guest_fpstate(): zeroed, then fpstate_init_user (FCW 0x37f, MXCSR 0x1f80), xfeatures 0. */
  constructor() {
    setU16(this.regs, FX_CWD, FCW_DEFAULT);
    setU32(this.regs, FX_MXCSR, MXCSR_DEFAULT);
  }

  /**
   * kvm_load_guest_fpu() + kvm_put_guest_fpu() around KVM_RUN: XRSTORS of the image, then XSAVES, whose
   * init optimization clears the xfeatures bit of every component in its init state (see the header).
   */
  swapThroughCpu(): void {
    // Nothing to drop, or nothing changed since the last swap: every KVM_RUN passes here, so the
    // common case (a guest that never touches the FPU) must cost one compare and allocate nothing.
    if (this.xfeatures === 0n || this.swapped) return;
    this.swapped = true;
    let xf = this.xfeatures;
    for (const [bit, offset, size] of COMPONENTS) {
      const m = 1n << BigInt(bit);
      if (xf & m && this.inInitState(bit, offset, size)) xf &= ~m;
    }
    this.xfeatures = xf;
    // XSAVES stores MXCSR_MASK from the CPU together with the SSE state it saves (measured: not when
    // SSE is in its init state, even with AVX in use).
    if (xf & XFEATURE_MASK_SSE) setU32(this.regs, FX_MXCSR_MASK, MXCSR_FEATURE_MASK);
  }

  private inInitState(bit: number, offset: number, size: number): boolean {
    const r = this.regs;
    if (bit === 0) {
      if (getU16(r, FX_CWD) !== FCW_DEFAULT || getU16(r, FX_SWD) !== 0 || r[FX_TWD] !== 0) return false;
      // Each ST register is 10 bytes in a 16-byte slot.
      for (let st = FX_ST; st < FX_XMM; st += 16) for (let k = 0; k < 10; k++) if (r[st + k]) return false;
      return true;
    }
    if (bit === 1 && getU32(r, FX_MXCSR) !== MXCSR_DEFAULT) return false;
    for (let o = offset; o < offset + size; o++) if (r[o]) return false;
    return true;
  }

  /**
   * The FPU part of kvm_vcpu_reset(): RESET sets XCR0 to x87 (__kvm_set_xcr(vcpu, 0, XFEATURE_MASK_FP);
   * the fpstate is fresh from fpu_alloc_guest_fpstate); INIT keeps XCR0 and clears only the MPX and CET
   * components KVM supports (kvm_xstate_reset; fpstate_clear_xstate_component zeroes their bytes).
   */
  reset(initEvent: boolean): void {
    if (!initEvent) {
      this.xcr0 = XFEATURE_MASK_FP;
      return;
    }
    this.swapped = false;
    const mask = KVM_SUPPORTED_XCR0 & (XFEATURE_MASK_BNDREGS | XFEATURE_MASK_BNDCSR | XFEATURE_MASK_CET_ALL);
    for (const [bit, offset, size] of COMPONENTS) if ((mask >> BigInt(bit)) & 1n) this.regs.fill(0, offset, offset + size);
  }
}

// ---------------------------------------------------------------------------------------------------
// KVM_GET_FPU / KVM_SET_FPU

const FPU_FPR = kvm_fpu.offsetof('fpr');
const FPU_FCW = kvm_fpu.offsetof('fcw');
const FPU_FSW = kvm_fpu.offsetof('fsw');
const FPU_FTWX = kvm_fpu.offsetof('ftwx');
const FPU_FOP = kvm_fpu.offsetof('last_opcode');
const FPU_IP = kvm_fpu.offsetof('last_ip');
const FPU_DP = kvm_fpu.offsetof('last_dp');
const FPU_XMM = kvm_fpu.offsetof('xmm');

/**
 * kvm_arch_vcpu_ioctl_get_fpu(): the raw legacy fields into a zeroed kvm_fpu (FTW truncated to its
 * abridged byte); mxcsr is never filled in, so it reads 0.
 */
export function getFpu(v: KvmVcpu, arg: UserArg): number {
  const r = v.fpu.regs;
  const b = arg.user(kvm_fpu.size);
  b.fill(0);
  b.set(r.subarray(FX_ST, FX_XMM), FPU_FPR);
  setU16(b, FPU_FCW, getU16(r, FX_CWD));
  setU16(b, FPU_FSW, getU16(r, FX_SWD));
  b[FPU_FTWX] = r[FX_TWD]!;
  setU16(b, FPU_FOP, getU16(r, FX_FOP));
  setU64(b, FPU_IP, getU64(r, FX_RIP));
  setU64(b, FPU_DP, getU64(r, FX_RDP));
  b.set(r.subarray(FX_XMM, FX_PADDING), FPU_XMM);
  return 0;
}

/**
 * kvm_arch_vcpu_ioctl_set_fpu(): the raw legacy fields but MXCSR, nothing checked; xfeatures is left as
 * it was, so the values are visible to KVM_GET_XSAVE only if x87 (SSE for the XMM registers) is live.
 */
export function setFpu(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_fpu.size);
  const r = v.fpu.regs;
  v.fpu.swapped = false;
  r.set(b.subarray(FPU_FPR, FPU_FPR + 128), FX_ST);
  setU16(r, FX_CWD, getU16(b, FPU_FCW));
  setU16(r, FX_SWD, getU16(b, FPU_FSW));
  setU16(r, FX_TWD, b[FPU_FTWX]!);
  setU16(r, FX_FOP, getU16(b, FPU_FOP));
  setU64(r, FX_RIP, getU64(b, FPU_IP));
  setU64(r, FX_RDP, getU64(b, FPU_DP));
  r.set(b.subarray(FPU_XMM, FPU_XMM + 256), FX_XMM);
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// KVM_GET_XSAVE / KVM_GET_XSAVE2 / KVM_SET_XSAVE

/**
 * __copy_xstate_to_uabi_buf(XSTATE_COPY_XSAVE) into `out` (zeroed, at least 576 bytes): the components
 * in xfeatures & user_xfeatures & `mask` from the fpstate, the others as init_fpstate has them.
 */
function copyXstateToUabi(f: GuestFpu, out: Uint8Array, mask: bigint): void {
  const xf = f.xfeatures & HOST_XFEATURES & mask;
  const r = f.regs;
  // x87 up to MXCSR; MXCSR and its mask with SSE or AVX; the x87 registers; the XMM registers.
  out.set((xf & XFEATURE_MASK_FP ? r : INIT_LEGACY).subarray(0, FX_MXCSR), 0);
  out.set((xf & (XFEATURE_MASK_SSE | XFEATURE_MASK_YMM) ? r : INIT_LEGACY).subarray(FX_MXCSR, FX_ST), FX_MXCSR);
  out.set((xf & XFEATURE_MASK_FP ? r : INIT_LEGACY).subarray(FX_ST, FX_XMM), FX_ST);
  out.set((xf & XFEATURE_MASK_SSE ? r : INIT_LEGACY).subarray(FX_XMM, FX_PADDING), FX_XMM);
  // sw_reserved: xstate_fx_sw_bytes, whose first u64 is the host's user xfeatures; then the header.
  setU64(out, FX_SW_RESERVED, HOST_XFEATURES);
  setU64(out, HDR, xf);
  for (const [bit, offset, size] of COMPONENTS) {
    if (bit >= 2 && (xf >> BigInt(bit)) & 1n && offset + size <= out.length) out.set(r.subarray(offset, offset + size), offset);
  }
}

/**
 * kvm_vcpu_ioctl_x86_get_xsave2(): the image of what the guest may use (guest_supported_xcr0 | FP | SSE:
 * state the guest CPUID does not offer stays out, so it migrates to hosts without it).
 */
function getXsaveInto(v: KvmVcpu, out: Uint8Array): void {
  out.fill(0);
  copyXstateToUabi(v.fpu, out, v.guestCpuid.supportedXcr0 | FPSSE);
}

/** KVM_GET_XSAVE: EINVAL if the state does not fit 4096 bytes (dynamic features; never here). */
export function getXsave(v: KvmVcpu, arg: UserArg): number {
  if (XSAVE_UABI_SIZE > kvm_xsave.size) throw kerr('EINVAL', `the vCPU's XSAVE state (${XSAVE_UABI_SIZE} bytes) does not fit struct kvm_xsave; use KVM_GET_XSAVE2`);
  getXsaveInto(v, arg.user(kvm_xsave.size));
  return 0;
}

/** KVM_GET_XSAVE2: guest_fpu.uabi_size bytes (what KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) says). */
export function getXsave2(v: KvmVcpu, arg: UserArg): number {
  getXsaveInto(v, arg.user(XSAVE_UABI_SIZE));
  return 0;
}

/** The reason copy_uabi_to_xstate() (or fpu_copy_uabi_to_guest_fpstate before it) refuses `b`, or null. */
function xsaveRefusal(b: Uint8Array, xf: bigint): string | null {
  if (xf & ~KVM_SUPPORTED_XCR0) return `XSAVE header xstate_bv 0x${xf.toString(16)} has components beyond KVM's supported XCR0 0x${KVM_SUPPORTED_XCR0.toString(16)}`;
  // validate_user_xstate_header()
  if (xf & ~HOST_XFEATURES) return `XSAVE header xstate_bv 0x${xf.toString(16)} has components the host does not have`;
  const xcomp = getU64(b, HDR_XCOMP_BV);
  if (xcomp) return `XSAVE header xcomp_bv 0x${xcomp.toString(16)} is not 0: userspace images use the standard format`;
  for (let o = HDR_RESERVED; o < HDR_END; o++) if (b[o]) return `XSAVE header reserved byte ${o - HDR} is not 0`;
  if (xf & (FPSSE | XFEATURE_MASK_YMM)) {
    const mxcsr = getU32(b, FX_MXCSR);
    if (mxcsr & ~MXCSR_FEATURE_MASK) return `MXCSR 0x${mxcsr.toString(16)} has bits outside the host's MXCSR mask 0x${MXCSR_FEATURE_MASK.toString(16)}`;
  }
  return null;
}

/**
 * KVM_SET_XSAVE (kvm_vcpu_ioctl_x86_set_xsave -> fpu_copy_uabi_to_guest_fpstate -> copy_uabi_to_xstate):
 * uabi_size bytes read (EFAULT), then the header and MXCSR checked (EINVAL, nothing changed); the
 * components present are copied in and xfeatures becomes the header's. (XFD is 0: nothing masked.)
 */
export function setXsave(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(XSAVE_UABI_SIZE);
  const xf = getU64(b, HDR);
  const why = xsaveRefusal(b, xf);
  if (why !== null) throw kerr('EINVAL', why);
  const f = v.fpu;
  // SSE and AVX need MXCSR even without x87 (with x87 it comes with the legacy area below).
  if (xf & (XFEATURE_MASK_SSE | XFEATURE_MASK_YMM) && !(xf & XFEATURE_MASK_FP)) f.regs.set(b.subarray(FX_MXCSR, FX_ST), FX_MXCSR);
  for (const [bit, offset, size] of COMPONENTS) if ((xf >> BigInt(bit)) & 1n) f.regs.set(b.subarray(offset, offset + size), offset);
  f.xfeatures = xf;
  f.swapped = false;
  return 0;
}

/**
 * KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2): the standard-format size of kvm_get_filtered_xcr0() (XTILE_DATA
 * needs a permission the model cannot grant), at least sizeof(struct kvm_xsave).
 */
export function xsave2Size(): number {
  return Math.max(xstateRequiredSize(KVM_SUPPORTED_XCR0 & ~XFEATURE_MASK_XTILE_DATA, false), kvm_xsave.size);
}

// ---------------------------------------------------------------------------------------------------
// KVM_GET_XCRS / KVM_SET_XCRS

/** XCR_XFEATURE_ENABLED_MASK: XCR0, the only XCR. */
export const XCR_XFEATURE_ENABLED_MASK = 0;
const XCRS_NR = kvm_xcrs.offsetof('nr_xcrs');
const XCRS_FLAGS = kvm_xcrs.offsetof('flags');
const XCRS_XCRS = kvm_xcrs.offsetof('xcrs');
const XCR_SIZE = 16;

/**
 * __kvm_set_xcr()'s refusal of `xcr0` for this vCPU, or null: x87 always; AVX needs SSE; nothing beyond
 * guest_supported_xcr0 (the guest CPUID's leaf 0xD.0 within KVM's support) but x87; MPX's two
 * components together; AVX-512's three together and with AVX; AMX's two together.
 */
export function xcr0Refusal(v: KvmVcpu, xcr0: bigint): string | null {
  const hex = `0x${xcr0.toString(16)}`;
  if (!(xcr0 & XFEATURE_MASK_FP)) return `XCR0 ${hex} lacks x87 (bit 0), which is always enabled`;
  if (xcr0 & XFEATURE_MASK_YMM && !(xcr0 & XFEATURE_MASK_SSE)) return `XCR0 ${hex} enables AVX without SSE`;
  const valid = v.guestCpuid.supportedXcr0 | XFEATURE_MASK_FP;
  if (xcr0 & ~valid) return `XCR0 ${hex} has bits the guest CPUID (leaf 0xD) does not offer: allowed 0x${valid.toString(16)}`;
  if (!(xcr0 & XFEATURE_MASK_BNDREGS) !== !(xcr0 & XFEATURE_MASK_BNDCSR)) return `XCR0 ${hex} enables only one of MPX's BNDREGS and BNDCSR`;
  if (xcr0 & XFEATURE_MASK_AVX512) {
    if (!(xcr0 & XFEATURE_MASK_YMM)) return `XCR0 ${hex} enables AVX-512 without AVX`;
    if ((xcr0 & XFEATURE_MASK_AVX512) !== XFEATURE_MASK_AVX512) return `XCR0 ${hex} enables only part of AVX-512 (opmask, ZMM_Hi256, Hi16_ZMM go together)`;
  }
  if (xcr0 & XFEATURE_MASK_XTILE && (xcr0 & XFEATURE_MASK_XTILE) !== XFEATURE_MASK_XTILE) return `XCR0 ${hex} enables only one of AMX's XTILE_CFG and XTILE_DATA`;
  return null;
}

/** kvm_vcpu_ioctl_x86_get_xcrs(): a zeroed kvm_xcrs with one entry, XCR0. */
export function getXcrs(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_xcrs.size);
  b.fill(0);
  setU32(b, XCRS_NR, 1);
  setU32(b, XCRS_XCRS, XCR_XFEATURE_ENABLED_MASK);
  setU64(b, XCRS_XCRS + 8, v.fpu.xcr0);
  return 0;
}

/**
 * kvm_vcpu_ioctl_x86_set_xcrs(): the whole struct is read (EFAULT); nr_xcrs above KVM_MAX_XCRS or any
 * flag -> EINVAL; the first entry for XCR0 goes through __kvm_set_xcr (EINVAL if refused), later ones
 * and other XCR numbers are ignored. CR4.OSXSAVE is not required.
 */
export function setXcrs(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_xcrs.size);
  const nr = getU32(b, XCRS_NR);
  const flags = getU32(b, XCRS_FLAGS);
  if (nr > KVM_MAX_XCRS) throw kerr('EINVAL', `kvm_xcrs.nr_xcrs ${nr} is above KVM_MAX_XCRS (${KVM_MAX_XCRS})`);
  if (flags) throw kerr('EINVAL', `kvm_xcrs.flags 0x${flags.toString(16)} must be 0`);
  for (let i = 0; i < nr; i++) {
    const o = XCRS_XCRS + i * XCR_SIZE;
    if (getU32(b, o) !== XCR_XFEATURE_ENABLED_MASK) continue;
    const xcr0 = getU64(b, o + 8);
    const why = xcr0Refusal(v, xcr0);
    if (why !== null) throw kerr('EINVAL', why);
    v.fpu.xcr0 = xcr0;
    break;
  }
  return 0;
}
