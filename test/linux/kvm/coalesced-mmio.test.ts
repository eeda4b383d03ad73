// Coalesced MMIO and PIO (virt/kvm/coalesced_mmio.c: kvm_vm_ioctl_register/unregister_coalesced_mmio,
// coalesced_mmio_write, coalesced_mmio_in_range; the ring at KVM_COALESCED_MMIO_PAGE_OFFSET of the vCPU
// mapping; x86.c emulator_read_write for accesses that cross a page).
//
// coalesced-mmio-oracle.c runs a fixed sequence on this machine's /dev/kvm with a flat 32-bit guest (one
// store, load or OUT per run, then `out 0x80`); the model runs the same steps with a GuestAsm program and
// every printed line must match: exits, the ring's first/last and newest entry through vCPU 0's mapping,
// and vCPU 1's view when it differs (it never does: one ring per VM).
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestAsm, r0, r1, r2 } from '../../../src/guest/program.js';
import { getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import { EFD_NONBLOCK } from '../../../include-ts/linux/eventfd.js';
import type { Mapping } from '../../../src/linux/mm/address-space.js';
import { addRam, ioeventfd, K, vmm } from './helpers.js';
import { oracleSkip, resultCode, runCOracle } from '../../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = oracleSkip('KVM coalesced MMIO', ['kvm']);
const RING = 2 * 4096;
const MAX = K.KVM_COALESCED_MMIO_MAX;
const hex = (x: number | bigint) => x.toString(16);

function program(): GuestAsm {
  const a = new GuestAsm('coalesced');
  a.label('st32').store(r1, r0, 4).out(0x80, 0, 1).hlt();
  a.label('st16').store(r1, r0, 2).out(0x80, 0, 1).hlt();
  a.label('st8').store(r1, r0, 1).out(0x80, 0, 1).hlt();
  a.label('ld32').load(r0, r1, 4).out(0x80, 0, 1).hlt();
  a.label('outb').out(r1, r0, 1).out(0x80, 0, 1).hlt();
  a.label('loop').store(r1, r0, 4).sub(r2, 1).jnz(r2, 'loop').out(0x80, 0, 1).hlt();
  return a;
}

/** The model half of coalesced-mmio-oracle.c, line for line. */
function modelLines(): string[] {
  const v = vmm({ irqchip: 'none', vcpus: 2 });
  const { p, vm } = v;
  // Guest RAM at 0-64 KiB, as the oracle has (its code lives there).
  const ramMap = addRam(p, vm, 0, 0, 0x10000);
  const out: string[] = [];
  const fd = v.vcpus[0]!;
  const run: Mapping = v.runs[0]!;
  const run1: Mapping = v.runs[1]!;
  const prog = program().build();
  v.host.control.kvm.loadGuest(p, fd, prog);
  const res = (what: string, f: () => number) => out.push(`${what}: ${resultCode(f)}`);
  const zone = (what: string, reg: boolean, addr: number, size: number, pio: number) => {
    const z = K.kvm_coalesced_mmio_zone.alloc();
    z.addr = BigInt(addr);
    z.size = size;
    z.pio = pio;
    res(what, () => p.ioctl(vm, reg ? K.KVM_REGISTER_COALESCED_MMIO : K.KVM_UNREGISTER_COALESCED_MMIO, z));
  };
  const ring = (m: Mapping) => [m.read32(RING), m.read32(RING + 4)] as const;
  const setRegs = (label: string, eax: number, ebx: number, ecx: number) => {
    const b = new Uint8Array(K.kvm_regs.size);
    setU64(b, K.kvm_regs.offsetof('rip'), BigInt(prog.at(label)));
    setU64(b, K.kvm_regs.offsetof('rsp'), 0x8000n);
    setU64(b, K.kvm_regs.offsetof('rflags'), 2n);
    setU64(b, K.kvm_regs.offsetof('rax'), BigInt(eax));
    setU64(b, K.kvm_regs.offsetof('rbx'), BigInt(ebx));
    setU64(b, K.kvm_regs.offsetof('rcx'), BigInt(ecx));
    p.ioctl(fd, K.KVM_SET_REGS, b);
  };
  const guest = (what: string, label: string, eax: number, ebx: number, ecx: number) => {
    setRegs(label, eax, ebx, ecx);
    const r = resultCode(() => p.ioctl(fd, K.KVM_RUN));
    const R = (f: string) => K.kvm_run.offsetof(f);
    const reason = run.read32(R('exit_reason'));
    let line = r === '0' ? `${what}: exit=${reason}` : `${what}: ${r}`;
    if (r === '0' && reason === K.KVM_EXIT_IO) line += ` io=${hex(run.read16(R('io.port')))}/${run.read8(R('io.size'))}`;
    if (r === '0' && reason === K.KVM_EXIT_MMIO) line += ` mmio=${hex(run.read64(R('mmio.phys_addr')))}/${run.read32(R('mmio.len'))}/${run.read8(R('mmio.is_write'))}`;
    const [first, last] = ring(run);
    line += ` ring=${first}/${last}`;
    const [f1, l1] = ring(run1);
    if (f1 !== first || l1 !== last) line += ` vcpu1-ring=${f1}/${l1}`;
    if (last !== first) {
      const e = RING + 8 + ((last + MAX - 1) % MAX) * 24;
      line += ` newest=${hex(run.read64(e))}/${run.read32(e + 8)}/${run.read32(e + 12)}/${hex(run.read64(e + 16))}`;
    }
    out.push(line);
  };

  out.push(`cap coalesced mmio: ${p.ioctl(v.kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_COALESCED_MMIO)}`);
  out.push(`cap coalesced pio: ${p.ioctl(v.kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_COALESCED_PIO)}`);
  out.push(`vm cap coalesced mmio: ${p.ioctl(vm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_COALESCED_MMIO)}`);
  out.push(`max entries: ${MAX}`);
  zone('register pio 2', true, 0x10000000, 0x1000, 2);
  zone('register mmio zone', true, 0x10000000, 0x1000, 0);
  zone('register pio zone 0x70', true, 0x70, 2, 1);
  zone('register zone size 0', true, 0x20000000, 0, 0);
  guest('st32 in zone', 'st32', 0x11223344, 0x10000000, 0);
  guest('st16 at zone end', 'st16', 0x5566, 0x10000ffe, 0);
  guest('st32 crossing zone end', 'st32', 0x778899aa, 0x10000ffe, 0);
  guest('st8 in zone', 'st8', 0xbb, 0x10000010, 0);
  guest('ld32 in zone', 'ld32', 0, 0x10000000, 0);
  guest('st32 below zone', 'st32', 1, 0x0ffffffc, 0);
  guest('st32 to size-0 zone', 'st32', 2, 0x20000000, 0);
  guest('outb 0x70', 'outb', 0x8f, 0x70, 0);
  guest('outb 0x71', 'outb', 0x12, 0x71, 0);
  guest('outb 0x72', 'outb', 0x34, 0x72, 0);
  guest('st32 to 0x70 (mmio, not pio)', 'st32', 3, 0x70, 0);

  guest('loop 200 writes', 'loop', 0xcafe, 0x10000100, 200);
  guest('st32 ring full', 'st32', 0xdead, 0x10000100, 0);
  run.write32(RING, ring(run)[1]);
  guest('st32 after userspace drained', 'st32', 0xbeef, 0x10000104, 0);
  run1.write32(RING, ring(run)[1]);
  guest('st32 after draining through vcpu 1', 'st32', 0xf00d, 0x10000108, 0);
  const saved = ring(run)[1];
  run.write32(RING + 4, 500);
  guest('st32 with last out of range', 'st32', 0xbad, 0x10000108, 0);
  run.write32(RING + 4, saved);

  const efd = p.eventfd(0, EFD_NONBLOCK);
  res('ioeventfd in zone', () => ioeventfd(p, vm, { addr: 0x10000200, len: 4, fd: efd }));
  guest('st32 to ioeventfd address', 'st32', 7, 0x10000200, 0);
  res('ioeventfd below a later zone', () => ioeventfd(p, vm, { addr: 0x30000000, len: 4, fd: efd }));
  zone('register zone over ioeventfd', true, 0x30000000, 0x100, 0);
  guest('st32 to earlier ioeventfd', 'st32', 8, 0x30000000, 0);
  const cnt = new Uint8Array(8);
  out.push(`eventfd nonblocking read: ${resultCode(() => p.read(efd, cnt)) === '8' ? getU64(cnt, 0) : -1}`);

  zone('unregister a range inside the zone', false, 0x10000100, 0x10, 0);
  guest('st32 after unregistering a range inside', 'st32', 9, 0x10000000, 0);
  zone('register mmio zone again', true, 0x10000000, 0x1000, 0);
  zone('unregister the zone, pio 1', false, 0x10000000, 0x1000, 1);
  guest('st32 after pio-mismatched unregister', 'st32', 10, 0x10000000, 0);
  zone('unregister a range covering the zone', false, 0x0fff0000, 0x20000, 0);
  guest('st32 after unregistering a covering range', 'st32', 11, 0x10000000, 0);
  zone('unregister the zone', false, 0x10000000, 0x1000, 0);
  guest('st32 after unregistering the zone', 'st32', 12, 0x10000000, 0);
  zone('unregister pio zone', false, 0x70, 2, 1);
  guest('outb 0x70 after unregister', 'outb', 0x8f, 0x70, 0);

  // MMIO fragments: RIP shown as "at" the access or "next" (past it) at MMIO exits.
  const show = (what: string, r: string, label: string) => {
    const b = new Uint8Array(K.kvm_regs.size);
    p.ioctl(fd, K.KVM_GET_REGS, b);
    const R = (f: string) => K.kvm_run.offsetof(f);
    const reason = run.read32(R('exit_reason'));
    let line = r === '0' ? `${what}: exit=${reason}` : `${what}: ${r}`;
    if (r === '0' && reason === K.KVM_EXIT_IO) line += ` io=${hex(run.read16(R('io.port')))}`;
    if (r === '0' && reason === K.KVM_EXIT_MMIO) {
      const len = run.read32(R('mmio.len'));
      const isWrite = run.read8(R('mmio.is_write'));
      const d = isWrite ? run.read64(R('mmio.data')) & ((1n << BigInt(len * 8)) - 1n) : 0n;
      const rip = Number(getU64(b, K.kvm_regs.offsetof('rip')));
      line += ` mmio=${hex(run.read64(R('mmio.phys_addr')))}/${len}/${isWrite}/${hex(d)} rip=${rip === prog.at(label) ? 'at' : rip === prog.at(label) + 1 ? 'next' : 'other'}`;
    }
    out.push(`${line} eax=${hex(getU32(b, K.kvm_regs.offsetof('rax')))}`);
  };
  const start = (what: string, label: string, eax: number, ebx: number) => {
    setRegs(label, eax, ebx, 0);
    show(what, resultCode(() => p.ioctl(fd, K.KVM_RUN)), label);
  };
  const answer = (what: string, data: bigint, label: string) => {
    run.write64(K.kvm_run.offsetof('mmio.data'), data);
    show(what, resultCode(() => p.ioctl(fd, K.KVM_RUN)), label);
  };
  start('st32 mmio', 'st32', 0xa1b2c3d4, 0x40000000);
  answer('  continue', 0n, 'st32');
  start('st32 mmio crossing a page', 'st32', 0xa1b2c3d4, 0x40000ffd);
  answer('  second fragment', 0n, 'st32');
  answer('  continue', 0n, 'st32');
  start('ld32 mmio', 'ld32', 0, 0x40000000);
  answer('  continue with 0x11223344', 0x11223344n, 'ld32');
  start('ld32 mmio crossing a page', 'ld32', 0, 0x40000ffe);
  answer('  first fragment gets 0x5566', 0x5566n, 'ld32');
  answer('  second gets 0x7788', 0x7788n, 'ld32');
  start('st32 from RAM into MMIO', 'st32', 0x01020304, 0xfffe);
  answer('  continue', 0n, 'st32');
  out.push(`RAM bytes at 0xfffe: ${hex(ramMap.read8(0xfffe))} ${hex(ramMap.read8(0xffff))}`);
  start('ld32 from RAM into MMIO', 'ld32', 0, 0xfffe);
  answer('  continue with 0xaabb', 0xaabbn, 'ld32');
  start('st32 mmio, then SET_REGS moves RIP', 'st32', 0x99, 0x40000000);
  start('  st8 at the new RIP', 'st8', 0x42, 0x40000010);
  return out;
}

describe("coalesced MMIO against this machine's /dev/kvm", () => {
  it.skipIf(SKIP !== undefined)('every line of coalesced-mmio-oracle.c matches the model', () => {
    const real = runCOracle(join(here, 'coalesced-mmio-oracle.c'));
    const model = modelLines();
    expect(model.length).toBe(real.length);
    for (let i = 0; i < real.length; i++) expect(`${i}: ${model[i]}`).toBe(`${i}: ${real[i]}`);
  });
});

describe('coalesced MMIO in the model', () => {
  const lines = new Map(modelLines().map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));

  it('reports the ring page offset (2 on x86) and coalesced PIO; pio other than 0/1 is EINVAL', () => {
    expect(lines.get('cap coalesced mmio')).toBe('2');
    expect(lines.get('cap coalesced pio')).toBe('1');
    expect(lines.get('register pio 2')).toBe('E22');
  });

  it('a write inside a zone is appended without an exit; a read, or a write past the zone, exits', () => {
    expect(lines.get('st32 in zone')).toBe('exit=2 io=80/1 ring=0/1 newest=10000000/4/0/11223344');
    expect(lines.get('ld32 in zone')).toMatch(/^exit=6 mmio=10000000\/4\/0 /);
    expect(lines.get('st32 to size-0 zone')).toMatch(/^exit=6 /);
  });

  it('one entry stays free: 169 of 170 are used, then writes exit until userspace moves first (through any vCPU)', () => {
    expect(lines.get('loop 200 writes')).toMatch(/^exit=6 mmio=10000100\/4\/1 ring=0\/169 /);
    expect(lines.get('st32 after userspace drained')).toMatch(/ring=169\/0 /);
    expect(lines.get('st32 after draining through vcpu 1')).toMatch(/ring=0\/1 /);
    expect(lines.get('st32 with last out of range')).toMatch(/^exit=6 /);
  });

  it('coalesced PIO zones take OUTs on the PIO bus only', () => {
    expect(lines.get('outb 0x70')).toMatch(/newest=70\/1\/1\/8f$/);
    expect(lines.get('outb 0x72')).toMatch(/^exit=2 io=72\/1 /);
  });

  it('unregistering removes the zones the range lies inside (a sub-range removes the zone, a covering range does not)', () => {
    expect(lines.get('st32 after unregistering a range inside')).toMatch(/^exit=6 /);
    expect(lines.get('st32 after pio-mismatched unregister')).toMatch(/^exit=2 io=80/);
    expect(lines.get('st32 after unregistering a covering range')).toMatch(/^exit=2 io=80/);
    expect(lines.get('st32 after unregistering the zone')).toMatch(/^exit=6 /);
  });

  it('the bus order decides between a zone and an ioeventfd at the same address', () => {
    expect(lines.get('st32 to ioeventfd address')).toMatch(/ring=0\/2 newest=10000200/);
    expect(lines.get('eventfd nonblocking read')).toBe('1');
  });

  it('a vCPU created after entries were appended sees the same ring', () => {
    const v = vmm({ irqchip: 'none' });
    const z = K.kvm_coalesced_mmio_zone.alloc();
    z.addr = 0x10000000n;
    z.size = 0x1000;
    v.p.ioctl(v.vm, K.KVM_REGISTER_COALESCED_MMIO, z);
    const a = new GuestAsm('one-store');
    a.store(0x10000004, 0x1234, 4).out(0x80, 0, 1).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    expect(v.p.ioctl(v.vcpus[0]!, K.KVM_RUN)).toBe(0);
    const fd = v.p.ioctl(v.vm, K.KVM_CREATE_VCPU, 1);
    const m = v.p.mmap(null, 3 * 4096, 3, 1, fd, 0);
    expect([m.read32(RING), m.read32(RING + 4), hex(m.read64(RING + 8)), m.read32(RING + 8 + 16)]).toEqual([0, 1, '10000004', 0x1234]);
    expect(getU32(m.bytes!, RING + 4)).toBe(1);
    setU32(m.bytes!, RING, 1);
    expect(v.p.ioctl(v.vcpus[0]!, K.KVM_RUN)).toBe(0);
  });
});
