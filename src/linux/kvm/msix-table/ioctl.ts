// The VM ioctls of the PROPOSED, never-merged in-kernel MSI-X table (seed 004; the rules and their
// errno are tabulated in docs/proposals/kvm-msix-table.md). They follow the style of the real VM
// ioctls in virt/kvm/kvm_main.c and virt/kvm/eventfd.c: EINVAL for malformed arguments, unknown flags
// and out-of-range entries; EEXIST when an existing registration already owns the id or the range
// (KVM_SET_USER_MEMORY_REGION's overlap rule); ENOENT for an unknown table id (KVM_IOEVENTFD deassign
// of nothing registered in virt/kvm/eventfd.c, and KVM_GET/SET_ONE_REG's "no such register"; not
// KVM_IRQFD deassign, which returns 0, nor the device attribute ioctls, which say ENXIO); EBUSY when
// the table still has bound sources (KVM_IRQFD's "already bound"); ENOSPC when the VM has no table
// slot left (kvm_io_bus_register_dev); E2BIG when the caller's array is too small
// (KVM_GET_MSR_INDEX_LIST). Every call validates first and changes nothing when it fails; every call on
// a table first delivers the messages it has in flight.

import { kerr } from '../../errors.js';
import type { UserArg } from '../../uaccess.js';
import { getU32, getU64, setU32 } from '../../../../abi/bytes.js';
import {
  KVM_MSIX_CTRL_ENABLE, KVM_MSIX_CTRL_MASKALL, KVM_MSIX_ENTRY_PENDING, KVM_MSIX_IRQ_GSI, KVM_MSIX_IRQ_NONE,
  KVM_MSIX_PBA_WORDS, KVM_MSIX_PENDING_CLEAR, KVM_MSIX_STATE_ENTRIES, KVM_MSIX_TABLE_MAX_ENTRIES, kvm_msix_entry,
  kvm_msix_entry_irq, kvm_msix_pending, kvm_msix_table, kvm_msix_table_entry, kvm_msix_table_state,
} from '../../../../include-ts/proposed/kvm_msix_table.js';
import { PCI_MSIX_ENTRY_CTRL_MASKBIT } from '../../../../include-ts/linux/pci_regs.js';
import { KVM_IRQCHIP_NONE, KVM_MAX_IRQ_ROUTES } from '../kvm-host.js';
import type { Kvm } from '../vm.js';
import { MsixTable, pbaBytes } from './table.js';
import { KVM_MSIX_MAX_TABLES } from './tables.js';

const CTRL_BITS = KVM_MSIX_CTRL_ENABLE | KVM_MSIX_CTRL_MASKALL;
/** x86 MAXPHYADDR is at most 52: a guest-physical range must end at or below 2^52. */
const GPA_LIMIT = 1n << 52n;
/** Bytes of kvm_msix_table_state before entries[] (argsz, flags, table_id, nr_entries, pending[32]). */
const STATE_HDR = kvm_msix_table_state.offsetof('entries');
const PENDING_BYTES = KVM_MSIX_PBA_WORDS * 8;

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** Reads the first `minsz` bytes and checks argsz (VFIO's minsz rule). */
function userStruct(arg: UserArg, minsz: number, name: string): Uint8Array {
  const b = arg.user(minsz);
  const argsz = getU32(b, 0);
  if (argsz < minsz) throw kerr('EINVAL', `argsz ${argsz} is smaller than the ${minsz} bytes of struct ${name} this call reads`);
  return b;
}

function noFlags(flags: number, name: string): void {
  if (flags !== 0) throw kerr('EINVAL', `${name}.flags 0x${flags.toString(16)} has unknown bits (none are defined for this call)`);
}

function table(kvm: Kvm, id: number): MsixTable {
  const t = kvm.msix.byId.get(id);
  if (!t) throw kerr('ENOENT', `no MSI-X table ${id} is defined on this VM (KVM_DEFINE_MSIX_TABLE first)`);
  return t;
}

function entryIn(t: MsixTable, e: number): number {
  if (e >= t.nr) throw kerr('EINVAL', `entry ${e} is out of range: MSI-X table ${t.id} has ${t.nr} entries (0-${t.nr - 1})`);
  return e;
}

function vectorControl(v: number, where: string): number {
  if (v & ~PCI_MSIX_ENTRY_CTRL_MASKBIT) throw kerr('EINVAL', `${where}: vector_control 0x${v.toString(16)} sets reserved bits (only bit 0, Mask, is defined)`);
  return v;
}

/** KVM_DEFINE_MSIX_TABLE. */
export function defineMsixTable(kvm: Kvm, arg: UserArg): number {
  const b = userStruct(arg, kvm_msix_table.size, 'kvm_msix_table');
  const flags = getU32(b, 4);
  const id = getU32(b, 8);
  const nr = getU32(b, 12);
  const base = getU64(b, 16);
  const pba = getU64(b, 24);
  if (flags & ~CTRL_BITS) throw kerr('EINVAL', `flags 0x${flags.toString(16)} has bits other than KVM_MSIX_CTRL_ENABLE|KVM_MSIX_CTRL_MASKALL`);
  if (kvm.irqchipMode === KVM_IRQCHIP_NONE) throw kerr('EINVAL', 'the VM has no in-kernel irqchip to deliver MSI-X messages to (KVM_CREATE_IRQCHIP or KVM_CAP_SPLIT_IRQCHIP first)');
  if (nr === 0 || nr > KVM_MSIX_TABLE_MAX_ENTRIES) throw kerr('EINVAL', `nr_entries ${nr} is not 1-${KVM_MSIX_TABLE_MAX_ENTRIES} (the PCI Table Size range)`);
  if (base & 7n) throw kerr('EINVAL', `msix_base_gpa ${hex(base)} is not 8-byte aligned (a BAR offset with the BIR bits clear)`);
  if (pba & 7n) throw kerr('EINVAL', `pending_bitmap_base_gpa ${hex(pba)} is not 8-byte aligned (a BAR offset with the BIR bits clear)`);
  const tableEnd = base + BigInt(nr * 16);
  const pbaEnd = pba + BigInt(pbaBytes(nr));
  if (tableEnd > GPA_LIMIT) throw kerr('EINVAL', `the table [${hex(base)}, ${hex(tableEnd)}) ends above the 52-bit guest-physical address space`);
  if (pbaEnd > GPA_LIMIT) throw kerr('EINVAL', `the PBA [${hex(pba)}, ${hex(pbaEnd)}) ends above the 52-bit guest-physical address space`);
  if (pba < tableEnd && base < pbaEnd) throw kerr('EINVAL', `the table [${hex(base)}, ${hex(tableEnd)}) and its PBA [${hex(pba)}, ${hex(pbaEnd)}) overlap`);
  if (kvm.msix.byId.has(id)) throw kerr('EEXIST', `MSI-X table ${id} is already defined on this VM`);
  const other = kvm.msix.overlapping(Number(base), Number(tableEnd)) ?? kvm.msix.overlapping(Number(pba), Number(pbaEnd));
  if (other) throw kerr('EEXIST', `the ranges overlap MSI-X table ${other.id} (table ${hex(other.base)}+${hex(other.tableSize)}, PBA ${hex(other.pbaBase)}+${hex(other.pbaSize)})`);
  if (kvm.msix.count >= KVM_MSIX_MAX_TABLES) throw kerr('ENOSPC', `the VM already has the maximum of ${KVM_MSIX_MAX_TABLES} MSI-X tables`);
  kvm.msix.add(new MsixTable(kvm, id, nr, Number(base), Number(pba), flags));
  return 0;
}

/** KVM_REMOVE_MSIX_TABLE. */
export function removeMsixTable(kvm: Kvm, arg: UserArg): number {
  const b = userStruct(arg, kvm_msix_table.offsetof('nr_entries'), 'kvm_msix_table');
  noFlags(getU32(b, 4), 'kvm_msix_table');
  const t = table(kvm, getU32(b, 8));
  for (let e = 0; e < t.nr; e++) {
    if (t.gsi[e]! >= 0) throw kerr('EBUSY', `MSI-X table ${t.id} entry ${e} is still bound to GSI ${t.gsi[e]}; unbind every entry (KVM_SET_MSIX_ENTRY_IRQ with KVM_MSIX_IRQ_NONE) before removing the table`);
  }
  kvm.msix.delete(t);
  return 0;
}

/** The checks KVM_SET_MSIX_ENTRY and KVM_GET_MSIX_ENTRY share: argsz, no flags, the table, the entry. */
function entryArg(kvm: Kvm, arg: UserArg): { b: Uint8Array; t: MsixTable; e: number } {
  const b = userStruct(arg, kvm_msix_entry.size, 'kvm_msix_entry');
  noFlags(getU32(b, 4), 'kvm_msix_entry');
  const t = table(kvm, getU32(b, 8));
  return { b, t, e: entryIn(t, getU32(b, 12)) };
}

/** KVM_SET_MSIX_ENTRY. */
export function setMsixEntry(kvm: Kvm, arg: UserArg): number {
  const { b, t, e } = entryArg(kvm, arg);
  const ctrl = vectorControl(getU32(b, 28), `entry ${e}`);
  t.sync();
  t.setEntry(e, getU32(b, 16), getU32(b, 20), getU32(b, 24), ctrl);
  return 0;
}

/** KVM_GET_MSIX_ENTRY. */
export function getMsixEntry(kvm: Kvm, arg: UserArg): number {
  const { b, t, e } = entryArg(kvm, arg);
  t.sync();
  const o = e * 4;
  setU32(b, 4, t.pending(e) ? KVM_MSIX_ENTRY_PENDING : 0);
  setU32(b, 16, t.entries[o]!);
  setU32(b, 20, t.entries[o + 1]!);
  setU32(b, 24, t.entries[o + 2]!);
  setU32(b, 28, t.entries[o + 3]!);
  return 0;
}

/** KVM_SET_MSIX_ENTRY_IRQ. */
export function setMsixEntryIrq(kvm: Kvm, arg: UserArg): number {
  const b = userStruct(arg, kvm_msix_entry_irq.size, 'kvm_msix_entry_irq');
  noFlags(getU32(b, 4), 'kvm_msix_entry_irq');
  const d = kvm_msix_entry_irq.offsetof('irq');
  const type = getU32(b, d);
  const pad = getU32(b, d + 4);
  const u = d + 8;
  if (type !== KVM_MSIX_IRQ_NONE && type !== KVM_MSIX_IRQ_GSI) throw kerr('EINVAL', `irq.type ${type} is not KVM_MSIX_IRQ_NONE (0) or KVM_MSIX_IRQ_GSI (1)`);
  if (pad !== 0) throw kerr('EINVAL', `irq.pad must be 0 (got 0x${pad.toString(16)})`);
  // Bytes of the descriptor's union the type does not use must be zero, so later types can use them.
  for (let i = type === KVM_MSIX_IRQ_GSI ? 4 : 0; i < 24; i++) {
    if (b[u + i] !== 0) throw kerr('EINVAL', `irq.u byte ${i} must be 0 for ${type === KVM_MSIX_IRQ_GSI ? 'KVM_MSIX_IRQ_GSI (only u.gsi is used)' : 'KVM_MSIX_IRQ_NONE'}`);
  }
  const gsi = type === KVM_MSIX_IRQ_GSI ? getU32(b, u) : -1;
  if (gsi >= KVM_MAX_IRQ_ROUTES) throw kerr('EINVAL', `irq.u.gsi ${gsi} is not below KVM_MAX_IRQ_ROUTES (${KVM_MAX_IRQ_ROUTES})`);
  const t = table(kvm, getU32(b, 8));
  const e = entryIn(t, getU32(b, 12));
  if (gsi >= 0) {
    const other = kvm.msix.boundTo(gsi);
    if (other && (other.table !== t || other.entry !== e)) throw kerr('EBUSY', `GSI ${gsi} is already bound to MSI-X table ${other.table.id} entry ${other.entry}; a GSI feeds at most one entry`);
  }
  t.sync();
  kvm.msix.bind(t, e, gsi);
  return 0;
}

/** KVM_GET_MSIX_PENDING (with KVM_MSIX_PENDING_CLEAR: read, then clear the given bits). */
export function getMsixPending(kvm: Kvm, arg: UserArg): number {
  const b = userStruct(arg, kvm_msix_pending.size, 'kvm_msix_pending');
  const flags = getU32(b, 4);
  if (flags & ~KVM_MSIX_PENDING_CLEAR) throw kerr('EINVAL', `flags 0x${flags.toString(16)} has bits other than KVM_MSIX_PENDING_CLEAR`);
  const t = table(kvm, getU32(b, 8));
  const bm = kvm_msix_pending.offsetof('bitmap');
  const clear = (flags & KVM_MSIX_PENDING_CLEAR) !== 0;
  if (clear) {
    for (let i = t.nr; i < KVM_MSIX_TABLE_MAX_ENTRIES; i++) {
      if ((b[bm + (i >> 3)]! >> (i & 7)) & 1) throw kerr('EINVAL', `bitmap bit ${i} is set but MSI-X table ${t.id} has only ${t.nr} entries`);
    }
  }
  t.sync();
  // Each u32 half of the bitmap: the user's bits to clear are read before the PBA replaces them.
  for (let w = 0; w < KVM_MSIX_PBA_WORDS * 2; w++) {
    const before = w < t.pba.length ? t.pba[w]! : 0;
    if (clear && w < t.pba.length) t.pba[w] = before & ~getU32(b, bm + w * 4);
    setU32(b, bm + w * 4, before);
  }
  setU32(b, 12, t.nr);
  return 0;
}

/** KVM_GET_MSIX_TABLE_STATE. */
export function getMsixTableState(kvm: Kvm, arg: UserArg): number {
  const b = userStruct(arg, STATE_HDR, 'kvm_msix_table_state');
  noFlags(getU32(b, 4), 'kvm_msix_table_state');
  const t = table(kvm, getU32(b, 8));
  const room = getU32(b, 12);
  if (room < t.nr) {
    setU32(b, 12, t.nr);
    throw kerr('E2BIG', `nr_entries ${room} is too small for MSI-X table ${t.id} (${t.nr} entries; the needed count was written to nr_entries)`);
  }
  const need = STATE_HDR + room * kvm_msix_table_entry.size;
  if (getU32(b, 0) < need) throw kerr('EINVAL', `argsz ${getU32(b, 0)} does not cover the header and the ${room} entries nr_entries claims room for (${need} bytes)`);
  const out = arg.user(STATE_HDR + t.nr * kvm_msix_table_entry.size);
  t.sync();
  setU32(out, 4, t.ctrl | KVM_MSIX_STATE_ENTRIES);
  setU32(out, 12, t.nr);
  const pOff = kvm_msix_table_state.offsetof('pending');
  for (let w = 0; w < PENDING_BYTES / 4; w++) setU32(out, pOff + w * 4, w < t.pba.length ? t.pba[w]! : 0);
  for (let i = 0; i < t.nr * 4; i++) setU32(out, STATE_HDR + i * 4, t.entries[i]!);
  return 0;
}

/** KVM_SET_MSIX_TABLE_STATE: the function's control bits, and with KVM_MSIX_STATE_ENTRIES the whole table. */
export function setMsixTableState(kvm: Kvm, arg: UserArg): number {
  const b = userStruct(arg, kvm_msix_table_state.offsetof('pending'), 'kvm_msix_table_state');
  const flags = getU32(b, 4);
  if (flags & ~(CTRL_BITS | KVM_MSIX_STATE_ENTRIES)) throw kerr('EINVAL', `flags 0x${flags.toString(16)} has bits other than KVM_MSIX_CTRL_ENABLE|KVM_MSIX_CTRL_MASKALL|KVM_MSIX_STATE_ENTRIES`);
  const t = table(kvm, getU32(b, 8));
  if (!(flags & KVM_MSIX_STATE_ENTRIES)) {
    t.sync();
    t.setCtrl(flags & CTRL_BITS);
    return 0;
  }
  const nr = getU32(b, 12);
  if (nr !== t.nr) throw kerr('EINVAL', `nr_entries ${nr} does not match MSI-X table ${t.id} (${t.nr} entries)`);
  const need = STATE_HDR + nr * kvm_msix_table_entry.size;
  if (getU32(b, 0) < need) throw kerr('EINVAL', `argsz ${getU32(b, 0)} does not cover the header and ${nr} entries (${need} bytes)`);
  const s = arg.user(need);
  for (let e = 0; e < nr; e++) vectorControl(getU32(s, STATE_HDR + e * 16 + 12), `entries[${e}]`);
  const pOff = kvm_msix_table_state.offsetof('pending');
  for (let i = nr; i < KVM_MSIX_TABLE_MAX_ENTRIES; i++) {
    if ((s[pOff + (i >> 3)]! >> (i & 7)) & 1) throw kerr('EINVAL', `pending bit ${i} is set but MSI-X table ${t.id} has only ${nr} entries`);
  }
  t.sync();
  for (let i = 0; i < nr * 4; i++) t.entries[i] = getU32(s, STATE_HDR + i * 4);
  for (let w = 0; w < t.pba.length; w++) t.pba[w] = getU32(s, pOff + w * 4);
  // A restored pending bit on an entry nothing masks is sent now, as the function would.
  t.setCtrl(flags & CTRL_BITS);
  return 0;
}
