// KVM_SET_USER_MEMORY_REGION2, KVM_CREATE_VM's type and the capabilities QEMU 9+ probes for them
// (virt/kvm/kvm_main.c: kvm_vm_ioctl's KVM_SET_USER_MEMORY_REGION(2) cases, KVM_SET_USER_MEMORY_REGION_V1_FLAGS,
// kvm_vm_ioctl_set_memory_region, check_memory_region_flags, kvm_set_memory_region, kvm_dev_ioctl_create_vm;
// arch/x86/kvm/x86.c: kvm_arch_init_vm, kvm_caps.supported_vm_types). memregion2-oracle.c runs a sequence on
// this machine's /dev/kvm; the same sequence runs on the model and every line must be equal, the
// "host-only" ones too now that the model has guest_memfd (KVM_CAP_GUEST_MEMFD 1, KVM_CAP_GUEST_MEMFD_FLAGS
// 3, KVM_CREATE_GUEST_MEMFD gives an fd: src/linux/kvm/guest-memfd.ts, tested in guest-memfd.test.ts).
// The same run under this machine's strace 6.1 gives the strace lines the model's tracer must print.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import { GuestAsm } from '../../../src/guest/program.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { RLIMIT_NOFILE } from '../../../include-ts/linux/resource.js';
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { KVM_X86_DEFAULT_VM, KVM_X86_SEV_ES_VM, KVM_X86_SEV_VM, KVM_X86_SNP_VM, KVM_X86_SW_PROTECTED_VM, KVM_X86_TDX_VM } from '../../../include-ts/asm/kvm.js';
import { K } from './helpers.js';
import { oracleSkip, resultCode, runCOracle, STRACE, straceCOracleIoctls } from '../../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const ORACLE = join(here, 'memregion2-oracle.c');
const PAGE = 4096;
const SKIP = oracleSkip('KVM_SET_USER_MEMORY_REGION2', ['kvm']);

type Region2 = Partial<{ slot: number; flags: number; gpa: number; size: number; gmoff: number; gmfd: number; pad1: number; pad2: bigint }>;

/** A struct kvm_userspace_memory_region2 for memory at `uaddr`. */
function region2Of(r: Region2, uaddr: number) {
  const v = K.kvm_userspace_memory_region2.alloc();
  v.slot = r.slot ?? 0;
  v.flags = r.flags ?? 0;
  v.guest_phys_addr = BigInt(r.gpa ?? 0);
  v.memory_size = BigInt(r.size ?? 0);
  v.userspace_addr = BigInt(uaddr);
  v.guest_memfd_offset = BigInt(r.gmoff ?? 0);
  v.guest_memfd = r.gmfd ?? 0;
  v.pad1 = r.pad1 ?? 0;
  v.pad2.set(13, r.pad2 ?? 0n);
  return v;
}

/** The oracle's sequence on the model; returns its lines and the model's strace of it. */
function modelRun(): { lines: string[]; strace: string[] } {
  const host = Host.create();
  const strace: string[] = [];
  host.strace((l) => strace.push(l));
  const p = host.spawn();
  const kvm = p.open('/dev/kvm', O_RDWR);
  const mem = p.mmap(null, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  // The structs go into process memory, as the C program's do: strace prints the address it passes.
  const scratch = p.mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const edge = p.mmap(null, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  p.munmap(edge.addr + PAGE, PAGE);
  const place = (b: Uint8Array, at: number, m = scratch): number => {
    m.bytes!.set(b, at);
    return m.addr + at;
  };
  const lines: string[] = [];
  const res = (w: string, f: () => number) => lines.push(`${w}: ${resultCode(f)}`);
  const region2 = (r: Region2) => region2Of(r, mem.addr);
  const r2 = (w: string, r: Region2) => res(w, () => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION2, place(region2(r).bytes, 0)));
  const r1 = (w: string, slot: number, flags: number, gpa: number, size: number) => {
    const v = K.kvm_userspace_memory_region.alloc();
    v.slot = slot;
    v.flags = flags;
    v.guest_phys_addr = BigInt(gpa);
    v.memory_size = BigInt(size);
    v.userspace_addr = BigInt(mem.addr);
    res(w, () => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, place(v.bytes, 0)));
  };
  /** The first `n` bytes of a region2 struct, and nothing readable after them. */
  const tail = (n: number, slot: number, flags: number, gpa: number) => place(region2({ slot, flags, gpa, size: PAGE }).bytes.subarray(0, n), PAGE - n, edge);
  const cap = (fd: number, w: string, c: number) => res(w, () => p.ioctl(fd, K.KVM_CHECK_EXTENSION, c));

  cap(kvm, 'cap USER_MEMORY2', K.KVM_CAP_USER_MEMORY2);
  cap(kvm, 'cap VM_TYPES', K.KVM_CAP_VM_TYPES);
  cap(kvm, 'cap MEMORY_ATTRIBUTES', K.KVM_CAP_MEMORY_ATTRIBUTES);
  cap(kvm, 'host-only cap GUEST_MEMFD', K.KVM_CAP_GUEST_MEMFD);
  cap(kvm, 'host-only cap GUEST_MEMFD_FLAGS', K.KVM_CAP_GUEST_MEMFD_FLAGS);
  res('create VM SW_PROTECTED', () => p.ioctl(kvm, K.KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM));
  res('create VM SEV', () => p.ioctl(kvm, K.KVM_CREATE_VM, KVM_X86_SEV_VM));
  res('create VM SEV_ES', () => p.ioctl(kvm, K.KVM_CREATE_VM, KVM_X86_SEV_ES_VM));
  res('create VM SNP', () => p.ioctl(kvm, K.KVM_CREATE_VM, KVM_X86_SNP_VM));
  res('create VM TDX', () => p.ioctl(kvm, K.KVM_CREATE_VM, KVM_X86_TDX_VM));
  res('create VM 32', () => p.ioctl(kvm, K.KVM_CREATE_VM, 32));
  res('create VM 1<<32', () => p.ioctl(kvm, K.KVM_CREATE_VM, 1n << 32n));
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
  lines.push(`create VM DEFAULT: ${vm >= 0 ? 'fd' : 'failed'}`);
  cap(vm, 'vm cap USER_MEMORY2', K.KVM_CAP_USER_MEMORY2);
  cap(vm, 'vm cap VM_TYPES', K.KVM_CAP_VM_TYPES);
  cap(vm, 'vm cap MEMORY_ATTRIBUTES', K.KVM_CAP_MEMORY_ATTRIBUTES);
  cap(vm, 'host-only vm cap GUEST_MEMFD', K.KVM_CAP_GUEST_MEMFD);
  const GM = K.KVM_MEM_GUEST_MEMFD;
  r2('v2 slot 0', { slot: 0, size: 16 * PAGE });
  r2('v2 pad1 non-zero', { slot: 1, gpa: 0x100000, size: PAGE, pad1: 0xffffffff });
  r2('v2 pad2[13] non-zero', { slot: 2, gpa: 0x200000, size: PAGE, pad2: 1n });
  r2('v2 guest_memfd fields without the flag', { slot: 3, gpa: 0x300000, size: PAGE, gmoff: 3, gmfd: 99 });
  r2('v2 GUEST_MEMFD, offset not aligned', { slot: 4, flags: GM, gpa: 0x400000, size: PAGE, gmoff: 3, gmfd: 99 });
  r2('v2 GUEST_MEMFD|LOG_DIRTY_PAGES', { slot: 4, flags: GM | K.KVM_MEM_LOG_DIRTY_PAGES, gpa: 0x400000, size: PAGE, gmfd: kvm });
  r2('v2 GUEST_MEMFD|READONLY', { slot: 4, flags: GM | K.KVM_MEM_READONLY, gpa: 0x400000, size: PAGE, gmfd: kvm });
  r2('v2 GUEST_MEMFD, fd not a guest_memfd', { slot: 4, flags: GM, gpa: 0x400000, size: PAGE, gmfd: kvm });
  r2('v2 GUEST_MEMFD, slot 32764', { slot: 32764, flags: GM, gpa: 0x400000, size: PAGE, gmfd: kvm });
  r2('v2 flag 8', { slot: 4, flags: 8, gpa: 0x400000, size: PAGE });
  r2('v2 flag 0x80000000', { slot: 4, flags: 0x80000000, gpa: 0x400000, size: PAGE });
  r1('v1 GUEST_MEMFD', 4, GM, 0x400000, PAGE);
  r1('v1 flag 8', 4, 8, 0x400000, PAGE);
  r1('v1 GUEST_MEMFD, slot 32764', 32764, GM, 0x400000, PAGE);
  r1('v1 LOG_DIRTY_PAGES', 4, K.KVM_MEM_LOG_DIRTY_PAGES, 0x400000, PAGE);
  r2('v2 slot 0 LOG_DIRTY_PAGES', { slot: 0, flags: K.KVM_MEM_LOG_DIRTY_PAGES, size: 16 * PAGE });
  r2('v2 slot 0 READONLY', { slot: 0, flags: K.KVM_MEM_READONLY, size: 16 * PAGE });
  r2('v2 move slot 0', { slot: 0, gpa: 0x1000000, size: 16 * PAGE });
  r2('v2 overlap slot 1', { slot: 5, gpa: 0x100000, size: PAGE });
  r2('v2 size not page aligned', { slot: 5, gpa: 0x500000, size: 100 });
  r2('v2 address space 1', { slot: (1 << 16) | 5, gpa: 0x500000, size: PAGE });
  r2('v2 slot 9 ends at 2^52', { slot: 9, gpa: 2 ** 52 - PAGE, size: PAGE });
  r2('v2 slot 10 at 2^52', { slot: 10, gpa: 2 ** 52, size: PAGE });
  r2('v2 slot 10 overlaps slot 9 and ends past 2^52', { slot: 10, gpa: 2 ** 52 - PAGE, size: 2 * PAGE });
  r2('v2 move slot 9 to 2^52', { slot: 9, gpa: 2 ** 52, size: PAGE });
  r2('v2 slot 9 LOG_DIRTY_PAGES (flags only)', { slot: 9, flags: K.KVM_MEM_LOG_DIRTY_PAGES, gpa: 2 ** 52 - PAGE, size: PAGE });
  r2('v2 delete slot 0', { slot: 0 });
  r2('v2 delete slot 0 again', { slot: 0 });
  res('v2 NULL', () => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION2, 0));
  res('v2 40 bytes readable', () => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION2, tail(40, 6, 0, 0x600000)));
  res('v2 159 bytes readable', () => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION2, tail(159, 6, 0, 0x600000)));
  res('v2 160 bytes readable', () => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION2, tail(160, 6, 0, 0x600000)));
  res('v1 32 bytes readable', () => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, tail(32, 7, 0, 0x700000)));
  res('v1 24 bytes readable, flag 8', () => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, tail(24, 8, 8, 0x800000)));
  const a = K.kvm_memory_attributes.alloc();
  a.size = BigInt(PAGE);
  a.attributes = BigInt(K.KVM_MEMORY_ATTRIBUTE_PRIVATE);
  res('SET_MEMORY_ATTRIBUTES', () => p.ioctl(vm, K.KVM_SET_MEMORY_ATTRIBUTES, place(a.bytes, 0)));
  const g = K.kvm_create_guest_memfd.alloc();
  g.size = BigInt(PAGE);
  const gfd = resultCode(() => p.ioctl(vm, K.KVM_CREATE_GUEST_MEMFD, place(g.bytes, 0)));
  lines.push(`host-only CREATE_GUEST_MEMFD: ${/^\d+$/.test(gfd) ? 'fd' : 'failed'}`);
  const fd = p.dup(kvm);
  p.close(fd);
  const l = new Uint8Array(16);
  new DataView(l.buffer).setBigUint64(0, BigInt(fd), true);
  new DataView(l.buffer).setBigUint64(8, BigInt(fd), true);
  p.setrlimit(RLIMIT_NOFILE, l);
  res('no fd left, create VM TDX', () => p.ioctl(kvm, K.KVM_CREATE_VM, KVM_X86_TDX_VM));
  return { lines, strace: strace.filter((l) => l.startsWith('ioctl(')) };
}

/** Addresses differ in every run. */
const straceComparable = (lines: readonly string[]) =>
  lines
    // strace pads the result to column 40; the model's tracer does not.
    .map((l) => l.replace(/0x[0-9a-f]{9,}/g, 'ADDR').replace(/\) +=/, ') ='));

describe('KVM_SET_USER_MEMORY_REGION2 and VM types against this machine\'s /dev/kvm', () => {
  it.skipIf(SKIP !== undefined)('the same sequence gives the same line for every step the model implements', () => {
    expect(modelRun().lines).toEqual(runCOracle(ORACLE));
  });

  if (!SKIP && !STRACE) console.warn('KVM_SET_USER_MEMORY_REGION2: strace is not installed: the strace comparison is skipped');
  it.skipIf(SKIP !== undefined || !STRACE)('the model\'s tracer prints every ioctl as this machine\'s strace 6.1 does', () => {
    expect(straceComparable(modelRun().strace)).toEqual(straceComparable(straceCOracleIoctls(ORACLE)));
  });
});

describe('KVM_SET_USER_MEMORY_REGION2 on the model (virt/kvm/kvm_main.c)', () => {
  function setup() {
    const host = Host.create();
    const p = host.spawn();
    const kvm = p.open('/dev/kvm', O_RDWR);
    const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
    const mem = p.mmap(null, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const r2 = (slot: number, flags: number, gpa: number, size: number) => region2Of({ slot, flags, gpa, size }, mem.addr);
    return { host, p, kvm, vm, mem, r2 };
  }

  it('a slot made by region2 is an ordinary slot: the guest writes through it and dirty logging sees it (kvm_set_memory_region)', () => {
    const s = setup();
    expect(s.p.ioctl(s.vm, K.KVM_SET_USER_MEMORY_REGION2, s.r2(0, K.KVM_MEM_LOG_DIRTY_PAGES, 0, 16 * PAGE))).toBe(0);
    const vcpu = s.p.ioctl(s.vm, K.KVM_CREATE_VCPU, 0);
    s.host.control.kvm.loadGuest(s.p, vcpu, new GuestAsm('w').label('start').store32(2 * PAGE + 8, 0x11223344).hlt().build());
    s.p.ioctl(vcpu, K.KVM_RUN);
    expect(new DataView(s.mem.bytes!.buffer, s.mem.bytes!.byteOffset).getUint32(2 * PAGE + 8, true)).toBe(0x11223344);
    const l = K.kvm_dirty_log.alloc();
    l.slot = 0;
    const b = s.p.mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    l.dirty_bitmap = BigInt(b.addr);
    expect(s.p.ioctl(s.vm, K.KVM_GET_DIRTY_LOG, l)).toBe(0);
    expect(b.bytes![0]).toBe(1 << 2);
    // The same slot through v1: only the flags changed (KVM_MR_FLAGS_ONLY).
    const v1 = K.kvm_userspace_memory_region.alloc();
    v1.slot = 0;
    v1.memory_size = BigInt(16 * PAGE);
    v1.userspace_addr = BigInt(s.mem.addr);
    expect(s.p.ioctl(s.vm, K.KVM_SET_USER_MEMORY_REGION, v1)).toBe(0);
    expect(resultCode(() => s.p.ioctl(s.vm, K.KVM_GET_DIRTY_LOG, l))).toBe('E2');
  });

  it('v1 refuses flags outside KVM_SET_USER_MEMORY_REGION_V1_FLAGS before the slot rules; a refused call changes no slot', () => {
    const s = setup();
    const v1 = K.kvm_userspace_memory_region.alloc();
    v1.slot = 0;
    v1.flags = K.KVM_MEM_GUEST_MEMFD;
    v1.memory_size = BigInt(PAGE);
    v1.userspace_addr = BigInt(s.mem.addr);
    expect(() => s.p.ioctl(s.vm, K.KVM_SET_USER_MEMORY_REGION, v1)).toThrow(/KVM_SET_USER_MEMORY_REGION takes only/);
    // region2 gets past that check and on to kvm_gmem_bind(): fd 0 is not a guest_memfd.
    expect(() => s.p.ioctl(s.vm, K.KVM_SET_USER_MEMORY_REGION2, s.r2(0, K.KVM_MEM_GUEST_MEMFD, 0, PAGE))).toThrow(/fd 0 .* is not a guest_memfd/);
    // Neither made slot 0: deleting it fails (kvm_set_memory_region: !old -> EINVAL).
    expect(resultCode(() => s.p.ioctl(s.vm, K.KVM_SET_USER_MEMORY_REGION2, s.r2(0, 0, 0, 0)))).toBe('E22');
  });

  it('the slot id is checked before the flags (kvm_vm_ioctl_set_memory_region, then check_memory_region_flags)', () => {
    const s = setup();
    expect(() => s.p.ioctl(s.vm, K.KVM_SET_USER_MEMORY_REGION2, s.r2(32764, 0x80, 0, PAGE))).toThrow(/slot 32764 is not below KVM_USER_MEM_SLOTS/);
  });

  it('the capabilities: USER_MEMORY2 1, VM_TYPES BIT(KVM_X86_DEFAULT_VM), no memory attributes, guest_memfd with MMAP|INIT_SHARED (arch/x86/kvm/x86.c, virt/kvm/kvm_main.c)', () => {
    const s = setup();
    for (const fd of [s.kvm, s.vm]) {
      expect(s.p.ioctl(fd, K.KVM_CHECK_EXTENSION, K.KVM_CAP_USER_MEMORY2)).toBe(1);
      expect(s.p.ioctl(fd, K.KVM_CHECK_EXTENSION, K.KVM_CAP_VM_TYPES)).toBe(1 << KVM_X86_DEFAULT_VM);
      expect(s.p.ioctl(fd, K.KVM_CHECK_EXTENSION, K.KVM_CAP_MEMORY_ATTRIBUTES)).toBe(0);
      expect(s.p.ioctl(fd, K.KVM_CHECK_EXTENSION, K.KVM_CAP_GUEST_MEMFD)).toBe(1);
      expect(s.p.ioctl(fd, K.KVM_CHECK_EXTENSION, K.KVM_CAP_GUEST_MEMFD_FLAGS)).toBe(K.GUEST_MEMFD_FLAG_MMAP | K.GUEST_MEMFD_FLAG_INIT_SHARED);
    }
    const g = K.kvm_create_guest_memfd.alloc();
    g.size = BigInt(PAGE);
    expect(s.p.ioctl(s.vm, K.KVM_CREATE_GUEST_MEMFD, g)).toBeGreaterThan(2);
  });
});
