// Names for the PROPOSED in-kernel MSI-X table ioctls (include-ts/proposed/kvm_msix_table.ts), which
// live on the VM fd: KVM_MSIX_TABLE_IOCTLS, and KVM_VM_IOCTLS_WITH_MSIX_TABLE = the real VM table plus
// them (what the tracer uses for 'kvm-vm' fds). Their numbers are disjoint from every real KVM ioctl,
// so the merge cannot shadow one (ioctlTable() would throw on a reused number).
import * as P from '../../../../include-ts/proposed/kvm_msix_table.js';
import { ioctlTable, type FlagSet, type IoctlDesc, type IoctlTable, type ValueNames } from '../ioctl-desc.js';
import { KVM_VM_IOCTLS } from './kvm.js';

const flags = (...bits: ReadonlyArray<readonly [number, string, number?]>): FlagSet => ({ bits });
const d = (name: string, desc: Omit<IoctlDesc, 'name'>): IoctlDesc => ({ name, ...desc });

const CTRL_FLAGS = flags([P.KVM_MSIX_CTRL_ENABLE, 'KVM_MSIX_CTRL_ENABLE'], [P.KVM_MSIX_CTRL_MASKALL, 'KVM_MSIX_CTRL_MASKALL']);
const STATE_FLAGS = flags(...CTRL_FLAGS.bits, [P.KVM_MSIX_STATE_ENTRIES, 'KVM_MSIX_STATE_ENTRIES']);
const ENTRY_FLAGS = flags([P.KVM_MSIX_ENTRY_PENDING, 'KVM_MSIX_ENTRY_PENDING']);
const PENDING_FLAGS = flags([P.KVM_MSIX_PENDING_CLEAR, 'KVM_MSIX_PENDING_CLEAR']);
/** kvm_run.msix_entry_updated.flags. */
export const KVM_MSIX_UPDATED_FLAGS = flags(
  [P.KVM_MSIX_UPDATED_ADDRESS_LO, 'KVM_MSIX_UPDATED_ADDRESS_LO'],
  [P.KVM_MSIX_UPDATED_ADDRESS_HI, 'KVM_MSIX_UPDATED_ADDRESS_HI'],
  [P.KVM_MSIX_UPDATED_DATA, 'KVM_MSIX_UPDATED_DATA'],
);
const IRQ_TYPES: ValueNames = new Map([
  [P.KVM_MSIX_IRQ_NONE, 'KVM_MSIX_IRQ_NONE'],
  [P.KVM_MSIX_IRQ_GSI, 'KVM_MSIX_IRQ_GSI'],
]);
const ENTRY_HEX = ['address_lo', 'address_hi', 'data'];

export const KVM_MSIX_TABLE_IOCTLS: IoctlTable = ioctlTable([
  [P.KVM_DEFINE_MSIX_TABLE, d('KVM_DEFINE_MSIX_TABLE', {
    arg: 'struct', layout: P.kvm_msix_table, flags: { flags: CTRL_FLAGS }, hex: ['msix_base_gpa', 'pending_bitmap_base_gpa'],
  })],
  [P.KVM_REMOVE_MSIX_TABLE, d('KVM_REMOVE_MSIX_TABLE', { arg: 'struct', layout: P.kvm_msix_table, hex: ['msix_base_gpa', 'pending_bitmap_base_gpa'] })],
  [P.KVM_SET_MSIX_ENTRY, d('KVM_SET_MSIX_ENTRY', { arg: 'struct', layout: P.kvm_msix_entry, hex: ENTRY_HEX })],
  [P.KVM_GET_MSIX_ENTRY, d('KVM_GET_MSIX_ENTRY', {
    arg: 'struct', layout: P.kvm_msix_entry, out: true, inout: true, flags: { flags: ENTRY_FLAGS }, hex: ENTRY_HEX,
  })],
  [P.KVM_SET_MSIX_ENTRY_IRQ, d('KVM_SET_MSIX_ENTRY_IRQ', { arg: 'struct', layout: P.kvm_msix_entry_irq, values: { 'irq.type': IRQ_TYPES } })],
  [P.KVM_GET_MSIX_PENDING, d('KVM_GET_MSIX_PENDING', {
    arg: 'struct', layout: P.kvm_msix_pending, out: true, inout: true, flags: { flags: PENDING_FLAGS }, hex: ['bitmap'],
  })],
  [P.KVM_GET_MSIX_TABLE_STATE, d('KVM_GET_MSIX_TABLE_STATE', {
    arg: 'struct', layout: P.kvm_msix_table_state, out: true, inout: true, flags: { flags: STATE_FLAGS }, hex: ['pending', ...ENTRY_HEX],
  })],
  [P.KVM_SET_MSIX_TABLE_STATE, d('KVM_SET_MSIX_TABLE_STATE', {
    arg: 'struct', layout: P.kvm_msix_table_state, flags: { flags: STATE_FLAGS }, hex: ['pending', ...ENTRY_HEX],
  })],
]);

/** The VM fd's table with the proposed ioctls added. */
export const KVM_VM_IOCTLS_WITH_MSIX_TABLE: IoctlTable = ioctlTable([...KVM_VM_IOCTLS, ...KVM_MSIX_TABLE_IOCTLS]);
