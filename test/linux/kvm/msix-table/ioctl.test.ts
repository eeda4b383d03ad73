// The proposed in-kernel MSI-X table ioctls: argument rules and errno in the style of the real VM
// ioctls (docs/proposals/kvm-msix-table.md, "Errors"), migration state, pending get/clear, strace
// names, and the rule every KVM handler keeps: a failed call changes nothing.
//   EINVAL: malformed args / unknown flags / entry out of range (virt/kvm/eventfd.c kvm_irqfd,
//           virt/kvm/irqchip.c kvm_set_irq_routing); EEXIST: id or range already owned (kvm_main.c
//           __kvm_set_memory_region overlap); ENOENT: no such table; EBUSY: still bound (eventfd.c,
//           an eventfd bound twice); ENOSPC: no slot left (kvm_io_bus_register_dev); E2BIG: the
//           caller's array is too small (x86.c KVM_GET_MSR_INDEX_LIST).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { errno, efd, irqfd, K, setRoutes, signal, vmm } from '../helpers.js';
import { apicVmm, bindGsi, defineTable, getEntry, getState, msiAddress, msiData, P, PBA, pendingBits, removeTable, setCtrl, setEntry, setState, TABLE } from './helpers.js';
import { fcParams } from '../../../support/runs.js';
import { setU32 } from '../../../../abi/bytes.js';

describe('KVM_CHECK_EXTENSION(KVM_CAP_MSIX_TABLE)', () => {
  it('reports how many tables a VM may define, on /dev/kvm and on a VM', () => {
    const v = vmm();
    expect(v.p.ioctl(v.kvm, K.KVM_CHECK_EXTENSION, P.KVM_CAP_MSIX_TABLE)).toBe(256);
    expect(v.p.ioctl(v.vm, K.KVM_CHECK_EXTENSION, P.KVM_CAP_MSIX_TABLE)).toBe(256);
  });
});

describe('KVM_DEFINE_MSIX_TABLE', () => {
  it('rejects malformed definitions with EINVAL, in order, before looking at other tables', () => {
    const v = vmm();
    const def = (d: Parameters<typeof defineTable>[2]) => errno(() => defineTable(v.p, v.vm, d));
    expect(def({ argsz: 31 })).toBe('EINVAL');
    expect(def({ flags: 4 })).toBe('EINVAL');
    expect(def({ nr: 0 })).toBe('EINVAL');
    expect(def({ nr: 2049 })).toBe('EINVAL');
    expect(def({ base: TABLE + 4 })).toBe('EINVAL');
    expect(def({ pba: PBA + 2 })).toBe('EINVAL');
    expect(def({ base: 2n ** 52n - 16n, nr: 2 })).toBe('EINVAL');
    expect(def({ pba: 2n ** 52n })).toBe('EINVAL');
    // The table [TABLE, TABLE+64) and its own PBA at TABLE+56 overlap: malformed, not a conflict.
    expect(def({ nr: 4, pba: TABLE + 56 })).toBe('EINVAL');
    expect(v.host.control.kvm.vm(v.p, v.vm).msixTables()).toEqual([]);
    expect(def({ nr: 2048, pba: TABLE + 2048 * 16 })).toBe(0);
  });

  it('needs an in-kernel irqchip (EINVAL, as KVM_IRQFD and KVM_SIGNAL_MSI); a split irqchip is enough', () => {
    const n = vmm({ irqchip: 'none' });
    expect(errno(() => defineTable(n.p, n.vm))).toBe('EINVAL');
    const s = vmm({ irqchip: 'split' });
    expect(defineTable(s.p, s.vm)).toBe(0);
  });

  it('EEXIST for a table id already defined, or a range another table owns (table or PBA)', () => {
    const v = vmm();
    expect(defineTable(v.p, v.vm, { id: 1, nr: 4 })).toBe(0);
    expect(errno(() => defineTable(v.p, v.vm, { id: 1, base: 0xfec0_0000, pba: 0xfec0_1000 }))).toBe('EEXIST');
    expect(errno(() => defineTable(v.p, v.vm, { id: 2, base: TABLE + 48, pba: 0xfec0_1000 }))).toBe('EEXIST');
    expect(errno(() => defineTable(v.p, v.vm, { id: 2, base: 0xfec0_0000, pba: PBA }))).toBe('EEXIST');
    expect(errno(() => defineTable(v.p, v.vm, { id: 2, base: PBA - 8, nr: 1, pba: 0xfec0_1000 }))).toBe('EEXIST');
    // Adjacent ranges are fine: table 2 starts where table 1 ends.
    expect(defineTable(v.p, v.vm, { id: 2, base: TABLE + 64, nr: 1, pba: PBA + 8 })).toBe(0);
  });

  it('ENOSPC when the VM already has 256 tables', () => {
    const v = vmm();
    for (let i = 0; i < 256; i++) defineTable(v.p, v.vm, { id: i, nr: 1, base: 0x1_0000_0000 + i * 0x1000, pba: 0x1_0000_0800 + i * 0x1000 });
    expect(errno(() => defineTable(v.p, v.vm, { id: 999, nr: 1, base: 0x2_0000_0000, pba: 0x2_0000_0800 }))).toBe('ENOSPC');
  });

  it('a bigger argsz (a future version of the struct) is accepted; a buffer shorter than the struct is EFAULT', () => {
    const v = vmm();
    const big = new Uint8Array(64);
    big.set(P.kvm_msix_table.alloc().bytes);
    const t = P.kvm_msix_table.view(big);
    t.argsz = 64;
    t.flags = P.KVM_MSIX_CTRL_ENABLE;
    t.table_id = 7;
    t.nr_entries = 2;
    t.msix_base_gpa = BigInt(TABLE);
    t.pending_bitmap_base_gpa = BigInt(PBA);
    expect(v.p.ioctl(v.vm, P.KVM_DEFINE_MSIX_TABLE, big)).toBe(0);
    expect(errno(() => v.p.ioctl(v.vm, P.KVM_DEFINE_MSIX_TABLE, new Uint8Array(16)))).toBe('EFAULT');
  });

  it('the initial control flags are the function\'s Message Control state', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { flags: P.KVM_MSIX_CTRL_ENABLE | P.KVM_MSIX_CTRL_MASKALL, nr: 2 });
    expect(v.host.control.kvm.vm(v.p, v.vm).msixTable(1).view()).toMatchObject({ enabled: true, functionMasked: true, nrEntries: 2, base: TABLE, pbaBase: PBA });
  });
});

describe('KVM_REMOVE_MSIX_TABLE', () => {
  it('ENOENT for an unknown id, EINVAL for flags, EBUSY while an entry is bound; after unbinding it succeeds and the range is free again', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 2 });
    expect(errno(() => removeTable(v.p, v.vm, 9))).toBe('ENOENT');
    expect(errno(() => removeTable(v.p, v.vm, 1, 1))).toBe('EINVAL');
    bindGsi(v.p, v.vm, 1, 1, 33);
    expect(errno(() => removeTable(v.p, v.vm, 1))).toBe('EBUSY');
    expect(v.host.control.kvm.vm(v.p, v.vm).msixTables()).toEqual([1]);
    bindGsi(v.p, v.vm, 1, 1, null);
    expect(removeTable(v.p, v.vm, 1)).toBe(0);
    expect(errno(() => removeTable(v.p, v.vm, 1))).toBe('ENOENT');
    expect(defineTable(v.p, v.vm, { nr: 2 })).toBe(0);
  });

  it('messages in flight are delivered before the table goes away', () => {
    const v = apicVmm();
    defineTable(v.p, v.vm, { nr: 1 });
    setEntry(v.p, v.vm, 1, 0, { lo: msiAddress(0), data: msiData(0x40) });
    v.host.sched.policy = 'interleave';
    v.host.sched.rng.int = () => 0;
    v.host.control.kvm.vm(v.p, v.vm).msixTable(1).raise(0);
    expect(v.host.control.kvm.vm(v.p, v.vm).msixTable(1).inflight).toBe(1);
    removeTable(v.p, v.vm, 1);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.irr).toEqual([0x40]);
  });
});

describe('KVM_SET_MSIX_ENTRY / KVM_GET_MSIX_ENTRY', () => {
  it('errors: ENOENT, entry out of range (EINVAL), reserved vector-control bits (EINVAL), unknown flags (EINVAL)', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 4 });
    const x = { lo: msiAddress(0), data: 0x41 };
    expect(errno(() => setEntry(v.p, v.vm, 2, 0, x))).toBe('ENOENT');
    expect(errno(() => setEntry(v.p, v.vm, 1, 4, x))).toBe('EINVAL');
    expect(errno(() => setEntry(v.p, v.vm, 1, 0, { ...x, ctrl: 2 }))).toBe('EINVAL');
    expect(errno(() => setEntry(v.p, v.vm, 1, 0, x, 1))).toBe('EINVAL');
    expect(errno(() => void getEntry(v.p, v.vm, 1, 4))).toBe('EINVAL');
    expect(errno(() => void getEntry(v.p, v.vm, 3, 0))).toBe('ENOENT');
    expect(getEntry(v.p, v.vm, 1, 0)).toEqual({ flags: 0, lo: 0, hi: 0, data: 0, ctrl: 1 });
  });

  it('SET stores the entry (no exit: userspace knows); GET reports it with the pending bit in flags', () => {
    const v = apicVmm();
    defineTable(v.p, v.vm, { nr: 4 });
    expect(setEntry(v.p, v.vm, 1, 3, { lo: msiAddress(0), hi: 0, data: msiData(0x44), ctrl: 1 })).toBe(0);
    v.host.control.kvm.vm(v.p, v.vm).msixTable(1).raise(3);
    expect(getEntry(v.p, v.vm, 1, 3)).toEqual({ flags: P.KVM_MSIX_ENTRY_PENDING, lo: msiAddress(0), hi: 0, data: 0x44, ctrl: 1 });
    // Unmasking through SET behaves like the guest's unmask: the pending message goes out once.
    setEntry(v.p, v.vm, 1, 3, { lo: msiAddress(0), data: msiData(0x44), ctrl: 0 });
    expect(getEntry(v.p, v.vm, 1, 3).flags).toBe(0);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.irr).toEqual([0x44]);
  });
});

describe('KVM_SET_MSIX_ENTRY_IRQ', () => {
  it('errors: unknown type, non-zero pad or unused descriptor bytes, GSI out of range (EINVAL); GSI bound elsewhere (EBUSY); ENOENT', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 4 });
    defineTable(v.p, v.vm, { id: 2, nr: 1, base: 0xfec0_0000, pba: 0xfec0_1000 });
    const raw = (f: (a: ReturnType<typeof P.kvm_msix_entry_irq.alloc>) => void) => {
      const a = P.kvm_msix_entry_irq.alloc();
      a.argsz = P.kvm_msix_entry_irq.size;
      a.table_id = 1;
      a.irq.type = P.KVM_MSIX_IRQ_GSI;
      a.irq.u.gsi = 30;
      f(a);
      return errno(() => v.p.ioctl(v.vm, P.KVM_SET_MSIX_ENTRY_IRQ, a));
    };
    expect(raw((a) => (a.irq.type = 2))).toBe('EINVAL');
    expect(raw((a) => (a.irq.pad = 1))).toBe('EINVAL');
    expect(raw((a) => a.irq.u.reserved.set(1, 5n))).toBe('EINVAL');
    expect(raw((a) => ((a.irq.type = P.KVM_MSIX_IRQ_NONE), (a.irq.u.gsi = 30)))).toBe('EINVAL');
    expect(raw((a) => (a.irq.u.gsi = 4096))).toBe('EINVAL');
    expect(raw((a) => (a.flags = 1))).toBe('EINVAL');
    expect(raw((a) => (a.entry_id = 4))).toBe('EINVAL');
    expect(raw((a) => (a.table_id = 5))).toBe('ENOENT');
    expect(raw(() => {})).toBe(0);
    expect(errno(() => bindGsi(v.p, v.vm, 1, 1, 30))).toBe('EBUSY');
    expect(errno(() => bindGsi(v.p, v.vm, 2, 0, 30))).toBe('EBUSY');
    // Binding the same pair again is a no-op; rebinding entry 0 to another GSI frees GSI 30.
    expect(bindGsi(v.p, v.vm, 1, 0, 30)).toBe(0);
    expect(bindGsi(v.p, v.vm, 1, 0, 31)).toBe(0);
    expect(bindGsi(v.p, v.vm, 2, 0, 30)).toBe(0);
    expect(v.host.control.kvm.vm(v.p, v.vm).msixTable(1).entry(0).gsi).toBe(31);
  });

  it('unbinding lets the GSI\'s interrupts past the entry again (straight to the route)', () => {
    const v = apicVmm();
    defineTable(v.p, v.vm, { nr: 1 });
    setRoutes(v.p, v.vm, [{ gsi: 30, msi: { lo: msiAddress(0), data: msiData(0x45) } }]);
    const fd = efd(v.p);
    irqfd(v.p, v.vm, fd, 30);
    bindGsi(v.p, v.vm, 1, 0, 30);
    signal(v.p, fd);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.irr).toEqual([]);
    bindGsi(v.p, v.vm, 1, 0, null);
    signal(v.p, fd);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.irr).toEqual([0x45]);
    // The pending bit stays the table's: the earlier raise is still pending.
    expect(pendingBits(v.p, v.vm, 1)).toEqual([0]);
  });
});

describe('KVM_GET_MSIX_PENDING', () => {
  it('reads the PBA; with KVM_MSIX_PENDING_CLEAR it returns the bits as they were and clears the given ones (polling mode, the thread\'s ask)', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 70, base: TABLE, pba: PBA });
    const t = v.host.control.kvm.vm(v.p, v.vm).msixTable(1);
    for (const e of [0, 5, 64, 69]) t.raise(e);
    expect(pendingBits(v.p, v.vm, 1)).toEqual([0, 5, 64, 69]);
    expect(pendingBits(v.p, v.vm, 1, [5, 64])).toEqual([0, 5, 64, 69]);
    expect(pendingBits(v.p, v.vm, 1)).toEqual([0, 69]);
    expect(t.pendingEntries()).toEqual([0, 69]);
  });

  it('EINVAL for unknown flags or a bit to clear beyond the table (and nothing is cleared)', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 2 });
    v.host.control.kvm.vm(v.p, v.vm).msixTable(1).raise(1);
    expect(errno(() => void pendingBits(v.p, v.vm, 1, [1, 2]))).toBe('EINVAL');
    const a = P.kvm_msix_pending.alloc();
    a.argsz = a.bytes.length;
    a.table_id = 1;
    a.flags = 2;
    expect(errno(() => v.p.ioctl(v.vm, P.KVM_GET_MSIX_PENDING, a))).toBe('EINVAL');
    expect(pendingBits(v.p, v.vm, 1)).toEqual([1]);
  });
});

describe('KVM_GET_MSIX_TABLE_STATE / KVM_SET_MSIX_TABLE_STATE (live migration)', () => {
  it('E2BIG writes the needed count when nr_entries is too small; EINVAL when argsz does not cover what nr_entries claims', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 3 });
    const s = P.kvm_msix_table_state.alloc(1);
    s.argsz = s.bytes.length;
    s.table_id = 1;
    s.nr_entries = 1;
    expect(errno(() => v.p.ioctl(v.vm, P.KVM_GET_MSIX_TABLE_STATE, s))).toBe('E2BIG');
    expect(s.nr_entries).toBe(3);
    const t = P.kvm_msix_table_state.alloc(3);
    t.argsz = P.kvm_msix_table_state.size + 16;
    t.table_id = 1;
    t.nr_entries = 3;
    expect(errno(() => v.p.ioctl(v.vm, P.KVM_GET_MSIX_TABLE_STATE, t))).toBe('EINVAL');
  });

  it('without KVM_MSIX_STATE_ENTRIES, SET reads only the 16-byte header (nr_entries ignored): argsz 16 is enough, 15 is EINVAL, a 12-byte buffer EFAULT (the minsz rule)', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 2, flags: 0 });
    const tab = v.host.control.kvm.vm(v.p, v.vm).msixTable(1);
    const hdr = (argsz: number, len = 16): Uint8Array => {
      const b = new Uint8Array(len);
      setU32(b, 0, argsz);
      setU32(b, 4, P.KVM_MSIX_CTRL_ENABLE | P.KVM_MSIX_CTRL_MASKALL);
      if (len >= 12) setU32(b, 8, 1);
      if (len >= 16) setU32(b, 12, 0xdead);
      return b;
    };
    expect(P.kvm_msix_table_state.offsetof('pending')).toBe(16);
    expect(errno(() => v.p.ioctl(v.vm, P.KVM_SET_MSIX_TABLE_STATE, hdr(15)))).toBe('EINVAL');
    expect(errno(() => v.p.ioctl(v.vm, P.KVM_SET_MSIX_TABLE_STATE, hdr(12, 12)))).toBe('EFAULT');
    expect(tab.view()).toMatchObject({ enabled: false, functionMasked: false });
    expect(v.p.ioctl(v.vm, P.KVM_SET_MSIX_TABLE_STATE, hdr(16))).toBe(0);
    expect(tab.view()).toMatchObject({ enabled: true, functionMasked: true, nrEntries: 2 });
  });

  it('the state round-trips into a new table: entries, pending bits and control, and the new VM sees the same', () => {
    const a = apicVmm();
    defineTable(a.p, a.vm, { nr: 3, flags: P.KVM_MSIX_CTRL_ENABLE | P.KVM_MSIX_CTRL_MASKALL });
    setEntry(a.p, a.vm, 1, 0, { lo: msiAddress(0), data: msiData(0x50), ctrl: 0 });
    setEntry(a.p, a.vm, 1, 2, { lo: msiAddress(1), hi: 7, data: msiData(0x52), ctrl: 1 });
    a.host.control.kvm.vm(a.p, a.vm).msixTable(1).raise(0);
    a.host.control.kvm.vm(a.p, a.vm).msixTable(1).raise(2);
    const st = getState(a.p, a.vm, 1, 3);
    expect(st.flags).toBe(P.KVM_MSIX_STATE_ENTRIES | P.KVM_MSIX_CTRL_ENABLE | P.KVM_MSIX_CTRL_MASKALL);
    expect(st.pending[0]).toBe(0b101n);
    expect(st.entries[2]).toEqual({ lo: msiAddress(1), hi: 7, data: 0x52, ctrl: 1 });
    const b = apicVmm();
    defineTable(b.p, b.vm, { nr: 3 });
    expect(setState(b.p, b.vm, 1, st, P.KVM_MSIX_STATE_ENTRIES | P.KVM_MSIX_CTRL_ENABLE | P.KVM_MSIX_CTRL_MASKALL)).toBe(0);
    expect(getState(b.p, b.vm, 1, 3)).toEqual(st);
    // The guest clears Function Mask on the destination: entry 0 (unmasked, pending) is sent once.
    setCtrl(b.p, b.vm, 1, P.KVM_MSIX_CTRL_ENABLE);
    expect(b.host.control.kvm.vcpu(b.p, b.vcpus[0]!).lapic()!.irr).toEqual([0x50]);
    expect(pendingBits(b.p, b.vm, 1)).toEqual([2]);
  });

  it('a restored pending bit on an entry nothing masks is sent at once, as the function would', () => {
    const v = apicVmm();
    defineTable(v.p, v.vm, { nr: 1 });
    const st = { flags: 0, pending: [1n, ...new Array<bigint>(31).fill(0n)], entries: [{ lo: msiAddress(0), hi: 0, data: msiData(0x47), ctrl: 0 }] };
    setState(v.p, v.vm, 1, st, P.KVM_MSIX_STATE_ENTRIES | P.KVM_MSIX_CTRL_ENABLE);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.irr).toEqual([0x47]);
    expect(pendingBits(v.p, v.vm, 1)).toEqual([]);
  });

  it('SET errors: unknown flags, nr_entries mismatch, reserved vector-control bits, pending bits beyond the table (EINVAL, nothing changes)', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 2 });
    const before = getState(v.p, v.vm, 1, 2);
    const good = { flags: 0, pending: new Array<bigint>(32).fill(0n), entries: [{ lo: 1, hi: 2, data: 3, ctrl: 0 }, { lo: 4, hi: 5, data: 6, ctrl: 1 }] };
    const E = P.KVM_MSIX_STATE_ENTRIES;
    expect(errno(() => setState(v.p, v.vm, 1, good, E | 0x4))).toBe('EINVAL');
    expect(errno(() => setState(v.p, v.vm, 1, { ...good, entries: good.entries.slice(0, 1) }, E))).toBe('EINVAL');
    expect(errno(() => setState(v.p, v.vm, 1, { ...good, entries: [good.entries[0]!, { ...good.entries[1]!, ctrl: 0x8001 }] }, E))).toBe('EINVAL');
    expect(errno(() => setState(v.p, v.vm, 1, { ...good, pending: [0b100n, ...good.pending.slice(1)] }, E))).toBe('EINVAL');
    expect(errno(() => setState(v.p, v.vm, 5, good, E))).toBe('ENOENT');
    expect(getState(v.p, v.vm, 1, 2)).toEqual(before);
    expect(setState(v.p, v.vm, 1, good, E)).toBe(0);
    expect(getState(v.p, v.vm, 1, 2).entries).toEqual(good.entries);
  });
});

describe('a failed call changes nothing (property)', () => {
  it('random corruptions of valid arguments: every call either succeeds or leaves table state, bindings and the LAPIC as they were', () => {
    const calls = ['define', 'remove', 'set', 'get', 'irq', 'pending', 'getstate', 'setstate'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...calls), fc.nat(63), fc.integer({ min: 0, max: 255 }), fc.boolean(), (call, byte, value, second) => {
        const v = vmm();
        defineTable(v.p, v.vm, { nr: 2 });
        bindGsi(v.p, v.vm, 1, 0, 30);
        setEntry(v.p, v.vm, 1, 1, { lo: msiAddress(0), data: msiData(0x41), ctrl: 1 });
        v.host.control.kvm.vm(v.p, v.vm).msixTable(1).raise(1);
        if (second) defineTable(v.p, v.vm, { id: 2, nr: 1, base: 0xfec0_0000, pba: 0xfec0_1000 });
        const snap = () => JSON.stringify({
          tables: v.host.control.kvm.vm(v.p, v.vm).msixTables().map((id) => {
            const t = v.host.control.kvm.vm(v.p, v.vm).msixTable(id);
            return { ...t.view(), e: Array.from({ length: t.view().nrEntries }, (_, i) => t.entry(i)) };
          }),
          irr: v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).lapic()!.irr,
        });
        const before = snap();
        let req: number;
        let arg: Uint8Array;
        switch (call) {
          case 'define': { const a = P.kvm_msix_table.alloc(); Object.assign(a, { argsz: 32, table_id: 3, nr_entries: 1 }); a.msix_base_gpa = 0xfed0_0000n; a.pending_bitmap_base_gpa = 0xfed0_1000n; req = P.KVM_DEFINE_MSIX_TABLE; arg = a.bytes; break; }
          case 'remove': { const a = P.kvm_msix_table.alloc(); Object.assign(a, { argsz: 32, table_id: 2 }); req = P.KVM_REMOVE_MSIX_TABLE; arg = a.bytes; break; }
          case 'set': case 'get': { const a = P.kvm_msix_entry.alloc(); Object.assign(a, { argsz: 32, table_id: 1, entry_id: 1, address_lo: 0xfee00000, data: 0x42 }); req = call === 'set' ? P.KVM_SET_MSIX_ENTRY : P.KVM_GET_MSIX_ENTRY; arg = a.bytes; break; }
          case 'irq': { const a = P.kvm_msix_entry_irq.alloc(); Object.assign(a, { argsz: 48, table_id: 1, entry_id: 1 }); a.irq.type = 1; a.irq.u.gsi = 31; req = P.KVM_SET_MSIX_ENTRY_IRQ; arg = a.bytes; break; }
          case 'pending': { const a = P.kvm_msix_pending.alloc(); Object.assign(a, { argsz: a.bytes.length, flags: 1, table_id: 1 }); a.bitmap.set(0, 2n); req = P.KVM_GET_MSIX_PENDING; arg = a.bytes; break; }
          case 'getstate': case 'setstate': { const a = P.kvm_msix_table_state.alloc(2); Object.assign(a, { argsz: a.bytes.length, flags: call === 'setstate' ? P.KVM_MSIX_STATE_ENTRIES | 1 : 0, table_id: 1, nr_entries: 2 }); req = call === 'getstate' ? P.KVM_GET_MSIX_TABLE_STATE : P.KVM_SET_MSIX_TABLE_STATE; arg = a.bytes; break; }
        }
        arg[byte % arg.length] = value;
        const r = errno(() => v.p.ioctl(v.vm, req, arg));
        if (typeof r === 'string') expect(snap(), `${call} failed with ${r} but changed state`).toBe(before);
      }),
      fcParams(150),
    );
  });
});

describe('strace names the proposed ioctls on a VM fd', () => {
  it('with their structs, flag names and descriptor types', () => {
    const v = vmm();
    const lines: string[] = [];
    const stop = v.host.strace((l) => lines.push(l));
    defineTable(v.p, v.vm, { nr: 2, flags: P.KVM_MSIX_CTRL_ENABLE | P.KVM_MSIX_CTRL_MASKALL });
    bindGsi(v.p, v.vm, 1, 1, 33);
    errno(() => removeTable(v.p, v.vm, 1));
    stop();
    expect(lines[0]).toMatch(/^ioctl\(\d+, KVM_DEFINE_MSIX_TABLE, \{argsz=32, flags=KVM_MSIX_CTRL_ENABLE\|KVM_MSIX_CTRL_MASKALL, table_id=1, nr_entries=2, msix_base_gpa=0xfeb00000, pending_bitmap_base_gpa=0xfeb01000\}\) = 0$/);
    expect(lines[1]).toContain('KVM_SET_MSIX_ENTRY_IRQ');
    expect(lines[1]).toContain('type=KVM_MSIX_IRQ_GSI');
    expect(lines[1]).toContain('u={gsi=33}');
    expect(lines[2]).toMatch(/KVM_REMOVE_MSIX_TABLE.* = -1 EBUSY/);
  });
});
