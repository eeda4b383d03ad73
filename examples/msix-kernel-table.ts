// The same MSI-X passthrough as examples/msix-passthrough.ts — the NIC (host 06:00.0) assigned to a KVM
// guest through VFIO, BAR0 mapped into the guest, the device's vectors enabled with one eventfd each
// when the guest enables MSI-X, Message Control emulated — but with the PROPOSED in-kernel MSI-X table
// (docs/proposals/kvm-msix-table.md) instead of a table emulated in the VMM:
// - KVM_DEFINE_MSIX_TABLE puts the guest's table and PBA (BAR3) in the kernel, which handles every
//   guest access to them inside KVM_RUN: no KVM_EXIT_MMIO, masking and pending bits in the kernel;
// - each vector's irqfd is assigned once and its GSI bound to the entry (KVM_SET_MSIX_ENTRY_IRQ): a
//   signal for a masked entry sets its pending bit, unmasking sends it once — no irqfd deassign/assign,
//   no eventfd polling, no KVM_SIGNAL_MSI;
// - the VMM only handles KVM_EXIT_MSIX_ENTRY_UPDATED (re-route the entry's GSI from the exit's
//   contents) and forwards the guest's Message Control to the table (KVM_SET_MSIX_TABLE_STATE).
// MsixKernelTableVmm extends the passthrough VMM (VFIO, memory slot, config space and run loop are its)
// and replaces only the table: update() (irqfd toggling) becomes nothing, writeControl() forwards
// Message Control, otherExit() handles the new exit. The demo is msix-passthrough's, with this VMM.
// Run: npx tsx --conditions=source examples/msix-kernel-table.ts
import { fileURLToPath } from 'node:url';
import { Host } from 'vfio-kvm-shim';
import * as K from 'vfio-kvm-shim/include-ts/linux/kvm';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import * as P from 'vfio-kvm-shim/include-ts/proposed/kvm_msix_table';
import { PCI_MSIX_ENTRY_CTRL_MASKBIT, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_QSIZE } from 'vfio-kvm-shim/include-ts/linux/pci_regs';
import { BAR3_GPA, FIRST_MSI_GSI, MSIX_CAP, MsixPassthroughVmm, msixPassthrough, type MsixPassthroughResult } from './msix-passthrough.js';
import { irqSet } from './lib/vfio.js';

export const TABLE_ID = 0;

/** MsixPassthroughVmm with the guest's MSI-X table and PBA in KVM. */
export class MsixKernelTableVmm extends MsixPassthroughVmm {
  /** KVM_EXIT_MSIX_ENTRY_UPDATED exits handled (each one a re-route). */
  updateExits = 0;
  /** Entries in the guest-visible table (the device's Table Size). */
  readonly entries: number;

  constructor(host: Host, nvec: number, say: (s: string) => void = () => {}) {
    super(host, nvec, say);
    const q = this.qemu;
    if (q.ioctl(this.vm, K.KVM_CHECK_EXTENSION, P.KVM_CAP_MSIX_TABLE) <= 0) throw new Error('KVM has no KVM_CAP_MSIX_TABLE');
    const ctl = new Uint8Array(2);
    q.pread(this.device, ctl, (BigInt(V.VFIO_PCI_CONFIG_REGION_INDEX) << 40n) + BigInt(MSIX_CAP + 2));
    this.entries = ((ctl[0]! | (ctl[1]! << 8)) & PCI_MSIX_FLAGS_QSIZE) + 1;
    say(`KVM: the guest's MSI-X table (${this.entries} entries) and PBA in BAR3 become an in-kernel table`);
    const t = P.kvm_msix_table.alloc();
    t.argsz = P.kvm_msix_table.size;
    t.flags = 0; // Message Control at reset: MSI-X disabled, no function mask
    t.table_id = TABLE_ID;
    t.nr_entries = this.entries;
    t.msix_base_gpa = BigInt(BAR3_GPA);
    t.pending_bitmap_base_gpa = BigInt(BAR3_GPA + this.pbaOffset - this.tableOffset);
    q.ioctl(this.vm, P.KVM_DEFINE_MSIX_TABLE, t);
    say(`KVM: vector v's eventfd -> irqfd on GSI ${FIRST_MSI_GSI}+v, and the GSI bound to entry v`);
    const b = P.kvm_msix_entry_irq.alloc();
    b.argsz = P.kvm_msix_entry_irq.size;
    b.table_id = TABLE_ID;
    b.irq.type = P.KVM_MSIX_IRQ_GSI;
    for (let v = 0; v < nvec; v++) {
      this.irqfd(v, true);
      this.assigned[v] = true;
      b.entry_id = v;
      b.irq.u.gsi = FIRST_MSI_GSI + v;
      q.ioctl(this.vm, P.KVM_SET_MSIX_ENTRY_IRQ, b);
    }
  }

  /** Masking and pending bits are the kernel's: the irqfds stay assigned whatever the guest does. */
  protected override update(_v: number): void {}

  /** Message Control: VFIO enables/disables the device's vectors; the table learns Enable and Function Mask. */
  protected override writeControl(value: number): void {
    const on = (value & PCI_MSIX_FLAGS_ENABLE) !== 0;
    this.control = value & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    if (on && !this.vfioEnabled) {
      this.qemu.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_MSIX_IRQ_INDEX, 0, this.nvec, this.efds));
      this.vfioEnabled = true;
    } else if (!on && this.vfioEnabled) {
      this.qemu.ioctl(this.device, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_NONE | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_MSIX_IRQ_INDEX, 0, 0));
      this.vfioEnabled = false;
    }
    const st = P.kvm_msix_table_state.alloc(0);
    st.argsz = P.kvm_msix_table_state.offsetof('pending');
    st.flags = (on ? P.KVM_MSIX_CTRL_ENABLE : 0) | (value & PCI_MSIX_FLAGS_MASKALL ? P.KVM_MSIX_CTRL_MASKALL : 0);
    st.table_id = TABLE_ID;
    this.qemu.ioctl(this.vm, P.KVM_SET_MSIX_TABLE_STATE, st);
  }

  /** The guest changed an entry's address or data: copy it from the exit and re-route the entry's GSI. */
  protected override otherExit(reason: number): void {
    if (reason !== P.KVM_EXIT_MSIX_ENTRY_UPDATED) return super.otherExit(reason);
    const run = this.run;
    const at = (f: 'entry_id' | 'address_lo' | 'address_hi' | 'data') => run.read32(K.kvm_run.offsetof('hw') + P.kvm_run_msix_entry_updated.offsetof(f));
    const v = at('entry_id');
    this.updateExits++;
    if (v >= this.nvec) return; // an entry no vector backs: nothing to route
    const dv = new DataView(this.table.buffer, this.table.byteOffset);
    dv.setUint32(v * 16, at('address_lo'), true);
    dv.setUint32(v * 16 + 4, at('address_hi'), true);
    dv.setUint32(v * 16 + 8, at('data'), true);
    this.commitRoutes();
  }

  override get tableOwner(): string {
    return 'kernel\'s';
  }

  /** The kernel's pending bit for entry v (KVM_GET_MSIX_ENTRY). */
  override pending(v: number): boolean {
    return this.entry(v).pending;
  }

  /** The kernel's view of entry v. */
  entry(v: number): { masked: boolean; pending: boolean } {
    const g = P.kvm_msix_entry.alloc();
    g.argsz = P.kvm_msix_entry.size;
    g.table_id = TABLE_ID;
    g.entry_id = v;
    this.qemu.ioctl(this.vm, P.KVM_GET_MSIX_ENTRY, g);
    return { masked: (g.vector_control & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0, pending: (g.flags & P.KVM_MSIX_ENTRY_PENDING) !== 0 };
  }
}

export interface MsixKernelTableResult extends MsixPassthroughResult {
  readonly updateExits: number;
}

/** The demo of examples/msix-passthrough.ts with the in-kernel table: 4 vectors, entry 3 left masked, raises, unmask. */
export function msixKernelTable(sink: (line: string) => void = (l) => console.log(l), host = Host.create(), raises: readonly number[] = [0, 1, 1, 2, 3, 3]): MsixKernelTableResult {
  const r = msixPassthrough(sink, host, raises, MsixKernelTableVmm);
  const updateExits = (r.vmm as MsixKernelTableVmm).updateExits;
  sink(`# the VMM saw ${updateExits} KVM_EXIT_MSIX_ENTRY_UPDATED exits (one per changed address/data dword) and no table access`);
  return { ...r, updateExits };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) msixKernelTable();
