// The platform's VT-d hardware (ACPI DMAR: one or more DRHD units): which unit each PCI function is
// behind, and the interrupt side of the IOMMU as the sink of every device's MSI/MSI-X messages. A
// message enters the unit of its requester with the requester ID it carries upstream.
import type { Scheduler } from '../../../sim/scheduler.js';
import type { TraceBus } from '../../../sim/trace.js';
import type { PhysMemory } from '../../memory.js';
import type { PciFunction } from '../../pci/function.js';
import type { MsiSink } from '../../pci/msi-sink.js';
import type { ApicBus } from '../../x86/apic-bus.js';
import { DrhdUnit } from './drhd.js';
import type { DrhdCaps } from './regs.js';

export interface DrhdDescription extends DrhdCaps {
  /** Device scope: BDFs ("0000:01:00.0") behind this unit, or 'all' (INCLUDE_PCI_ALL). */
  readonly scope?: readonly string[] | 'all';
}

/** What gives a function's requester ID as the IOMMU sees it (the PCI topology: dmaRid()). */
export interface RidSource {
  dmaRid(f: PciFunction): number;
}

export class VtdPlatform implements MsiSink {
  readonly units: DrhdUnit[];
  private readonly scopes: (ReadonlySet<string> | 'all')[];
  private readonly cache = new Map<PciFunction, DrhdUnit>();
  /** The unit when there is exactly one and it covers every device (no per-message lookup). */
  private readonly single: DrhdUnit | null;

  constructor(
    desc: readonly DrhdDescription[],
    mem: PhysMemory,
    bus: ApicBus,
    sched: Scheduler,
    trace: TraceBus,
    /** An object, not a closure: every platform's per-message call then goes to one method. */
    private readonly rids: RidSource,
  ) {
    this.units = desc.map((d, i) => new DrhdUnit(i, d, mem, bus, sched, trace));
    this.scopes = desc.map((d) => (d.scope === undefined || d.scope === 'all' ? 'all' : new Set(d.scope)));
    this.single = this.units.length === 1 && this.scopes[0] === 'all' ? this.units[0]! : null;
  }

  /** The unit whose scope holds `f` (an explicit scope wins over INCLUDE_PCI_ALL), or undefined. */
  unitFor(f: PciFunction): DrhdUnit | undefined {
    let u = this.cache.get(f);
    if (u) return u;
    const i = this.scopes.findIndex((s) => s !== 'all' && s.has(f.bdf));
    const j = i >= 0 ? i : this.scopes.indexOf('all');
    u = j >= 0 ? this.units[j] : undefined;
    if (u) this.cache.set(f, u);
    return u;
  }

  deliver(source: PciFunction, addrLo: number, addrHi: number, data: number): void {
    const u = this.single ?? this.cache.get(source) ?? this.unitFor(source);
    if (u !== undefined) u.deliverMsi(this.rids.dmaRid(source), addrLo, addrHi, data);
  }
}
