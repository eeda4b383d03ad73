// arch/x86/kernel/apic/vector.c + kernel/irq/matrix.c: the per-CPU vector space. Every interrupt the
// host takes is a (CPU, vector) pair; an allocation picks the CPU with the fewest vectors in use (the
// matrix's best CPU) and the lowest free vector of its dynamic range, and records the descriptor in
// that CPU's vector_irq[] table. The model keeps the dynamic range 0x21-0xeb (203 vectors a CPU);
// `limit` caps the total for tests of "fewer vectors than asked" (control.irq.setVectorLimit).

import type { IrqDesc } from '../../irq/irqdesc.js';
import type { HostCpu } from './irq.js';

export const FIRST_DYNAMIC_VECTOR = 0x21;
export const LAST_DYNAMIC_VECTOR = 0xeb;
export const VECTORS_PER_CPU = LAST_DYNAMIC_VECTOR - FIRST_DYNAMIC_VECTOR + 1;

export class VectorMatrix {
  /** Vectors in use per CPU. */
  readonly allocated: number[];
  /** Total vectors in use. */
  total = 0;
  /** At most this many vectors may be in use (Infinity: only the hardware's vector space counts). */
  limit = Infinity;

  constructor(private readonly cpus: readonly HostCpu[]) {
    this.allocated = cpus.map(() => 0);
  }

  /** Vectors that can still be allocated. */
  get available(): number {
    const hw = this.cpus.length * VECTORS_PER_CPU - this.total;
    return Math.max(0, Math.min(hw, this.limit - this.total));
  }

  /** Assigns a vector to `desc`; false if none is left (ENOSPC). */
  assign(desc: IrqDesc): boolean {
    if (this.available === 0) return false;
    let best = -1;
    for (let c = 0; c < this.cpus.length; c++) {
      if (this.allocated[c]! >= VECTORS_PER_CPU) continue;
      if (best < 0 || this.allocated[c]! < this.allocated[best]!) best = c;
    }
    if (best < 0) return false;
    const table = this.cpus[best]!.vectorIrq;
    let v = FIRST_DYNAMIC_VECTOR;
    while (table[v] !== undefined) v++;
    table[v] = desc;
    desc.cpu = best;
    desc.vector = v;
    this.allocated[best]!++;
    this.total++;
    return true;
  }

  /** Releases `desc`'s vector. */
  release(desc: IrqDesc): void {
    if (desc.cpu < 0) return;
    this.cpus[desc.cpu]!.vectorIrq[desc.vector] = undefined;
    this.allocated[desc.cpu]!--;
    this.total--;
    desc.cpu = -1;
    desc.vector = -1;
  }
}
