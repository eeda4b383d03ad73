// The per-vCPU VMCS state the interrupt path depends on (Intel SDM vol. 3 ch. 24, 29): pin-based
// "process posted interrupts", virtual-interrupt delivery, the posted-interrupt notification vector
// (PINV, VMCS field 0x0002) and descriptor address (PI_DESC_ADDR), the virtual-APIC page (a LAPIC
// register file), the guest interrupt status (RVI low byte, SVI high byte), the EOI-exit bitmap, event
// injection and interrupt-window exiting for CPUs without virtual-interrupt delivery, and the guest
// CPU the VMCS runs. The CPU checks the *VMCS* PINV, never the descriptor's NV (reference xen.md 2.1).
// Exit counters live here so each vCPU's cost can be read.
import type { GuestCpu } from '../../guest/cpu.js';
import type { Lapic } from '../x86/lapic.js';

export const VM_EXIT_REASONS = ['external-interrupt', 'hlt', 'apic-access', 'apic-write', 'interrupt-window', 'tpr-below-threshold', 'eoi-induced', 'triple-fault'] as const;
export type VmExitReason = (typeof VM_EXIT_REASONS)[number];
export const EXIT_EXTINT = 0;
export const EXIT_HLT = 1;
export const EXIT_APIC_ACCESS = 2;
export const EXIT_APIC_WRITE = 3;
export const EXIT_INTR_WINDOW = 4;
export const EXIT_TPR_THRESHOLD = 5;
export const EXIT_EOI_INDUCED = 6;
export const EXIT_TRIPLE_FAULT = 7;

/** 256-bit vector bitmaps as 8 words (EOI-exit bitmap). */
export function bitmapTest(b: Uint32Array, v: number): boolean {
  return ((b[v >>> 5]! >>> (v & 31)) & 1) !== 0;
}

export function bitmapAssign(b: Uint32Array, v: number, on: boolean): void {
  const m = 1 << (v & 31);
  b[v >>> 5] = (on ? b[v >>> 5]! | m : b[v >>> 5]! & ~m) >>> 0;
}

export class Vmcs {
  /** PIN_BASED_POSTED_INTERRUPT */
  postedIntr = false;
  /** SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY */
  vid = false;
  /** SECONDARY_EXEC_APIC_REGISTER_VIRT: APIC writes trap after completing (APIC-write exit). */
  apicRegVirt = false;
  /** POSTED_INTR_NOTIFICATION_VECTOR */
  pinv = 0;
  /** PI_DESC_ADDR, and the descriptor bytes it resolves to. */
  piDescAddr = 0;
  piDesc: Uint8Array | null = null;
  /** GUEST_INTR_STATUS: requesting and servicing virtual interrupt. */
  rvi = 0;
  svi = 0;
  readonly eoiExitBitmap = new Uint32Array(8);
  /** VM_ENTRY_INTR_INFO (without VID): vector to inject at the next entry, -1 none. */
  injectVector = -1;
  /** CPU_BASED_VIRTUAL_INTR_PENDING */
  intrWindowExiting = false;
  /** TPR_THRESHOLD (without VID): a TPR write below it exits. */
  tprThreshold = 0;
  /** The APIC register a trapped write went to (exit qualification of APIC-write / -access). */
  apicExitReg = 0;
  apicExitValue = 0;
  readonly exitCounts = new Uint32Array(VM_EXIT_REASONS.length);
  /** Posted-interrupt processing episodes, and virtual interrupts delivered to the guest. */
  piProcessed = 0;
  delivered = 0;

  constructor(
    /** Trace label, e.g. "d1v0". */
    readonly label: string,
    /** The virtual-APIC page. */
    readonly vapic: Lapic,
    /** The guest CPU this VMCS runs. */
    readonly guest: GuestCpu,
  ) {}

  get exits(): number {
    let n = 0;
    for (const c of this.exitCounts) n += c;
    return n;
  }
}
