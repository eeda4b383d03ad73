// host.control.kvm.vm(p, vm).msixTable(id): the mock-only side of the proposed in-kernel MSI-X table —
// what a test or a lesson reads (entries, pending bits, messages in flight, counters) and the one
// action no fd offers: raising an entry the way an in-kernel producer would (a legacy assigned
// device's IRQ handler or vhost in the 2010 proposal). Nothing here is reachable through an fd.

import { KVM_MSIX_CTRL_ENABLE, KVM_MSIX_CTRL_MASKALL } from '../../../../include-ts/proposed/kvm_msix_table.js';
import type { MsixTable } from './table.js';

export interface MsixEntryView {
  readonly entry: number;
  readonly addressLo: number;
  readonly addressHi: number;
  readonly data: number;
  readonly masked: boolean;
  readonly pending: boolean;
  /** Messages accepted and not delivered yet. */
  readonly inflight: number;
  /** vCPUs holding the entry until they re-enter KVM_RUN (after KVM_EXIT_MSIX_ENTRY_UPDATED). */
  readonly held: number;
  /** The bound GSI, -1 if none. */
  readonly gsi: number;
  readonly raised: number;
  readonly delivered: number;
}

export interface MsixTableView {
  readonly id: number;
  readonly nrEntries: number;
  readonly base: number;
  readonly pbaBase: number;
  readonly enabled: boolean;
  readonly functionMasked: boolean;
  readonly illegalAccesses: number;
  readonly pbaWrites: number;
  readonly updateExits: number;
}

export class MsixTableControl {
  constructor(private readonly t: MsixTable) {}

  view(): MsixTableView {
    const t = this.t;
    return {
      id: t.id, nrEntries: t.nr, base: t.base, pbaBase: t.pbaBase, enabled: (t.ctrl & KVM_MSIX_CTRL_ENABLE) !== 0, functionMasked: (t.ctrl & KVM_MSIX_CTRL_MASKALL) !== 0,
      illegalAccesses: t.illegalAccesses, pbaWrites: t.pbaWrites, updateExits: t.updateExits,
    };
  }

  entry(e: number): MsixEntryView {
    const t = this.t;
    if (!Number.isInteger(e) || e < 0 || e >= t.nr) throw new RangeError(`MSI-X table ${t.id} has no entry ${e}`);
    const o = e * 4;
    return {
      entry: e, addressLo: t.entries[o]!, addressHi: t.entries[o + 1]!, data: t.entries[o + 2]!, masked: t.vectorMasked(e), pending: t.pending(e),
      inflight: t.inflight[e]!, held: t.held[e]!, gsi: t.gsi[e]!, raised: t.raised[e]!, delivered: t.delivered[e]!,
    };
  }

  /** Entries whose pending bit is set (the PBA as a list). */
  pendingEntries(): number[] {
    const out: number[] = [];
    for (let e = 0; e < this.t.nr; e++) if (this.t.pending(e)) out.push(e);
    return out;
  }

  /** Messages in flight over the whole table. */
  get inflight(): number {
    return this.t.inflightTotal;
  }

  /**
   * Raises entry `e` as an in-kernel source bound to it would: pending if masked, else accepted (sent
   * through the bound GSI's route, or as the entry's own message when no GSI is bound). Returns 1 or 0.
   */
  raise(e: number): number {
    if (!Number.isInteger(e) || e < 0 || e >= this.t.nr) throw new RangeError(`MSI-X table ${this.t.id} has no entry ${e}`);
    const r = this.t.raise(e);
    this.t.kvm.kernel.point();
    return r;
  }
}
