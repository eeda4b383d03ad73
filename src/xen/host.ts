// A Xen host: the machine, the hypervisor booted on it from a command line and a hardware description,
// and dom0 - a Linux kernel of this project with /dev/xen/privcmd - whose processes drive the toolstack
// interface. HVM guests are created through `createHvmDomain` (the domain builder is not part of the
// modeled hypercall interface).
//   const host = XenHost.create({ cmdline: 'iommu=intpost', mode: 'xen-4.22' });
//   const dom = host.createHvmDomain({ vcpus: 2 }); const proc = host.spawnDom0Process();
import { Machine } from '../hw/machine.js';
import type { SchedPolicy } from '../sim/scheduler.js';
import { bootKernel } from '../linux/boot.js';
import { Kernel } from '../linux/kernel.js';
import { Process, type ProcessOptions } from '../linux/process.js';
import { HypercallFailure, type XenHypervisorPort } from '../linux/xen/hypervisor.js';
import { attachStrace, type StraceOptions } from '../linux/trace/strace.js';
import type { TraceBus } from '../sim/trace.js';
import { bootXen } from './boot.js';
import { XenControl } from './control.js';
import { XenError } from './errors.js';
import { resolveHardware, type XenHardware } from './hardware.js';
import { doHypercall } from './hypercall.js';
import { createHvmDomain, type HvmDomainConfig } from './hvm/domain-build.js';
import { Xen, type XenMode } from './xen.js';

export interface XenHostOptions {
  /** Xen's command line, e.g. "iommu=intpost apicv=1". Default "" (intpost off). */
  readonly cmdline?: string;
  readonly hardware?: XenHardware;
  /** 'xen-4.22' (as landed, default) or 'fixed' (KVM's fixes for H1 and H2). */
  readonly mode?: XenMode;
  readonly seed?: number;
  /** 'eager' (default) or 'interleave' (seeded interleavings of CPUs, handlers and hardware). */
  readonly policy?: SchedPolicy;
  /** dom0 Linux command line. */
  readonly dom0Cmdline?: string;
}

export class XenHost {
  readonly machine: Machine;
  readonly xen: Xen;
  readonly dom0: Kernel;
  readonly control: XenControl;
  private nextDomid = 1;

  private constructor(opts: XenHostOptions) {
    const hw = resolveHardware(opts.hardware);
    this.machine = new Machine({ seed: opts.seed ?? 1, policy: opts.policy ?? 'eager', preset: hw.preset });
    this.xen = new Xen({ machine: this.machine, hardware: hw, cmdline: opts.cmdline ?? '', mode: opts.mode ?? 'xen-4.22' });
    bootXen(this.xen);
    const xen = this.xen;
    const port: XenHypervisorPort = {
      hypercall(op, args, mem) {
        try {
          return doHypercall(xen, op, args, mem);
        } catch (e) {
          if (e instanceof XenError) throw new HypercallFailure(e.errno, e.reason);
          throw e;
        }
      },
    };
    this.dom0 = new Kernel(this.machine, { cmdline: opts.dom0Cmdline, xen: port });
    bootKernel(this.dom0);
    this.control = new XenControl(this.xen);
  }

  static create(opts: XenHostOptions = {}): XenHost {
    return new XenHost(opts);
  }

  /** A process in dom0 (root unless `uid` is given): the toolstack's and QEMU's place. */
  spawnDom0Process(opts: ProcessOptions = {}): Process {
    return new Process(this.dom0, opts);
  }

  /** Creates and starts an HVM guest; returns its domain id. Its vCPUs run their idle loops (HLT). */
  createHvmDomain(cfg: HvmDomainConfig): number {
    const id = this.nextDomid++;
    createHvmDomain(this.xen, id, cfg);
    this.machine.sched.point();
    return id;
  }

  /** Prints dom0 system calls (and with `irqs`, interrupt hops and log lines) strace-style. */
  strace(sink: (line: string) => void = (l) => console.log(l), opts: StraceOptions = {}): () => void {
    return attachStrace(this.dom0.trace, this.dom0.ioctlTables, sink, opts);
  }

  get trace(): TraceBus {
    return this.machine.trace;
  }

  /** `xl dmesg` */
  dmesg(): string[] {
    return this.xen.console.dmesg();
  }
}
