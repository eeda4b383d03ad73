// Helpers for the proposed in-kernel MSI-X table ioctls, written with the ABI's own structs.
import type { Process } from '../../../../src/linux/process.js';
import * as P from '../../../../include-ts/proposed/kvm_msix_table.js';
import { GuestAsm, r0, r1, r2, r3, r4, type GuestProgram } from '../../../../src/guest/program.js';
import { K, vmm, type Vmm } from '../helpers.js';
import { enableLapic, maskPic } from '../../../../src/guest/x86.js';
import { msiAddress, msiData } from '../../../../src/hw/x86/msi.js';

export { P };

export const TABLE = 0xfeb0_0000;
export const PBA = 0xfeb0_1000;

export interface TableDef {
  id?: number;
  nr?: number;
  base?: number | bigint;
  pba?: number | bigint;
  flags?: number;
  argsz?: number;
}

export function defineTable(p: Process, vm: number, d: TableDef = {}): number {
  const t = P.kvm_msix_table.alloc();
  t.argsz = d.argsz ?? P.kvm_msix_table.size;
  t.flags = d.flags ?? P.KVM_MSIX_CTRL_ENABLE;
  t.table_id = d.id ?? 1;
  t.nr_entries = d.nr ?? 4;
  t.msix_base_gpa = BigInt(d.base ?? TABLE);
  t.pending_bitmap_base_gpa = BigInt(d.pba ?? PBA);
  return p.ioctl(vm, P.KVM_DEFINE_MSIX_TABLE, t);
}

export function removeTable(p: Process, vm: number, id = 1, flags = 0): number {
  const t = P.kvm_msix_table.alloc();
  t.argsz = P.kvm_msix_table.size;
  t.flags = flags;
  t.table_id = id;
  return p.ioctl(vm, P.KVM_REMOVE_MSIX_TABLE, t);
}

export interface Entry {
  lo: number;
  hi?: number;
  data: number;
  ctrl?: number;
}

export function setEntry(p: Process, vm: number, id: number, e: number, x: Entry, flags = 0): number {
  const a = P.kvm_msix_entry.alloc();
  a.argsz = P.kvm_msix_entry.size;
  a.flags = flags;
  a.table_id = id;
  a.entry_id = e;
  a.address_lo = x.lo >>> 0;
  a.address_hi = (x.hi ?? 0) >>> 0;
  a.data = x.data >>> 0;
  a.vector_control = x.ctrl ?? 0;
  return p.ioctl(vm, P.KVM_SET_MSIX_ENTRY, a);
}

export function getEntry(p: Process, vm: number, id: number, e: number) {
  const a = P.kvm_msix_entry.alloc();
  a.argsz = P.kvm_msix_entry.size;
  a.table_id = id;
  a.entry_id = e;
  p.ioctl(vm, P.KVM_GET_MSIX_ENTRY, a);
  return { flags: a.flags, lo: a.address_lo, hi: a.address_hi, data: a.data, ctrl: a.vector_control };
}

/** KVM_SET_MSIX_ENTRY_IRQ: bind `gsi` (or unbind with null). */
export function bindGsi(p: Process, vm: number, id: number, e: number, gsi: number | null): number {
  const a = P.kvm_msix_entry_irq.alloc();
  a.argsz = P.kvm_msix_entry_irq.size;
  a.table_id = id;
  a.entry_id = e;
  a.irq.type = gsi === null ? P.KVM_MSIX_IRQ_NONE : P.KVM_MSIX_IRQ_GSI;
  if (gsi !== null) a.irq.u.gsi = gsi >>> 0;
  return p.ioctl(vm, P.KVM_SET_MSIX_ENTRY_IRQ, a);
}

/** KVM_GET_MSIX_PENDING: the pending entries (before clearing `clear`, if given). */
export function pendingBits(p: Process, vm: number, id: number, clear?: number[]): number[] {
  const a = P.kvm_msix_pending.alloc();
  a.argsz = P.kvm_msix_pending.size;
  a.table_id = id;
  if (clear) {
    a.flags = P.KVM_MSIX_PENDING_CLEAR;
    for (const e of clear) a.bitmap.set(e >> 6, a.bitmap.get(e >> 6) | (1n << BigInt(e & 63)));
  }
  p.ioctl(vm, P.KVM_GET_MSIX_PENDING, a);
  const out: number[] = [];
  for (let e = 0; e < a.nr_entries; e++) if ((a.bitmap.get(e >> 6) >> BigInt(e & 63)) & 1n) out.push(e);
  return out;
}

export interface TableState {
  flags: number;
  pending: bigint[];
  entries: { lo: number; hi: number; data: number; ctrl: number }[];
}

export function getState(p: Process, vm: number, id: number, nr: number): TableState {
  const s = P.kvm_msix_table_state.alloc(nr);
  s.argsz = s.bytes.length;
  s.table_id = id;
  s.nr_entries = nr;
  p.ioctl(vm, P.KVM_GET_MSIX_TABLE_STATE, s);
  const entries = [];
  for (let e = 0; e < s.nr_entries; e++) {
    const x = s.entries.get(e);
    entries.push({ lo: x.address_lo, hi: x.address_hi, data: x.data, ctrl: x.vector_control });
  }
  return { flags: s.flags, pending: s.pending.toArray(), entries };
}

export function setState(p: Process, vm: number, id: number, st: TableState | null, flags: number): number {
  const nr = st ? st.entries.length : 0;
  const s = P.kvm_msix_table_state.alloc(nr);
  s.argsz = s.bytes.length;
  s.flags = flags;
  s.table_id = id;
  s.nr_entries = nr;
  if (st) {
    st.pending.forEach((w, i) => s.pending.set(i, w));
    st.entries.forEach((x, i) => {
      const e = s.entries.get(i);
      e.address_lo = x.lo;
      e.address_hi = x.hi;
      e.data = x.data;
      e.vector_control = x.ctrl;
    });
  }
  return p.ioctl(vm, P.KVM_SET_MSIX_TABLE_STATE, s);
}

/** Control-only SET_MSIX_TABLE_STATE (the VMM saw a Message Control write): ENABLE/MASKALL bits. */
export function setCtrl(p: Process, vm: number, id: number, ctrl: number): number {
  return setState(p, vm, id, null, ctrl);
}

/** Software-enables vCPU i's LAPIC (SPIV) through KVM_GET/SET_LAPIC, as a guest's first steps would. */
export function enableApic(v: Vmm, i = 0): void {
  const st = K.kvm_lapic_state.alloc();
  v.p.ioctl(v.vcpus[i]!, K.KVM_GET_LAPIC, st);
  new DataView(st.bytes.buffer, st.bytes.byteOffset).setUint32(0xf0, 0x1ff, true);
  v.p.ioctl(v.vcpus[i]!, K.KVM_SET_LAPIC, st);
}

/** A VM (in-kernel irqchip, one vCPU) with its LAPIC software-enabled. */
export function apicVmm(o: Parameters<typeof vmm>[0] = {}): Vmm {
  const v = vmm(o);
  enableApic(v);
  return v;
}

export function entryAddr(e: number, field: number, base = TABLE): number {
  return base + e * 16 + field;
}

export { msiAddress, msiData };

/**
 * A guest that asks the VMM what to do through port 0x81 (r0 = command, then r1 = argument, r2 =
 * value, read from ports 0x82/0x83) and runs `cmds[r0]`. Each command body is appended by the caller.
 * Interrupt handlers for `vectors` count (per-vector counters of the CPU) and EOI.
 */
export function commandGuest(name: string, vectors: readonly number[], cmds: readonly ((a: GuestAsm) => void)[]): GuestProgram {
  const a = new GuestAsm(name);
  a.label('start');
  maskPic(a);
  enableLapic(a);
  a.label('loop');
  a.in(r0, 0x81, 1);
  a.in(r1, 0x82, 4);
  a.in(r2, 0x83, 4);
  cmds.forEach((_, i) => a.jeq(r0, i, `cmd${i}`));
  a.jmp('loop');
  cmds.forEach((c, i) => {
    a.label(`cmd${i}`);
    c(a);
    a.jmp('loop');
  });
  for (const v of vectors) {
    a.handler(v, `isr${v}`);
    a.label(`isr${v}`);
    a.eoi();
    a.iret();
  }
  return a.build();
}

/** Commands of msixGuest (r1 = entry, r2 = value). */
export const CMD = {
  /** sti; nop; cli: one interrupt window. */
  WINDOW: 0,
  MASK: 1,
  UNMASK: 2,
  /** Read the entry's vector control (a flushing read). */
  READ: 3,
  /** Linux's msi_set_mask_bit(): mask write, then readl() of the table to flush it. */
  MASK_READ: 4,
  WRITE_DATA: 5,
  WRITE_ADDR_LO: 6,
  /** Read PBA dword r1 into r4. */
  READ_PBA: 7,
  /** One aligned QWORD write of (data = r2, vector control = 0) at +8: rewrite and unmask at once. */
  DATA_UNMASK_QWORD: 8,
  /** Read the entry's data into r4. */
  READ_DATA: 9,
  /** Raw accesses at table + r1 (any offset): 8-byte read, 2-byte read, 2-byte write of r2, 4-byte read, 4-byte write, 1-byte write. */
  RAW_READ8: 10,
  RAW_READ2: 11,
  RAW_WRITE2: 12,
  RAW_READ4: 13,
  RAW_WRITE4: 14,
  RAW_WRITE1: 15,
  /** Raw 4-byte write of r2 at PBA + r1. */
  PBA_WRITE4: 16,
} as const;

/** A guest that runs one command per request (msix-table tests and the property). */
export function msixGuest(vectors: readonly number[], table = TABLE, pba = PBA): GuestProgram {
  const entryBase = (a: GuestAsm) => a.mov(r3, r1).shl(r3, 4).add(r3, table);
  return commandGuest('msix-table', vectors, [
    (a) => a.sti().nop().cli(),
    (a) => entryBase(a).store([r3, 12], 1),
    (a) => entryBase(a).store([r3, 12], 0),
    (a) => entryBase(a).load(r4, [r3, 12]),
    (a) => entryBase(a).store([r3, 12], 1).load(r4, [r3, 12]),
    (a) => entryBase(a).store([r3, 8], r2),
    (a) => entryBase(a).store([r3, 0], r2),
    (a) => a.mov(r3, r1).shl(r3, 2).add(r3, pba).load(r4, [r3, 0]),
    (a) => entryBase(a).store([r3, 8], r2, 8),
    (a) => entryBase(a).load(r4, [r3, 8]),
    (a) => a.mov(r3, r1).add(r3, table).load(r4, [r3, 0], 8),
    (a) => a.mov(r3, r1).add(r3, table).load(r4, [r3, 0], 2),
    (a) => a.mov(r3, r1).add(r3, table).store([r3, 0], r2, 2),
    (a) => a.mov(r3, r1).add(r3, table).load(r4, [r3, 0], 4),
    (a) => a.mov(r3, r1).add(r3, table).store([r3, 0], r2, 4),
    (a) => a.mov(r3, r1).add(r3, table).store([r3, 0], r2, 1),
    (a) => a.mov(r3, r1).add(r3, pba).store([r3, 0], r2, 4),
  ]);
}

export interface UpdateExit {
  tableId: number;
  entryId: number;
  flags: number;
  ctrl: number;
  lo: number;
  hi: number;
  data: number;
}

/** Decodes kvm_run.msix_entry_updated. */
export function updateExit(v: Vmm, i = 0): UpdateExit {
  const run = v.runs[i]!;
  const o = K.kvm_run.offsetof('hw');
  const f = (name: 'table_id' | 'entry_id' | 'flags' | 'vector_control' | 'address_lo' | 'address_hi' | 'data') => run.read32(o + P.kvm_run_msix_entry_updated.offsetof(name));
  return { tableId: f('table_id'), entryId: f('entry_id'), flags: f('flags'), ctrl: f('vector_control'), lo: f('address_lo'), hi: f('address_hi'), data: f('data') };
}

/**
 * Drives msixGuest: `exec(cmd, entry, value)` feeds the command through the port reads and runs the
 * guest until it asks for the next one. KVM_EXIT_MSIX_ENTRY_UPDATED exits go to `onUpdate` (the VMM's
 * re-route) and are logged; any other exit is an error.
 */
export class MsixDriver {
  readonly updates: UpdateExit[] = [];
  exits = 0;
  private started = false;
  onUpdate: (u: UpdateExit) => void = () => {};
  /** Value the last command left in r4 (reads). */
  lastRead = 0;

  constructor(readonly v: Vmm) {}

  private runOnce(): number {
    const r = this.v.p.ioctl(this.v.vcpus[0]!, K.KVM_RUN);
    if (r !== 0) throw new Error(`KVM_RUN returned ${r}`);
    this.exits++;
    return this.v.runs[0]!.read32(8);
  }

  /** Runs until the guest reads `port`; handles update exits on the way. */
  private until(port: number): void {
    for (let i = 0; i < 10_000; i++) {
      const reason = this.runOnce();
      if (reason === P.KVM_EXIT_MSIX_ENTRY_UPDATED) {
        const u = updateExit(this.v);
        this.updates.push(u);
        this.onUpdate(u);
        continue;
      }
      if (reason !== K.KVM_EXIT_IO) throw new Error(`unexpected exit ${reason}`);
      const run = this.v.runs[0]!;
      if (run.read16(34) === port && run.read8(32) === K.KVM_EXIT_IO_IN) return;
      throw new Error(`unexpected port access 0x${run.read16(34).toString(16)}`);
    }
    throw new Error('guest did not come back for a command');
  }

  private answer(value: number): void {
    this.v.runs[0]!.write32(4096, value >>> 0);
  }

  exec(cmd: number, entry = 0, value = 0): void {
    if (!this.started) {
      this.until(0x81);
      this.started = true;
    }
    this.answer(cmd);
    this.until(0x82);
    this.answer(entry);
    this.until(0x83);
    this.answer(value);
    this.until(0x81);
    this.lastRead = this.v.host.control.kvm.vcpu(this.v.p, this.v.vcpus[0]!).guest().regs[4]!;
  }
}
