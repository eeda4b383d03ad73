// One in-kernel MSI-X table: the PROPOSED, never-merged KVM_DEFINE_MSIX_TABLE family (kvm@vger
// 2010-11, seed 004; docs/proposals/kvm-msix-table.md). It would have lived beside virt/kvm/eventfd.c
// and virt/kvm/coalesced_mmio.c as a kvm_io_device (the series called its file virt/kvm/msix_mmio.c);
// the PCI rules it implements are PCI Local Bus 3.0 §6.8.2 (../shared/reference/kvm.md §6.2).
//
// The kernel owns the whole table and PBA (all-or-nothing): every guest access to either range is
// handled here, inside KVM_RUN, and none becomes KVM_EXIT_MMIO.
// - Reads are served from the kernel's copy. A read of the table or the PBA first delivers every
//   message the table accepted but has not delivered yet (a PCI read completion pushes the function's
//   posted writes ahead of it): after a mask write and a read, nothing more arrives for that entry.
// - A vector-control write masks or unmasks synchronously. Unmasking an entry whose pending bit is set
//   sends its message once and clears the bit.
// - A write that changes an entry's address or data is stored and the vCPU exits with
//   KVM_EXIT_MSIX_ENTRY_UPDATED after the instruction retires (the guest's write has completed; a read
//   back sees the new value). Until that vCPU re-enters KVM_RUN the entry is held: its messages are
//   kept pending, so none is routed through the GSI route userspace has not updated yet.
// - The PBA is read-only (writes are dropped). Legal accesses are aligned DWORDs and aligned QWORDs
//   (the spec leaves anything else undefined): other reads return 0, other writes are dropped; neither
//   exits.
// - A raise (an irqfd or KVM_IRQ_LINE on the bound GSI, or an in-kernel source) for an entry that is
//   masked (vector mask, function mask, MSI-X disabled, or held) sets its pending bit. Otherwise the
//   message is accepted: it is in flight until the table's delivery work sends it through the bound
//   GSI's route (or, for an in-kernel source on an unbound entry, as the entry's own message).
// Hot paths (raise, MMIO) allocate nothing: per-entry typed arrays, a ring of entries with messages in
// flight, one preallocated work item.

import { WorkItem } from '../../../sim/scheduler.js';
import { setU32 } from '../../../../abi/bytes.js';
import { kvm_run } from '../../../../include-ts/linux/kvm.js';
import { PCI_MSIX_ENTRY_CTRL_MASKBIT } from '../../../../include-ts/linux/pci_regs.js';
import {
  KVM_EXIT_MSIX_ENTRY_UPDATED, KVM_MSIX_CTRL_ENABLE, KVM_MSIX_CTRL_MASKALL, KVM_MSIX_TABLE_MAX_ENTRIES,
  KVM_MSIX_UPDATED_ADDRESS_HI, KVM_MSIX_UPDATED_ADDRESS_LO, KVM_MSIX_UPDATED_DATA, kvm_run_msix_entry_updated,
} from '../../../../include-ts/proposed/kvm_msix_table.js';
import type { IoDevice } from '../io-bus.js';
import { kvmSetMsi } from '../irq.js';
import { kvmSetIrqRouted } from '../irqchip.js';
import { KVM_USERSPACE_IRQ_SOURCE_ID } from '../kvm-host.js';
import type { KvmVcpu } from '../vcpu.js';
import type { Kvm } from '../vm.js';

/** Entry field dwords. */
const F_ADDR_LO = 0;
const F_ADDR_HI = 1;
const F_DATA = 2;
const F_CTRL = 3;

/** kvm_run offsets of the KVM_EXIT_MSIX_ENTRY_UPDATED member (the exit union starts at `hw`). */
const EXIT_UNION = kvm_run.offsetof('hw');
const X = {
  tableId: EXIT_UNION + kvm_run_msix_entry_updated.offsetof('table_id'),
  entryId: EXIT_UNION + kvm_run_msix_entry_updated.offsetof('entry_id'),
  flags: EXIT_UNION + kvm_run_msix_entry_updated.offsetof('flags'),
  ctrl: EXIT_UNION + kvm_run_msix_entry_updated.offsetof('vector_control'),
  lo: EXIT_UNION + kvm_run_msix_entry_updated.offsetof('address_lo'),
  hi: EXIT_UNION + kvm_run_msix_entry_updated.offsetof('address_hi'),
  data: EXIT_UNION + kvm_run_msix_entry_updated.offsetof('data'),
  pad: EXIT_UNION + kvm_run_msix_entry_updated.offsetof('pad'),
} as const;

const TWO32 = 0x1_0000_0000;

/**
 * An entry's number across the VM (a GSI's gate, a vCPU's hold): its table's slot * ENTRY_SPAN + the
 * entry, one integer that the hot paths decode without a lookup.
 */
export const ENTRY_SPAN = KVM_MSIX_TABLE_MAX_ENTRIES;

/** Bytes of a PBA for `nr` entries: one bit per entry, in whole QWORDs (PCI). */
export function pbaBytes(nr: number): number {
  return Math.ceil(nr / 64) * 8;
}

/** The table range's kvm_io_device. */
class TableMmio implements IoDevice {
  constructor(private readonly t: MsixTable) {}
  read(addr: number, len: number): number {
    return this.t.tableRead(addr - this.t.base, len);
  }
  write(addr: number, len: number, value: number, vcpu: KvmVcpu | null): boolean {
    this.t.tableWrite(addr - this.t.base, len, value, vcpu);
    return true;
  }
}

/** The PBA range's kvm_io_device. */
class PbaMmio implements IoDevice {
  constructor(private readonly t: MsixTable) {}
  read(addr: number, len: number): number {
    return this.t.pbaRead(addr - this.t.pbaBase, len);
  }
  write(_addr: number, _len: number, _value: number): boolean {
    this.t.pbaWrites++;
    return true;
  }
}

export class MsixTable {
  readonly tableSize: number;
  readonly pbaSize: number;
  /** Message Control bits userspace told us (KVM_MSIX_CTRL_ENABLE | KVM_MSIX_CTRL_MASKALL). */
  ctrl: number;
  /** Four dwords per entry: address low, address high, data, vector control (only the mask bit kept). */
  readonly entries: Uint32Array;
  /** The PBA as u32 words (bit e of word e >> 5). */
  readonly pba: Uint32Array;
  /** The GSI bound to each entry (KVM_SET_MSIX_ENTRY_IRQ), -1 if none. */
  readonly gsi: Int32Array;
  /** Messages accepted and not yet delivered, per entry. */
  readonly inflight: Uint32Array;
  /** Entries with messages in flight, in acceptance order (each at most once). */
  private readonly ring: Int32Array;
  private ringHead = 0;
  private ringLen = 0;
  /**
   * vCPUs whose KVM_EXIT_MSIX_ENTRY_UPDATED for the entry userspace has not answered yet: up to
   * KVM_MAX_VCPUS (1024) per entry, so wider than a byte.
   */
  readonly held: Uint16Array;
  readonly deliverWork: WorkItem;
  readonly tableDev: IoDevice;
  readonly pbaDev: IoDevice;
  // Inspection counters.
  readonly raised: Uint32Array;
  readonly delivered: Uint32Array;
  illegalAccesses = 0;
  pbaWrites = 0;
  updateExits = 0;
  /** The VM's tables slot this table occupies (part of each GSI gate). */
  slot = -1;

  constructor(
    readonly kvm: Kvm,
    readonly id: number,
    readonly nr: number,
    readonly base: number,
    readonly pbaBase: number,
    ctrl: number,
  ) {
    this.ctrl = ctrl;
    this.tableSize = nr * 16;
    this.pbaSize = pbaBytes(nr);
    this.entries = new Uint32Array(nr * 4);
    this.pba = new Uint32Array(this.pbaSize >> 2);
    this.gsi = new Int32Array(nr).fill(-1);
    this.inflight = new Uint32Array(nr);
    this.ring = new Int32Array(nr);
    this.held = new Uint16Array(nr);
    this.raised = new Uint32Array(nr);
    this.delivered = new Uint32Array(nr);
    // PCI reset state: every vector masked, nothing pending.
    for (let e = 0; e < nr; e++) this.entries[e * 4 + F_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
    this.deliverWork = new WorkItem(`kvm_msix_deliver table ${id}`, () => this.deliverAll());
    this.tableDev = new TableMmio(this);
    this.pbaDev = new PbaMmio(this);
  }

  // ---- state ------------------------------------------------------------------------------------

  vectorMasked(e: number): boolean {
    return (this.entries[e * 4 + F_CTRL]! & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  /** Messages for `e` may not be sent now (PCI effective mask, or held for userspace). */
  blocked(e: number): boolean {
    const c = this.ctrl;
    return (c & KVM_MSIX_CTRL_ENABLE) === 0 || (c & KVM_MSIX_CTRL_MASKALL) !== 0 || (this.entries[e * 4 + F_CTRL]! & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0 || this.held[e] !== 0;
  }

  pending(e: number): boolean {
    return ((this.pba[e >>> 5]! >>> (e & 31)) & 1) !== 0;
  }

  private setPending(e: number): void {
    this.pba[e >>> 5] = this.pba[e >>> 5]! | (1 << (e & 31));
  }

  clearPending(e: number): void {
    this.pba[e >>> 5] = this.pba[e >>> 5]! & ~(1 << (e & 31));
  }

  // ---- interrupts -------------------------------------------------------------------------------

  /** A source raised entry `e`: 1 if its message was accepted for delivery, 0 if it became pending. */
  raise(e: number): number {
    this.raised[e]!++;
    if (this.blocked(e)) {
      this.setPending(e);
      const kvm = this.kvm;
      if (kvm.trace.active) kvm.trace.emit({ type: 'irq', t: kvm.sched.now, hop: 'msi-pending', at: `vm${kvm.id} msix table ${this.id} entry ${e}`, gsi: this.gsi[e]!, detail: 'entry masked: pending bit set' });
      return 0;
    }
    this.accept(e);
    return 1;
  }

  /** The table sends `e`'s message: in flight until the delivery work runs (or a read flushes it). */
  private accept(e: number): void {
    if (this.inflight[e]!++ === 0) {
      let tail = this.ringHead + this.ringLen++;
      if (tail >= this.nr) tail -= this.nr;
      this.ring[tail] = e;
    }
    const kvm = this.kvm;
    if (kvm.trace.active) kvm.trace.emit({ type: 'irq', t: kvm.sched.now, hop: 'msi-send', at: `vm${kvm.id} msix table ${this.id} entry ${e}`, gsi: this.gsi[e]!, detail: 'message accepted, in flight' });
    kvm.sched.queueWork(this.deliverWork);
  }

  /** Sends `e`'s pending message if nothing blocks it any more (unmask of any kind, hold released). */
  unmaskCheck(e: number): void {
    if (!this.pending(e) || this.blocked(e)) return;
    this.clearPending(e);
    this.accept(e);
  }

  /** Every entry's unmaskCheck (after the function's control bits changed). */
  unmaskCheckAll(): void {
    const pba = this.pba;
    for (let w = 0; w < pba.length; w++) {
      if (pba[w] === 0) continue;
      for (let b = 0; b < 32; b++) {
        const e = w * 32 + b;
        if (e < this.nr) this.unmaskCheck(e);
      }
    }
  }

  /** The delivery work: every message in flight, through the bound GSI's current route. */
  private deliverAll(): void {
    while (this.ringLen > 0) {
      const e = this.ring[this.ringHead]!;
      if (++this.ringHead === this.nr) this.ringHead = 0;
      this.ringLen--;
      let n = this.inflight[e]!;
      this.inflight[e] = 0;
      while (n-- > 0) this.deliver(e);
    }
  }

  private deliver(e: number): void {
    const kvm = this.kvm;
    this.delivered[e]!++;
    const gsi = this.gsi[e]!;
    if (gsi >= 0) {
      // An edge on the GSI, past the gate: an MSI route sends its message; an irqchip pin gets a pulse.
      kvmSetIrqRouted(kvm, KVM_USERSPACE_IRQ_SOURCE_ID, gsi, true, false);
      kvmSetIrqRouted(kvm, KVM_USERSPACE_IRQ_SOURCE_ID, gsi, false, false);
      return;
    }
    const o = e * 4;
    kvmSetMsi(kvm, this.entries[o + F_ADDR_LO]!, this.entries[o + F_ADDR_HI]!, this.entries[o + F_DATA]!, true);
  }

  /**
   * Delivers everything in flight now (a read's flush; every table ioctl starts with it, so
   * userspace never sees a message half-way).
   */
  sync(): void {
    if (this.ringLen !== 0) this.kvm.sched.flushWork(this.deliverWork);
  }

  get inflightTotal(): number {
    let n = 0;
    for (let e = 0; e < this.nr; e++) n += this.inflight[e]!;
    return n;
  }

  // ---- guest MMIO -------------------------------------------------------------------------------

  /** Aligned DWORD or aligned QWORD: the only accesses PCI defines for the table and the PBA. */
  private static legal(off: number, len: number): boolean {
    return (len === 4 && (off & 3) === 0) || (len === 8 && (off & 7) === 0);
  }

  private illegal(what: string, off: number, len: number): void {
    this.illegalAccesses++;
    const kvm = this.kvm;
    if (kvm.trace.active) kvm.trace.emit({ type: 'irq', t: kvm.sched.now, hop: 'dropped', at: `vm${kvm.id} msix table ${this.id}`, detail: `${len}-byte ${what} at offset 0x${off.toString(16)}: only aligned DWORD/QWORD accesses are defined (read 0 / write dropped)` });
  }

  tableRead(off: number, len: number): number {
    return this.read(this.entries, off, len, 'table read');
  }

  pbaRead(off: number, len: number): number {
    return this.read(this.pba, off, len, 'PBA read');
  }

  /** A guest read of the table or the PBA: legal ones flush what is in flight, then read the dword(s). */
  private read(words: Uint32Array, off: number, len: number, what: string): number {
    if (!MsixTable.legal(off, len)) {
      this.illegal(what, off, len);
      return 0;
    }
    this.sync();
    const i = off >>> 2;
    const lo = words[i]!;
    return len === 4 ? lo : lo + words[i + 1]! * TWO32;
  }

  tableWrite(off: number, len: number, value: number, vcpu: KvmVcpu | null): void {
    if (!MsixTable.legal(off, len)) {
      this.illegal('table write', off, len);
      return;
    }
    const i = off >>> 2;
    const e = i >>> 2;
    let changed = this.writeDword(e, i & 3, len === 4 ? value >>> 0 : value % TWO32 >>> 0, vcpu, 0);
    if (len === 8) changed = this.writeDword(e, (i + 1) & 3, Math.floor(value / TWO32) >>> 0, vcpu, changed);
    if (changed !== 0 && vcpu !== null) this.requestExit(vcpu, e, changed);
  }

  /**
   * One dword of entry `e`. Address/data: stored; returns `changed` with the field's bit added when the
   * value differs (the entry is held from the first change on, before a vector control write in the
   * same QWORD could unmask it). Vector control: the mask bit, synchronously.
   */
  private writeDword(e: number, field: number, v: number, vcpu: KvmVcpu | null, changed: number): number {
    const o = e * 4 + field;
    if (field === F_CTRL) {
      const was = this.entries[o]! & PCI_MSIX_ENTRY_CTRL_MASKBIT;
      const now = v & PCI_MSIX_ENTRY_CTRL_MASKBIT;
      this.entries[o] = now;
      if (was !== 0 && now === 0) this.unmaskCheck(e);
      return changed;
    }
    if (this.entries[o] === v) return changed;
    this.entries[o] = v;
    if (changed === 0 && vcpu !== null) this.hold(vcpu, e);
    return changed | (field === F_ADDR_LO ? KVM_MSIX_UPDATED_ADDRESS_LO : field === F_ADDR_HI ? KVM_MSIX_UPDATED_ADDRESS_HI : KVM_MSIX_UPDATED_DATA);
  }

  private hold(vcpu: KvmVcpu, e: number): void {
    // A vCPU exits after every changing write, so it holds at most one entry at a time.
    if (vcpu.heldMsix >= 0) this.kvm.msix.releaseHold(vcpu);
    this.held[e]!++;
    vcpu.heldMsix = this.slot * ENTRY_SPAN + e;
  }

  /** Releases one vCPU's hold on `e` (it re-entered KVM_RUN, or the table goes away). */
  release(e: number): void {
    if (this.held[e] === 0) return;
    this.held[e]!--;
    this.unmaskCheck(e);
  }

  private requestExit(vcpu: KvmVcpu, e: number, changed: number): void {
    const run = vcpu.run;
    const o = e * 4;
    setU32(run, X.tableId, this.id);
    setU32(run, X.entryId, e);
    setU32(run, X.flags, changed);
    setU32(run, X.ctrl, this.entries[o + F_CTRL]!);
    setU32(run, X.lo, this.entries[o + F_ADDR_LO]!);
    setU32(run, X.hi, this.entries[o + F_ADDR_HI]!);
    setU32(run, X.data, this.entries[o + F_DATA]!);
    setU32(run, X.pad, 0);
    vcpu.requestedExit = KVM_EXIT_MSIX_ENTRY_UPDATED;
    this.updateExits++;
  }

  // ---- userspace (ioctls) -----------------------------------------------------------------------

  /** KVM_SET_MSIX_ENTRY / restore: stores an entry as userspace gives it (no exit: userspace knows). */
  setEntry(e: number, lo: number, hi: number, data: number, ctrl: number): void {
    const o = e * 4;
    const was = this.entries[o + F_CTRL]! & PCI_MSIX_ENTRY_CTRL_MASKBIT;
    this.entries[o + F_ADDR_LO] = lo;
    this.entries[o + F_ADDR_HI] = hi;
    this.entries[o + F_DATA] = data;
    this.entries[o + F_CTRL] = ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT;
    if (was !== 0 && (ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) === 0) this.unmaskCheck(e);
  }

  /** The function's control bits changed (userspace saw a Message Control write in config space). */
  setCtrl(ctrl: number): void {
    this.ctrl = ctrl;
    this.unmaskCheckAll();
  }
}
