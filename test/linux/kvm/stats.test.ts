// KVM binary statistics (src/linux/kvm/stats.ts): KVM_GET_STATS_FD on VM and vCPU fds
// (virt/kvm/kvm_main.c kvm_vm_ioctl_get_stats_fd, kvm_vcpu_ioctl_get_stats_fd, the stats fops),
// virt/kvm/binary_stats.c kvm_stats_read, the descriptor tables of arch/x86/kvm/x86.c and the counters'
// increment sites (x86.c, vmx.c/svm.c handle_io / inject_irq / inject_nmi, kvm_main.c kvm_vcpu_halt,
// kvm_vcpu_wake_up).
//
// stats-oracle.c runs a fixed sequence on this machine's /dev/kvm and the model runs the same sequence
// below; the printed lines must be equal, except for what this host (kvm_pvm, 6.18) does differently
// from arch/x86/kvm/x86.c, which the model follows:
// - its tables append descriptors x86.c does not have (VM: mmu_kicks_spared; vCPU: pf_parked,
//   pf_park_timeouts, the last ones in both tables and in both structs): their lines are dropped, and
//   num_desc, data_offset and the data size are compared less those entries (64 bytes per descriptor,
//   8 per value). Every other descriptor, offset included, is compared as the host prints it.
// - it does not count port I/O exits (io_exits stays 0; VMX handle_io and SVM io_interception count
//   every IN/OUT): io_exits is not printed by the oracle and is checked on the model only.
// Compared counters are the host-independent ones: mmio_exits (one per KVM_EXIT_MMIO), halt_exits (one
// per HLT), signal_exits (immediate_exit is not a signal), irq_injections / nmi_injections (KVM_INTERRUPT,
// KVM_NMI: one injection each), the halt-polling counters, blocking, guest_mode and nested_run (0 here).
// `exits` is not compared: the host adds exits of its own (host interrupts, preemption).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import { setU64, setU32 } from '../../../abi/bytes.js';
import { F_GETFD, F_GETFL, O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { POLLIN, POLLOUT } from '../../../include-ts/linux/poll.js';
import { EPOLL_CTL_ADD, epoll_event } from '../../../include-ts/linux/eventpoll.js';
import { RLIMIT_NOFILE } from '../../../include-ts/linux/resource.js';
import { COracle, STRACE, oracleSkip, resultCode, runCOracle } from '../../support/c-oracle.js';
import { enableCap, errno, K, memRegion, run, signalMsi, vmm, type Vmm, KvmStats } from './helpers.js';
import { GuestAsm, r0 } from '../../../src/guest/program.js';
import { enableLapic } from '../../../src/guest/x86.js';
import { APIC_DEFAULT_PHYS_BASE, APIC_ID, APIC_LVTT, APIC_TDCR, APIC_TMICT } from '../../../src/hw/x86/apicdef.js';
import { KVM_VCPU_STATS, KVM_VM_STATS, logHistUpdate } from '../../../src/linux/kvm/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const ORACLE = join(here, 'stats-oracle.c');
const SKIP = oracleSkip('KVM binary stats', ['kvm']);

/** This host's descriptors that arch/x86/kvm/x86.c does not have (see the header). */
const HOST_ONLY = { vm: ['mmu_kicks_spared'], vcpu: ['pf_parked', 'pf_park_timeouts'] } as const;
const DESC_BYTES = 16 + 48;

const G = (f: string) => K.kvm_regs.offsetof(f);

const COUNTERS = ['mmio_exits', 'halt_exits', 'signal_exits', 'irq_injections', 'nmi_injections', 'halt_successful_poll', 'halt_attempted_poll', 'halt_wakeup', 'blocking', 'guest_mode', 'nested_run'];

/** The guest of stats-oracle.c. */
function oracleGuest() {
  const a = new GuestAsm('stats-oracle');
  a.label('start').out(0x10, r0, 1).out(0x10, r0, 1).out(0x10, r0, 1).store(0x20000, r0, 1).load(r0, 0x20004, 1);
  a.label('hlt').hlt();
  a.label('isr').handler(0x30, 'isr').out(0x11, r0, 1).hlt();
  a.label('nmi').handler(2, 'nmi').out(0x12, r0, 1).hlt();
  dirtying(a);
  return a.build();
}

/** Pages 0 and 3 of the logging slot at 0x100000, then `out 0x15`. */
function dirtying(a: GuestAsm): void {
  a.label('dirty').store(0x100000, r0, 1).store(0x103000, r0, 1).out(0x15, r0, 1).hlt();
}

/** The second guest of stats-oracle.c: a one-shot 10 ms APIC timer wakes a HLT. */
function timerGuest() {
  const a = new GuestAsm('stats-timer');
  const apic = APIC_DEFAULT_PHYS_BASE;
  enableLapic(a.label('start'));
  a.store32(apic + APIC_TDCR, 0xb).store32(apic + APIC_LVTT, 0x40).store32(apic + APIC_TMICT, 10_000_000).sti().hlt().out(0x13, r0, 1).hlt();
  a.label('isr').handler(0x40, 'isr').eoi().out(0x14, r0, 1).iret();
  dirtying(a);
  return a.build();
}

/** The model half of stats-oracle.c, line for line; also its strace. */
function modelRun(): { lines: string[]; strace: string[] } {
  const out: string[] = [];
  const strace: string[] = [];
  const host = Host.create();
  const p = host.spawn();
  host.strace((l) => strace.push(l));
  const res = (what: string, f: () => number) => out.push(`${what}: ${resultCode(f)}`);
  const fdinfo = (what: string, fd: number) => {
    for (const l of p.readFile(`/proc/self/fdinfo/${fd}`).split('\n')) if (l.startsWith('pos:') || l.startsWith('flags:')) out.push(`${what} fdinfo ${l}`);
    out.push(`${what} link: ${p.readlink(`/proc/self/fd/${fd}`)}`);
  };
  const dump = (what: string, fd: number, idWant: string) => {
    const s = new KvmStats(p, fd);
    res('header pread', () => p.pread(fd, new Uint8Array(24), 0));
    const h = s.header();
    out.push(`${what} header: flags=${h.flags} name_size=${h.nameSize} id_offset=${h.idOffset} desc_offset=${h.descOffset}`);
    out.push(`${what} header count: num_desc=${h.numDesc} data_offset=${h.dataOffset}`);
    const id = new Uint8Array(h.nameSize).fill(0x55);
    p.pread(fd, id, h.idOffset);
    const end = id.indexOf(0);
    const idStr = new TextDecoder().decode(id.subarray(0, end));
    out.push(`${what} id: ${idStr === idWant ? 'matches' : idStr} padded=${id.subarray(end).every((x) => x === 0) ? 1 : 0}`);
    for (const d of s.descs()) out.push(`${what} desc ${d.name}: flags=0x${d.flags.toString(16)} exponent=${d.exponent} size=${d.size} offset=${d.offset} bucket_size=${d.bucketSize} padded=${d.padded ? 1 : 0}`);
  };
  const allzero = (what: string, fd: number) => {
    const b = new Uint8Array(16384);
    const n = p.pread(fd, b, new KvmStats(p, fd).header().dataOffset);
    out.push(`${what} data all zero: ${b.subarray(0, n).every((x) => x === 0) ? 1 : 0}`);
  };
  const vmcounters = (what: string, fd: number) => {
    const s = new KvmStats(p, fd);
    out.push(`${what}: remote_tlb_flush_requests=${s.get('remote_tlb_flush_requests')} remote_tlb_flush=${s.get('remote_tlb_flush')}`);
  };
  const opened = (what: string, fd: number, id: string) => {
    out.push(`${what} stats fd: ${fd > 0 ? 1 : 0}`);
    res(`${what} fd cloexec`, () => p.fcntl(fd, F_GETFD));
    res(`${what} fd F_GETFL`, () => p.fcntl(fd, F_GETFL));
    fdinfo(what, fd);
    dump(what, fd, id);
    allzero(what, fd);
  };
  const counters = (what: string, fd: number) => {
    const s = new KvmStats(p, fd);
    out.push(`${what}: ${COUNTERS.map((n) => `${n}=${s.get(n)}`).join(' ')}`);
  };

  let kvm = p.open('/dev/kvm', O_RDWR);
  res('cap dev', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_BINARY_STATS_FD));
  res('dev KVM_GET_STATS_FD', () => p.ioctl(kvm, K.KVM_GET_STATS_FD, 0));
  let vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  res('cap vm', () => p.ioctl(vm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_BINARY_STATS_FD));
  let vs = p.ioctl(vm, K.KVM_GET_STATS_FD, 0);
  opened('vm', vs, `kvm-${p.pid}`);
  const vs2 = p.ioctl(vm, K.KVM_GET_STATS_FD, 7);
  out.push(`vm KVM_GET_STATS_FD arg 7: ${vs2 > 0 ? 1 : 0}`);
  p.close(vs2);

  const mem = p.mmap(null, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memRegion(p, vm, 0, 0, 0, 0x10000, mem.addr);
  let vfd = p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
  let runMap = p.mmap(null, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  let cs = p.ioctl(vfd, K.KVM_GET_STATS_FD, 0);
  opened('vcpu', cs, `kvm-${p.pid}/vcpu-0`);
  const cs2 = p.ioctl(vfd, K.KVM_GET_STATS_FD, 9);
  out.push(`vcpu KVM_GET_STATS_FD arg 9: ${cs2 > 0 ? 1 : 0}`);

  const h = new KvmStats(p, cs).header();
  let total = h.dataOffset + 8;
  const b8 = new Uint8Array(8);
  while (p.pread(cs, b8, total) === 8) total += 8;
  out.push(`vcpu file size - data_offset: ${total - h.dataOffset}`);
  const whole = new Uint8Array(8192);
  const n = p.pread(cs, whole, 0);
  out.push(`pread whole: ${n === total ? 1 : 0}`);
  const same = (part: Uint8Array, off: number, r: number) => (part.subarray(0, r).every((x, i) => x === whole[off + i]) ? 1 : 0);
  for (const [off, len] of [[1, 7], [5, 30], [23, 2], [70, 5], [71, 200], [130, 3000]] as const) {
    const part = new Uint8Array(len);
    const r = p.pread(cs, part, off);
    out.push(`pread ${off}+${len}: ${r} same=${same(part, off, r)}`);
  }
  const p16 = new Uint8Array(16);
  out.push(`pread across the end: ${p.pread(cs, p16, total - 8) === 8 && same(p16, total - 8, 8) ? 1 : 0}`);
  res('pread at the end', () => p.pread(cs, p16, total));
  res('pread far past the end', () => p.pread(cs, p16, 1 << 30));
  res('pread 0 bytes', () => p.pread(cs, new Uint8Array(0), 0));
  res('pread negative offset', () => p.pread(cs, new Uint8Array(8), -1));
  res('read 10', () => p.read(cs, new Uint8Array(10)));
  const p17 = new Uint8Array(17);
  res('read 17', () => p.read(cs, p17));
  out.push(`read continues: ${same(p17, 10, 17)}`);
  fdinfo('vcpu after reads', cs);
  res('pread 4 at 0', () => p.pread(cs, new Uint8Array(4), 0));
  fdinfo('vcpu after pread', cs);
  res('write', () => p.write(cs, new Uint8Array(4)));
  res('pwrite', () => p.pwrite(cs, new Uint8Array(4), 0));
  res('ioctl KVM_GET_STATS_FD on the stats fd', () => p.ioctl(cs, K.KVM_GET_STATS_FD, 0));
  res('ioctl KVM_RUN on the stats fd', () => p.ioctl(cs, K.KVM_RUN, 0));
  const m = resultCode(() => p.mmap(null, 4096, PROT_READ, MAP_SHARED, cs, 0).addr);
  out.push(`mmap: ${m.startsWith('E') ? m : 'ok'}`);
  const pfd = [{ fd: cs, events: POLLIN | POLLOUT, revents: 0 }];
  res('poll', () => p.poll(pfd, 0));
  out.push(`poll revents: 0x${pfd[0]!.revents.toString(16)}`);
  const ep = p.epollCreate1(0);
  const ev = new Uint8Array(epoll_event.size);
  setU32(ev, 0, POLLIN);
  res('epoll_ctl add', () => {
    p.epollCtl(ep, EPOLL_CTL_ADD, cs, ev);
    return 0;
  });

  let prog = oracleGuest();
  host.control.kvm.loadGuest(p, vfd, prog);
  const setRegs = (label: string, rflags: bigint) => {
    const r = new Uint8Array(K.kvm_regs.size);
    setU64(r, G('rip'), BigInt(prog.at(label)));
    setU64(r, G('rsp'), 0x8000n);
    setU64(r, G('rflags'), rflags);
    p.ioctl(vfd, K.KVM_SET_REGS, r);
  };
  const dorun = (what: string) => {
    const r = resultCode(() => p.ioctl(vfd, K.KVM_RUN, 0));
    if (r !== '0') return out.push(`${what}: ${r}`);
    const reason = runMap.read32(K.kvm_run.offsetof('exit_reason'));
    out.push(reason === K.KVM_EXIT_IO ? `${what}: exit=${reason} port=${runMap.read16(K.kvm_run.offsetof('io.port')).toString(16)}` : `${what}: exit=${reason}`);
  };
  setRegs('start', 2n);
  counters('before', cs);
  for (let i = 0; i < 3; i++) dorun('run out');
  counters('after 3 outs', cs);
  dorun('run mmio write');
  dorun('run mmio read');
  counters('after mmio', cs);
  dorun('run hlt');
  counters('after hlt', cs);
  runMap.write8(K.kvm_run.offsetof('immediate_exit'), 1);
  dorun('run immediate_exit');
  runMap.write8(K.kvm_run.offsetof('immediate_exit'), 0);
  counters('after immediate_exit', cs);
  setRegs('hlt', 0x202n);
  const irq = new Uint8Array(4);
  setU32(irq, 0, 0x30);
  res('KVM_INTERRUPT 0x30', () => p.ioctl(vfd, K.KVM_INTERRUPT, irq));
  dorun('run interrupt');
  counters('after interrupt', cs);
  res('KVM_NMI', () => p.ioctl(vfd, K.KVM_NMI, 0));
  dorun('run nmi');
  counters('after nmi', cs);
  const mem2 = p.mmap(null, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  res('log slot', () => memRegion(p, vm, 1, K.KVM_MEM_LOG_DIRTY_PAGES, 0x100000, 0x10000, mem2.addr));
  setRegs('dirty', 2n);
  dorun('run dirtying');
  vmcounters('vm before get', vs);
  const bm = p.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const dl = K.kvm_dirty_log.alloc();
  dl.slot = 1;
  dl.dirty_bitmap = BigInt(bm.addr);
  res('get dirty log', () => p.ioctl(vm, K.KVM_GET_DIRTY_LOG, dl));
  out.push(`bitmap: ${bm.read64(0).toString(16)}`);
  vmcounters('vm after get', vs);
  res('get dirty log again', () => p.ioctl(vm, K.KVM_GET_DIRTY_LOG, dl));
  vmcounters('vm after get again', vs);
  p.close(vfd);
  p.close(vm);
  p.close(kvm);
  res('vcpu stats pread after close', () => p.pread(cs, new Uint8Array(24), 0));
  res('vm stats pread after close', () => p.pread(vs, new Uint8Array(24), 0));
  out.push(`halt_exits after close: ${new KvmStats(p, cs).get('halt_exits')}`);

  kvm = p.open('/dev/kvm', O_RDWR);
  vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  vs = p.ioctl(vm, K.KVM_GET_STATS_FD, 0);
  res('irqchip', () => p.ioctl(vm, K.KVM_CREATE_IRQCHIP, 0));
  res('halt poll 0', () => enableCap(p, vm, K.KVM_CAP_HALT_POLL, 0));
  res('manual protect', () => enableCap(p, vm, K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, K.KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE));
  memRegion(p, vm, 0, 0, 0, 0x10000, mem.addr);
  res('log slot', () => memRegion(p, vm, 1, K.KVM_MEM_LOG_DIRTY_PAGES, 0x100000, 0x10000, mem2.addr));
  vfd = p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
  runMap = p.mmap(null, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  cs = p.ioctl(vfd, K.KVM_GET_STATS_FD, 0);
  prog = timerGuest();
  host.control.kvm.loadGuest(p, vfd, prog);
  setRegs('start', 2n);
  dorun('run timer');
  counters('after timer', cs);
  setRegs('dirty', 2n);
  dorun('run dirtying');
  res('get dirty log (manual)', () => p.ioctl(vm, K.KVM_GET_DIRTY_LOG, dl));
  out.push(`bitmap: ${bm.read64(0).toString(16)}`);
  vmcounters('vm after manual get', vs);
  const cl = K.kvm_clear_dirty_log.alloc();
  cl.slot = 1;
  cl.num_pages = 16;
  cl.first_page = 0n;
  cl.dirty_bitmap = BigInt(bm.addr);
  bm.write64(0, 1n);
  res('clear page 0', () => p.ioctl(vm, K.KVM_CLEAR_DIRTY_LOG, cl));
  vmcounters('vm after clear', vs);
  res('clear page 0 again', () => p.ioctl(vm, K.KVM_CLEAR_DIRTY_LOG, cl));
  vmcounters('vm after clear again', vs);
  return { lines: out, strace };
}

/** The oracle's lines without what this host adds to x86.c's tables (see the header). */
function hostComparable(lines: readonly string[]): string[] {
  const extra = (what: 'vm' | 'vcpu') => HOST_ONLY[what].length;
  return lines
    .filter((l) => !/^(vm|vcpu) desc (mmu_kicks_spared|pf_parked|pf_park_timeouts):/.test(l))
    .map((l) => {
      const c = /^(vm|vcpu) header count: num_desc=(\d+) data_offset=(\d+)$/.exec(l);
      if (c) {
        const what = c[1] as 'vm' | 'vcpu';
        return `${what} header count: num_desc=${Number(c[2]) - extra(what)} data_offset=${Number(c[3]) - DESC_BYTES * extra(what)}`;
      }
      const s = /^vcpu file size - data_offset: (\d+)$/.exec(l);
      if (s) return `vcpu file size - data_offset: ${Number(s[1]) - 8 * extra('vcpu')}`;
      return l;
    });
}

describe('KVM_GET_STATS_FD against this machine\'s /dev/kvm', () => {
  it.skipIf(SKIP !== undefined)('the model prints what stats-oracle.c prints, but for the descriptors x86.c does not have', () => {
    const real = runCOracle(ORACLE);
    // The host-only descriptors are really there (else this comparison would hide nothing).
    for (const n of [...HOST_ONLY.vm.map((x) => `vm desc ${x}:`), ...HOST_ONLY.vcpu.map((x) => `vcpu desc ${x}:`)]) expect(real.some((l) => l.startsWith(n))).toBe(true);
    expect(modelRun().lines).toEqual(hostComparable(real));
  });

  if (!SKIP && !STRACE) console.warn('KVM binary stats: strace is not installed: the strace comparison is skipped');
  it.skipIf(SKIP !== undefined || !STRACE)('KVM_GET_STATS_FD and ioctls on a stats fd print as strace 6.1 prints them', () => {
    const o = new COracle(ORACLE);
    try {
      const pick = (ls: readonly string[]) => ls.filter((l) => /KVM_GET_STATS_FD|KVM_RUN, 0\) +=/.test(l)).map((l) => l.replace(/\) +=/, ') ='));
      const real = pick(o.strace(['-qq', '-e', 'trace=ioctl', '-e', 'signal=none']).trace.trim().split('\n'));
      expect(real.length).toBeGreaterThan(5);
      expect(pick(modelRun().strace).slice(0, real.length)).toEqual(real);
    } finally {
      o.dispose();
    }
  });
});

describe('the stats file (virt/kvm/binary_stats.c kvm_stats_read)', () => {
  function setup() {
    const v = vmm({ irqchip: 'none' });
    const cs = v.p.ioctl(v.vcpus[0]!, K.KVM_GET_STATS_FD, 0);
    const vs = v.p.ioctl(v.vm, K.KVM_GET_STATS_FD, 0);
    return { v, cs, vs };
  }

  it('layout: header, a 48-byte id, 64-byte descriptors, then the values at data_offset + offset', () => {
    const { v, cs, vs } = setup();
    for (const [fd, t, n] of [[cs, KVM_VCPU_STATS, 45], [vs, KVM_VM_STATS, 15]] as const) {
      const h = new KvmStats(v.p, fd).header();
      expect(h).toEqual({ flags: 0, nameSize: 48, numDesc: n, idOffset: 24, descOffset: 72, dataOffset: 72 + 64 * n });
      expect(t.dataOffset).toBe(h.dataOffset);
      // The file ends with the last value: sizeof(struct kvm_vcpu_stat) / kvm_vm_stat.
      expect(v.p.pread(fd, new Uint8Array(4096), h.dataOffset)).toBe(t.dataSize);
    }
    expect(KVM_VCPU_STATS.dataSize).toBe(1104);
    expect(KVM_VM_STATS.dataSize).toBe(120);
    // struct kvm_vm_stat keeps max_mmu_page_hash_collisions before max_mmu_rmap_size; the table lists them the other way round.
    const d = new KvmStats(v.p, vs).descs();
    expect(d.slice(-2).map((x) => [x.name, x.offset])).toEqual([['max_mmu_rmap_size', 112], ['max_mmu_page_hash_collisions', 104]]);
  });

  it('any offset and length reads the same bytes as one whole read; at or past the end reads 0', () => {
    const { v, cs } = setup();
    const whole = new Uint8Array(8192);
    const total = v.p.pread(cs, whole, 0);
    fc.assert(
      fc.property(fc.nat(total + 100), fc.nat(total + 100), (off, len) => {
        const b = new Uint8Array(len);
        const r = v.p.pread(cs, b, off);
        expect(r).toBe(Math.max(0, Math.min(len, total - off)));
        expect(Array.from(b.subarray(0, r))).toEqual(Array.from(whole.subarray(off, off + r)));
      }),
      { numRuns: 200 },
    );
  });

  it('read() moves f_pos through the sections and stops at the end; pread() leaves it', () => {
    const { v, cs } = setup();
    const whole = new Uint8Array(8192);
    const total = v.p.pread(cs, whole, 0);
    const got: number[] = [];
    const b = new Uint8Array(333);
    for (;;) {
      const r = v.p.read(cs, b);
      if (r === 0) break;
      got.push(...b.subarray(0, r));
      v.p.pread(cs, new Uint8Array(7), 3);
    }
    expect(got.length).toBe(total);
    expect(got).toEqual(Array.from(whole.subarray(0, total)));
    expect(v.p.read(cs, b)).toBe(0);
  });

  it('the data section is live: a read after the guest ran shows the new values on the same fd', () => {
    const { v, cs } = setup();
    const s = new KvmStats(v.p, cs);
    const a = new GuestAsm('live');
    a.label('l').out(0x10, r0, 1).jmp('l');
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(s.get('io_exits')).toBe(0);
    for (let i = 1; i <= 3; i++) {
      expect(run(v)).toBe(K.KVM_EXIT_IO);
      expect(s.get('io_exits')).toBe(i);
    }
  });

  it('errors: /dev/kvm EINVAL, EMFILE without a free fd, write EBADF, pwrite ESPIPE, ioctl ENOTTY, mmap ENODEV', () => {
    const { v, cs } = setup();
    const p = v.p;
    // kvm_dev_ioctl -> kvm_arch_dev_ioctl: not a /dev/kvm ioctl.
    expect(errno(() => p.ioctl(v.kvm, K.KVM_GET_STATS_FD, 0))).toBe('EINVAL');
    // get_unused_fd_flags() fails first: nothing is created.
    const lim = new Uint8Array(16);
    setU64(lim, 0, BigInt(cs + 1));
    setU64(lim, 8, BigInt(cs + 1));
    p.setrlimit(RLIMIT_NOFILE, lim);
    expect(errno(() => p.ioctl(v.vm, K.KVM_GET_STATS_FD, 0))).toBe('EMFILE');
    expect(errno(() => p.ioctl(v.vcpus[0]!, K.KVM_GET_STATS_FD, 0))).toBe('EMFILE');
    // O_RDONLY: vfs_write EBADF; no FMODE_PWRITE: ksys_pwrite64 ESPIPE before the access mode.
    expect(errno(() => p.write(cs, new Uint8Array(1)))).toBe('EBADF');
    expect(errno(() => p.pwrite(cs, new Uint8Array(1), 0))).toBe('ESPIPE');
    expect(errno(() => p.pread(cs, new Uint8Array(1), -1))).toBe('EINVAL');
    // No ->unlocked_ioctl (vfs_ioctl ENOTTY), no ->mmap (do_mmap ENODEV).
    expect(errno(() => p.ioctl(cs, K.KVM_RUN, 0))).toBe('ENOTTY');
    expect(errno(() => p.mmap(null, 4096, PROT_READ, MAP_SHARED, cs, 0).addr)).toBe('ENODEV');
  });

  it('the stats fd holds the VM (kvm_get_kvm): the last close of a stats fd, not of the VM fd, frees it', () => {
    const host = Host.create();
    const p = host.spawn();
    const module = host.kernel.kvm!;
    const vm = p.ioctl(p.open('/dev/kvm', O_RDWR), K.KVM_CREATE_VM, 0);
    const vcpu = p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
    const vs = p.ioctl(vm, K.KVM_GET_STATS_FD, 0);
    const cs = p.ioctl(vcpu, K.KVM_GET_STATS_FD, 0);
    p.close(vcpu);
    p.close(vm);
    expect(module.vms.size).toBe(1);
    p.close(cs);
    expect(module.vms.size).toBe(1);
    expect(p.pread(vs, new Uint8Array(24), 0)).toBe(24);
    p.close(vs);
    expect(module.vms.size).toBe(0);
  });

  it('KVM_STATS_LOG_HIST_UPDATE: bucket fls64(value), capped at the last', () => {
    const h = new Float64Array(32);
    for (const x of [0, 1, 2, 3, 4, 1023, 1024, 2 ** 29]) logHistUpdate(h, x);
    expect(Array.from(h.subarray(0, 12))).toEqual([1, 1, 2, 1, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(h[30]).toBe(1);
    expect(h[31]).toBe(0);
    logHistUpdate(h, 2 ** 30);
    logHistUpdate(h, 2 ** 52);
    expect(h[31]).toBe(2);
  });
});

describe('the counters in model-only guests (x86.c, lapic.c, kvm_main.c increment sites)', () => {
  function statsOf(v: Vmm) {
    return new KvmStats(v.p, v.p.ioctl(v.vcpus[0]!, K.KVM_GET_STATS_FD, 0));
  }

  it('port I/O: every IN/OUT is an io_exit and an exit, an in-kernel device\'s too (VMX handle_io); only the userspace one is a KVM_EXIT_IO', () => {
    const v = vmm({ irqchip: 'kernel' });
    const s = statsOf(v);
    const a = new GuestAsm('pio');
    // 0x21: the master PIC's IMR (in the kernel); 0x10: userspace.
    a.out(0x21, 0xff, 1).in(r0, 0x21, 1).out(0x10, r0, 1).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect([s.get('io_exits'), s.get('exits'), s.get('mmio_exits'), s.get('insn_emulation')]).toEqual([3, 3, 0, 0]);
  });

  it('MMIO: each KVM_EXIT_MMIO is an mmio_exit; the LAPIC page and the IOAPIC are emulated (insn_emulation) without one', () => {
    const v = vmm({ irqchip: 'kernel' });
    const s = statsOf(v);
    const a = new GuestAsm('mmio');
    a.load(r0, APIC_DEFAULT_PHYS_BASE + APIC_ID, 4).load(r0, 0xfec00000, 4).store(0x30000000, r0, 4).load(r0, 0x30000008, 8).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    expect(run(v)).toBe(K.KVM_EXIT_MMIO);
    expect([s.get('mmio_exits'), s.get('insn_emulation'), s.get('exits'), s.get('io_exits')]).toEqual([2, 4, 4, 0]);
  });

  it('HLT with the in-kernel LAPIC: halt_exits, blocking while blocked, halt_wakeup and halt_wait_ns once an MSI wakes it; never polling', async () => {
    const v = vmm({ irqchip: 'kernel' });
    const s = statsOf(v);
    const a = new GuestAsm('halt');
    enableLapic(a);
    a.sti().label('idle').hlt().jmp('idle');
    a.label('isr').handler(0x40, 'isr').eoi().out(0x10, r0, 1).iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    const pending = v.p.ioctlAsync(v.vcpus[0]!, K.KVM_RUN);
    await Promise.resolve();
    expect([s.get('halt_exits'), s.get('blocking'), s.get('halt_wakeup')]).toEqual([1, 1, 0]);
    v.host.kernel.sched.advance(5000);
    signalMsi(v.p, v.vm, 0xfee00000, 0x40);
    v.host.kernel.point();
    expect(await pending).toBe(0);
    expect(v.runs[0]!.read32(8)).toBe(K.KVM_EXIT_IO);
    const waited = s.get('halt_wait_ns');
    expect(waited).toBeGreaterThanOrEqual(5000);
    expect([s.get('blocking'), s.get('halt_wakeup'), s.get('irq_injections'), s.get('halt_exits')]).toEqual([0, 1, 1, 1]);
    expect(s.all('halt_wait_hist').reduce((x, y) => x + y)).toBe(1);
    expect(s.all('halt_wait_hist')[Math.floor(Math.log2(waited)) + 1]).toBe(1);
    expect([s.get('halt_successful_poll'), s.get('halt_attempted_poll'), s.get('halt_poll_success_ns'), s.get('halt_poll_fail_ns')]).toEqual([0, 0, 0, 0]);
  });

  it('a HLT nothing can wake ends KVM_RUN as a signal would: signal_exits, no wakeup, blocking back to 0', () => {
    const v = vmm({ irqchip: 'kernel' });
    const s = statsOf(v);
    const a = new GuestAsm('stuck');
    a.cli().hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe('EINTR');
    expect([s.get('halt_exits'), s.get('signal_exits'), s.get('halt_wakeup'), s.get('blocking')]).toEqual([1, 1, 0, 0]);
  });

  it('the instruction budget running out is a signal exit too; immediate_exit is not', () => {
    const v = vmm({ irqchip: 'none' });
    const s = statsOf(v);
    const a = new GuestAsm('spin');
    a.label('l').jmp('l');
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe('EINTR');
    v.runs[0]!.write8(K.kvm_run.offsetof('immediate_exit'), 1);
    expect(run(v)).toBe('EINTR');
    expect(s.get('signal_exits')).toBe(1);
  });

  it('interrupt window: the exit the guest takes is an irq_window_exit (handle_interrupt_window), not a request_irq_exit', () => {
    const v = vmm({ irqchip: 'none' });
    const s = statsOf(v);
    const a = new GuestAsm('window');
    a.cli().out(0x10, r0, 1).sti().nop().nop().hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    v.runs[0]!.write8(K.kvm_run.offsetof('request_interrupt_window'), 1);
    expect(run(v)).toBe(K.KVM_EXIT_IRQ_WINDOW_OPEN);
    expect([s.get('irq_window_exits'), s.get('request_irq_exits')]).toEqual([1, 0]);
  });

  it('an interrupt arriving with IF=0 arms the interrupt window: one irq_window_exit when STI opens it, then the injection', () => {
    const v = vmm({ irqchip: 'kernel' });
    const s = statsOf(v);
    const a = new GuestAsm('irq-window');
    enableLapic(a);
    a.cli().out(0x10, r0, 1).nop().nop().sti().nop().out(0x11, r0, 1).hlt();
    a.label('isr').handler(0x40, 'isr').eoi().out(0x12, r0, 1).iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    signalMsi(v.p, v.vm, 0xfee00000, 0x40);
    const exitsBefore = s.get('exits');
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(v.runs[0]!.read16(K.kvm_run.offsetof('io.port'))).toBe(0x12);
    // The window exit, the handler's EOI write (an APIC access) and its OUT.
    expect([s.get('irq_window_exits'), s.get('irq_injections'), s.get('exits') - exitsBefore]).toEqual([1, 1, 3]);
  });

  it('an NMI arriving while NMIs are blocked arms the NMI window: one nmi_window_exit when the handler\'s IRET opens it', () => {
    const v = vmm({ irqchip: 'none' });
    const s = statsOf(v);
    const a = new GuestAsm('nmi-window');
    a.label('l').out(0x10, r0, 1).jmp('l');
    a.label('nmi').handler(2, 'nmi').out(0x12, r0, 1).iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    v.p.ioctl(v.vcpus[0]!, K.KVM_NMI);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(v.runs[0]!.read16(K.kvm_run.offsetof('io.port'))).toBe(0x12);
    v.p.ioctl(v.vcpus[0]!, K.KVM_NMI);
    expect(run(v)).toBe(K.KVM_EXIT_IO);
    expect(v.runs[0]!.read16(K.kvm_run.offsetof('io.port'))).toBe(0x12);
    expect([s.get('nmi_window_exits'), s.get('nmi_injections'), s.get('irq_window_exits')]).toEqual([1, 2, 0]);
  });

  it('no program to run: an emulation failure (insn_emulation_fail)', () => {
    const v = vmm({ irqchip: 'none' });
    const s = statsOf(v);
    expect(run(v)).toBe(K.KVM_EXIT_INTERNAL_ERROR);
    expect([s.get('insn_emulation'), s.get('insn_emulation_fail')]).toEqual([1, 1]);
  });

  it('the VM\'s stats and the vCPU\'s MMU, polling and nesting stats stay 0 (the model has none of those)', () => {
    const v = vmm({ irqchip: 'kernel' });
    const s = statsOf(v);
    const a = new GuestAsm('busy');
    a.out(0x10, r0, 1).store(0x30000000, r0, 4).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    run(v);
    run(v);
    const vs = new KvmStats(v.p, v.p.ioctl(v.vm, K.KVM_GET_STATS_FD, 0));
    const vmBytes = new Uint8Array(KVM_VM_STATS.dataSize);
    v.p.pread(vs.fd, vmBytes, vs.header().dataOffset);
    expect(vmBytes.every((x) => x === 0)).toBe(true);
    for (const n of ['pf_taken', 'pf_fixed', 'tlb_flush', 'invlpg', 'l1d_flush', 'irq_exits', 'hypercalls', 'req_event', 'nested_run', 'guest_mode', 'directed_yield_attempted', 'notify_window_exits']) expect(s.get(n)).toBe(0);
    expect(s.get('exits')).toBe(2);
  });

  it('strace: KVM_GET_STATS_FD prints its ignored argument as %#lx', () => {
    const v = vmm({ irqchip: 'none' });
    const lines: string[] = [];
    v.host.strace((l) => lines.push(l));
    const fd = v.p.ioctl(v.vm, K.KVM_GET_STATS_FD, 0);
    const fd2 = v.p.ioctl(v.vcpus[0]!, K.KVM_GET_STATS_FD, 7);
    errno(() => v.p.ioctl(fd, K.KVM_RUN, 0));
    expect(lines).toEqual([
      `ioctl(${v.vm}, KVM_GET_STATS_FD, 0) = ${fd}`,
      `ioctl(${v.vcpus[0]}, KVM_GET_STATS_FD, 0x7) = ${fd2}`,
      `ioctl(${fd}, KVM_RUN, 0) = -1 ENOTTY (Inappropriate ioctl for device)`,
    ]);
  });
});
