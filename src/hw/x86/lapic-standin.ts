// Architectural local-APIC register state (Intel SDM vol. 3 ch. 10 / 11): IRR, ISR, TMR as 256-bit
// vectors, TPR/PPR, the ID/LDR/DFR used for destinations, and the software-enable bit of the SVR.
//
// STAND-IN: the shared architectural LAPIC model is being built on branch `kvm` (src/hw/x86/lapic.ts).
// Until it lands, the Xen model (host LAPICs of pCPUs, virtual-APIC pages of vCPUs) uses this minimal
// register file through the `ApicRegisters` interface, so binding to the shared model is a swap of the
// class behind that interface. Keep it minimal; do not grow a second LAPIC model here.

export interface ApicRegisters {
  /** APIC ID (x2APIC: 32 bits; xAPIC: the 8-bit ID). */
  id: number;
  /** Logical Destination Register value (xAPIC: ID in [31:24]). */
  ldr: number;
  /** Destination Format Register (0xffffffff flat, 0x0fffffff cluster). */
  dfr: number;
  /** SVR bit 8: APIC software enabled. */
  enabled: boolean;
  x2apic: boolean;
  /** Task Priority Register (only [7:0] meaningful). */
  tpr: number;
  readonly irr: Uint32Array;
  readonly isr: Uint32Array;
  readonly tmr: Uint32Array;
}

export const APIC_DFR_FLAT = 0xffffffff;
export const APIC_DFR_CLUSTER = 0x0fffffff;

export class ApicRegs implements ApicRegisters {
  ldr = 0;
  dfr = APIC_DFR_FLAT;
  enabled = true;
  tpr = 0;
  readonly irr = new Uint32Array(8);
  readonly isr = new Uint32Array(8);
  readonly tmr = new Uint32Array(8);
  constructor(
    public id: number,
    public x2apic = false,
  ) {}
}

// Vector bitmaps: 8 little-endian 32-bit words, as the APIC pages lay them out (IRR at 0x200 + 16*i).

export function vecTest(b: Uint32Array, v: number): boolean {
  return ((b[v >>> 5]! >>> (v & 31)) & 1) !== 0;
}

export function vecSet(b: Uint32Array, v: number): void {
  b[v >>> 5] = (b[v >>> 5]! | (1 << (v & 31))) >>> 0;
}

export function vecClear(b: Uint32Array, v: number): void {
  b[v >>> 5] = (b[v >>> 5]! & ~(1 << (v & 31))) >>> 0;
}

/** test_and_set: true if the bit was already set. */
export function vecTestAndSet(b: Uint32Array, v: number): boolean {
  const w = b[v >>> 5]!;
  const m = 1 << (v & 31);
  b[v >>> 5] = (w | m) >>> 0;
  return (w & m) !== 0;
}

/** The highest set vector, or -1. */
export function vecHighest(b: Uint32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = b[i]!;
    if (w !== 0) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

/** PPR (SDM 10.8.3.1): TPR if its class is at least the highest in-service class, else that class. */
export function apicPpr(a: ApicRegisters): number {
  const isr = vecHighest(a.isr);
  const isrv = isr < 0 ? 0 : isr & 0xf0;
  return (a.tpr & 0xf0) >= isrv ? a.tpr & 0xff : isrv;
}
