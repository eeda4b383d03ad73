// Test helpers: a VMM's worth of KVM setup written with the real ioctls, plus small wrappers that
// return `errno` codes so tables of expected results read like the reference.
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import type { Mapping } from '../../../src/linux/mm/address-space.js';
import { SyscallError } from '../../../src/linux/errors.js';
import * as K from '../../../include-ts/linux/kvm.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { EFD_NONBLOCK } from '../../../include-ts/linux/eventfd.js';
import { MAP_ANONYMOUS, MAP_SHARED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import type { HostOptions } from '../../../src/host.js';
import { getU16, getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import { kvm_cpuid2, kvm_cpuid_entry2, kvm_msr_entry, kvm_msrs } from '../../../include-ts/asm/kvm.js';
import { resultCode } from '../../support/c-oracle.js';

export { K };

export interface Vmm {
  host: Host;
  p: Process;
  kvm: number;
  vm: number;
  vcpus: number[];
  runs: Mapping[];
}

export function vmm(opts: { irqchip?: 'kernel' | 'split' | 'none'; vcpus?: number; host?: HostOptions } = {}): Vmm {
  const host = Host.create(opts.host ?? {});
  const p = host.spawn();
  const kvm = p.open('/dev/kvm', O_RDWR);
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  const mode = opts.irqchip ?? 'kernel';
  if (mode === 'kernel') p.ioctl(vm, K.KVM_CREATE_IRQCHIP);
  if (mode === 'split') enableCap(p, vm, K.KVM_CAP_SPLIT_IRQCHIP, 24);
  const vcpus: number[] = [];
  const runs: Mapping[] = [];
  const size = p.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE);
  for (let i = 0; i < (opts.vcpus ?? 1); i++) {
    const fd = p.ioctl(vm, K.KVM_CREATE_VCPU, i);
    vcpus.push(fd);
    runs.push(p.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  }
  return { host, p, kvm, vm, vcpus, runs };
}

export function enableCap(p: Process, fd: number, cap: number, arg0: number | bigint = 0, flags = 0): number {
  const c = K.kvm_enable_cap.alloc();
  c.cap = cap;
  c.flags = flags;
  c.args.set(0, BigInt(arg0));
  return p.ioctl(fd, K.KVM_ENABLE_CAP, c);
}

/** Runs `fn`; returns its result, or the errno code of the SyscallError it threw. */
export function errno(fn: () => number | void): number | string {
  try {
    const r = fn();
    return r ?? 0;
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
}

export function irqfd(p: Process, vm: number, fd: number, gsi: number, flags = 0, resamplefd = 0): number {
  const a = K.kvm_irqfd.alloc();
  a.fd = fd >>> 0;
  a.gsi = gsi >>> 0;
  a.flags = flags >>> 0;
  a.resamplefd = resamplefd >>> 0;
  return p.ioctl(vm, K.KVM_IRQFD, a);
}

export interface Route {
  gsi: number;
  type?: number;
  flags?: number;
  msi?: { lo: number; hi?: number; data: number };
  chip?: number;
  pin?: number;
  u?: [number, number, number, number];
}

export function setRoutes(p: Process, vm: number, routes: Route[], hdrFlags = 0): number {
  const r = K.kvm_irq_routing.alloc(routes.length);
  r.nr = routes.length;
  r.flags = hdrFlags;
  routes.forEach((x, i) => {
    const e = r.entries.get(i);
    e.gsi = x.gsi >>> 0;
    e.flags = x.flags ?? 0;
    if (x.msi) {
      e.type = x.type ?? K.KVM_IRQ_ROUTING_MSI;
      e.u.msi.address_lo = x.msi.lo >>> 0;
      e.u.msi.address_hi = (x.msi.hi ?? 0) >>> 0;
      e.u.msi.data = x.msi.data >>> 0;
    } else if (x.u) {
      e.type = x.type ?? 0;
      x.u.forEach((v, j) => e.u.pad.set(j, v >>> 0));
    } else {
      e.type = x.type ?? K.KVM_IRQ_ROUTING_IRQCHIP;
      e.u.irqchip.irqchip = x.chip ?? K.KVM_IRQCHIP_IOAPIC;
      e.u.irqchip.pin = x.pin ?? x.gsi;
    }
  });
  return p.ioctl(vm, K.KVM_SET_GSI_ROUTING, r);
}

/** KVM_IRQ_LINE_STATUS: returns the status KVM wrote back. */
export function lineStatus(p: Process, vm: number, irq: number, level: number): number {
  const l = K.kvm_irq_level.alloc();
  l.irq = irq >>> 0;
  l.level = level;
  p.ioctl(vm, K.KVM_IRQ_LINE_STATUS, l);
  return l.status;
}

export function irqLine(p: Process, vm: number, irq: number, level: number): number {
  const l = K.kvm_irq_level.alloc();
  l.irq = irq >>> 0;
  l.level = level;
  return p.ioctl(vm, K.KVM_IRQ_LINE, l);
}

export function signalMsi(p: Process, vm: number, lo: number, data: number, hi = 0, flags = 0): number {
  const m = K.kvm_msi.alloc();
  m.address_lo = lo >>> 0;
  m.address_hi = hi >>> 0;
  m.data = data >>> 0;
  m.flags = flags;
  return p.ioctl(vm, K.KVM_SIGNAL_MSI, m);
}

export function ioeventfd(p: Process, vm: number, a: { addr: number | bigint; len: number; fd: number; flags?: number; datamatch?: number | bigint }): number {
  const x = K.kvm_ioeventfd.alloc();
  x.addr = BigInt(a.addr);
  x.len = a.len;
  x.fd = a.fd;
  x.flags = a.flags ?? 0;
  x.datamatch = BigInt(a.datamatch ?? 0);
  return p.ioctl(vm, K.KVM_IOEVENTFD, x);
}

export function efd(p: Process, init = 0): number {
  return p.eventfd(init, EFD_NONBLOCK);
}

const one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
export function signal(p: Process, fd: number, n = 1): void {
  one[0] = n;
  p.write(fd, one);
}

/** Reads an eventfd (non-blocking): its count, or 0 when it would block. */
export function count(p: Process, fd: number): number {
  const b = new Uint8Array(8);
  try {
    p.read(fd, b);
  } catch (e) {
    if (e instanceof SyscallError && e.code === 'EAGAIN') return 0;
    throw e;
  }
  return new DataView(b.buffer).getUint32(0, true);
}

export function ioapicState(p: Process, vm: number) {
  const c = K.kvm_irqchip.alloc();
  c.chip_id = K.KVM_IRQCHIP_IOAPIC;
  p.ioctl(vm, K.KVM_GET_IRQCHIP, c);
  return c.chip.ioapic;
}

/** Guest RAM: an anonymous mapping installed as a memory slot. */
export function addRam(p: Process, vm: number, slot: number, gpa: number, size: number): Mapping {
  const m = p.mmap(null, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const r = K.kvm_userspace_memory_region.alloc();
  r.slot = slot;
  r.guest_phys_addr = BigInt(gpa);
  r.memory_size = BigInt(size);
  r.userspace_addr = BigInt(m.addr);
  p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, r);
  return m;
}

export function memRegion(p: Process, vm: number, slot: number, flags: number, gpa: number | bigint, size: number | bigint, uaddr: number | bigint): number {
  const r = K.kvm_userspace_memory_region.alloc();
  r.slot = slot >>> 0;
  r.flags = flags;
  r.guest_phys_addr = BigInt(gpa);
  r.memory_size = BigInt(size);
  r.userspace_addr = BigInt(uaddr);
  return p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, r);
}

/** KVM_RUN: the exit reason, or the errno code. */
export function run(v: Vmm, i = 0): number | string {
  const r = errno(() => v.p.ioctl(v.vcpus[i]!, K.KVM_RUN));
  return r === 0 ? v.runs[i]!.read32(8) : r;
}

export function exitReason(v: Vmm, i = 0): number {
  return v.runs[i]!.read32(8);
}

/** KVM_SET_CPUID2's argument: leaf 1 with the APIC bit, and X2APIC (ECX bit 21) if asked. */
export function leaf1Cpuid(x2apic: boolean): Uint8Array {
  const b = new Uint8Array(kvm_cpuid2.size + kvm_cpuid_entry2.size);
  setU32(b, 0, 1);
  const e = kvm_cpuid2.size;
  setU32(b, e + kvm_cpuid_entry2.offsetof('function'), 1);
  setU32(b, e + kvm_cpuid_entry2.offsetof('ecx'), x2apic ? 1 << 21 : 0);
  setU32(b, e + kvm_cpuid_entry2.offsetof('edx'), 1 << 9);
  return b;
}

/** KVM_GET_MSRS / KVM_SET_MSRS of one MSR: the result code and the entry's data afterwards. */
export function oneMsr(p: Process, fd: number, set: boolean, index: number, data: bigint): { r: string; data: bigint } {
  const b = new Uint8Array(kvm_msrs.size + kvm_msr_entry.size);
  setU32(b, 0, 1);
  setU32(b, kvm_msrs.size, index);
  setU64(b, kvm_msrs.size + 8, data);
  const r = resultCode(() => p.ioctl(fd, set ? K.KVM_SET_MSRS : K.KVM_GET_MSRS, b));
  return { r, data: getU64(b, kvm_msrs.size + 8) };
}

/** The stats file's parts, read as a VMM does. */
export class KvmStats {
  constructor(readonly p: Process, readonly fd: number) {}
  header() {
    const b = new Uint8Array(24);
    this.p.pread(this.fd, b, 0);
    const f = (n: string) => getU32(b, K.kvm_stats_header.offsetof(n));
    return { flags: f('flags'), nameSize: f('name_size'), numDesc: f('num_desc'), idOffset: f('id_offset'), descOffset: f('desc_offset'), dataOffset: f('data_offset') };
  }
  descs() {
    const h = this.header();
    const size = 16 + h.nameSize;
    const b = new Uint8Array(size * h.numDesc);
    this.p.pread(this.fd, b, h.descOffset);
    return Array.from({ length: h.numDesc }, (_, i) => {
      const o = i * size;
      const nameBytes = b.subarray(o + 16, o + size);
      const end = nameBytes.indexOf(0);
      return {
        name: new TextDecoder().decode(nameBytes.subarray(0, end)),
        flags: getU32(b, o),
        exponent: (getU16(b, o + 4) << 16) >> 16,
        size: getU16(b, o + 6),
        offset: getU32(b, o + 8),
        bucketSize: getU32(b, o + 12),
        padded: nameBytes.subarray(end).every((x) => x === 0),
      };
    });
  }
  /** A stat's value(s) by name. */
  get(name: string): number {
    return this.all(name)[0]!;
  }
  all(name: string): number[] {
    const d = this.descs().find((x) => x.name === name);
    if (!d) throw new Error(`no stat ${name}`);
    const b = new Uint8Array(8 * d.size);
    this.p.pread(this.fd, b, this.header().dataOffset + d.offset);
    return Array.from({ length: d.size }, (_, i) => Number(getU64(b, 8 * i)));
  }
}
