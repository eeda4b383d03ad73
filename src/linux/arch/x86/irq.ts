// arch/x86/kernel/irq.c (common_interrupt, call_irq_handler, reevaluate_vector) with the part of the
// local APIC a host CPU needs: a CPU takes an interrupt vector from the APIC bus, looks the vector up in
// its per-CPU vector_irq[] table and runs that descriptor's flow handler. A vector with no descriptor is
// logged ("No irq handler for CPU.VECTOR", the 6.17+ wording) and acknowledged; it is not an error
// interrupt (/proc/interrupts' ERR counts APIC error interrupts, see proc.ts). The host CPU runs handlers to
// completion with interrupts off: a vector that arrives meanwhile waits in IRR and is taken when the
// handler returns (in priority order, highest vector first), which also keeps a screaming level line
// an iteration, not a recursion. The same holds while kernel code runs with an interrupt-disabling
// lock held (spin_lock_irqsave around vfio-pci's mask state, IrqCore.localIrqSave): whichever CPU the
// interrupt targets, its handler runs after the lock is dropped.

import type { LocalApicPort } from '../../../hw/x86/apic-bus.js';
import { handleIrq } from '../../irq/chip.js';
import { KERN_EMERG } from '../../printk.js';
import type { IrqCore } from '../../irq/irq-core.js';
import type { IrqDesc } from '../../irq/irqdesc.js';

export class HostCpu implements LocalApicPort {
  /** vector_irq: the descriptor each vector of this CPU delivers to. */
  readonly vectorIrq: (IrqDesc | undefined)[] = new Array<IrqDesc | undefined>(256).fill(undefined);
  /** Vectors accepted while a handler ran (the APIC's IRR as far as the host sees it). */
  private readonly irr = new Uint32Array(8);
  private irrCount = 0;
  private inIrq = false;
  /** Interrupts taken (inspection). */
  taken = 0;
  /** Vectors that arrived with no descriptor (inspection; the kernel only logs them). */
  unhandledVectors = 0;

  constructor(
    readonly index: number,
    readonly apicId: number,
    private readonly core: IrqCore,
  ) {}

  /** The APIC bus delivers `vector` (fixed, physical destination). */
  accept(vector: number): void {
    if (this.inIrq || this.core.irqsOff !== 0) {
      if (!this.inIrq) this.core.deferred++;
      const w = vector >> 5;
      const bit = 1 << (vector & 31);
      if ((this.irr[w]! & bit) === 0) {
        this.irr[w] = this.irr[w]! | bit;
        this.irrCount++;
      }
      return;
    }
    this.inIrq = true;
    this.dispatch(vector);
    if (this.irrCount !== 0) this.drain();
    this.inIrq = false;
  }

  /** The APIC's IPI to self (apic_retrigger_irq): the vector arrives again. */
  retrigger(vector: number): void {
    this.accept(vector);
  }

  /** Takes what accumulated in IRR while interrupts were held off. */
  flushPending(): void {
    if (this.inIrq || this.irrCount === 0) return;
    this.inIrq = true;
    this.drain();
    this.inIrq = false;
  }

  private drain(): void {
    while (this.irrCount !== 0) {
      let v = -1;
      for (let w = 7; w >= 0 && v < 0; w--) {
        const bits = this.irr[w]!;
        if (bits !== 0) v = w * 32 + 31 - Math.clz32(bits);
      }
      this.irr[v >> 5] = this.irr[v >> 5]! & ~(1 << (v & 31));
      this.irrCount--;
      this.dispatch(v);
    }
  }

  /** call_irq_handler(); without a descriptor, reevaluate_vector()'s message (not rate-limited here). */
  private dispatch(vector: number): void {
    this.taken++;
    const desc = this.vectorIrq[vector];
    if (desc === undefined) {
      this.unhandledVectors++;
      this.core.log.printk(KERN_EMERG, `No irq handler for ${this.index}.${vector}`);
      return;
    }
    handleIrq(this.core, desc, this.index);
  }
}
