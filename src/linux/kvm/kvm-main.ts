// The KVM file descriptors (virt/kvm/kvm_main.c: kvm_dev_ioctl, kvm_dev_ioctl_create_vm,
// kvm_vm_ioctl, kvm_vm_ioctl_create_vcpu, kvm_vcpu_ioctl, kvm_vcpu_mmap, kvm_vm_release,
// kvm_vcpu_release), dispatching to the x86 parts (x86.ts, x86-run.ts).
//
// /dev/kvm: KVM_GET_API_VERSION (12; a non-zero argument -> EINVAL), KVM_CREATE_VM (type 0 only on this
// host [E]: vm-type.ts), KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE (12288), KVM_GET_MSR_INDEX_LIST (msr.ts);
// anything else -> EINVAL (x86's kvm_arch_dev_ioctl). VM fd: unknown ioctls -> ENOTTY; vCPU fd: unknown -> EINVAL [E]. VM and vCPU
// ioctls from a process other than the VM's creator -> EIO. KVM_CREATE_VCPU: id >= 4096 -> EINVAL,
// more than 1024 vCPUs -> EINVAL, an id in use -> EEXIST. KVM_RUN with a non-zero argument -> EINVAL.

import { kvmVcpuTscPostcreate } from './tsc.js';
import { kvmSetGuestPaused } from './pv-msrs.js';
import { kerr } from '../errors.js';
import { KFile, type FileContext, type MmapRequest } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import { IoBacking, MemoryFault, RamBacking, type Backing } from '../mm/backing.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64 } from '../../../abi/bytes.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import {
  KVM_API_VERSION, KVM_CHECK_EXTENSION, KVM_GET_CPUID2, KVM_GET_EMULATED_CPUID, KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID, KVM_SET_CPUID2,
  KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_TSS_ADDR, KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, KVM_CREATE_IRQCHIP, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_ENABLE_CAP,
  KVM_GET_API_VERSION, KVM_GET_DEBUGREGS, KVM_GET_IRQCHIP, KVM_GET_LAPIC, KVM_GET_MP_STATE, KVM_GET_MSR_INDEX_LIST, KVM_GET_MSRS, KVM_GET_REGS, KVM_GET_SREGS,
  KVM_GET_VCPU_MMAP_SIZE, KVM_IOEVENTFD, KVM_IRQFD, KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_RUN, KVM_SET_GSI_ROUTING,
  KVM_SET_DEBUGREGS, KVM_SET_IRQCHIP, KVM_SET_LAPIC, KVM_SET_MP_STATE, KVM_SET_MSRS, KVM_SET_REGS, KVM_SET_SIGNAL_MASK, KVM_SET_SREGS,
  KVM_SET_USER_MEMORY_REGION, KVM_SIGNAL_MSI, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_NMI, KVM_INTERRUPT, kvm_ioeventfd, kvm_irq_routing, kvm_irqfd, kvm_msi,
} from '../../../include-ts/linux/kvm.js';
import { KVM_GET_FPU, KVM_GET_XCRS, KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_SET_FPU, KVM_SET_XCRS, KVM_SET_XSAVE } from '../../../include-ts/linux/kvm.js';
import {
  KVM_DEFINE_MSIX_TABLE, KVM_GET_MSIX_ENTRY, KVM_GET_MSIX_PENDING, KVM_GET_MSIX_TABLE_STATE, KVM_REMOVE_MSIX_TABLE,
  KVM_SET_MSIX_ENTRY, KVM_SET_MSIX_ENTRY_IRQ, KVM_SET_MSIX_TABLE_STATE,
} from '../../../include-ts/proposed/kvm_msix_table.js';
import { KVM_IRQCHIP_NONE, KVM_MAX_IRQ_ROUTES, KVM_MAX_VCPU_IDS, KVM_VCPU_MMAP_SIZE, PAGE_SIZE } from './kvm-host.js';
import { DIRTY_RING_MMAP_OFFSET, pageInDirtyRing, resetDirtyRings } from './dirty-ring.js';
import { noopLlseek } from '../fs/llseek.js';
import { devGetMsrs, featureMsrIndexList } from './feature-msrs.js';
import { MAP_PRIVATE, MAP_TYPE } from '../../../include-ts/linux/mman.js';
import { requestScanIoapic } from './scan-ioapic.js';
import {
  defineMsixTable, getMsixEntry, getMsixPending, getMsixTableState, removeMsixTable, setMsixEntry, setMsixEntryIrq,
  setMsixTableState,
} from './msix-table/ioctl.js';
import { decodeRoutes, setIrqRouting } from './irqchip.js';
import { kvmSendUserspaceMsi } from './irq.js';
import { devGetMceCapSupported, vcpuSetMce, vcpuSetupMce } from './mce.js';
import { msrIndexList, msrIo } from './msr.js';
import { clearDirtyLog, getDirtyLog } from './dirty-log.js';
import { parseMsrFilter } from './msr-filter.js';
import { devGetCpuid, getCpuid2, setCpuid1, setCpuid2 } from './cpuid.js';
import { vcpuSetTscKhz, vcpuTscAttr, vmSetTscKhz } from './tsc.js';
import { vmGetClock, vmSetClock } from './kvmclock.js';
import * as KC from '../../../include-ts/linux/kvm.js';
import { getFpu, getXcrs, getXsave, getXsave2, setFpu, setXcrs, setXsave } from './fpu.js';
import { KvmVcpu } from './vcpu.js';
import { Kvm, type KvmModule } from './vm.js';
import { setUserMemoryRegion } from './user-memory-region.js';
import { createGuestMemfd } from './guest-memfd.js';
import { checkVmType } from './vm-type.js';
import { vcpuIoctlRun } from './x86-run.js';
import { getVcpuEvents, setVcpuEvents, vcpuIoctlInterrupt, vcpuIoctlNmi } from './vcpu-events.js';
import {
  checkExtension, createIrqchip, enableCap, getDebugregs, getLapic, getMpState, getRegs, getSregs, irqchipState, irqLine,
  setDebugregs, setLapic, setMpState, setRegs, setSignalMask, setSregs, setIdentityMapAddr, setTssAddr, vcpuEnableCap,
} from './x86.js';
import { getStatsFd } from './stats.js';
import { kvmIoctlCreateDevice } from './device.js';
import { createPit, getPit, getPit2, reinjectControl, setPit, setPit2 } from './i8254.js';

/** An ioctl's `unsigned long arg`: a pointer counts as non-zero. */
function argValue(arg: UserArg): number {
  return arg.isBuffer ? 1 : arg.value();
}

/** The argument as the unsigned long the kernel sees (for range checks on ids and types). */
function argULong(arg: UserArg): bigint {
  if (arg.isBuffer) return 1n;
  const r = arg.rawArg;
  if (typeof r === 'bigint') return BigInt.asUintN(64, r);
  return BigInt.asUintN(64, BigInt(arg.value()));
}

/** /dev/kvm. */
export class KvmDevFile extends KFile {
  readonly kind = 'kvm' as const;
  readonly path = '/dev/kvm';
  /** ->llseek = noop_llseek. */
  override llseek(): number {
    return noopLlseek(this);
  }

  constructor(private readonly module: KvmModule) {
    super();
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    switch (req) {
      case KVM_GET_API_VERSION:
        if (argValue(arg)) throw kerr('EINVAL', 'KVM_GET_API_VERSION takes no argument (0)');
        return KVM_API_VERSION;
      case KVM_CREATE_VM:
        return this.createVm(ctx, arg);
      case KVM_CHECK_EXTENSION: {
        const cap = argULong(arg);
        return cap > 0xffff_ffffn ? 0 : checkExtension(this.module, null, Number(cap));
      }
      case KVM_GET_VCPU_MMAP_SIZE:
        if (argValue(arg)) throw kerr('EINVAL', 'KVM_GET_VCPU_MMAP_SIZE takes no argument (0)');
        return KVM_VCPU_MMAP_SIZE;
      case KVM_GET_MSR_INDEX_LIST:
        return msrIndexList(arg, this.module.vmxMce);
      case KVM_GET_SUPPORTED_CPUID:
        return devGetCpuid(arg, false);
      case KVM_GET_EMULATED_CPUID:
        return devGetCpuid(arg, true);
      case KC.KVM_X86_GET_MCE_CAP_SUPPORTED:
        return devGetMceCapSupported(this.module, arg);
      case KC.KVM_GET_MSR_FEATURE_INDEX_LIST:
        return featureMsrIndexList(arg);
      case KVM_GET_MSRS:
        return devGetMsrs(arg);
      default:
        throw kerr('EINVAL', `ioctl 0x${req.toString(16)} is not a /dev/kvm ioctl`);
    }
  }

  /** kvm_dev_ioctl_create_vm(). */
  private createVm(ctx: FileContext, arg: UserArg): number {
    // kvm_dev_ioctl_create_vm() takes the fd before kvm_arch_init_vm() looks at the type.
    ctx.proc.fds.reserveCheck();
    checkVmType(argULong(arg));
    const kvm = new Kvm(this.module, ctx.kernel, ctx.proc);
    const f = new KvmVmFile(kvm);
    f.flags = O_RDWR;
    return ctx.proc.fds.install(f, true);
  }
}

/** A VM fd (anon_inode:kvm-vm). */
export class KvmVmFile extends KFile {
  readonly kind = 'kvm-vm' as const;
  readonly path = 'anon_inode:kvm-vm';
  /** ->llseek = noop_llseek. */
  override llseek(): number {
    return noopLlseek(this);
  }

  constructor(readonly kvm: Kvm) {
    super();
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    const kvm = this.kvm;
    if (ctx.proc.mm !== kvm.proc.mm) throw kerr('EIO', `the VM belongs to process ${kvm.proc.pid}; its fd cannot be used from process ${ctx.proc.pid}`);
    switch (req) {
      case KVM_CREATE_VCPU:
        return this.createVcpu(ctx, argULong(arg));
      case KVM_SET_USER_MEMORY_REGION:
        return setUserMemoryRegion(kvm, arg, false, ctx.proc);
      case KC.KVM_SET_USER_MEMORY_REGION2:
        return setUserMemoryRegion(kvm, arg, true, ctx.proc);
      case KVM_CHECK_EXTENSION: {
        const cap = argULong(arg);
        return cap > 0xffff_ffffn ? 0 : checkExtension(kvm.module, kvm, Number(cap));
      }
      case KVM_ENABLE_CAP:
        return enableCap(kvm, arg);
      case KVM_IRQFD: {
        const b = arg.user(kvm_irqfd.size);
        return kvm.irqfds.ioctl(ctx, getU32(b, 0) | 0, getU32(b, 4), getU32(b, 8), getU32(b, 12) | 0);
      }
      case KC.KVM_REGISTER_COALESCED_MMIO:
      case KC.KVM_UNREGISTER_COALESCED_MMIO: {
        const b = arg.user(KC.kvm_coalesced_mmio_zone.size);
        const zone = { addr: getU64(b, 0), size: getU32(b, 8), pio: getU32(b, 12) };
        return req === KC.KVM_REGISTER_COALESCED_MMIO ? kvm.coalesced.register(zone) : kvm.coalesced.unregister(zone);
      }
      case KVM_IOEVENTFD: {
        const b = arg.user(kvm_ioeventfd.size);
        return kvm.ioeventfds.ioctl(ctx, { datamatch: getU64(b, 0), addr: getU64(b, 8), len: getU32(b, 16), fd: getU32(b, 20) | 0, flags: getU32(b, 24) });
      }
      case KVM_SIGNAL_MSI: {
        const b = arg.user(kvm_msi.size);
        return kvmSendUserspaceMsi(kvm, getU32(b, 0), getU32(b, 4), getU32(b, 8), getU32(b, 12));
      }
      case KVM_SET_GSI_ROUTING: {
        const hdr = arg.user(kvm_irq_routing.size);
        const nr = getU32(hdr, 0);
        const flags = getU32(hdr, 4);
        if (kvm.irqchipMode === KVM_IRQCHIP_NONE) throw kerr('EINVAL', 'the VM has no in-kernel irqchip');
        if (nr > KVM_MAX_IRQ_ROUTES) throw kerr('EINVAL', `nr ${nr} is above KVM_MAX_IRQ_ROUTES (${KVM_MAX_IRQ_ROUTES})`);
        if (flags) throw kerr('EINVAL', `kvm_irq_routing.flags must be 0 (got 0x${flags.toString(16)})`);
        const bytes = nr ? arg.user(kvm_irq_routing.size + nr * 48) : hdr;
        setIrqRouting(kvm, decodeRoutes(bytes, nr));
        return 0;
      }
      case KVM_IRQ_LINE:
        return irqLine(kvm, arg, false);
      case KVM_IRQ_LINE_STATUS:
        return irqLine(kvm, arg, true);
      case KVM_CREATE_IRQCHIP:
        return createIrqchip(kvm);
      case KC.KVM_CREATE_PIT2:
        return createPit(kvm, arg);
      case KC.KVM_CREATE_PIT:
        return createPit(kvm, null);
      case KC.KVM_GET_PIT2:
        return getPit2(kvm, arg);
      case KC.KVM_SET_PIT2:
        return setPit2(kvm, arg);
      case KC.KVM_GET_PIT:
        return getPit(kvm, arg);
      case KC.KVM_SET_PIT:
        return setPit(kvm, arg);
      case KC.KVM_REINJECT_CONTROL:
        return reinjectControl(kvm, arg);
      case KC.KVM_RESET_DIRTY_RINGS:
        return resetDirtyRings(kvm);
      case KVM_GET_DIRTY_LOG:
        return getDirtyLog(kvm, ctx.proc, arg);
      case KVM_CLEAR_DIRTY_LOG:
        return clearDirtyLog(kvm, ctx.proc, arg);
      case KC.KVM_X86_SET_MSR_FILTER:
        // kvm_vm_ioctl_set_msr_filter: the whole filter is replaced, or nothing changes.
        kvm.msrFilter = parseMsrFilter(ctx.proc, arg);
        return 0;
      case KVM_SET_TSS_ADDR:
        return setTssAddr(argULong(arg));
      case KVM_SET_IDENTITY_MAP_ADDR:
        return setIdentityMapAddr(kvm, arg);
      case KVM_GET_IRQCHIP:
        return irqchipState(kvm, arg, false);
      case KVM_SET_IRQCHIP:
        return irqchipState(kvm, arg, true);
      // The proposed in-kernel MSI-X table (include-ts/proposed/kvm_msix_table.ts).
      case KVM_DEFINE_MSIX_TABLE:
        return defineMsixTable(kvm, arg);
      case KVM_REMOVE_MSIX_TABLE:
        return removeMsixTable(kvm, arg);
      case KVM_SET_MSIX_ENTRY:
        return setMsixEntry(kvm, arg);
      case KVM_GET_MSIX_ENTRY:
        return getMsixEntry(kvm, arg);
      case KVM_SET_MSIX_ENTRY_IRQ:
        return setMsixEntryIrq(kvm, arg);
      case KVM_GET_MSIX_PENDING:
        return getMsixPending(kvm, arg);
      case KVM_GET_MSIX_TABLE_STATE:
        return getMsixTableState(kvm, arg);
      case KVM_SET_MSIX_TABLE_STATE:
        return setMsixTableState(kvm, arg);
      case KC.KVM_GET_CLOCK:
        return vmGetClock(kvm, arg);
      case KC.KVM_SET_CLOCK:
        return vmSetClock(kvm, arg);
      case KC.KVM_SET_TSC_KHZ:
        return vmSetTscKhz(kvm, arg);
      case KC.KVM_GET_TSC_KHZ:
        return kvm.tsc.defaultTscKhz;
      case KC.KVM_GET_STATS_FD:
        return getStatsFd(ctx, kvm);
      case KC.KVM_CREATE_DEVICE:
        return kvmIoctlCreateDevice(ctx, kvm, arg);
      case KC.KVM_CREATE_GUEST_MEMFD:
        return createGuestMemfd(ctx, kvm, arg);
      default:
        throw kerr('ENOTTY', `ioctl 0x${req.toString(16)} is not a VM ioctl this model implements`);
    }
  }

  /** kvm_vm_ioctl_create_vcpu(). */
  private createVcpu(ctx: FileContext, id: bigint): number {
    const kvm = this.kvm;
    if (id >= BigInt(KVM_MAX_VCPU_IDS)) throw kerr('EINVAL', `vCPU id ${id} is not below KVM_MAX_VCPU_IDS (${KVM_MAX_VCPU_IDS})`);
    if (kvm.createdVcpus >= kvm.maxVcpus) throw kerr('EINVAL', `the VM already has the maximum of ${kvm.maxVcpus} vCPUs`);
    const vid = Number(id);
    if (kvm.vcpuById(vid)) throw kerr('EEXIST', `vCPU id ${vid} already exists`);
    ctx.proc.fds.reserveCheck();
    const vcpu = new KvmVcpu(kvm, vid, kvm.vcpus.length);
    kvm.createdVcpus++;
    kvm.vcpus.push(vcpu);
    // kvm_arch_vcpu_postcreate(), once the vCPU is online.
    kvmVcpuTscPostcreate(vcpu);
    kvm.coalesced.attach(vcpu);
    requestScanIoapic(kvm);
    kvm.get();
    const f = new KvmVcpuFile(vcpu);
    f.flags = O_RDWR;
    return ctx.proc.fds.install(f, true);
  }

  override release(_kernel: Kernel): void {
    this.kvm.release();
  }
}

/** A vCPU fd (anon_inode:kvm-vcpu:N). */
export class KvmVcpuFile extends KFile {
  readonly kind = 'kvm-vcpu' as const;
  readonly path: string;
  /** ->llseek = noop_llseek. */
  override llseek(): number {
    return noopLlseek(this);
  }

  constructor(readonly vcpu: KvmVcpu) {
    super();
    this.path = `anon_inode:kvm-vcpu:${vcpu.vcpuId}`;
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    const v = this.vcpu;
    if (ctx.proc.mm !== v.kvm.proc.mm) throw kerr('EIO', `the vCPU belongs to process ${v.kvm.proc.pid}; its fd cannot be used from process ${ctx.proc.pid}`);
    switch (req) {
      case KVM_RUN:
        if (argValue(arg)) throw kerr('EINVAL', 'KVM_RUN takes no argument (0)');
        return vcpuIoctlRun(v, ctx);
      case KVM_GET_LAPIC:
        return getLapic(v, arg);
      case KVM_SET_LAPIC:
        return setLapic(v, arg);
      case KVM_GET_REGS:
        return getRegs(v, arg);
      case KVM_SET_REGS:
        return setRegs(v, arg);
      case KVM_GET_SREGS:
        return getSregs(v, arg);
      case KVM_SET_SREGS:
        return setSregs(v, arg);
      case KVM_GET_MP_STATE:
        return getMpState(v, arg);
      case KVM_SET_MP_STATE:
        return setMpState(v, arg);
      case KVM_GET_MSRS:
        return msrIo(v, arg, false);
      case KVM_SET_MSRS:
        return msrIo(v, arg, true);
      case KVM_SET_SIGNAL_MASK:
        return setSignalMask(v, arg);
      case KVM_SET_CPUID:
        return setCpuid1(v, arg);
      case KVM_SET_CPUID2:
        return setCpuid2(v, arg);
      case KVM_GET_CPUID2:
        return getCpuid2(v, arg);
      case KVM_GET_DEBUGREGS:
        return getDebugregs(v, arg);
      case KVM_SET_DEBUGREGS:
        return setDebugregs(v, arg);
      case KC.KVM_SET_TSC_KHZ:
        return vcpuSetTscKhz(v, arg);
      case KC.KVM_GET_TSC_KHZ:
        return v.tsc.virtualTscKhz;
      case KC.KVM_HAS_DEVICE_ATTR:
        return vcpuTscAttr(v, ctx, 'has', arg);
      case KC.KVM_GET_DEVICE_ATTR:
        return vcpuTscAttr(v, ctx, 'get', arg);
      case KC.KVM_SET_DEVICE_ATTR:
        return vcpuTscAttr(v, ctx, 'set', arg);
      case KVM_GET_FPU:
        return getFpu(v, arg);
      case KVM_SET_FPU:
        return setFpu(v, arg);
      case KVM_GET_XSAVE:
        return getXsave(v, arg);
      case KVM_GET_XSAVE2:
        return getXsave2(v, arg);
      case KVM_SET_XSAVE:
        return setXsave(v, arg);
      case KVM_GET_XCRS:
        return getXcrs(v, arg);
      case KVM_SET_XCRS:
        return setXcrs(v, arg);
      case KVM_GET_VCPU_EVENTS:
        return getVcpuEvents(v, arg);
      case KVM_SET_VCPU_EVENTS:
        return setVcpuEvents(v, arg);
      case KVM_NMI:
        return vcpuIoctlNmi(v);
      case KC.KVM_X86_SETUP_MCE:
        return vcpuSetupMce(v, arg);
      case KC.KVM_X86_SET_MCE:
        return vcpuSetMce(v, arg);
      case KVM_INTERRUPT:
        return vcpuIoctlInterrupt(v, arg);
      case KC.KVM_GET_STATS_FD:
        return getStatsFd(ctx, v);
      case KC.KVM_KVMCLOCK_CTRL:
        return kvmSetGuestPaused(v);
      case KVM_ENABLE_CAP:
        return vcpuEnableCap(v, arg);
      default:
        throw kerr('EINVAL', `ioctl 0x${req.toString(16)} is not a vCPU ioctl this model implements`);
    }
  }

  /**
   * kvm_vcpu_mmap(): kvm_run, the PIO page and the coalesced ring, and the dirty ring at page
   * KVM_DIRTY_LOG_PAGE_OFFSET; other pages fault (SIGBUS). A mapping whose first or last page is a
   * dirty-ring page must be shared (EINVAL).
   */
  override mmap(_ctx: FileContext, req: MmapRequest): Backing {
    const v = this.vcpu;
    const run = v.run;
    const kvm = v.kvm;
    const first = req.offset / PAGE_SIZE;
    if ((pageInDirtyRing(kvm, first) || pageInDirtyRing(kvm, first + req.length / PAGE_SIZE - 1)) && (req.flags & MAP_TYPE) === MAP_PRIVATE) {
      throw kerr('EINVAL', 'the dirty ring pages of a vCPU can only be mapped shared (MAP_SHARED)');
    }
    if (req.offset + req.length <= KVM_VCPU_MMAP_SIZE) return new RamBacking(run.subarray(req.offset, req.offset + req.length));
    const ring = v.dirtyRing?.bytes ?? null;
    const ringEnd = DIRTY_RING_MMAP_OFFSET + kvm.dirtyRingSize;
    if (ring !== null && req.offset >= DIRTY_RING_MMAP_OFFSET && req.offset + req.length <= ringEnd) {
      return new RamBacking(ring.subarray(req.offset - DIRTY_RING_MMAP_OFFSET, req.offset - DIRTY_RING_MMAP_OFFSET + req.length));
    }
    // A mapping across regions: each page is what kvm_vcpu_fault() finds for it.
    const fault = (o: number): never => {
      throw new MemoryFault('SIGBUS', o, 'no page of the vCPU mapping is there (kvm_vcpu_fault)');
    };
    const page = (o: number): Uint8Array => {
      if (o < KVM_VCPU_MMAP_SIZE) return run;
      if (ring !== null && o >= DIRTY_RING_MMAP_OFFSET && o < ringEnd) return ring;
      return fault(o);
    };
    const at = (o: number): number => (o < KVM_VCPU_MMAP_SIZE ? o : o - DIRTY_RING_MMAP_OFFSET);
    return new IoBacking(
      {
        read: (o, size) => {
          let x = 0;
          for (let i = size - 1; i >= 0; i--) x = x * 256 + page(o + i)[at(o + i)]!;
          return x;
        },
        write: (o, size, value) => {
          for (let i = 0; i < size; i++) page(o + i)[at(o + i)] = (value >>> (i * 8)) & 0xff;
        },
      },
      req.offset,
      req.length,
    );
  }

  override release(_kernel: Kernel): void {
    this.vcpu.kvm.put();
  }
}
