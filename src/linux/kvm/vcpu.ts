// struct kvm_vcpu (x86): its in-kernel LAPIC (when the VM has an irqchip), the guest CPU it runs, the
// kvm_run page + PIO data page userspace maps (kvm_vcpu_mmap, KVM_PIO_PAGE_OFFSET), and how a guest
// access is dispatched (arch/x86/kvm/x86.c: vcpu_mmio_read/vcpu_mmio_write, emulator_pio_in_out):
// memory slots first (RAM, or a device BAR mmap behind the slot), then the vCPU's own LAPIC page, then
// the in-kernel MMIO/PIO buses (IOAPIC, 8259 ports, ioeventfds), and anything else exits to userspace
// as KVM_EXIT_MMIO (one exit per access of at most 8 bytes, data in mmio.data) or KVM_EXIT_IO (data at
// kvm_run + io.data_offset, on the PIO page). The access completes when userspace re-enters KVM_RUN.
// Guest RDMSR/WRMSR go to guest-msr.ts; their KVM_EXIT_X86_RDMSR/WRMSR complete the same way.

import { GuestCpuid } from './cpuid.js';
import { startSwTscDeadline } from './tsc-deadline.js';
import { GuestFpu } from './fpu.js';
import { Lapic } from '../../hw/x86/lapic.js';
import { GuestCpu, GUEST_IO_EXIT, GUEST_IO_FAULT, GUEST_IO_RETRY, type GuestBus } from '../../guest/cpu.js';
import type { GuestProgram } from '../../guest/program.js';
import { WaitQueue } from '../waitqueue.js';
import { getLE, setLE, setU16, setU32, setU64n } from '../../../abi/bytes.js';
import {
  KVM_EXIT_IO, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT, KVM_EXIT_MMIO, KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED,
  KVM_PIO_PAGE_OFFSET, kvm_run, kvm_sregs,
} from '../../../include-ts/linux/kvm.js';
import { EPOLLIN } from '../../../include-ts/linux/poll.js';
import { ACCESS_FAULT, ACCESS_RETRY } from './memslot.js';
import { DirtyRing } from './dirty-ring.js';
import { DEFAULT_RUN_BUDGET, KVM_EXIT_MEMORY_FAULT, KVM_IRQCHIP_KERNEL, KVM_IRQCHIP_NONE, KVM_VCPU_MMAP_SIZE, PAGE_SIZE } from './kvm-host.js';
import { KvmLapicOps } from './lapic.js';
import { KvmVcpuStat } from './stats.js';
import { VcpuMsrs } from './msr.js';
import { completeUserspaceMsr, kvmEmulateRdmsr, kvmEmulateWrmsr } from './guest-msr.js';
import { kvmVcpuReset } from './x86-reset.js';
import { VcpuTsc, kvmVcpuTscCreate } from './tsc.js';
import { VcpuPv } from './pv-msrs.js';
import type { Kvm } from './vm.js';

/** Offsets in struct kvm_run (from the uapi layout). */
export const RUN = {
  requestInterruptWindow: kvm_run.offsetof('request_interrupt_window'),
  immediateExit: kvm_run.offsetof('immediate_exit'),
  exitReason: kvm_run.offsetof('exit_reason'),
  readyForInterruptInjection: kvm_run.offsetof('ready_for_interrupt_injection'),
  ifFlag: kvm_run.offsetof('if_flag'),
  flags: kvm_run.offsetof('flags'),
  cr8: kvm_run.offsetof('cr8'),
  apicBase: kvm_run.offsetof('apic_base'),
  ioDirection: kvm_run.offsetof('io.direction'),
  ioSize: kvm_run.offsetof('io.size'),
  ioPort: kvm_run.offsetof('io.port'),
  ioCount: kvm_run.offsetof('io.count'),
  ioDataOffset: kvm_run.offsetof('io.data_offset'),
  mmioPhysAddr: kvm_run.offsetof('mmio.phys_addr'),
  mmioData: kvm_run.offsetof('mmio.data'),
  mmioLen: kvm_run.offsetof('mmio.len'),
  mmioIsWrite: kvm_run.offsetof('mmio.is_write'),
  eoiVector: kvm_run.offsetof('eoi.vector'),
  internalSuberror: kvm_run.offsetof('internal.suberror'),
  internalNdata: kvm_run.offsetof('internal.ndata'),
  /** struct kvm_run.memory_fault (6.8+): flags, gpa, size at the start of the exit union. */
  memoryFaultFlags: kvm_run.offsetof('hw'),
  validRegs: kvm_run.offsetof('kvm_valid_regs'),
  dirtyRegs: kvm_run.offsetof('kvm_dirty_regs'),
  syncRegs: kvm_run.offsetof('s'),
} as const;

export const PIO_DATA_OFFSET = KVM_PIO_PAGE_OFFSET * PAGE_SIZE;

const IO_NONE = 0;
const IO_MMIO = 1;
const IO_PIO = 2;
/** KVM_EXIT_X86_RDMSR / WRMSR (guest-msr.ts). */
const IO_MSR = 3;
// Module-local copy for kick(), on every interrupt's path.
const POLL_IN = EPOLLIN;

/** kvm.ko's min_timer_period_us default (arch/x86/kvm/x86.c). */
export const KVM_MIN_TIMER_PERIOD_US = 200;

export class KvmVcpu implements GuestBus {
  readonly lapic: Lapic | null;
  readonly cpu: GuestCpu;
  /** kvm_run (page 0), PIO data (page 1), coalesced MMIO ring (page 2). */
  readonly run = new Uint8Array(KVM_VCPU_MMAP_SIZE);
  mpState: number;
  /** Woken when something may make the vCPU runnable (kvm_vcpu_kick). */
  readonly wq = new WaitQueue();
  /** Split irqchip: an EOI waiting to be reported as KVM_EXIT_IOAPIC_EOI (-1: none). */
  pendingIoapicEoi = -1;
  /** ioapic_handled_vectors: the vectors whose EOI this vCPU forwards to the IOAPIC (scan-ioapic.ts). */
  readonly ioapicHandledVectors = new Int32Array(8);
  /** KVM_REQ_SCAN_IOAPIC, served before the next guest instruction. */
  scanIoapicRequested = true;
  /** highest_stale_pending_ioapic_eoi: a vector handled only because it was pending at the scan (-1: none). */
  highestStalePendingIoapicEoi = -1;
  /**
   * The x86 emulator's read cache (ctxt->mem_read.data) as a little-endian number: every emulated MMIO
   * read puts its bytes at its start, and it is never cleared. A LAPIC read that kvm_lapic_reg_read()
   * refuses leaves it untouched, so the guest reads whatever the previous MMIO read left there.
   */
  private emulatorReadCache = 0;
  /** A userspace access in flight (complete_userspace_io). */
  ioKind = IO_NONE;
  ioLen = 0;
  ioIsWrite = false;
  /**
   * vcpu->mmio_fragments of an emulated access that crossed a page (emulator_read_write): the second
   * page's part when it too needs userspace (-1: none), and for a read the bytes gathered so far
   * (`splitLow` of them from the first page) of the value being assembled.
   */
  private fragGpa = -1;
  private fragLen = 0;
  private fragValue = 0;
  private splitLow = 0;
  private splitValue = 0;
  /** Whether the exit in progress is for the second page's part. */
  private splitHigh = false;
  /**
   * The guest pc of a port I/O exit (vcpu->arch.cui_linear_rip): complete_fast_pio_in/out drop the
   * completion when userspace moved RIP (KVM_SET_REGS) before re-entering.
   */
  ioPc = 0;
  /** Where a memory fault happened (for KVM_EXIT_MEMORY_FAULT). */
  faultGpa = 0;
  faultLen = 0;
  /**
   * RIP = the guest program's instruction index + ripBias (x86-regs.ts): KVM_GET/SET_REGS show the
   * architectural RIP (0xfff0 after RESET/INIT, 0 after SIPI) while the program runs from its entry.
   * Loading a program sets it to 0 (RIP = instruction index).
   */
  ripBias = 0;
  /** Guest instructions one KVM_RUN may execute without an exit before returning with EINTR. */
  budget = DEFAULT_RUN_BUDGET;
  /** Instructions the last guest entry executed (budget accounting). */
  lastSlice = 0;
  /** KVM_SET_SIGNAL_MASK (stored; the model delivers no signals). */
  sigmask: Uint8Array | null = null;
  /**
   * KVM_GET/SET_SREGS state other than apic_base, cr8 and interrupt_bitmap (kept zero here); EFER and
   * the FS/GS bases are also MSRs (msr.ts), which read and write these bytes.
   */
  readonly sregs = new Uint8Array(kvm_sregs.size);
  /**
   * vcpu->arch.db[0-3], dr6, dr7 (KVM_GET/SET_DEBUGREGS; set by x86-reset.ts). DR6 is an unsigned long:
   * KVM_SET_DEBUGREGS refuses bits above 31, but a #DB payload (vcpu-events.ts) can set them.
   */
  readonly db = new BigUint64Array(4);
  dr6 = 0n;
  dr7 = 0;
  /** The other MSRs KVM_GET/SET_MSRS reach (msr.ts). */
  readonly msrs: VcpuMsrs;
  /**
   * vcpu->arch.interrupt (injected, not soft): the vector KVM_SET_SREGS's interrupt_bitmap queued, injected
   * at the next guest entry whatever IF says; -1: none.
   */
  injectedIrq = -1;
  /** vcpu->arch.interrupt.nr / .soft: the last vector queued, kept after delivery (vcpu-events.ts). */
  irqNr = 0;
  irqSoft = false;
  /** vcpu->arch.exception: injected, pending, vector, error code and payload (vcpu-events.ts). */
  excInjected = false;
  excPending = false;
  excNr = 0;
  excHasErrorCode = false;
  excErrorCode = 0;
  excHasPayload = false;
  excPayload = 0n;
  /** nmi_queued (KVM_NMI; the in-kernel LAPIC's NMIs wait in `lapic.nmiPending`), nmi_pending, nmi_injected. */
  nmiQueued = 0;
  nmiPending = 0;
  nmiInjected = false;
  /** pending_external_vector: the ExtINT vector KVM_INTERRUPT gave a split irqchip's vCPU (-1: none). */
  pendingExternalVector = -1;
  /** KVM_REQ_TRIPLE_FAULT (KVM_SET_VCPU_EVENTS with KVM_CAP_X86_TRIPLE_FAULT_EVENT). */
  tripleFault = false;
  /** The interrupt-shadow bits KVM_SET_VCPU_EVENTS set, and the guest instruction count when it did. */
  shadowBits = 0;
  shadowSetAt = -1;
  /**
   * vcpu->arch.cr8: CR8 (TPR[7:4]) of a vCPU whose LAPIC is in userspace, loaded from kvm_run.cr8 on
   * every KVM_RUN. Unused with an in-kernel LAPIC, whose TPR is CR8 (x86-regs.ts kvmGetCr8/kvmSetCr8).
   */
  cr8 = 0;
  /**
   * vcpu->arch.apic_base of a vCPU without an in-kernel LAPIC: its RESET value (kvm_lapic_reset runs
   * without a LAPIC too), then whatever KVM_SET_SREGS stores. Unused with a LAPIC, which keeps it
   * (x86-regs.ts kvmGetApicBase/kvmApicSetBase).
   */
  apicBase: number;
  /** vcpu->stat: the counters KVM_GET_STATS_FD reports (stats.ts), bumped where the kernel bumps them. */
  readonly stat = new KvmVcpuStat();
  /**
   * enable_irq_window / enable_nmi_window: the window exits KVM armed for an interrupt (WINDOW_IRQ) or
   * NMI (WINDOW_NMI) it could not inject; the guest exits once the window opens (counted in `stat`).
   */
  windowArmed = 0;
  /** Exits to userspace by reason (inspection; room for the proposed KVM_EXIT_MSIX_ENTRY_UPDATED, 100). */
  readonly exits = new Uint32Array(128);
  /**
   * An exit an in-kernel device asked for during the current instruction (kvm_make_request style):
   * the access completed in the kernel, and KVM_RUN returns with this reason once the instruction
   * retires. 0: none. The device fills the kvm_run union itself.
   */
  requestedExit = 0;
  /** The in-kernel MSI-X entry this vCPU's last exit holds until it re-enters KVM_RUN (-1: none). */
  heldMsix = -1;
  /** Guest instructions that reached the in-kernel IOAPIC/PIC/ioeventfd devices (inspection). */
  kernelIo = 0;
  /** The guest CPUID (KVM_SET_CPUID2) and what KVM derives from it (cpuid.ts). */
  readonly guestCpuid = new GuestCpuid();
  /** vcpu->arch.guest_fpu and xcr0: the FPU/XSAVE state (fpu.ts). */
  readonly fpu = new GuestFpu();
  /** kvm_vcpu_has_run(): the vCPU entered the guest at least once (last_vmentry_cpu != -1). */
  hasRun = false;
  /** The guest TSC: rate, offset, synchronization generation, catch-up, TSC_ADJUST (tsc.ts). */
  readonly tsc = new VcpuTsc();
  /** The KVM paravirtual MSRs: kvmclock, async PF, steal time, PV EOI, poll control (pv-msrs.ts). */
  readonly pv = new VcpuPv();
  /** vcpu->halt_poll_ns: the current halt-polling window (halt-poll.ts). */
  haltPollNs = 0;
  /** vcpu->dirty_ring, when the VM enabled KVM_CAP_DIRTY_LOG_RING before this vCPU (dirty-ring.ts). */
  readonly dirtyRing: DirtyRing | null;

  constructor(
    readonly kvm: Kvm,
    readonly vcpuId: number,
    /** Position in kvm->vcpu_array. */
    readonly index: number,
  ) {
    const withApic = kvm.irqchipMode !== KVM_IRQCHIP_NONE;
    this.lapic = withApic ? new Lapic(vcpuId, new KvmLapicOps(kvm, this), kvm.hw) : null;
    if (this.lapic) {
      this.lapic.label = `vm${kvm.id} vcpu${vcpuId}`;
      // lapic_timer.timer_mode_mask is 0 until KVM_SET_CPUID2 sets it (cpuid.ts): LVTT keeps no mode bits.
      this.lapic.timerModeMask = 0;
      // min_timer_period_us (kvm.ko, 200 here as on this machine): the shortest periodic APIC timer period.
      this.lapic.timer.minPeriodNs = KVM_MIN_TIMER_PERIOD_US * 1000;
      this.lapic.timer.restartDeadline = () => startSwTscDeadline(this);
    }
    this.apicBase = 0;
    this.dirtyRing = kvm.dirtyRingSize !== 0 ? new DirtyRing(kvm.dirtyRingSize) : null;
    this.cpu = new GuestCpu(vcpuId, kvm.hw);
    this.cpu.label = `vm${kvm.id} vcpu${vcpuId}`;
    // kvm_arch_vcpu_create(): APs wait for INIT/SIPI when the LAPIC is in the kernel.
    this.mpState = !withApic || vcpuId === kvm.bspVcpuId ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED;
    this.msrs = new VcpuMsrs();
    kvmVcpuReset(this, false);
    kvmVcpuTscCreate(this);
  }

  get isBsp(): boolean {
    return this.vcpuId === this.kvm.bspVcpuId;
  }

  /** kvm_vcpu_kick(): wake the vCPU if it is blocked in KVM_RUN. */
  kick(): void {
    // Tested here, not only inside wake(): a vCPU that is not blocked (every kick on the MSI path) then
    // never reaches the shared wake code, so the JIT does not inline eventfd waiters into LAPIC accept.
    if (this.wq.size !== 0) this.wq.wake(POLL_IN);
  }

  get hasFullIrqchip(): boolean {
    return this.kvm.irqchipMode === KVM_IRQCHIP_KERNEL;
  }

  // ---------------------------------------------------------------------------------------------
  // GuestBus: where a guest access goes

  read(addr: number, size: number): number {
    const kvm = this.kvm;
    const slot = kvm.memslots.find(addr, size);
    if (slot !== null) {
      const v = slot.read(addr, size);
      if (v === ACCESS_FAULT) return this.memoryFault(addr, size);
      return v;
    }
    // Outside RAM: an exit, and the emulator decodes the access (x86_decode_emulated_instruction).
    const stat = this.stat;
    stat.exits++;
    stat.insn_emulation++;
    if ((addr & 0xfff) + size > PAGE_SIZE) return this.readSplit(addr, size);
    const apic = this.lapic;
    if (apic !== null && apic.inRange(addr)) {
      const v = apic.mmioRead(addr - apic.base, size);
      return v >= 0 ? this.emulatedRead(v, size) : this.emulatorReadCache % 2 ** (size * 8);
    }
    const v = kvm.mmioBus.read(addr, size);
    if (v >= 0) {
      this.kernelIo++;
      return this.emulatedRead(v, size);
    }
    return this.mmioExit(addr, size, false, 0);
  }

  /** An emulated MMIO read's value, also left in the emulator's read cache (its first `size` bytes). */
  private emulatedRead(v: number, size: number): number {
    const span = 2 ** (size * 8);
    const c = this.emulatorReadCache;
    this.emulatorReadCache = c - (c % span) + v;
    return v;
  }

  write(addr: number, size: number, value: number): number {
    const kvm = this.kvm;
    const slot = kvm.memslots.find(addr, size);
    if (slot !== null && !slot.readonly) {
      const r = slot.write(addr, size, value, this.dirtyRing, true);
      if (r === ACCESS_FAULT) return this.memoryFault(addr, size);
      return r === ACCESS_RETRY ? GUEST_IO_RETRY : 0;
    }
    // No slot, or a read-only one: the write is emulated as MMIO (vcpu_mmio_write in x86.c), which
    // offers it to the LAPIC and the MMIO bus before exiting to userspace.
    const stat = this.stat;
    stat.exits++;
    stat.insn_emulation++;
    if ((addr & 0xfff) + size > PAGE_SIZE) return this.writeSplit(addr, size, value);
    const apic = this.lapic;
    if (apic !== null && apic.inRange(addr)) {
      apic.mmioWrite(addr - apic.base, size, value);
      return 0;
    }
    if (kvm.mmioBus.write(addr, size, value, this)) {
      this.kernelIo++;
      return 0;
    }
    return this.mmioExit(addr, size, true, value);
  }

  // An emulated access that crosses a page is done a page at a time (emulator_read_write_onepage): each
  // part goes to RAM, the LAPIC or the MMIO bus, and what none of them takes becomes an MMIO fragment;
  // KVM_RUN exits for the first fragment and, once userspace completed it, at once for the second
  // (complete_emulated_mmio) before the instruction completes.

  /** One page's part of an emulated read: the value, -1 if userspace must supply it, or ACCESS_FAULT. */
  private readPage(a: number, n: number): number {
    const slot = this.kvm.memslots.find(a, n);
    if (slot !== null) return slot.read(a, n);
    const apic = this.lapic;
    if (apic !== null && apic.inRange(a)) {
      const v = apic.mmioRead(a - apic.base, n);
      return v >= 0 ? v : this.emulatorReadCache % 2 ** (n * 8);
    }
    const v = this.kvm.mmioBus.read(a, n);
    if (v >= 0) this.kernelIo++;
    return v;
  }

  /** One page's part of an emulated write: true if RAM, the LAPIC or the MMIO bus took it; or ACCESS_FAULT. */
  private writePage(a: number, n: number, value: number): boolean | number {
    const slot = this.kvm.memslots.find(a, n);
    if (slot !== null && !slot.readonly) return slot.write(a, n, value, this.dirtyRing, false) === ACCESS_FAULT ? ACCESS_FAULT : true;
    const apic = this.lapic;
    if (apic !== null && apic.inRange(a)) {
      apic.mmioWrite(a - apic.base, n, value);
      return true;
    }
    if (this.kvm.mmioBus.write(a, n, value, this)) {
      this.kernelIo++;
      return true;
    }
    return false;
  }

  private readSplit(addr: number, size: number): number {
    const n0 = PAGE_SIZE - (addr & 0xfff);
    const lo = this.readPage(addr, n0);
    if (lo === ACCESS_FAULT) return this.memoryFault(addr, n0);
    const hi = this.readPage(addr + n0, size - n0);
    if (hi === ACCESS_FAULT) return this.memoryFault(addr + n0, size - n0);
    const shift = 2 ** (n0 * 8);
    if (lo >= 0 && hi >= 0) return this.emulatedRead(lo + hi * shift, size);
    this.splitLow = n0;
    this.splitValue = (lo >= 0 ? lo : 0) + (hi >= 0 ? hi * shift : 0);
    this.splitHigh = lo >= 0;
    if (lo < 0) {
      this.fragGpa = hi < 0 ? addr + n0 : -1;
      this.fragLen = size - n0;
      return this.mmioExit(addr, n0, false, 0);
    }
    return this.mmioExit(addr + n0, size - n0, false, 0);
  }

  private writeSplit(addr: number, size: number, value: number): number {
    const n0 = PAGE_SIZE - (addr & 0xfff);
    const shift = 2 ** (n0 * 8);
    const lo = value % shift;
    const hi = Math.floor(value / shift);
    const r0 = this.writePage(addr, n0, lo);
    if (r0 === ACCESS_FAULT) return this.memoryFault(addr, n0);
    const r1 = this.writePage(addr + n0, size - n0, hi);
    if (r1 === ACCESS_FAULT) return this.memoryFault(addr + n0, size - n0);
    if (r0 === true && r1 === true) return 0;
    this.splitLow = 0;
    if (r0 !== true) {
      this.fragGpa = r1 !== true ? addr + n0 : -1;
      this.fragLen = size - n0;
      this.fragValue = hi;
      return this.mmioExit(addr, n0, true, lo);
    }
    return this.mmioExit(addr + n0, size - n0, true, hi);
  }

  pioIn(port: number, size: number): number {
    const p = port & 0xffff;
    // Every IN/OUT exits (VMX handle_io, SVM io_interception), whoever handles it.
    const stat = this.stat;
    stat.exits++;
    stat.io_exits++;
    const v = this.kvm.pioBus.read(p, size);
    if (v >= 0) {
      this.kernelIo++;
      return v;
    }
    return this.pioExit(p, size, false, 0);
  }

  pioOut(port: number, size: number, value: number): number {
    const p = port & 0xffff;
    const stat = this.stat;
    stat.exits++;
    stat.io_exits++;
    if (this.kvm.pioBus.write(p, size, value, this)) {
      this.kernelIo++;
      return 0;
    }
    return this.pioExit(p, size, true, value);
  }

  /** Guest RDMSR (guest-msr.ts): an MSR exit completes on re-entry like an I/O exit. */
  rdmsr(index: number): number {
    this.stat.exits++;
    return this.msrResult(kvmEmulateRdmsr(this, index), false);
  }

  wrmsr(index: number, lo: number, hi: number): number {
    this.stat.exits++;
    return this.msrResult(kvmEmulateWrmsr(this, index, lo, hi), true);
  }

  private msrResult(r: number, isWrite: boolean): number {
    if (r === GUEST_IO_EXIT) {
      this.ioKind = IO_MSR;
      this.ioIsWrite = isWrite;
    }
    return r;
  }

  private mmioExit(addr: number, len: number, isWrite: boolean, value: number): number {
    const run = this.run;
    setU64n(run, RUN.mmioPhysAddr, addr);
    if (isWrite) setLE(run, RUN.mmioData, len, value);
    setU32(run, RUN.mmioLen, len);
    run[RUN.mmioIsWrite] = isWrite ? 1 : 0;
    setU32(run, RUN.exitReason, KVM_EXIT_MMIO);
    // x86_emulate_instruction(): vcpu->mmio_needed.
    this.stat.mmio_exits++;
    this.ioKind = IO_MMIO;
    this.ioLen = len;
    this.ioIsWrite = isWrite;
    return GUEST_IO_EXIT;
  }

  private pioExit(port: number, size: number, isOut: boolean, value: number): number {
    const run = this.run;
    run[RUN.ioDirection] = isOut ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
    run[RUN.ioSize] = size;
    setU16(run, RUN.ioPort, port);
    setU32(run, RUN.ioCount, 1);
    setU64n(run, RUN.ioDataOffset, PIO_DATA_OFFSET);
    if (isOut) setLE(run, PIO_DATA_OFFSET, size, value);
    setU32(run, RUN.exitReason, KVM_EXIT_IO);
    this.ioKind = IO_PIO;
    this.ioPc = this.cpu.pc;
    this.ioLen = size;
    this.ioIsWrite = isOut;
    return GUEST_IO_EXIT;
  }

  private memoryFault(addr: number, len: number): number {
    this.faultGpa = addr;
    this.faultLen = len;
    return GUEST_IO_FAULT;
  }

  /** Fills the KVM_EXIT_MEMORY_FAULT exit for the last faulting access. */
  reportMemoryFault(): void {
    const run = this.run;
    setU32(run, RUN.exitReason, KVM_EXIT_MEMORY_FAULT);
    setU64n(run, RUN.memoryFaultFlags, 0);
    setU64n(run, RUN.memoryFaultFlags + 8, this.faultGpa & ~0xfff);
    setU64n(run, RUN.memoryFaultFlags + 16, PAGE_SIZE);
  }

  /**
   * Loads a new guest program (the control API's stand-in for userspace writing code and setting RIP).
   * An access the old program exited for is dropped, not completed into the new one: the kernel's
   * completion callbacks (complete_fast_pio_out and the like) skip the instruction only while RIP is
   * still the one that exited.
   */
  loadProgram(program: GuestProgram): void {
    this.cpu.load(program);
    this.ripBias = 0;
    this.cancelUserspaceIo();
  }

  /** Drops the access the vCPU exited for, uncompleted (a new program, or a RESET/INIT). */
  cancelUserspaceIo(): void {
    this.ioKind = IO_NONE;
    this.fragGpa = -1;
    this.splitLow = 0;
  }

  /**
   * complete_emulated_mmio / complete_emulated_pio: finishes the access userspace handled. False when
   * a second MMIO fragment of the access needs userspace: KVM_RUN then returns with that exit at once.
   */
  completeUserspaceIo(): boolean {
    if (this.ioKind === IO_NONE) return true;
    if (this.ioKind === IO_MSR) {
      this.ioKind = IO_NONE;
      if (completeUserspaceMsr(this, this.ioIsWrite)) this.cpu.completeIo(0);
      else this.cpu.abortIo();
      return true;
    }
    if (this.ioKind === IO_PIO && this.cpu.pc !== this.ioPc) {
      this.ioKind = IO_NONE;
      this.cpu.abortIo();
      return true;
    }
    if (this.ioKind === IO_MMIO && this.ioIsWrite) {
      // The instruction retired before the exit (retireMmioWrite); only a second fragment is left.
      if (this.fragGpa >= 0) return this.nextFragment();
      this.ioKind = IO_NONE;
      return true;
    }
    const run = this.run;
    let value = 0;
    if (!this.ioIsWrite) value = getLE(run, this.ioKind === IO_MMIO ? RUN.mmioData : PIO_DATA_OFFSET, this.ioLen);
    if (this.ioKind === IO_MMIO && this.splitLow !== 0) {
      // A fragment of a read that crossed a page: its bytes go where its page's part sits in the value.
      this.splitValue += this.splitHigh ? value * 2 ** (this.splitLow * 8) : value;
      if (this.fragGpa >= 0) return this.nextFragment();
      value = this.splitValue;
      this.splitLow = 0;
    }
    if (this.ioKind === IO_MMIO && !this.ioIsWrite) this.emulatedRead(value, this.ioLen);
    this.ioKind = IO_NONE;
    this.cpu.completeIo(value);
    return true;
  }

  /**
   * x86_emulate_instruction()'s writeback: an instruction whose MMIO write exits to userspace retires
   * first (RIP moves past it before KVM_RUN returns); a read waits for the data.
   */
  retireMmioWrite(): void {
    if (this.ioKind === IO_MMIO && this.ioIsWrite) this.cpu.completeIo(0);
  }

  /** complete_emulated_mmio() with a fragment left: KVM_RUN exits again for it without running the guest. */
  private nextFragment(): false {
    const gpa = this.fragGpa;
    this.fragGpa = -1;
    this.splitHigh = true;
    const run = this.run;
    setU64n(run, RUN.mmioPhysAddr, gpa);
    if (this.ioIsWrite) setLE(run, RUN.mmioData, this.fragLen, this.fragValue);
    setU32(run, RUN.mmioLen, this.fragLen);
    setU32(run, RUN.exitReason, KVM_EXIT_MMIO);
    this.exits[KVM_EXIT_MMIO]!++;
    this.ioLen = this.fragLen;
    return false;
  }

  get ioPending(): boolean {
    return this.ioKind !== IO_NONE;
  }
}
