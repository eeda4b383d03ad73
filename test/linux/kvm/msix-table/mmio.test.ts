// Guest MMIO to an in-kernel MSI-X table (the proposed KVM_DEFINE_MSIX_TABLE family; the rules are in
// docs/proposals/kvm-msix-table.md and src/linux/kvm/msix-table/table.ts). Each test states the PCI or
// proposal rule it checks: PCI Local Bus 3.0 §6.8.2 (../shared/reference/kvm.md §6.2) for the table
// and PBA, the kvm-list thread (seed 004) for the exit and the all-or-nothing ownership.
import { describe, expect, it } from 'vitest';
import { efd, irqfd, irqLine, K, run, setRoutes, signal, vmm, type Route, type Vmm } from '../helpers.js';
import { CMD, bindGsi, defineTable, entryAddr, getEntry, msiAddress, msiData, MsixDriver, msixGuest, P, PBA, removeTable, setCtrl, setEntry, TABLE, type UpdateExit } from './helpers.js';
import type { IrqEvent } from '../../../../src/sim/trace.js';

const NR = 4;
const GSI0 = 40;
const vecOf = (e: number) => 0x50 + e;
const VECTORS = [0x50, 0x51, 0x52, 0x53, 0x60, 0x61, 0x62, 0x63];

interface Setup {
  v: Vmm;
  drv: MsixDriver;
  fds: number[];
  routes: Route[];
  tab: ReturnType<ReturnType<Vmm['host']['control']['kvm']['vm']>['msixTable']>;
  handled: (vector: number) => number;
}

/**
 * A VM with table 1 (4 entries, MSI-X enabled) at TABLE/PBA, GSI 40+e routed to vector 0x50+e and
 * bound to entry e, an irqfd per GSI, and the command guest. The VMM re-routes an entry's GSI on
 * KVM_EXIT_MSIX_ENTRY_UPDATED from the exit's contents, as the proposal intends.
 */
function setup(o: { starve?: boolean } = {}): Setup {
  const v = vmm();
  expect(defineTable(v.p, v.vm, { nr: NR })).toBe(0);
  const routes: Route[] = [];
  for (let e = 0; e < NR; e++) routes.push({ gsi: GSI0 + e, msi: { lo: msiAddress(0), data: msiData(vecOf(e)) } });
  setRoutes(v.p, v.vm, routes);
  const fds: number[] = [];
  for (let e = 0; e < NR; e++) {
    const fd = efd(v.p);
    irqfd(v.p, v.vm, fd, GSI0 + e);
    bindGsi(v.p, v.vm, 1, e, GSI0 + e);
    fds.push(fd);
  }
  v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, msixGuest(VECTORS));
  const drv = new MsixDriver(v);
  drv.onUpdate = (u: UpdateExit) => {
    routes[u.entryId] = { gsi: GSI0 + u.entryId, msi: { lo: u.lo, hi: u.hi, data: u.data } };
    setRoutes(v.p, v.vm, routes);
  };
  if (o.starve) {
    // Deferred work never runs at scheduling points, only when something waits for it (flush_work):
    // an accepted message stays in flight until a read flushes it.
    v.host.sched.policy = 'interleave';
    v.host.sched.rng.int = () => 0;
  }
  const tab = v.host.control.kvm.vm(v.p, v.vm).msixTable(1);
  const cpu = v.host.control.kvm.vcpu(v.p, v.vcpus[0]!);
  return { v, drv, fds, routes, tab, handled: (vec) => cpu.handled(vec) };
}

describe('reads are served by the kernel (no KVM_EXIT_MMIO)', () => {
  it('an entry reads as PCI reset state: masked, address and data 0', () => {
    const s = setup();
    s.drv.exec(CMD.READ, 2);
    expect(s.drv.lastRead).toBe(1);
    s.drv.exec(CMD.READ_DATA, 2);
    expect(s.drv.lastRead).toBe(0);
    expect(s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).exits(K.KVM_EXIT_MMIO)).toBe(0);
  });

  it('an aligned QWORD read returns two dwords, low address first', () => {
    const s = setup();
    s.drv.exec(CMD.WRITE_DATA, 1, 0x1234);
    s.drv.exec(CMD.RAW_READ8, 1 * 16 + 8);
    // data 0x1234 in the low dword, vector control (masked: 1) in the high dword.
    expect(s.drv.lastRead).toBe(0x1234 + 1 * 2 ** 32);
  });
});

describe('address/data writes are stored and reported by KVM_EXIT_MSIX_ENTRY_UPDATED', () => {
  it('each changing write exits after it completed, with the entry as it now is; unchanged writes do not exit', () => {
    const s = setup();
    s.drv.exec(CMD.WRITE_ADDR_LO, 2, msiAddress(0));
    s.drv.exec(CMD.WRITE_DATA, 2, msiData(0x62));
    s.drv.exec(CMD.WRITE_DATA, 2, msiData(0x62));
    expect(s.drv.updates).toEqual([
      { tableId: 1, entryId: 2, flags: P.KVM_MSIX_UPDATED_ADDRESS_LO, ctrl: 1, lo: msiAddress(0), hi: 0, data: 0 },
      { tableId: 1, entryId: 2, flags: P.KVM_MSIX_UPDATED_DATA, ctrl: 1, lo: msiAddress(0), hi: 0, data: 0x62 },
    ]);
    expect(s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).exits(P.KVM_EXIT_MSIX_ENTRY_UPDATED)).toBe(2);
    expect(getEntry(s.v.p, s.v.vm, 1, 2)).toMatchObject({ lo: msiAddress(0), data: 0x62, ctrl: 1 });
  });

  it('the guest instruction has retired when KVM_RUN returns: a read-back in the next instruction sees the new value', () => {
    const s = setup();
    let pcAtExit = -1;
    s.drv.onUpdate = () => {
      pcAtExit = s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).guest().pc;
    };
    s.drv.exec(CMD.WRITE_DATA, 0, 0x77);
    const prog = s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).guest();
    expect(prog.program).toBe('msix-table');
    // The store was the last instruction of cmd5; the CPU stood on the jump back to the loop.
    expect(pcAtExit).toBeGreaterThan(0);
    s.drv.exec(CMD.READ_DATA, 0);
    expect(s.drv.lastRead).toBe(0x77);
  });

  it('an 8-byte write of address low+high is one exit naming both dwords', () => {
    const s = setup();
    // RAW_WRITE via the QWORD command writes at +8; use two raw dwords and a QWORD data/ctrl instead.
    s.drv.exec(CMD.RAW_WRITE4, 3 * 16, msiAddress(1));
    s.drv.exec(CMD.RAW_WRITE4, 3 * 16 + 4, 0x100);
    expect(s.drv.updates.map((u) => u.flags)).toEqual([P.KVM_MSIX_UPDATED_ADDRESS_LO, P.KVM_MSIX_UPDATED_ADDRESS_HI]);
    expect(s.drv.updates[1]).toMatchObject({ lo: msiAddress(1), hi: 0x100 });
  });
});

describe('vector control: synchronous masking, pending bits, delivery once on unmask', () => {
  it('a raise on a masked entry sets its PBA bit and delivers nothing; the unmask write delivers it once and clears the bit', () => {
    const s = setup();
    signal(s.v.p, s.fds[1]!);
    signal(s.v.p, s.fds[1]!);
    expect(s.tab.pendingEntries()).toEqual([1]);
    s.drv.exec(CMD.READ_PBA, 0);
    expect(s.drv.lastRead).toBe(0b10);
    s.drv.exec(CMD.UNMASK, 1);
    expect(s.tab.pendingEntries()).toEqual([]);
    s.drv.exec(CMD.WINDOW);
    expect(s.handled(vecOf(1))).toBe(1);
    expect(s.tab.entry(1)).toMatchObject({ raised: 2, delivered: 1, pending: false, masked: false });
    // No exit of any kind for the mask/unmask.
    expect(s.drv.updates).toEqual([]);
    expect(s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).exits(K.KVM_EXIT_MMIO)).toBe(0);
  });

  it('an unmasked entry delivers every raise through its GSI route; masking again makes raises pending', () => {
    const s = setup();
    s.drv.exec(CMD.UNMASK, 0);
    signal(s.v.p, s.fds[0]!);
    s.drv.exec(CMD.WINDOW);
    signal(s.v.p, s.fds[0]!);
    s.drv.exec(CMD.WINDOW);
    expect(s.handled(vecOf(0))).toBe(2);
    s.drv.exec(CMD.MASK_READ, 0);
    signal(s.v.p, s.fds[0]!);
    s.drv.exec(CMD.WINDOW);
    expect(s.handled(vecOf(0))).toBe(2);
    expect(s.tab.pendingEntries()).toEqual([0]);
  });

  it('KVM_IRQ_LINE on a bound GSI goes through the entry too (assert raises it; de-assert does nothing)', () => {
    const s = setup();
    irqLine(s.v.p, s.v.vm, GSI0 + 2, 1);
    irqLine(s.v.p, s.v.vm, GSI0 + 2, 0);
    expect(s.tab.entry(2)).toMatchObject({ raised: 1, pending: true });
    s.drv.exec(CMD.UNMASK, 2);
    s.drv.exec(CMD.WINDOW);
    expect(s.handled(vecOf(2))).toBe(1);
  });

  it('Function Mask and Enable come from userspace (config space): raises while function-masked are pending, clearing MASKALL sends them', () => {
    const s = setup();
    s.drv.exec(CMD.UNMASK, 0);
    s.drv.exec(CMD.UNMASK, 1);
    expect(setCtrl(s.v.p, s.v.vm, 1, P.KVM_MSIX_CTRL_ENABLE | P.KVM_MSIX_CTRL_MASKALL)).toBe(0);
    signal(s.v.p, s.fds[0]!);
    signal(s.v.p, s.fds[2]!);
    expect(s.tab.pendingEntries()).toEqual([0, 2]);
    expect(setCtrl(s.v.p, s.v.vm, 1, P.KVM_MSIX_CTRL_ENABLE)).toBe(0);
    // Entry 0 is unmasked: sent. Entry 2 is still vector-masked: stays pending.
    expect(s.tab.pendingEntries()).toEqual([2]);
    s.drv.exec(CMD.WINDOW);
    expect(s.handled(vecOf(0))).toBe(1);
    // MSI-X disabled behaves like the function mask (QEMU's msix_function_masked includes !enabled).
    expect(setCtrl(s.v.p, s.v.vm, 1, 0)).toBe(0);
    signal(s.v.p, s.fds[1]!);
    expect(s.tab.pendingEntries()).toEqual([1, 2]);
  });
});

describe('the flush guarantee: a mask write followed by a table read', () => {
  it('a message accepted before the mask write but still in flight is delivered before the read completes', () => {
    const s = setup({ starve: true });
    s.drv.exec(CMD.UNMASK, 3);
    signal(s.v.p, s.fds[3]!);
    expect(s.tab.entry(3)).toMatchObject({ inflight: 1, delivered: 0 });
    s.drv.exec(CMD.MASK_READ, 3);
    expect(s.tab.entry(3)).toMatchObject({ inflight: 0, delivered: 1, pending: false });
    // It reached the LAPIC before the read retired; the guest takes it at its next window.
    expect(s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).lapic()!.irr).toContain(vecOf(3));
    // After the flushing read nothing more arrives for the entry: the next raise is pending.
    signal(s.v.p, s.fds[3]!);
    s.drv.exec(CMD.WINDOW);
    expect(s.handled(vecOf(3))).toBe(1);
    expect(s.tab.entry(3)).toMatchObject({ inflight: 0, pending: true, delivered: 1 });
  });

  it('a mask write alone does not flush: the in-flight message may still arrive after it (PCI allows it until a read)', () => {
    const s = setup({ starve: true });
    s.drv.exec(CMD.UNMASK, 3);
    signal(s.v.p, s.fds[3]!);
    s.drv.exec(CMD.MASK, 3);
    expect(s.tab.entry(3)).toMatchObject({ inflight: 1, delivered: 0, masked: true });
    // A raise after the mask write is pending; the earlier one is still on its way.
    signal(s.v.p, s.fds[3]!);
    expect(s.tab.entry(3)).toMatchObject({ inflight: 1, pending: true });
    s.drv.exec(CMD.READ_PBA, 0);
    expect(s.tab.entry(3)).toMatchObject({ inflight: 0, delivered: 1, pending: true });
    expect(s.drv.lastRead).toBe(0b1000);
  });
});

describe('address/data rewrite and the hold until userspace re-routes', () => {
  it('one QWORD write of new data + unmask on a pending entry: the exit comes first, the message goes out through the new route on re-entry', () => {
    const s = setup();
    signal(s.v.p, s.fds[1]!);
    let atExit: unknown = null;
    s.drv.onUpdate = (u) => {
      atExit = { ...s.tab.entry(1), exitFlags: u.flags, ctrl: u.ctrl };
      s.routes[1] = { gsi: GSI0 + 1, msi: { lo: u.lo, hi: u.hi, data: u.data } };
      setRoutes(s.v.p, s.v.vm, s.routes);
    };
    s.drv.exec(CMD.DATA_UNMASK_QWORD, 1, msiData(0x61));
    // During the exit the entry was unmasked but held: still pending, nothing sent through the stale route.
    expect(atExit).toMatchObject({ masked: false, pending: true, held: 1, inflight: 0, delivered: 0, exitFlags: P.KVM_MSIX_UPDATED_DATA, ctrl: 0 });
    expect(s.tab.entry(1)).toMatchObject({ pending: false, held: 0, delivered: 1 });
    s.drv.exec(CMD.WINDOW);
    expect(s.handled(0x61)).toBe(1);
    expect(s.handled(vecOf(1))).toBe(0);
  });

  it('raises while the exit is outstanding are kept pending and sent once on re-entry', () => {
    const s = setup();
    s.drv.exec(CMD.UNMASK, 2);
    s.drv.onUpdate = (u) => {
      // The device keeps raising while the VMM is busy with the exit.
      signal(s.v.p, s.fds[2]!);
      signal(s.v.p, s.fds[2]!);
      expect(s.tab.entry(2)).toMatchObject({ pending: true, delivered: 0, held: 1 });
      s.routes[2] = { gsi: GSI0 + 2, msi: { lo: u.lo, hi: u.hi, data: u.data } };
      setRoutes(s.v.p, s.v.vm, s.routes);
    };
    s.drv.exec(CMD.WRITE_DATA, 2, msiData(0x62));
    s.drv.exec(CMD.WINDOW);
    expect(s.handled(0x62)).toBe(1);
    expect(s.tab.entry(2)).toMatchObject({ pending: false, delivered: 1, raised: 2 });
  });
  it('each vCPU whose write changed the entry holds it until that vCPU re-enters KVM_RUN: with 300 holders (more than a byte counts; KVM_MAX_VCPUS is 1024) raises stay pending until the last one re-enters', () => {
    const n = 300;
    const v = vmm({ vcpus: n });
    expect(defineTable(v.p, v.vm, { nr: 1 })).toBe(0);
    setRoutes(v.p, v.vm, [{ gsi: GSI0, msi: { lo: msiAddress(0), data: msiData(0x50) } }]);
    bindGsi(v.p, v.vm, 1, 0, GSI0);
    expect(setEntry(v.p, v.vm, 1, 0, { lo: msiAddress(0), data: msiData(0x50), ctrl: 0 })).toBe(0);
    const tab = v.host.control.kvm.vm(v.p, v.vm).msixTable(1);
    // Every vCPU runs (the APs have had their INIT-SIPI) and stores a new data value (KvmVcpu.write is
    // the path of a guest MMIO store).
    const runnable = K.kvm_mp_state.alloc();
    runnable.mp_state = K.KVM_MP_STATE_RUNNABLE;
    for (const fd of v.vcpus.slice(1)) v.p.ioctl(fd, K.KVM_SET_MP_STATE, runnable);
    const cpus = v.vcpus.map((fd) => v.host.control.kvm.vcpu(v.p, fd).vcpu);
    cpus.forEach((c, i) => c.write(entryAddr(0, 8), 4, msiData(0x50 + (i & 1 ? 0 : 1))));
    expect(tab.entry(0).held).toBe(n);
    expect(irqLine(v.p, v.vm, GSI0, 1)).toBe(0);
    const reenter = (i: number) => {
      v.runs[i]!.write8(K.kvm_run.offsetof('immediate_exit'), 1);
      expect(run(v, i)).toBe('EINTR');
    };
    for (let i = 0; i < n - 1; i++) reenter(i);
    expect(tab.entry(0)).toMatchObject({ held: 1, pending: true, inflight: 0, delivered: 0 });
    reenter(n - 1);
    expect(tab.entry(0)).toMatchObject({ held: 0, pending: false });
    expect(tab.entry(0).inflight + tab.entry(0).delivered).toBe(1);
  });
});

describe('PBA and illegal accesses', () => {
  it('the PBA is read-only: a guest write is dropped without an exit', () => {
    const s = setup();
    signal(s.v.p, s.fds[0]!);
    s.drv.exec(CMD.PBA_WRITE4, 0, 0);
    expect(s.tab.pendingEntries()).toEqual([0]);
    expect(s.tab.view().pbaWrites).toBe(1);
    expect(s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).exits(K.KVM_EXIT_MMIO)).toBe(0);
  });

  it('accesses PCI leaves undefined (not an aligned DWORD or QWORD) read 0 and write nothing, in the kernel', () => {
    const s = setup();
    s.drv.exec(CMD.WRITE_DATA, 0, 0xabcd);
    s.drv.exec(CMD.RAW_READ2, 8);
    expect(s.drv.lastRead).toBe(0);
    s.drv.exec(CMD.RAW_WRITE2, 8, 0x1111);
    s.drv.exec(CMD.RAW_WRITE1, 12, 0);
    s.drv.exec(CMD.RAW_READ4, 2);
    expect(s.drv.lastRead).toBe(0);
    s.drv.exec(CMD.RAW_READ8, 4);
    expect(s.drv.lastRead).toBe(0);
    expect(getEntry(s.v.p, s.v.vm, 1, 0)).toMatchObject({ data: 0xabcd, ctrl: 1 });
    expect(s.tab.view().illegalAccesses).toBe(5);
    expect(s.drv.updates).toHaveLength(1);
    expect(s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).exits(K.KVM_EXIT_MMIO)).toBe(0);
  });
  it('Vector Control: only bit 0 (Mask) is defined; a write with reserved bits still masks or unmasks by bit 0, and the dword reads back as the Mask bit (PCI Local Bus 3.0 §6.8.2.9: reserved bits are 0 after reset and undefined if software changes them; the model keeps them 0)', () => {
    const s = setup();
    signal(s.v.p, s.fds[1]!);
    s.drv.exec(CMD.RAW_WRITE4, 1 * 16 + 12, 0xffff_fffe);
    // Unmasked by bit 0: the pending message went out, and the dword reads 0.
    expect(s.tab.entry(1)).toMatchObject({ masked: false, pending: false });
    s.drv.exec(CMD.RAW_READ4, 1 * 16 + 12);
    expect(s.drv.lastRead).toBe(0);
    s.drv.exec(CMD.RAW_WRITE4, 1 * 16 + 12, 0xffff_ffff);
    s.drv.exec(CMD.RAW_READ4, 1 * 16 + 12);
    expect(s.drv.lastRead).toBe(1);
    expect(s.tab.entry(1).masked).toBe(true);
    expect(s.drv.updates).toEqual([]);
  });

  it('an aligned QWORD read of the PBA returns pending bits 0-63 (bit n of QWORD n/64), low dword first', () => {
    const s = setup();
    signal(s.v.p, s.fds[0]!);
    signal(s.v.p, s.fds[3]!);
    s.drv.exec(CMD.RAW_READ8, PBA - TABLE);
    expect(s.drv.lastRead).toBe(0b1001);
    expect(s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).exits(K.KVM_EXIT_MMIO)).toBe(0);
  });

  it('an access straddling the end of the table is not the table\'s: it exits as KVM_EXIT_MMIO (a kvm_io_device only matches accesses inside its range, virt/kvm/kvm_main.c kvm_io_bus_cmp)', () => {
    const s = setup();
    expect(() => s.drv.exec(CMD.RAW_READ8, NR * 16 - 4)).toThrow(/unexpected exit 6/);
    expect(Number(s.v.runs[0]!.read64(K.kvm_run.offsetof('mmio.phys_addr')))).toBe(TABLE + NR * 16 - 4);
    expect(s.tab.view().illegalAccesses).toBe(0);
  });
});

describe('ownership of the ranges', () => {
  it('after KVM_REMOVE_MSIX_TABLE the same accesses exit to userspace as KVM_EXIT_MMIO', () => {
    const v = vmm();
    defineTable(v.p, v.vm, { nr: 2 });
    removeTable(v.p, v.vm, 1);
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, msixGuest(VECTORS));
    const d = new MsixDriver(v);
    expect(() => d.exec(CMD.READ, 0)).toThrow(/unexpected exit 6/);
    expect(Number(v.runs[0]!.read64(K.kvm_run.offsetof('mmio.phys_addr')))).toBe(entryAddr(0, 12));
  });

  it('the table and the PBA of one definition are both owned: neither range exits while defined', () => {
    const s = setup();
    s.drv.exec(CMD.READ_PBA, 0);
    s.drv.exec(CMD.READ, 3);
    expect(s.v.host.control.kvm.vcpu(s.v.p, s.v.vcpus[0]!).exits(K.KVM_EXIT_MMIO)).toBe(0);
    expect(PBA).not.toBe(TABLE);
  });
});

describe('trace hops', () => {
  it('a masked raise emits msi-pending; an accepted one msi-send, then an edge on the GSI (assert reaches the LAPIC, de-assert)', () => {
    const s = setup();
    const hops: string[] = [];
    s.v.host.trace.on((ev) => {
      if (ev.type === 'irq' && (ev as IrqEvent).at.includes('msix table') || (ev.type === 'irq' && ['route', 'lapic-irr'].includes((ev as IrqEvent).hop))) hops.push((ev as IrqEvent).hop);
    });
    signal(s.v.p, s.fds[0]!);
    s.drv.exec(CMD.UNMASK, 0);
    expect(hops).toEqual(['msi-pending', 'msi-send', 'route', 'lapic-irr', 'route']);
  });
});
