// KVM binary statistics (Documentation/virt/kvm/api.rst "KVM_GET_STATS_FD"): virt/kvm/binary_stats.c
// kvm_stats_read(), virt/kvm/kvm_main.c kvm_vm_ioctl_get_stats_fd / kvm_vcpu_ioctl_get_stats_fd and the
// stats fds' file_operations, the descriptor tables kvm_vm_stats_desc / kvm_vcpu_stats_desc
// (arch/x86/kvm/x86.c, with KVM_GENERIC_VM_STATS / KVM_GENERIC_VCPU_STATS from include/linux/kvm_host.h)
// and the layouts of struct kvm_vm_stat / kvm_vcpu_stat (arch/x86/include/asm/kvm_host.h).
//
// A stats fd (anon_inode:kvm-vm-stats, anon_inode:kvm-vcpu-stats:<id>; O_RDONLY, close-on-exec,
// FMODE_PREAD only) reads as one image: a 24-byte header, the 48-byte id ("kvm-<pid>",
// "kvm-<pid>/vcpu-<id>", NUL-padded), the descriptors (16 bytes + a 48-byte NUL-padded name each), then
// the u64 values at data_offset + desc.offset. Any offset and length reads (read() moves f_pos,
// pread() does not); reads at or past the end give 0; write EBADF, pwrite ESPIPE, ioctl ENOTTY, mmap
// ENODEV, no poll (DEFAULT_POLLMASK; epoll EPERM); lseek is noop_llseek (the position read() left). The
// file holds the VM (kvm_get_kvm), so it reads after every other KVM fd is closed.
//
// The tables are x86.c's. This machine's kernel (kvm_pvm, 6.18) appends descriptors x86.c does not have
// (VM: mmu_kicks_spared; vCPU: pf_parked, pf_park_timeouts); the model follows x86.c.
//
// What the model counts, at the kernel's increment sites (vcpu.ts, x86-run.ts):
//   exits            every guest exit the model takes: port I/O, MMIO outside RAM (LAPIC page included),
//                    RDMSR/WRMSR, HLT, interrupt-window exit, shutdown (VMX/SVM also exit for host
//                    interrupts, PAUSE loops and more: the real count is higher)
//   io_exits         every guest IN/OUT (VMX handle_io / SVM io_interception), in-kernel devices too
//   mmio_exits       KVM_EXIT_MMIO (x86_emulate_instruction with mmio_needed)
//   halt_exits       every HLT (__kvm_emulate_halt), with or without an in-kernel LAPIC
//   signal_exits     KVM_RUN ending with KVM_EXIT_INTR "as if a signal arrived" (the model's EINTR)
//   irq_window_exits the interrupt-window exit: KVM_RUN's (request_interrupt_window), or the one KVM armed for
//                    an interrupt the guest could not take (IF=0, shadow) when the window opens
//   nmi_window_exits the same for an NMI that waited for NMIs to be unblocked
//   request_irq_exits KVM_EXIT_IRQ_WINDOW_OPEN from vcpu_run() after an exit the kernel handled
//   irq_injections, nmi_injections  every interrupt / NMI injected (vmx_inject_irq/nmi, svm_inject_irq/nmi),
//                    re-injections included
//   insn_emulation   every guest access the emulator decodes: MMIO outside RAM (x86_decode_emulated_instruction);
//   insn_emulation_fail  nothing to execute (KVM_EXIT_INTERNAL_ERROR, emulation)
//   halt_wakeup      a vCPU blocked in KVM_RUN woken (kvm_vcpu_wake_up)
//   halt_wait_ns, halt_wait_hist  virtual ns blocked, and their log2 histogram (KVM_STATS_LOG_HIST_UPDATE)
//   blocking         1 while the vCPU is blocked in KVM_RUN
//   halt_attempted_poll, halt_successful_poll, halt_poll_success/fail_ns and their histograms
//                    halt polling (halt-poll.ts), decided in virtual time when the halted vCPU wakes
//   remote_tlb_flush_requests (VM)  KVM_GET_DIRTY_LOG taking dirty bits, KVM_CLEAR_DIRTY_LOG clearing set
//                    ones (dirty-log.ts; kvm_flush_remote_tlbs_memslot)
// What stays 0 because the model has no such thing: halt_poll_invalid (every wakeup is valid on x86), pf_*,
// tlb_flush, invlpg, remote_tlb_flush (it needs a vCPU in guest mode during a VM ioctl), mmu_*, pages_4k/2m/1g, nx_lpage_splits,
// max_mmu_rmap_size, max_mmu_page_hash_collisions (no MMU), l1d_flush, host_state_reload, fpu_reload,
// irq_exits (no host interrupts), hypercalls (no VMCALL), req_event (no KVM_REQ_EVENT),
// nested_run, guest_mode (no nesting), directed_yield_*, preemption_* (no PAUSE exits, no steal time),
// notify_window_exits.

import { kerr } from '../errors.js';
import { KFile, type FileContext } from '../fs/file.js';
import { noopLlseek } from '../fs/llseek.js';
import type { Kernel } from '../kernel.js';
import { setU16, setU32 } from '../../../abi/bytes.js';
import {
  KVM_STATS_BASE_POW10, KVM_STATS_TYPE_CUMULATIVE, KVM_STATS_TYPE_INSTANT, KVM_STATS_TYPE_LOG_HIST, KVM_STATS_TYPE_PEAK,
  KVM_STATS_UNIT_BOOLEAN, KVM_STATS_UNIT_NONE, KVM_STATS_UNIT_SECONDS, kvm_stats_desc, kvm_stats_header,
} from '../../../include-ts/linux/kvm.js';
import { O_RDONLY } from '../../../include-ts/linux/fcntl.js';
import type { Kvm } from './vm.js';
import type { KvmVcpu } from './vcpu.js';

/** KVM_STATS_NAME_SIZE (include/linux/kvm_host.h): the id and every descriptor name. */
export const KVM_STATS_NAME_SIZE = 48;
/** HALT_POLL_HIST_COUNT: buckets of the halt histograms. */
export const HALT_POLL_HIST_COUNT = 32;

/** struct kvm_vm_stat (x86), every field a u64. */
export class KvmVmStat {
  remote_tlb_flush = 0;
  remote_tlb_flush_requests = 0;
  mmu_shadow_zapped = 0;
  mmu_pte_write = 0;
  mmu_pde_zapped = 0;
  mmu_flooded = 0;
  mmu_recycled = 0;
  mmu_cache_miss = 0;
  mmu_unsync = 0;
  pages_4k = 0;
  pages_2m = 0;
  pages_1g = 0;
  nx_lpage_splits = 0;
  max_mmu_page_hash_collisions = 0;
  max_mmu_rmap_size = 0;
}

/** struct kvm_vcpu_stat (x86): plain number fields, bumped on the hot paths without allocating. */
export class KvmVcpuStat {
  halt_successful_poll = 0;
  halt_attempted_poll = 0;
  halt_poll_invalid = 0;
  halt_wakeup = 0;
  halt_poll_success_ns = 0;
  halt_poll_fail_ns = 0;
  halt_wait_ns = 0;
  readonly halt_poll_success_hist = new Float64Array(HALT_POLL_HIST_COUNT);
  readonly halt_poll_fail_hist = new Float64Array(HALT_POLL_HIST_COUNT);
  readonly halt_wait_hist = new Float64Array(HALT_POLL_HIST_COUNT);
  blocking = 0;
  pf_taken = 0;
  pf_fixed = 0;
  pf_emulate = 0;
  pf_spurious = 0;
  pf_fast = 0;
  pf_mmio_spte_created = 0;
  pf_guest = 0;
  tlb_flush = 0;
  invlpg = 0;
  exits = 0;
  io_exits = 0;
  mmio_exits = 0;
  signal_exits = 0;
  irq_window_exits = 0;
  nmi_window_exits = 0;
  l1d_flush = 0;
  halt_exits = 0;
  request_irq_exits = 0;
  irq_exits = 0;
  host_state_reload = 0;
  fpu_reload = 0;
  insn_emulation = 0;
  insn_emulation_fail = 0;
  hypercalls = 0;
  irq_injections = 0;
  nmi_injections = 0;
  req_event = 0;
  nested_run = 0;
  directed_yield_attempted = 0;
  directed_yield_successful = 0;
  preemption_reported = 0;
  preemption_other = 0;
  guest_mode = 0;
  notify_window_exits = 0;
  /** Not a stat: the virtual time the current block began (halt_wait_ns). */
  blockStartNs = 0;
}

/** KVM_STATS_LOG_HIST_UPDATE(): bucket fls64(value), the last one taking everything above. */
export function logHistUpdate(hist: Float64Array, value: number): void {
  const fls = value < 1 ? 0 : Math.floor(Math.log2(value)) + 1;
  hist[Math.min(fls, hist.length - 1)]!++;
}

/** One descriptor: a stat's name, flags (type | unit | base), exponent and size in u64s. */
interface StatDesc {
  readonly name: string;
  readonly flags: number;
  readonly exponent: number;
  readonly size: number;
}

const COUNTER = KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10;
const ICOUNTER = KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10;
const PCOUNTER = KVM_STATS_TYPE_PEAK | KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10;
const IBOOLEAN = KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN | KVM_STATS_BASE_POW10;
const TIME_NSEC = KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS | KVM_STATS_BASE_POW10;
const LOGHIST_NSEC = KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS | KVM_STATS_BASE_POW10;

const c = (name: string, flags = COUNTER): StatDesc => ({ name, flags, exponent: 0, size: 1 });
const ns = (name: string): StatDesc => ({ name, flags: TIME_NSEC, exponent: -9, size: 1 });
const hist = (name: string): StatDesc => ({ name, flags: LOGHIST_NSEC, exponent: -9, size: HALT_POLL_HIST_COUNT });

/** kvm_vm_stats_desc[], in its order. */
const VM_DESC: readonly StatDesc[] = [
  c('remote_tlb_flush'), c('remote_tlb_flush_requests'),
  c('mmu_shadow_zapped'), c('mmu_pte_write'), c('mmu_pde_zapped'), c('mmu_flooded'), c('mmu_recycled'), c('mmu_cache_miss'),
  c('mmu_unsync', ICOUNTER), c('pages_4k', ICOUNTER), c('pages_2m', ICOUNTER), c('pages_1g', ICOUNTER),
  c('nx_lpage_splits', ICOUNTER), c('max_mmu_rmap_size', PCOUNTER), c('max_mmu_page_hash_collisions', PCOUNTER),
];

/** kvm_vcpu_stats_desc[], in its order (also the struct's). */
const VCPU_DESC: readonly StatDesc[] = [
  c('halt_successful_poll'), c('halt_attempted_poll'), c('halt_poll_invalid'), c('halt_wakeup'),
  ns('halt_poll_success_ns'), ns('halt_poll_fail_ns'), ns('halt_wait_ns'),
  hist('halt_poll_success_hist'), hist('halt_poll_fail_hist'), hist('halt_wait_hist'), c('blocking', IBOOLEAN),
  ...['pf_taken', 'pf_fixed', 'pf_emulate', 'pf_spurious', 'pf_fast', 'pf_mmio_spte_created', 'pf_guest', 'tlb_flush', 'invlpg',
    'exits', 'io_exits', 'mmio_exits', 'signal_exits', 'irq_window_exits', 'nmi_window_exits', 'l1d_flush', 'halt_exits',
    'request_irq_exits', 'irq_exits', 'host_state_reload', 'fpu_reload', 'insn_emulation', 'insn_emulation_fail', 'hypercalls',
    'irq_injections', 'nmi_injections', 'req_event', 'nested_run', 'directed_yield_attempted', 'directed_yield_successful',
    'preemption_reported', 'preemption_other'].map((n) => c(n)),
  c('guest_mode', IBOOLEAN), c('notify_window_exits'),
];

const DESC_SIZE = kvm_stats_desc.size + KVM_STATS_NAME_SIZE;
const ID_OFFSET = kvm_stats_header.size;
const DESC_OFFSET = ID_OFFSET + KVM_STATS_NAME_SIZE;

/** One table as the file shows it: descriptors with their offsets in the struct, and the fixed bytes. */
class StatsTable {
  /** Each descriptor's field and its byte offset in the data section. */
  readonly fields: readonly { readonly name: string; readonly size: number; readonly offset: number }[];
  readonly dataOffset: number;
  readonly dataSize: number;
  /** Header, an empty id, and the descriptors: everything before the data section. */
  readonly prefix: Uint8Array;

  constructor(descs: readonly StatDesc[], structOrder: readonly string[]) {
    const offsets = new Map<string, number>();
    let off = 0;
    for (const name of structOrder) {
      offsets.set(name, off);
      off += 8 * descs.find((d) => d.name === name)!.size;
    }
    this.dataSize = off;
    this.fields = descs.map((d) => ({ name: d.name, size: d.size, offset: offsets.get(d.name)! }));
    this.dataOffset = DESC_OFFSET + descs.length * DESC_SIZE;
    const p = new Uint8Array(this.dataOffset);
    const h = kvm_stats_header;
    setU32(p, h.offsetof('flags'), 0);
    setU32(p, h.offsetof('name_size'), KVM_STATS_NAME_SIZE);
    setU32(p, h.offsetof('num_desc'), descs.length);
    setU32(p, h.offsetof('id_offset'), ID_OFFSET);
    setU32(p, h.offsetof('desc_offset'), DESC_OFFSET);
    setU32(p, h.offsetof('data_offset'), this.dataOffset);
    const k = kvm_stats_desc;
    descs.forEach((d, i) => {
      const o = DESC_OFFSET + i * DESC_SIZE;
      setU32(p, o + k.offsetof('flags'), d.flags);
      setU16(p, o + k.offsetof('exponent'), d.exponent & 0xffff);
      setU16(p, o + k.offsetof('size'), d.size);
      setU32(p, o + k.offsetof('offset'), offsets.get(d.name)!);
      setU32(p, o + k.offsetof('bucket_size'), 0);
      p.set(new TextEncoder().encode(d.name), o + k.offsetof('name'));
    });
    this.prefix = p;
  }
}

export const KVM_VM_STATS = new StatsTable(VM_DESC, Object.keys(new KvmVmStat()));
export const KVM_VCPU_STATS = new StatsTable(VCPU_DESC, VCPU_DESC.map((d) => d.name));

/** The stats fds' shared file_operations: kvm_stats_read over the image, nothing else. */
abstract class KvmStatsFile extends KFile {
  /** FMODE_PREAD (f_pos moves with read()); pwrite stays ESPIPE (no FMODE_PWRITE). */
  override readonly positional = true;
  /** ->llseek = noop_llseek: the position read() left, unchanged. */
  override llseek(): number {
    return noopLlseek(this);
  }
  override get pwritable(): boolean {
    return false;
  }
  /** Header, id and descriptors (this file's id filled in), then the data section rebuilt at each read. */
  private readonly image: Uint8Array;
  private readonly dataStart: number;

  constructor(
    protected readonly kvm: Kvm,
    private readonly table: StatsTable,
    id: string,
  ) {
    super();
    this.flags = O_RDONLY;
    this.dataStart = table.dataOffset;
    this.image = new Uint8Array(table.dataOffset + table.dataSize);
    this.image.set(table.prefix);
    this.image.set(new TextEncoder().encode(id).subarray(0, KVM_STATS_NAME_SIZE - 1), ID_OFFSET);
    kvm.get();
  }

  /** The stats struct, field by name. */
  protected abstract stat(name: string): number | Float64Array;

  /** kvm_stats_read(): what lies in [pos, pos + len) of the image; returns 0 at or past its end. */
  override read(_ctx: FileContext, buf: Uint8Array, pos: number): number {
    const img = this.image;
    const len = Math.min(img.length - pos, buf.length);
    if (len <= 0) return 0;
    if (pos + len > this.dataStart) this.fillData();
    buf.set(img.subarray(pos, pos + len));
    return len;
  }

  private fillData(): void {
    const img = this.image;
    for (const f of this.table.fields) {
      const v = this.stat(f.name);
      const at = this.dataStart + f.offset;
      if (typeof v === 'number') putU64(img, at, v);
      else for (let i = 0; i < f.size; i++) putU64(img, at + 8 * i, v[i]!);
    }
  }

  override write(): number {
    // Never reached through write(2) (O_RDONLY: vfs_write's EBADF comes first); kept for other callers.
    throw kerr('EBADF', `${this.path} is read-only`);
  }

  override release(_kernel: Kernel): void {
    // kvm_vm_stats_release / kvm_vcpu_stats_release: kvm_put_kvm().
    this.kvm.put();
  }
}

/** A counter as a little-endian u64 (values stay below 2^53). */
function putU64(b: Uint8Array, at: number, v: number): void {
  setU32(b, at, v % 0x1_0000_0000);
  setU32(b, at + 4, Math.floor(v / 0x1_0000_0000));
}

/** anon_inode:kvm-vm-stats. */
export class KvmVmStatsFile extends KvmStatsFile {
  readonly kind = 'kvm-vm-stats' as const;
  readonly path = 'anon_inode:kvm-vm-stats';

  constructor(kvm: Kvm) {
    super(kvm, KVM_VM_STATS, `kvm-${kvm.proc.pid}`);
  }

  protected stat(name: string): number {
    return this.kvm.stat[name as keyof KvmVmStat];
  }
}

/** anon_inode:kvm-vcpu-stats:<vcpu id>. */
export class KvmVcpuStatsFile extends KvmStatsFile {
  readonly kind = 'kvm-vcpu-stats' as const;
  readonly path: string;

  constructor(private readonly vcpu: KvmVcpu) {
    super(vcpu.kvm, KVM_VCPU_STATS, `kvm-${vcpu.kvm.proc.pid}/vcpu-${vcpu.vcpuId}`);
    this.path = `anon_inode:kvm-vcpu-stats:${vcpu.vcpuId}`;
  }

  protected stat(name: string): number | Float64Array {
    return this.vcpu.stat[name as keyof KvmVcpuStat];
  }
}

/** kvm_vm_ioctl_get_stats_fd / kvm_vcpu_ioctl_get_stats_fd: a new close-on-exec stats fd (the argument is ignored). */
export function getStatsFd(ctx: FileContext, owner: Kvm | KvmVcpu): number {
  ctx.proc.fds.reserveCheck();
  const f = 'vcpuId' in owner ? new KvmVcpuStatsFile(owner) : new KvmVmStatsFile(owner);
  return ctx.proc.fds.install(f, true);
}
