// eventfd ids (fs/eventfd.c): ida_alloc() on the global eventfd_ida gives the lowest free id (lib/idr.c),
// and eventfd_free_ctx() frees it when the last eventfd_ctx reference goes (eventfd_ctx_put()): the
// file's own (dup shares it), and the ones kernel users keep: KVM irqfds and resamplefds until the
// shutdown work (virt/kvm/eventfd.c irqfd_shutdown()), KVM ioeventfds until deassign or the VM's
// destruction (ioeventfd_release()), VFIO triggers until replaced or disabled (drivers/vfio/pci/
// vfio_pci_intrs.c) and virqfds until their shutdown (drivers/vfio/virqfd.c). eventfd-ids-oracle.c runs
// the KVM part on this machine; ids are global there, so both sides print relations, not numbers (and
// the oracle retries a step that other processes' eventfds disturbed).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COracle, oracleSkip } from '../support/c-oracle.js';
import { Host } from '../../src/index.js';
import type { Process } from '../../src/linux/process.js';
import { irqfd, ioeventfd, K, vmm } from './kvm/helpers.js';
import { GROUP, NIC, openDevice } from '../support/vfio.js';
import { ERR, EVENTFD, INTX, MSIX, NONE, TRIGGER, UNMASK, setIrqs } from '../support/irqs.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The eventfd-id line of the fd's fdinfo. */
function idOf(p: Process, fd: number): number {
  const m = /^eventfd-id: (\d+)$/m.exec(p.readFile(`/proc/self/fdinfo/${fd}`));
  if (!m) throw new Error(`fd ${fd} is not an eventfd`);
  return Number(m[1]);
}

/** eventfd-ids-oracle.c's sequence on the model. */
function modelSequence(): string {
  const out: string[] = [];
  const say = (label: string, v: boolean | number): void => void out.push(`${label}: ${typeof v === 'boolean' ? (v ? 1 : 0) : v}`);
  const v = vmm({ vcpus: 0, irqchip: 'none' });
  const p = v.p;
  const mk = (): number => p.eventfd(0, 0);
  const vmWithIrqchip = (): number => {
    const vm = p.ioctl(v.kvm, K.KVM_CREATE_VM, 0);
    p.ioctl(vm, K.KVM_CREATE_IRQCHIP);
    return vm;
  };

  let a = mk();
  let ia = idOf(p, a);
  p.close(a);
  let b = mk();
  say('after close, the id is reused', idOf(p, b) === ia);
  p.close(b);

  const x = mk(), y = mk(), z = mk(), ix = idOf(p, x), iy = idOf(p, y);
  say('ids increase', ix < iy && iy < idOf(p, z));
  p.close(y);
  p.close(x);
  const n1 = mk(), n2 = mk();
  out.push(`lowest first: ${idOf(p, n1) === ix ? 1 : 0} ${idOf(p, n2) === iy ? 1 : 0}`);
  p.close(n1); p.close(n2); p.close(z);

  a = mk(); ia = idOf(p, a);
  const d = p.dup(a);
  p.close(a);
  b = mk();
  say('dup holds the id', idOf(p, b) !== ia);
  p.close(b);
  p.close(d);
  b = mk();
  say('after the dup closes, reused', idOf(p, b) === ia);
  p.close(b);

  let vm = vmWithIrqchip();
  a = mk(); ia = idOf(p, a);
  say('irqfd assign', irqfd(p, vm, a, 5));
  p.close(a);
  // The irqfd's shutdown work runs before the next system call here; on the real kernel it may not
  // yet have run (the oracle waits for it).
  b = mk();
  say('after close and the shutdown work, reused', idOf(p, b) === ia);
  p.close(b);
  p.close(vm);

  vm = vmWithIrqchip();
  a = mk(); ia = idOf(p, a);
  irqfd(p, vm, a, 5);
  say('irqfd deassign', irqfd(p, vm, a, 5, K.KVM_IRQFD_FLAG_DEASSIGN));
  p.close(a);
  b = mk();
  say('after deassign and close, reused', idOf(p, b) === ia);
  p.close(b);
  p.close(vm);

  vm = vmWithIrqchip();
  a = mk();
  const rs = mk(), irs = idOf(p, rs);
  say('resample assign', irqfd(p, vm, a, 10, K.KVM_IRQFD_FLAG_RESAMPLE, rs));
  p.close(rs);
  b = mk();
  say('irqfd holds the resamplefd id', idOf(p, b) !== irs);
  p.close(b);
  p.close(vm);
  b = mk();
  say('after the VM fd closes, the resamplefd id is reused', idOf(p, b) === irs);
  p.close(b);
  p.close(a);

  vm = vmWithIrqchip();
  a = mk(); ia = idOf(p, a);
  say('ioeventfd assign', ioeventfd(p, vm, { addr: 0x1234, len: 1, fd: a, flags: K.KVM_IOEVENTFD_FLAG_PIO }));
  p.close(a);
  b = mk();
  say('ioeventfd holds the id', idOf(p, b) !== ia);
  p.close(b);
  p.close(vm);
  b = mk();
  say('after the VM is destroyed, reused', idOf(p, b) === ia);
  p.close(b);
  return out.join('\n') + '\n';
}

/** What eventfd-ids-oracle.c printed on 6.18. */
const MEASURED = `after close, the id is reused: 1
ids increase: 1
lowest first: 1 1
dup holds the id: 1
after the dup closes, reused: 1
irqfd assign: 0
after close and the shutdown work, reused: 1
irqfd deassign: 0
after deassign and close, reused: 1
resample assign: 0
irqfd holds the resamplefd id: 1
after the VM fd closes, the resamplefd id is reused: 1
ioeventfd assign: 0
ioeventfd holds the id: 1
after the VM is destroyed, reused: 1
`;

describe('eventfd ids: the lowest free, freed with the last eventfd_ctx reference', () => {
  it('a fresh machine hands out 0 first (ida_alloc from 0), then 1, 2', () => {
    const p = Host.create().spawn();
    expect([p.eventfd(0, 0), p.eventfd(0, 0), p.eventfd(0, 0)].map((fd) => idOf(p, fd))).toEqual([0, 1, 2]);
  });

  it('the model prints what the kernel did (6.18)', () => {
    expect(modelSequence()).toBe(MEASURED);
  });

  it('matches eventfd-ids-oracle.c on this machine', () => {
    if (oracleSkip('eventfd-ids-oracle.c', ['kvm'])) return;
    const o = new COracle(join(here, 'eventfd-ids-oracle.c'));
    try {
      expect(o.run()).toBe(modelSequence());
    } finally {
      o.dispose();
    }
  });

  it('a VFIO trigger holds the context until it is replaced or disabled (vfio_pci_intrs.c eventfd_ctx_put)', () => {
    const o = openDevice(NIC, GROUP.nic);
    const p = o.p;
    const t = p.eventfd(0, 0);
    const it = idOf(p, t);
    setIrqs(p, o.device, MSIX, EVENTFD | TRIGGER, 0, 1, [t]);
    p.close(t);
    const other = p.eventfd(0, 0);
    expect(idOf(p, other)).not.toBe(it);
    // The vector's trigger swapped for another: the old context's last reference goes.
    setIrqs(p, o.device, MSIX, EVENTFD | TRIGGER, 0, 1, [other]);
    const again = p.eventfd(0, 0);
    expect(idOf(p, again)).toBe(it);
    // Disabling MSI-X drops the vector's reference: `other`'s id stays (its fd is open), and once closed is free.
    setIrqs(p, o.device, MSIX, NONE | TRIGGER, 0, 0);
    p.close(other);
    p.close(again);
    expect(o.host.kernel.ids.eventfd.inUse()).toEqual([]);
  });

  it('an ERR trigger and an INTx unmask virqfd hold theirs until cleared or shut down', () => {
    const o = openDevice(NIC, GROUP.nic);
    const p = o.p;
    const err = p.eventfd(0, 0);
    const trig = p.eventfd(0, 0);
    const unmask = p.eventfd(0, 0);
    setIrqs(p, o.device, ERR, EVENTFD | TRIGGER, 0, 1, [err]);
    setIrqs(p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [trig]);
    setIrqs(p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [unmask]);
    const ids = [err, trig, unmask].map((fd) => idOf(p, fd));
    for (const fd of [err, trig, unmask]) p.close(fd);
    // The unmask virqfd saw EPOLLHUP: its shutdown work drops its reference once it runs.
    o.host.kernel.sched.flush();
    expect(o.host.kernel.ids.eventfd.inUse()).toEqual([ids[0], ids[1]]);
    setIrqs(p, o.device, ERR, EVENTFD | TRIGGER, 0, 1, [-1]);
    expect(o.host.kernel.ids.eventfd.inUse()).toEqual([ids[1]]);
    setIrqs(p, o.device, INTX, NONE | TRIGGER, 0, 0);
    expect(o.host.kernel.ids.eventfd.inUse()).toEqual([]);
  });

  it('property: after any sequence of eventfd/dup/close, the ids in use are exactly the live contexts\', and each new one is the lowest free', () => {
    type M = { fds: Map<number, number>; used: Set<number> };
    type R = { p: Process; fds: number[] };
    class Create implements fc.Command<M, R> {
      check = () => true;
      run(m: M, r: R): void {
        let low = 0;
        while (m.used.has(low)) low++;
        const fd = r.p.eventfd(0, 0);
        expect(idOf(r.p, fd)).toBe(low);
        m.used.add(low);
        m.fds.set(fd, low);
        r.fds.push(fd);
      }
      toString = () => 'eventfd()';
    }
    class Dup implements fc.Command<M, R> {
      constructor(readonly k: number) {}
      check = (m: M) => m.fds.size > 0;
      run(m: M, r: R): void {
        const fd = [...m.fds.keys()].sort((a, b) => a - b)[this.k % m.fds.size]!;
        const d = r.p.dup(fd);
        m.fds.set(d, m.fds.get(fd)!);
      }
      toString = () => `dup(#${this.k})`;
    }
    class Close implements fc.Command<M, R> {
      constructor(readonly k: number) {}
      check = (m: M) => m.fds.size > 0;
      run(m: M, r: R): void {
        const fd = [...m.fds.keys()].sort((a, b) => a - b)[this.k % m.fds.size]!;
        const id = m.fds.get(fd)!;
        r.p.close(fd);
        m.fds.delete(fd);
        if (![...m.fds.values()].includes(id)) m.used.delete(id);
        expect(r.p.kernel.ids.eventfd.inUse()).toEqual([...m.used].sort((a, b) => a - b));
      }
      toString = () => `close(#${this.k})`;
    }
    const cmds = [fc.constant(new Create()), fc.nat(20).map((k) => new Dup(k)), fc.nat(20).map((k) => new Close(k))];
    fc.assert(
      fc.property(fc.commands(cmds, { maxCommands: 40 }), (c) => {
        const p = Host.create().spawn();
        fc.modelRun(() => ({ model: { fds: new Map<number, number>(), used: new Set<number>() }, real: { p, fds: [] } }), c);
      }),
      { numRuns: 60 },
    );
  });
});
