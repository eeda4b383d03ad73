// PROPOSED, NEVER MERGED: the in-kernel MSI-X table API Avi Kivity sketched on kvm@vger in 2010-11
// (KVM_DEFINE_MSIX_TABLE and friends; seed 004, ../../docs/proposals/kvm-msix-table.md), written as
// <linux/kvm.h> would define it. Nothing here exists in any Linux release. The ioctl numbers, the
// capability and the exit reason are ours; test/include-ts/proposed-kvm-msix-table.test.ts proves with
// gcc that none of them collides with the installed <linux/kvm.h>, and that the C declarations in the
// proposal document lay out exactly as these do.
//
// Every argument struct starts with argsz/flags (VFIO style) so the ABI can grow: the kernel reads
// `minsz` bytes, rejects argsz < minsz and unknown flags with EINVAL, and ignores bytes past what it
// knows. Padding is explicit and must be zero where the kernel reads it.

import { _IOW, _IOWR } from '../../abi/ioc.js';
import { array, flex, struct, u32, u64, u8, union } from '../../abi/layout.js';
import { KVMIO } from '../linux/kvm.js';

/**
 * KVM_CHECK_EXTENSION(KVM_CAP_MSIX_TABLE) returns how many tables one VM may define (0: no support).
 * Mainline capabilities are below 250 and grow by a few a year; 1000 keeps clear of them.
 */
export const KVM_CAP_MSIX_TABLE = 1000;
/** kvm_run.exit_reason after a guest write changed an entry's address or data (mainline ends near 40). */
export const KVM_EXIT_MSIX_ENTRY_UPDATED = 100;

/** The PCI maximum: Message Control Table Size is 11 bits (N-1). */
export const KVM_MSIX_TABLE_MAX_ENTRIES = 2048;
/** u64 words of a full Pending Bit Array (2048 bits). */
export const KVM_MSIX_PBA_WORDS = 32;

/**
 * The function's MSI-X Message Control bits, which live in config space (owned by userspace): flags of
 * KVM_DEFINE_MSIX_TABLE (initial state) and of KVM_{GET,SET}_MSIX_TABLE_STATE. A message is sent only
 * when ENABLE is set and neither MASKALL nor the entry's mask bit is; otherwise its pending bit is set.
 */
export const KVM_MSIX_CTRL_ENABLE = 1 << 0;
export const KVM_MSIX_CTRL_MASKALL = 1 << 1;
/** KVM_{GET,SET}_MSIX_TABLE_STATE: entries[] and pending[] are valid (migration); without it SET changes only the control bits. */
export const KVM_MSIX_STATE_ENTRIES = 1 << 8;
/** kvm_msix_entry.flags as KVM_GET_MSIX_ENTRY returns it: the entry's pending bit. */
export const KVM_MSIX_ENTRY_PENDING = 1 << 0;
/** KVM_GET_MSIX_PENDING: after reading the PBA, clear the bits given in `bitmap`. */
export const KVM_MSIX_PENDING_CLEAR = 1 << 0;
/** kvm_msix_irq_desc.type. */
export const KVM_MSIX_IRQ_NONE = 0;
export const KVM_MSIX_IRQ_GSI = 1;
/** kvm_run.msix_entry_updated.flags: which dwords of the entry the guest's write changed. */
export const KVM_MSIX_UPDATED_ADDRESS_LO = 1 << 0;
export const KVM_MSIX_UPDATED_ADDRESS_HI = 1 << 1;
export const KVM_MSIX_UPDATED_DATA = 1 << 2;

/** KVM_DEFINE_MSIX_TABLE / KVM_REMOVE_MSIX_TABLE (remove reads argsz, flags and table_id only). */
export const kvm_msix_table = struct('kvm_msix_table', {
  argsz: u32,
  flags: u32,
  table_id: u32,
  nr_entries: u32,
  msix_base_gpa: u64,
  pending_bitmap_base_gpa: u64,
});

/** KVM_SET_MSIX_ENTRY / KVM_GET_MSIX_ENTRY: one table entry as the guest sees it. */
export const kvm_msix_entry = struct('kvm_msix_entry', {
  argsz: u32,
  flags: u32,
  table_id: u32,
  entry_id: u32,
  address_lo: u32,
  address_hi: u32,
  data: u32,
  vector_control: u32,
});

/** What feeds an entry: nothing, or a GSI (every irqfd, KVM_IRQ_LINE and in-kernel source on it). */
export const kvm_msix_irq_desc = struct('kvm_msix_irq_desc', {
  type: u32,
  pad: u32,
  u: union('kvm_msix_irq_desc_u', {
    gsi: u32,
    reserved: array(u64, 3),
  }),
});

/** KVM_SET_MSIX_ENTRY_IRQ. */
export const kvm_msix_entry_irq = struct('kvm_msix_entry_irq', {
  argsz: u32,
  flags: u32,
  table_id: u32,
  entry_id: u32,
  irq: kvm_msix_irq_desc,
});

/** KVM_GET_MSIX_PENDING: the Pending Bit Array, read (and with KVM_MSIX_PENDING_CLEAR, cleared). */
export const kvm_msix_pending = struct('kvm_msix_pending', {
  argsz: u32,
  flags: u32,
  table_id: u32,
  nr_entries: u32,
  bitmap: array(u64, KVM_MSIX_PBA_WORDS),
});

/** One entry as it sits in the MSI-X table (PCI: address low, address high, data, vector control). */
export const kvm_msix_table_entry = struct('kvm_msix_table_entry', {
  address_lo: u32,
  address_hi: u32,
  data: u32,
  vector_control: u32,
});

/** KVM_GET_MSIX_TABLE_STATE / KVM_SET_MSIX_TABLE_STATE: the whole table, for live migration. */
export const kvm_msix_table_state = struct('kvm_msix_table_state', {
  argsz: u32,
  flags: u32,
  table_id: u32,
  nr_entries: u32,
  pending: array(u64, KVM_MSIX_PBA_WORDS),
  entries: flex(kvm_msix_table_entry, 'nr_entries'),
});

/** The kvm_run union member of KVM_EXIT_MSIX_ENTRY_UPDATED: the entry after the guest's write. */
export const kvm_run_msix_entry_updated = struct('kvm_run_msix_entry_updated', {
  table_id: u32,
  entry_id: u32,
  flags: u32,
  vector_control: u32,
  address_lo: u32,
  address_hi: u32,
  data: u32,
  pad: u32,
});

/**
 * How the member joins kvm_run's 256-byte exit union (`char padding[256]` is the union's size
 * guard): this union must stay 256 bytes, which the test checks here and with gcc.
 */
export const kvm_run_exit_with_msix = union('kvm_run_exit_with_msix', {
  msix_entry_updated: kvm_run_msix_entry_updated,
  padding: array(u8, 256),
});

export const KVM_DEFINE_MSIX_TABLE = _IOW(KVMIO, 0x7d, kvm_msix_table);
export const KVM_REMOVE_MSIX_TABLE = _IOW(KVMIO, 0x7e, kvm_msix_table);
export const KVM_SET_MSIX_ENTRY_IRQ = _IOW(KVMIO, 0x7f, kvm_msix_entry_irq);
export const KVM_SET_MSIX_ENTRY = _IOW(KVMIO, 0x6b, kvm_msix_entry);
export const KVM_GET_MSIX_ENTRY = _IOWR(KVMIO, 0x6c, kvm_msix_entry);
export const KVM_GET_MSIX_PENDING = _IOWR(KVMIO, 0x6d, kvm_msix_pending);
export const KVM_GET_MSIX_TABLE_STATE = _IOWR(KVMIO, 0x6e, kvm_msix_table_state);
export const KVM_SET_MSIX_TABLE_STATE = _IOW(KVMIO, 0x6f, kvm_msix_table_state);
