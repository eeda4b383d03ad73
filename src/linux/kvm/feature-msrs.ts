// MSR-based features (arch/x86/kvm/x86.c: kvm_probe_feature_msr and msr_based_features,
// kvm_get_feature_msr, do_get_feature_msr -> kvm_do_msr_access; the KVM_GET_MSR_FEATURE_INDEX_LIST and
// KVM_GET_MSRS cases of kvm_arch_dev_ioctl): what a VMM reads on /dev/kvm before it configures a guest CPU
// model (QEMU's kvm_get_supported_feature_msrs, e.g. ARCH_CAPABILITIES for `-cpu host`).
// - KVM_CAP_GET_MSR_FEATURES 1 (on /dev/kvm and VM fds).
// - KVM_GET_MSR_FEATURE_INDEX_LIST (system fd only; a VM fd says ENOTTY): the MSRs whose probe succeeds,
//   in msr_based_features' order — on this machine UCODE_REV, ARCH_CAPABILITIES, PERF_CAPABILITIES,
//   PLATFORM_INFO (its kvm_pvm offers no AMD DE_CFG) [E]; E2BIG with the count written back, as the vCPU
//   list does.
// - KVM_GET_MSRS on the system fd: their values as this machine reports them [E] — UCODE_REV the host's
//   microcode revision, ARCH_CAPABILITIES kvm_caps.supported_arch_cap, PERF_CAPABILITIES 0 (no PMU
//   capabilities on this host), PLATFORM_INFO MSR_PLATFORM_INFO_CPUID_FAULT. Another MSR KVM advertises
//   (a vCPU list MSR, e.g. TSC) reads 0 and counts (kvm_do_msr_access: host-initiated, zeroed data, an
//   advertised index) [E]; any other ends the batch. KVM_SET_MSRS on the system fd is EINVAL.
// The same MSRs on a vCPU are not modelled (the model's vCPU list leaves them out): this kvm_pvm host
// starts ARCH_CAPABILITIES and UCODE_REV at 0 and refuses a host write of ARCH_CAPABILITIES even with it in
// the guest CPUID (measured), which the source reading here could not explain.

import { writeMsrList, msrEntries, KVM_MSR_INDEX_LIST } from './msr.js';
import { setU64 } from '../../../abi/bytes.js';
import type { UserArg } from '../uaccess.js';
import { MSR_IA32_ARCH_CAPABILITIES, MSR_IA32_PERF_CAPABILITIES, MSR_IA32_UCODE_REV, MSR_PLATFORM_INFO } from '../../hw/x86/msr-index.js';

const MSR_PLATFORM_INFO_CPUID_FAULT = 0x8000_0000n;

/** The feature MSRs and their values on this machine, in the list's order [E]. */
const FEATURE_MSRS: ReadonlyArray<readonly [index: number, value: bigint]> = [
  [MSR_IA32_UCODE_REV, 0x1000065n],
  [MSR_IA32_ARCH_CAPABILITIES, 0x4000_0000_0c00_0069n], // kvm_caps.supported_arch_cap
  [MSR_IA32_PERF_CAPABILITIES, 0n], // kvm_caps.supported_perf_cap
  [MSR_PLATFORM_INFO, MSR_PLATFORM_INFO_CPUID_FAULT],
];
const FEATURE_INDICES: readonly number[] = FEATURE_MSRS.map(([i]) => i);
const FEATURE_VALUES = new Map(FEATURE_MSRS);

/** KVM_GET_MSR_FEATURE_INDEX_LIST. */
export function featureMsrIndexList(arg: UserArg): number {
  return writeMsrList(arg, FEATURE_INDICES);
}

/** kvm_is_advertised_msr(): in the vCPU list or the feature list. */
function advertised(index: number): boolean {
  return FEATURE_VALUES.has(index) || KVM_MSR_INDEX_LIST.includes(index);
}

/** KVM_GET_MSRS on /dev/kvm: msr_io() with do_get_feature_msr(). */
export function devGetMsrs(arg: UserArg): number {
  return msrEntries(arg, (index, b, o) => {
    const v = FEATURE_VALUES.get(index);
    setU64(b, o, v ?? 0n);
    return v !== undefined || advertised(index);
  });
}
