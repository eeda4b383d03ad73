// Kernel-internal KVM constants (include/linux/kvm_host.h, arch/x86/include/asm/kvm_host.h,
// arch/x86/kvm/{ioapic.h,irq.h,lapic.h}) — what a 6.18 x86 build uses, as far as userspace can observe
// it. uapi constants come from include-ts; values marked [E] were measured on a real 6.18 kernel.

/** KVM_MAX_IRQ_ROUTES: KVM_CHECK_EXTENSION(KVM_CAP_IRQ_ROUTING) reports it [E 4096]. */
export const KVM_MAX_IRQ_ROUTES = 4096;
/** Source IDs of an irqchip pin's line: userspace (KVM_IRQ_LINE, plain irqfds, SIGNAL_MSI) and resampling irqfds. */
export const KVM_USERSPACE_IRQ_SOURCE_ID = 0;
export const KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID = 1;
/** KVM_USER_MEM_SLOTS = SHRT_MAX - 3 internal slots [E KVM_CAP_NR_MEMSLOTS = 32764]. */
export const KVM_USER_MEM_SLOTS = 32764;
/** KVM_MEM_MAX_NR_PAGES: a slot is at most 2^31 - 1 pages. */
export const KVM_MEM_MAX_NR_PAGES = 2 ** 31 - 1;
/** KVM_MAX_VCPUS of a default x86 build (CONFIG_KVM_MAX_NR_VCPUS) [E KVM_CAP_MAX_VCPUS = 1024]. */
export const KVM_MAX_VCPUS = 1024;
/** KVM_MAX_VCPU_IDS [E KVM_CAP_MAX_VCPU_ID = 4096; KVM_CREATE_VCPU(4096) -> EINVAL]. */
export const KVM_MAX_VCPU_IDS = 4096;
/** KVM_SPLIT_IRQCHIP accepts up to KVM_MAX_IRQ_ROUTES reserved IOAPIC pins [E: 4096 -> 0, 4097 -> EINVAL]. */
export const MAX_NR_RESERVED_IOAPIC_PINS = KVM_MAX_IRQ_ROUTES;
/** kvm_run page + PIO data page + coalesced MMIO ring [E KVM_GET_VCPU_MMAP_SIZE = 12288]. */
export const PAGE_SIZE = 4096;
export const KVM_VCPU_MMAP_SIZE = 3 * PAGE_SIZE;
/** GSI of the RTC, whose coalescing KVM tracks for KVM_IRQ_LINE_STATUS (arch/x86/kvm/ioapic.h). */
export const RTC_GSI = 8;
/** ioapic.c: after this many immediate re-deliveries on EOI, re-injection waits HZ/100. */
export const IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT = 10_000;
export const IOAPIC_STORM_DELAY_NS = 10_000_000;
/** kvm->arch.irqchip_mode. */
export const KVM_IRQCHIP_NONE = 0;
export const KVM_IRQCHIP_KERNEL = 1;
export const KVM_IRQCHIP_SPLIT = 2;
/** KVM_CAP_X2APIC_API flags: USE_32BIT_IDS, DISABLE_BROADCAST_QUIRK, and the 6.18 suppress-EOI-broadcast pair. */
export const KVM_X2APIC_API_USE_32BIT_IDS = 1 << 0;
export const KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK = 1 << 1;
export const KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST = 1 << 2;
export const KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST = 1 << 3;
export const KVM_X2APIC_API_VALID_FLAGS = 0xf;
/**
 * enum kvm_suppress_eoi_broadcast_mode: without either suppress-EOI flag, the quirk (directed EOI advertised
 * with x2APIC and no in-kernel IOAPIC, but EOIs still broadcast); ENABLE honours SPIV's bit; DISABLE stops
 * advertising it.
 */
export const KVM_SUPPRESS_EOI_BROADCAST_QUIRKED = 0;
export const KVM_SUPPRESS_EOI_BROADCAST_ENABLED = 1;
export const KVM_SUPPRESS_EOI_BROADCAST_DISABLED = 2;
/** KVM_SYNC_X86_REGS | SREGS | EVENTS: the kvm_run sync-register bits KVM_RUN accepts. */
export const KVM_SYNC_X86_REGS = 1 << 0;
export const KVM_SYNC_X86_VALID_FIELDS = 0x7;
/** Newer than the 6.1 uapi in include-ts: the exit for a guest access KVM could not map (6.8+). */
export const KVM_EXIT_MEMORY_FAULT = 39;
/** sizeof(sigset_t) in the kernel on x86-64, the only length KVM_SET_SIGNAL_MASK accepts. */
export const KERNEL_SIGSET_SIZE = 8;
/** The errno KVM returns when an in-atomic injection must fall back to a work item. */
export const EWOULDBLOCK = 11;
/** Guest instructions one KVM_RUN executes without an exit before returning as if a signal arrived. */
export const DEFAULT_RUN_BUDGET = 1_000_000;
