// The modeled Linux kernel: the state shared by every process (VFS, scheduler, log, module
// parameters) and the registry of subsystems. Subsystems (procfs, PCI core, VFIO, KVM...) are booted
// in order by src/linux/boot.ts and store their state in the fields below; adding a subsystem adds a
// field and a boot entry, nothing else.

import { KernelIds } from './ids.js';
import type { Machine } from '../hw/machine.js';
import type { Scheduler } from '../sim/scheduler.js';
import type { TraceBus } from '../sim/trace.js';
import { Vfs } from './fs/vfs.js';
import { InodeNumbers } from './fs/fdinfo.js';
import type { EpollWatches } from './fs/eventpoll.js';
import { ModuleParams } from './moduleparam.js';
import { KernelLog } from './printk.js';
import { PipeLimits } from './pipe.js';
import type { Process } from './process.js';
import type { IoctlTable } from './trace/ioctl-desc.js';
import type { PciCore } from './pci/pci-core.js';
import type { IommuCore } from './iommu/iommu-group.js';
import type { VfioCore } from './vfio/vfio-main.js';
import type { IommufdCore } from './iommu/iommufd/main.js';
import type { KvmModule } from './kvm/vm.js';
import type { XenHypervisorPort } from './xen/hypervisor.js';
import type { IrqCore } from './irq/irq-core.js';
import type { PciMsi } from './pci/msi.js';
import { Pins } from './mm/pins.js';

export interface KernelOptions {
  /** The kernel command line, for module parameters (`vfio_pci.nointxmask=1`). */
  readonly cmdline?: string;
  /** The hypervisor, when this kernel is booted as Xen's dom0 (enables /dev/xen/privcmd). */
  readonly xen?: XenHypervisorPort;
  /** Host CPUs (default 16: enough interrupt vectors for the default NIC's 2048 MSI-X queues). */
  readonly cpus?: number;
}

export class Kernel {
  readonly sched: Scheduler;
  readonly trace: TraceBus;
  readonly log: KernelLog;
  readonly vfs = new Vfs();
  /** Identifiers handed out per machine (eventfd ids, pipe and tmpfs inode numbers, VFIO containers). */
  readonly ids = new KernelIds();
  /** Mount ids and inode numbers of open files, as /proc/<pid>/fdinfo shows them (fs/fdinfo.ts). */
  readonly inodes = new InodeNumbers(this);
  readonly params: ModuleParams;
  readonly processes = new Map<number, Process>();
  /** Holders of long-term page pins (VFIO, iommufd): told when a process drops pinned pages. */
  readonly pins = new Pins();
  /** The pipe sysctls and each user's pipe pages (fs/pipe.c). */
  readonly pipeLimits = new PipeLimits();
  /** ioctl names and argument layouts per file type, for error messages and the strace formatter. */
  readonly ioctlTables = new Map<string, IoctlTable>();
  /** The host interrupt core: irq descriptors, CPUs and vectors, remapping, I/O APIC (src/linux/irq); unset in Xen's dom0. */
  irq!: IrqCore;
  /** PCI MSI/MSI-X vector allocation (src/linux/pci/msi.ts); unset in Xen's dom0. */
  msi!: PciMsi;
  /** The PCI core: pci_devs, drivers, binding (src/linux/pci). */
  pci!: PciCore;
  /** IOMMU groups and DMA ownership (src/linux/iommu). */
  iommu!: IommuCore;
  /** VFIO: containers, groups, devices (src/linux/vfio). */
  vfio!: VfioCore;
  /** iommufd: /dev/iommu and its contexts (src/linux/iommu/iommufd). */
  iommufd!: IommufdCore;
  /** epoll's max_user_watches and per-user counts (src/linux/fs/eventpoll.ts). */
  epoll!: EpollWatches;
  /** KVM (src/linux/kvm), set by its init. */
  kvm: KvmModule | null = null;
  /** The hypervisor port when running as Xen's dom0, else null. */
  readonly xen: XenHypervisorPort | null;
  private nextPid = 1;

  constructor(
    readonly machine: Machine,
    readonly options: KernelOptions = {},
  ) {
    const opts = options;
    this.sched = machine.sched;
    this.trace = machine.trace;
    this.log = new KernelLog(this.sched, this.trace);
    this.params = new ModuleParams(opts.cmdline ?? '', this.vfs);
    this.xen = opts.xen ?? null;
  }

  allocPid(): number {
    return this.nextPid++;
  }

  /**
   * A scheduling point: called at every syscall exit and after hardware events. Under the 'eager'
   * policy pending deferred work runs to completion here.
   */
  point(): void {
    this.sched.point();
  }
}
