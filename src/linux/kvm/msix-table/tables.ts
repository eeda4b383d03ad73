// A VM's in-kernel MSI-X tables (PROPOSED, never merged: the KVM_DEFINE_MSIX_TABLE family, seed 004;
// docs/proposals/kvm-msix-table.md): tables by id, their MMIO ranges on kvm->mmio_bus, and the
// GSI -> entry gates that put each bound GSI's interrupts behind its entry's mask (the proposal's
// KVM_SET_MSIX_ENTRY_IRQ with a GSI descriptor). The gate is what virt/kvm/irqchip.c:kvm_set_irq and
// virt/kvm/eventfd.c:irqfd_wakeup consult first: one typed-array read, O(1) in tables and entries.

import { KVM_MAX_IRQ_ROUTES } from '../kvm-host.js';
import type { KvmVcpu } from '../vcpu.js';
import type { Kvm } from '../vm.js';
import { ENTRY_SPAN, MsixTable } from './table.js';

/** How many tables one VM may define (KVM_CHECK_EXTENSION(KVM_CAP_MSIX_TABLE) reports it). */
export const KVM_MSIX_MAX_TABLES = 256;

export class KvmMsixTables {
  readonly byId = new Map<number, MsixTable>();
  /** Tables by slot (the gate's high part); null = free. */
  readonly slots: (MsixTable | null)[] = new Array<MsixTable | null>(KVM_MSIX_MAX_TABLES).fill(null);
  /** GSI -> gate, allocated with the first binding. */
  private gates: Int32Array | null = null;
  /** Entries bound to a GSI, over every table (0: kvm_set_irq skips the gate lookup). */
  bound = 0;

  constructor(private readonly kvm: Kvm) {}

  get count(): number {
    return this.byId.size;
  }

  /** The gate of `gsi` (slot * ENTRY_SPAN + entry), or -1 when no entry is bound to it. */
  gateOf(gsi: number): number {
    const g = this.gates;
    if (g === null || gsi < 0 || gsi >= KVM_MAX_IRQ_ROUTES) return -1;
    return g[gsi]!;
  }

  /** An interrupt for a gated GSI: the entry decides (1 accepted, 0 made pending). */
  raiseGate(gate: number): number {
    return this.slots[(gate / ENTRY_SPAN) | 0]!.raise(gate % ENTRY_SPAN);
  }

  /** The (table, entry) a GSI is bound to, for error messages and inspection. */
  boundTo(gsi: number): { table: MsixTable; entry: number } | null {
    const g = this.gateOf(gsi);
    return g < 0 ? null : { table: this.slots[(g / ENTRY_SPAN) | 0]!, entry: g % ENTRY_SPAN };
  }

  /** Every defined table's ranges overlapping [start, end), for EEXIST. */
  overlapping(start: number, end: number): MsixTable | null {
    for (const t of this.byId.values()) {
      if (start < t.base + t.tableSize && t.base < end) return t;
      if (start < t.pbaBase + t.pbaSize && t.pbaBase < end) return t;
    }
    return null;
  }

  /** Installs a validated table: a slot, its id, and its two ranges on the MMIO bus. */
  add(t: MsixTable): void {
    const slot = this.slots.indexOf(null);
    t.slot = slot;
    this.slots[slot] = t;
    this.byId.set(t.id, t);
    this.kvm.mmioBus.register(t.base, t.tableSize, t.tableDev);
    this.kvm.mmioBus.register(t.pbaBase, t.pbaSize, t.pbaDev);
  }

  /** Takes a table (no entry bound) away: in-flight messages are delivered, holds dropped, ranges freed. */
  delete(t: MsixTable): void {
    t.sync();
    for (const v of this.kvm.vcpus) {
      if (v.heldMsix >= 0 && ((v.heldMsix / ENTRY_SPAN) | 0) === t.slot) v.heldMsix = -1;
    }
    this.kvm.mmioBus.unregister(t.tableDev);
    this.kvm.mmioBus.unregister(t.pbaDev);
    this.byId.delete(t.id);
    this.slots[t.slot] = null;
  }

  /** Binds `gsi` to (t, e) (gsi -1: unbinds); every irqfd re-reads its gate, as after a routing change. */
  bind(t: MsixTable, e: number, gsi: number): void {
    const old = t.gsi[e]!;
    if (old === gsi) return;
    this.gates ??= new Int32Array(KVM_MAX_IRQ_ROUTES).fill(-1);
    if (old >= 0) {
      this.gates[old] = -1;
      this.bound--;
    }
    t.gsi[e] = gsi;
    if (gsi >= 0) {
      this.gates[gsi] = t.slot * ENTRY_SPAN + e;
      this.bound++;
    }
    this.kvm.irqfds.routingUpdate();
  }

  /** The vCPU re-entered KVM_RUN: the entry its last KVM_EXIT_MSIX_ENTRY_UPDATED held is released. */
  releaseHold(v: KvmVcpu): void {
    const g = v.heldMsix;
    v.heldMsix = -1;
    const t = this.slots[(g / ENTRY_SPAN) | 0];
    if (t) t.release(g % ENTRY_SPAN);
  }
}
