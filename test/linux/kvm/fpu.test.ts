// A vCPU's FPU/XSAVE state ioctls: arch/x86/kvm/x86.c (kvm_arch_vcpu_ioctl_get_fpu/_set_fpu,
// kvm_vcpu_ioctl_x86_get_xsave2/_set_xsave, kvm_vcpu_ioctl_x86_get_xcrs/_set_xcrs, __kvm_set_xcr,
// kvm_vcpu_reset/kvm_xstate_reset, KVM_CAP_XSAVE2), arch/x86/kernel/fpu/core.c
// (fpu_alloc_guest_fpstate, fpu_copy_guest_fpstate_to_uabi, fpu_copy_uabi_to_guest_fpstate),
// arch/x86/kernel/fpu/xstate.c (__copy_xstate_to_uabi_buf, copy_uabi_to_xstate,
// validate_user_xstate_header), arch/x86/kvm/cpuid.c (xstate_required_size, kvm_update_cpuid_runtime,
// cpuid_get_supported_xcr0).
//
// fpu-oracle.c runs a fixed sequence of these ioctls on this machine's /dev/kvm; the same sequence runs
// on the model below and the printed lines must be equal. The lines include host-CPU values (the MXCSR
// mask 0x2ffff, the host's user xfeatures 0xe7 in the image's sw_reserved bytes, the components and
// their leaf 0xD offsets): the model's host table is this machine's, so they match here; on another CPU
// the comparison would fail on those words, not on the rules. Left out of the comparison: a guest CPUID
// whose leaf 0xD.0 offers less than the host (this machine's kvm_pvm replaces its EAX with the host's
// on KVM_SET_CPUID2, which VMX and SVM do not), checked below against cpuid.c instead.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Host, SyscallError } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { getU32, getU64, setU16, setU32, setU64 } from '../../../abi/bytes.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { kvm_fpu, kvm_xcrs } from '../../../include-ts/asm/kvm.js';
import { errno, K, signalMsi, vmm, type Vmm } from './helpers.js';
import { xstateRequiredSize } from '../../../src/linux/kvm/cpuid.js';

const here = dirname(fileURLToPath(import.meta.url));
const E2 = 40;

function kvmUsable(): string | undefined {
  if (!['/usr/bin/gcc', '/bin/gcc'].some(existsSync)) return 'gcc is not installed';
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/kvm is not usable here';
  }
  return undefined;
}
const SKIP = kvmUsable();
if (SKIP) console.warn(`KVM FPU: the real-kernel comparison is skipped: ${SKIP}`);

/** The non-zero 32-bit words of `b[0..n)`, as fpu-oracle.c's dump() prints them. */
function words(b: Uint8Array, n = b.length): string {
  let s = '';
  for (let i = 0; i < n; i += 4) {
    const v = getU32(b, i);
    if (v) s += ` [${i}]=${v.toString(16)}`;
  }
  return s;
}

/** An XSAVE image with xstate_bv `bv`, FCW 0x27f, FSW 0x11, MXCSR `mxcsr` and a mark in each component. */
function image(bv: bigint, mxcsr: number): Uint8Array {
  const b = new Uint8Array(8192);
  setU16(b, 0, 0x27f);
  b[2] = 0x11;
  setU32(b, 24, mxcsr);
  b[28] = 0x34;
  b[32] = 1;
  b[160] = 2;
  b[0x240] = 3;
  b[0x340] = 4;
  b[0x380] = 5;
  b[0x580] = 6;
  setU64(b, 512, bv);
  return b;
}

/** The model half of fpu-oracle.c, line for line. */
function modelLines(): string[] {
  const out: string[] = [];
  const p: Process = Host.create().spawn();
  const code = (f: () => number): string => {
    try {
      return String(f());
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      return `E${e.errno}`;
    }
  };
  const res = (what: string, f: () => number) => out.push(`${what}: ${code(f)}`);
  const getx = (fd: number, what: string) => {
    const b = new Uint8Array(8192).fill(0xaa);
    const r = code(() => p.ioctl(fd, K.KVM_GET_XSAVE, b));
    out.push(r === '0' ? `${what}:${words(b, 4096)}` : `${what}: ${r}`);
  };
  const getf = (fd: number, what: string) => {
    const b = new Uint8Array(kvm_fpu.size).fill(0xaa);
    const r = code(() => p.ioctl(fd, K.KVM_GET_FPU, b));
    out.push(r === '0' ? `${what}:${words(b)}` : `${what}: ${r}`);
  };
  const getxcr = (fd: number, what: string) => {
    const b = new Uint8Array(kvm_xcrs.size).fill(0xaa);
    const r = code(() => p.ioctl(fd, K.KVM_GET_XCRS, b));
    out.push(r === '0' ? `${what}:${words(b)}` : `${what}: ${r}`);
  };
  const setxcr = (fd: number, what: string, nr: number, flags: number, xcr: number, rsvd: number, value: bigint) => {
    const b = new Uint8Array(kvm_xcrs.size);
    setU32(b, 0, nr);
    setU32(b, 4, flags);
    setU32(b, 8, xcr);
    setU32(b, 12, rsvd);
    setU64(b, 16, value);
    setU64(b, 32, 7n); // xcrs[1]: XCR0 7
    res(what, () => p.ioctl(fd, K.KVM_SET_XCRS, b));
  };
  const leafd = (fd: number, what: string) => {
    const b = new Uint8Array(8 + 256 * E2);
    setU32(b, 0, 256);
    const r = code(() => p.ioctl(fd, K.KVM_GET_CPUID2, b));
    if (r !== '0') return out.push(`${what}: ${r}`);
    for (let o = 8; o < 8 + getU32(b, 0) * E2; o += E2) {
      if (getU32(b, o) === 0xd && getU32(b, o + 4) === 0) out.push(`${what}: 0xD.0 ebx ${getU32(b, o + 16).toString(16)} ecx ${getU32(b, o + 20).toString(16)}`);
    }
    return 0;
  };
  const setx = (fd: number, what: string, b: Uint8Array) => res(what, () => p.ioctl(fd, K.KVM_SET_XSAVE, b));

  const kvm = p.open('/dev/kvm', O_RDWR);
  res('dev cap XSAVE', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_XSAVE));
  res('dev cap XCRS', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_XCRS));
  res('dev cap XSAVE2', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_XSAVE2));
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  res('vm cap XSAVE2', () => p.ioctl(vm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_XSAVE2));
  res('create irqchip', () => p.ioctl(vm, K.KVM_CREATE_IRQCHIP, 0));
  const v0 = p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
  const v1 = p.ioctl(vm, K.KVM_CREATE_VCPU, 1);

  getf(v1, 'reset fpu');
  getx(v1, 'reset xsave');
  const x2 = new Uint8Array(8192).fill(0xaa);
  res('get_xsave2', () => p.ioctl(v1, K.KVM_GET_XSAVE2, x2));
  let last = -1;
  x2.forEach((c, i) => {
    if (c !== 0xaa) last = i;
  });
  out.push(`  last byte written ${last}`);
  out.push(`  xsave2:${words(x2, 4096)}`);
  getxcr(v1, 'reset xcrs');

  const f = kvm_fpu.alloc();
  f.fcw = 0x27f;
  f.fsw = 0x1234;
  f.ftwx = 0x81;
  f.pad1 = 7;
  f.last_opcode = 0x55;
  f.last_ip = 0x1122334455667788n;
  f.last_dp = 0x99n;
  f.bytes[kvm_fpu.offsetof('fpr')] = 1;
  f.bytes[kvm_fpu.offsetof('fpr') + 7 * 16 + 15] = 8;
  f.bytes[kvm_fpu.offsetof('xmm')] = 2;
  f.bytes[kvm_fpu.offsetof('xmm') + 15 * 16 + 15] = 3;
  f.mxcsr = 0x1f81;
  f.pad2 = 9;
  res('set_fpu', () => p.ioctl(v1, K.KVM_SET_FPU, f));
  getf(v1, '  fpu');
  getx(v1, '  xsave');
  f.mxcsr = 0xffff0000;
  res('set_fpu reserved MXCSR', () => p.ioctl(v1, K.KVM_SET_FPU, f));

  setx(v1, 'set_xsave bv 3', image(3n, 0x1f81));
  getx(v1, '  xsave');
  getf(v1, '  fpu');
  setx(v1, 'set_xsave bv 2 (SSE without x87)', image(2n, 0x1f82));
  getx(v1, '  xsave');
  getf(v1, '  fpu');
  setx(v1, 'set_xsave bv 1 (x87 without SSE)', image(1n, 0x1f83));
  getx(v1, '  xsave');
  getf(v1, '  fpu');
  setx(v1, 'set_xsave bv 4 (AVX alone)', image(4n, 0x1f84));
  getx(v1, '  xsave');
  setx(v1, 'set_xsave bv e7', image(0xe7n, 0x1f85));
  getx(v1, '  xsave, no guest CPUID');
  getf(v1, '  fpu');
  for (const bad of [0x8n, 0x10n, 0x100n, 0x200n, 0x800n, 0x20000n, 0x40000n, 1n << 32n, 1n << 63n]) {
    setx(v1, `set_xsave bv ${(bad | 3n).toString(16)}`, image(bad | 3n, 0x1f80));
  }
  const dirty = (o: number, v: number) => {
    const b = image(3n, 0x1f80);
    b[o] = v;
    return b;
  };
  setx(v1, 'set_xsave xcomp_bv 1', dirty(520, 1));
  setx(v1, 'set_xsave xcomp_bv bit 63', dirty(527, 0x80));
  setx(v1, 'set_xsave header reserved byte 16', dirty(528, 1));
  setx(v1, 'set_xsave header reserved byte 63', dirty(575, 1));
  for (const bv of [1n, 2n, 4n, 0xe0n, 0n]) setx(v1, `set_xsave bv ${bv.toString(16)} MXCSR bit 18`, image(bv, 0x00040000));
  setx(v1, 'set_xsave MXCSR bits 31:16', image(3n, 0xffff1f80));
  setx(v1, 'set_xsave MXCSR bit 17 (MM)', image(3n, 0x00021f80));
  getx(v1, '  xsave');
  setx(v1, 'set_xsave MXCSR 0xffff', image(3n, 0xffff));
  const sw = image(3n, 0x1f80);
  sw[464] = 0x55;
  sw[420] = 0x66;
  setx(v1, 'set_xsave sw_reserved and padding dirty', sw);
  getx(v1, '  xsave');

  for (const x of [0n, 1n, 2n, 3n, 7n, 5n, 0xe7n]) setxcr(v1, `set_xcrs ${x.toString(16)}`, 1, 0, 0, 0, x);
  setxcr(v1, 'set_xcrs nr 17', 17, 0, 0, 0, 1n);
  setxcr(v1, 'set_xcrs nr 16', 16, 0, 0, 0, 1n);
  setxcr(v1, 'set_xcrs flags 1', 1, 1, 0, 0, 1n);
  setxcr(v1, 'set_xcrs nr 0', 0, 0, 0, 0, 0n);
  setxcr(v1, 'set_xcrs xcr 1 only', 1, 0, 1, 0, 0n);
  setxcr(v1, 'set_xcrs xcr 1 then xcr0 7', 2, 0, 1, 0, 0n);
  setxcr(v1, 'set_xcrs reserved 5', 1, 0, 0, 5, 1n);
  getxcr(v1, '  xcrs');

  const cb = new Uint8Array(8 + 256 * E2);
  setU32(cb, 0, 256);
  p.ioctl(kvm, K.KVM_GET_SUPPORTED_CPUID, cb);
  res('set_cpuid2 supported', () => p.ioctl(v1, K.KVM_SET_CPUID2, cb));
  getx(v1, '  xsave, guest CPUID');
  leafd(v1, '  cpuid xcr0 1');
  for (const x of [0n, 2n, 3n, 5n, 7n, 0x27n, 0x47n, 0x87n, 0x67n, 0xe3n, 0xe5n, 0xe7n, 0x1e7n, 0x2e7n, 0xfn]) {
    setxcr(v1, `set_xcrs ${x.toString(16)}`, 1, 0, 0, 0, x);
    getxcr(v1, '  xcrs');
    leafd(v1, '  cpuid');
  }

  setxcr(v1, 'set_xcrs 7', 1, 0, 0, 0, 7n);
  setx(v1, 'set_xsave bv 7', image(7n, 0x1f86));
  const ls = new Uint8Array(1024);
  p.ioctl(v1, K.KVM_GET_LAPIC, ls);
  setU32(ls, 0xf0, 0x1ff);
  res('set_lapic SPIV', () => p.ioctl(v1, K.KVM_SET_LAPIC, ls));
  res('INIT to vCPU 1', () => signalMsi(p, vm, 0xfee01000, 0x500));
  const mp = new Uint8Array(4);
  res('get_mp_state', () => p.ioctl(v1, K.KVM_GET_MP_STATE, mp));
  out.push(`  mp_state ${getU32(mp, 0)}`);
  getxcr(v1, '  xcrs');
  getx(v1, '  xsave');
  getf(v1, '  fpu');
  getxcr(v0, 'vCPU 0 xcrs');
  return out;
}

describe("KVM FPU/XSAVE/XCR ioctls against this machine's /dev/kvm", () => {
  it.skipIf(SKIP !== undefined)('the fixed sequence gives the same line for every call', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpu-oracle-'));
    try {
      execFileSync('gcc', ['-O1', '-o', join(dir, 'oracle'), join(here, 'fpu-oracle.c')]);
      const real = execFileSync(join(dir, 'oracle'), { encoding: 'utf8' }).trim().split('\n');
      expect(modelLines()).toEqual(real);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
