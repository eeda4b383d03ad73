// The results of KVM's MSR accessors (arch/x86/kvm/x86.h): 0 is success; MSR_RET_INVALID (1) is a #GP for
// the guest; KVM_MSR_RET_UNSUPPORTED (2) an MSR KVM does not handle (a userspace exit with
// KVM_MSR_EXIT_REASON_UNKNOWN when enabled); KVM_MSR_RET_FILTERED (3) a filter's refusal.
export const MSR_RET_INVALID = 1;
export const KVM_MSR_RET_UNSUPPORTED = 2;
export const KVM_MSR_RET_FILTERED = 3;
