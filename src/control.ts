// The control and inspection API: everything a test or a teaching script does that is not a system
// call — advancing virtual time, reading the kernel log, and (added by each subsystem) making devices
// raise interrupts, loading guest programs, reading internal state for assertions. None of it is
// reachable through an fd: the ABI stays the real one.

import type { Kernel } from './linux/kernel.js';
import { PciControl } from './control/pci.js';
import { IrqControl } from './control/irq.js';
import { KvmControl } from './linux/kvm/control.js';
import { EpollControl } from './control/epoll.js';

export class Control {
  /** PCI hardware and the kernel's PCI/IOMMU/VFIO state (src/control/pci.ts). */
  readonly pci: PciControl;
  /** Interrupts: device lines and vectors, host irqs, vfio-pci's interrupt state (src/control/irq.ts). */
  readonly irq: IrqControl;
  /** KVM: guest programs, irqchip/LAPIC/irqfd inspection (src/linux/kvm/control.ts). */
  readonly kvm: KvmControl;
  /** epoll: max_user_watches and per-user item counts (src/control/epoll.ts). */
  readonly epoll: EpollControl;

  constructor(private readonly kernel: Kernel) {
    this.pci = new PciControl(kernel);
    this.irq = new IrqControl(kernel);
    this.kvm = new KvmControl(kernel);
    this.epoll = new EpollControl(kernel);
  }

  /** Virtual time in nanoseconds since boot. */
  get now(): number {
    return this.kernel.sched.now;
  }

  /** Advances virtual time, firing device timers and running the work they cause. */
  advance(ns: number): void {
    this.kernel.sched.advance(ns);
  }

  /** Runs all pending deferred work (workqueues, step tasks) without advancing time. */
  flush(): void {
    this.kernel.sched.flush();
  }

  /** The kernel log as `dmesg` prints it. */
  dmesg(): string[] {
    return this.kernel.log.dmesg();
  }
}
