// Softirq numbers (xen/include/xen/softirq.h and xen/arch/x86/include/asm/softirq.h). do_softirq runs
// the lowest pending number first (common/softirq.c __do_softirq); a SCHEDULE_SOFTIRQ that switches to
// another vCPU does not return to its caller (reset_stack_and_jump).
export const TIMER_SOFTIRQ = 0;
export const RCU_SOFTIRQ = 1;
export const SCHED_SLAVE_SOFTIRQ = 2;
export const SCHEDULE_SOFTIRQ = 3;
export const NEW_TLBFLUSH_CLOCK_PERIOD_SOFTIRQ = 4;
export const TASKLET_SOFTIRQ = 5;
export const NR_COMMON_SOFTIRQS = 6;
export const NMI_SOFTIRQ = NR_COMMON_SOFTIRQS + 0;
export const TIME_CALIBRATE_SOFTIRQ = NR_COMMON_SOFTIRQS + 1;
export const VCPU_KICK_SOFTIRQ = NR_COMMON_SOFTIRQS + 2;
export const MACHINE_CHECK_SOFTIRQ = NR_COMMON_SOFTIRQS + 3;
export const HVM_DPCI_SOFTIRQ = NR_COMMON_SOFTIRQS + 4;
export const NR_SOFTIRQS = NR_COMMON_SOFTIRQS + 5;

export const SOFTIRQ_NAMES: Readonly<Record<number, string>> = {
  [TIMER_SOFTIRQ]: 'TIMER_SOFTIRQ',
  [SCHEDULE_SOFTIRQ]: 'SCHEDULE_SOFTIRQ',
  [VCPU_KICK_SOFTIRQ]: 'VCPU_KICK_SOFTIRQ',
  [HVM_DPCI_SOFTIRQ]: 'HVM_DPCI_SOFTIRQ',
};
