// Live migration's memory copy with KVM's per-vCPU dirty rings, as QEMU runs it with
// `-accel kvm,dirty-ring-size=N` (accel/kvm/kvm-all.c: kvm_dirty_ring_init, kvm_dirty_ring_reap_one,
// kvm_dirty_ring_reap; migration/ram.c's pre-copy rounds):
// - before any vCPU exists, KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING_ACQ_REL) sets the ring size; each vCPU's
//   ring is mapped from its fd at page KVM_DIRTY_LOG_PAGE_OFFSET;
// - migration starts by setting KVM_MEM_LOG_DIRTY_PAGES on the RAM slot (every page write-protected) and
//   copying all of RAM to the destination;
// - each round the vCPUs run for a time slice (KVM_RUN ends with EINTR, as a kick would end it, or with
//   KVM_EXIT_DIRTY_RING_FULL when a ring reaches its soft limit); the VMM reaps every ring from its fetch
//   index (an entry is ready when flags has KVM_DIRTY_GFN_F_DIRTY; it is collected by writing
//   KVM_DIRTY_GFN_F_RESET), calls KVM_RESET_DIRTY_RINGS (the pages are write-protected again, so a later
//   write is logged again), and only then copies the pages it collected;
// - when the guests have stopped writing, a last reap and copy, and the destination must equal the source.
// The guest: each vCPU stores a counter into pages along its own stride until it has done `stores`
// stores, then halts. Run: npx tsx --conditions=source examples/dirty-ring-migration.ts
import { fileURLToPath } from 'node:url';
import { Host, SyscallError, type Process } from 'vfio-kvm-shim';
import type { Mapping } from '../src/linux/mm/address-space.js';
import { GuestAsm, r1, r3, type GuestProgram } from '../src/guest/program.js';
import { O_RDWR } from 'vfio-kvm-shim/include-ts/linux/fcntl';
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import * as K from 'vfio-kvm-shim/include-ts/linux/kvm';

const PAGE = 4096;
const GFN_SIZE = K.kvm_dirty_gfn.size;

export interface MigrationOptions {
  /** Guest RAM pages (a power of two). */
  readonly pages: number;
  readonly vcpus: number;
  /** Bytes of each vCPU's ring (a power of two, at least a page). */
  readonly ringBytes: number;
  /** Stores each vCPU makes before it halts. */
  readonly stores: number;
  /** Guest instructions per KVM_RUN time slice. */
  readonly slice: number;
}

export interface MigrationRound {
  /** Pages the reap collected (distinct) and copied. */
  readonly copied: number;
  /** Ring entries collected. */
  readonly entries: number;
  /** KVM_RUN calls that ended with KVM_EXIT_DIRTY_RING_FULL. */
  readonly ringFull: number;
}

export interface MigrationResult {
  readonly rounds: readonly MigrationRound[];
  /** Whether the destination's RAM equals the source's at the end. */
  readonly identical: boolean;
  /** Pages copied in all (the bulk pass included). */
  readonly copied: number;
}

export const DEFAULTS: MigrationOptions = { pages: 1024, vcpus: 2, ringBytes: 4096, stores: 3000, slice: 2000 };

/** vCPU `i`'s guest: stores of a counter to word i of pages 37*i, 37*i + 37 + i, ... (mod RAM), then HLT. */
export function writerGuest(i: number, o: MigrationOptions): GuestProgram {
  const stride = (37 + i) * PAGE;
  return new GuestAsm(`writer${i}`)
    .label('start')
    .mov(r3, (37 * i * PAGE) & (o.pages * PAGE - 1))
    .mov(r1, 1)
    .label('loop')
    .store([r3, 4 * i], r1)
    .add(r3, stride)
    .and(r3, o.pages * PAGE - 1)
    .add(r1, 1)
    .jlt(r1, o.stores + 1, 'loop')
    .label('halt')
    .hlt()
    .jmp('halt')
    .build();
}

interface Vcpu {
  readonly fd: number;
  readonly run: Mapping;
  readonly ring: Mapping;
  /** The next ring entry to look at (QEMU's per-vCPU kvm_fetch_index). */
  fetch: number;
  halted: boolean;
}

export function dirtyRingMigration(say: (s: string) => void = console.log, o: MigrationOptions = DEFAULTS): MigrationResult {
  const host = Host.create();
  const q: Process = host.spawn();
  const kvm = q.open('/dev/kvm', O_RDWR);
  const vm = q.ioctl(kvm, K.KVM_CREATE_VM, 0);
  const cap = K.kvm_enable_cap.alloc();
  cap.cap = K.KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
  cap.args.set(0, BigInt(o.ringBytes));
  q.ioctl(vm, K.KVM_ENABLE_CAP, cap);
  const entries = o.ringBytes / GFN_SIZE;
  say(`KVM: dirty rings of ${entries} entries per vCPU (KVM_CAP_DIRTY_LOG_RING_ACQ_REL, ${o.ringBytes} bytes)`);

  const ram = q.mmap(null, o.pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const region = K.kvm_userspace_memory_region.alloc();
  region.slot = 0;
  region.memory_size = BigInt(o.pages * PAGE);
  region.userspace_addr = BigInt(ram.addr);
  q.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, region);

  const mmapSize = q.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE);
  const vcpus: Vcpu[] = [];
  for (let i = 0; i < o.vcpus; i++) {
    const fd = q.ioctl(vm, K.KVM_CREATE_VCPU, i);
    const run = q.mmap(null, mmapSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const ring = q.mmap(null, o.ringBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, K.KVM_DIRTY_LOG_PAGE_OFFSET * PAGE);
    host.control.kvm.loadGuest(q, fd, writerGuest(i, o));
    host.control.kvm.vcpu(q, fd).setRunBudget(o.slice);
    vcpus.push({ fd, run, ring, fetch: 0, halted: false });
  }

  /** One time slice of every vCPU still running: how many ended at a full ring. */
  const runSlice = (): number => {
    let full = 0;
    for (const v of vcpus) {
      if (v.halted) continue;
      try {
        q.ioctl(v.fd, K.KVM_RUN);
      } catch (e) {
        // The slice ran out (the model's stand-in for the signal that kicks a vCPU out).
        if (e instanceof SyscallError && e.code === 'EINTR') continue;
        throw e;
      }
      const reason = v.run.read32(8);
      if (reason === K.KVM_EXIT_DIRTY_RING_FULL) full++;
      else if (reason === K.KVM_EXIT_HLT) v.halted = true;
      else throw new Error(`unexpected exit ${reason}`);
    }
    return full;
  };

  /** kvm_dirty_ring_reap(): collect every ready entry of every ring, then KVM_RESET_DIRTY_RINGS. */
  const reap = (): { pages: Set<number>; entries: number } => {
    const pages = new Set<number>();
    let n = 0;
    for (const v of vcpus) {
      const b = v.ring.bytes!;
      for (;;) {
        const at = (v.fetch % entries) * GFN_SIZE;
        const e = K.kvm_dirty_gfn.view(b.subarray(at, at + GFN_SIZE));
        if (!(e.flags & K.KVM_DIRTY_GFN_F_DIRTY)) break;
        if (e.slot !== 0) throw new Error(`an entry for slot ${e.slot}`);
        pages.add(Number(e.offset));
        e.flags = K.KVM_DIRTY_GFN_F_RESET;
        v.fetch++;
        n++;
      }
    }
    const reset = q.ioctl(vm, K.KVM_RESET_DIRTY_RINGS, 0);
    if (reset !== n) throw new Error(`KVM_RESET_DIRTY_RINGS reset ${reset} entries; ${n} were collected`);
    return { pages, entries: n };
  };

  const dest = new Uint8Array(o.pages * PAGE);
  const src = ram.bytes!;
  const copy = (pg: number): void => dest.set(src.subarray(pg * PAGE, (pg + 1) * PAGE), pg * PAGE);

  // The guests run a while before migration starts: nothing is logged yet.
  runSlice();
  region.flags = K.KVM_MEM_LOG_DIRTY_PAGES;
  q.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, region);
  for (let pg = 0; pg < o.pages; pg++) copy(pg);
  let copied = o.pages;
  say(`migration: KVM_MEM_LOG_DIRTY_PAGES on the RAM slot, then the bulk copy of all ${o.pages} pages`);

  const rounds: MigrationRound[] = [];
  while (vcpus.some((v) => !v.halted)) {
    const ringFull = runSlice();
    const { pages, entries: n } = reap();
    for (const pg of pages) copy(pg);
    copied += pages.size;
    rounds.push({ copied: pages.size, entries: n, ringFull });
    say(`round ${rounds.length}: ${n} ring entries, ${pages.size} pages copied${ringFull ? `, ${ringFull} vCPU(s) stopped at a full ring (KVM_EXIT_DIRTY_RING_FULL)` : ''}`);
  }
  // Stop-and-copy: the vCPUs have halted; what they dirtied last is in the rings.
  const last = reap();
  for (const pg of last.pages) copy(pg);
  copied += last.pages.size;
  rounds.push({ copied: last.pages.size, entries: last.entries, ringFull: 0 });
  say(`stop-and-copy: ${last.entries} ring entries, ${last.pages.size} pages copied`);
  let identical = true;
  for (let i = 0; i < dest.length && identical; i++) identical = dest[i] === src[i];
  say(`destination RAM ${identical ? 'equals' : 'DIFFERS FROM'} the source's (${copied} page copies for ${o.pages} pages)`);
  return { rounds, identical, copied };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) dirtyRingMigration();
