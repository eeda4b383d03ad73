// The modeled machine: the clock and scheduler everything runs on, the trace bus hardware reports to,
// the PCI hierarchy and the IOMMU. It knows nothing of Linux or Xen: a kernel or hypervisor model is
// built on top of a Machine. Which devices it has is decided by a preset (src/hw/presets/).

import { Scheduler, type SchedPolicy } from '../sim/scheduler.js';
import { TraceBus } from '../sim/trace.js';
import { Iommu } from './iommu/iommu.js';
import { PciTopology } from './pci/topology.js';

/** Populates a machine's PCI hierarchy (before firmware enumeration). */
export type Preset = (m: Machine) => void;

export interface MachineOptions {
  /** Seed for every choice made under the scheduler (interleavings). Default 1. */
  readonly seed?: number;
  readonly policy?: SchedPolicy;
  /** The devices: a preset function, or a named preset ('default', 'empty'). Default 'default'. */
  readonly preset?: Preset | 'default' | 'empty';
}

export class Machine {
  readonly sched: Scheduler;
  readonly trace: TraceBus;
  readonly pci: PciTopology;
  readonly iommu: Iommu;

  constructor(opts: MachineOptions = {}, resolvePreset?: (name: 'default' | 'empty') => Preset) {
    this.sched = new Scheduler({ seed: opts.seed ?? 1, policy: opts.policy ?? 'eager' });
    this.trace = new TraceBus();
    this.pci = new PciTopology(this.trace, this.sched);
    this.iommu = new Iommu(this.pci);
    const p = opts.preset ?? 'default';
    const preset = typeof p === 'function' ? p : resolvePreset?.(p);
    preset?.(this);
    // Firmware: bus numbers, resources, interrupt routing; all DMA through the IOMMU.
    this.pci.enumerate();
    this.pci.attachDma(this.iommu);
  }
}
