// MSR-based features (src/linux/kvm/feature-msrs.ts: arch/x86/kvm/x86.c kvm_get_feature_msr,
// do_get_feature_msr, kvm_do_msr_access, kvm_arch_dev_ioctl's KVM_GET_MSR_FEATURE_INDEX_LIST and
// KVM_GET_MSRS). feature-msrs-oracle.c makes the calls on this machine's /dev/kvm and the model makes the
// same; every printed line must match (the values are this machine's, which the model reports as its host).
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import { K } from './helpers.js';
import { oracleSkip, resultCode, runCOracle } from '../../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = oracleSkip('KVM feature MSRs', ['kvm']);

function modelLines(): string[] {
  const p = Host.create().spawn();
  const kvm = p.open('/dev/kvm', O_RDWR);
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  const out: string[] = [];
  const res = (w: string, f: () => number) => out.push(`${w}: ${resultCode(f)}`);
  res('cap GET_MSR_FEATURES', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_GET_MSR_FEATURES));
  res('vm cap GET_MSR_FEATURES', () => p.ioctl(vm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_GET_MSR_FEATURES));
  const l = new Uint8Array(4 + 4 * 64);
  res('list, room 0', () => p.ioctl(kvm, K.KVM_GET_MSR_FEATURE_INDEX_LIST, l));
  out.push(`nmsrs written: ${getU32(l, 0)}`);
  setU32(l, 0, 64);
  res('list', () => p.ioctl(kvm, K.KVM_GET_MSR_FEATURE_INDEX_LIST, l));
  const indices = Array.from({ length: getU32(l, 0) }, (_, i) => getU32(l, 4 + 4 * i));
  out.push(`indices:${indices.map((i) => ` ${i.toString(16)}`).join('')}`);
  res('list on the VM fd', () => p.ioctl(vm, K.KVM_GET_MSR_FEATURE_INDEX_LIST, l));
  const m = new Uint8Array(8 + 16 * 256);
  const get = (w: string, idx: readonly number[]) => {
    setU32(m, 0, idx.length);
    idx.forEach((x, i) => {
      setU32(m, 8 + 16 * i, x);
      setU64(m, 8 + 16 * i + 8, 0xeeee_eeee_eeee_eeeen);
    });
    const r = resultCode(() => p.ioctl(kvm, K.KVM_GET_MSRS, m));
    out.push(`${w}: ${r}${r.startsWith('E') ? '' : idx.map((x, i) => ` ${x.toString(16)}=${getU64(m, 8 + 16 * i + 8).toString(16)}`).join('')}`);
  };
  get('get every feature MSR', indices);
  get('get ARCH_CAPABILITIES', [0x10a]);
  get('get none', []);
  setU32(m, 0, 256);
  res('get 256 entries', () => p.ioctl(kvm, K.KVM_GET_MSRS, m));
  get('get UCODE_REV, TSC, ARCH_CAPABILITIES', [0x8b, 0x10, 0x10a]);
  res('set on /dev/kvm', () => p.ioctl(kvm, K.KVM_SET_MSRS, m));
  return out;
}

describe('MSR-based features against the real kernel', () => {
  it.skipIf(SKIP !== undefined)('every line of feature-msrs-oracle.c matches the model', () => {
    expect(modelLines()).toEqual(runCOracle(join(here, 'feature-msrs-oracle.c')));
  });
});

describe('MSR-based features: the source\'s rules', () => {
  it('an MSR KVM does not advertise ends the batch (kvm_do_msr_access without ignore_msrs); its data reads 0', () => {
    const p = Host.create().spawn();
    const kvm = p.open('/dev/kvm', O_RDWR);
    const m = new Uint8Array(8 + 16 * 3);
    setU32(m, 0, 3);
    [0x8b, 0x1234, 0x10a].forEach((x, i) => setU32(m, 8 + 16 * i, x));
    expect(p.ioctl(kvm, K.KVM_GET_MSRS, m)).toBe(1);
    expect(getU64(m, 8 + 16 + 8)).toBe(0n);
  });
});
