// The PCI hierarchy of the machine: the root complex with its root bus, bridges and their secondary
// buses, and the functions in each slot. `enumerate()` does what firmware does before the OS runs:
// numbers buses depth-first (each bridge's Secondary/Subordinate Bus Number), sets the Multi-Function
// bit of functions that share a slot, assigns BAR and ROM addresses, and wires each function's INTx
// pin to a platform interrupt line through the bridge swizzle (PCI-to-PCI Bridge Architecture 1.2
// §9.1: pin' = ((pin - 1 + device) mod 4) + 1 at each bridge). It also computes the requester ID each
// function's DMA carries upstream: behind a PCIe-to-PCI bridge, conventional PCI transactions take the
// bridge's secondary bus number and devfn 0 (PCIe-to-PCI Bridge spec 1.0 §2.3); behind a conventional
// PCI-to-PCI bridge, the bridge's own ID.

import type { Scheduler } from '../../sim/scheduler.js';
import type { TraceBus } from '../../sim/trace.js';
import {
  PCI_INTERRUPT_LINE, PCI_PRIMARY_BUS, PCI_SECONDARY_BUS, PCI_SUBORDINATE_BUS,
} from '../../../include-ts/linux/pci_regs.js';
import type { PciBridge } from './bridge.js';
import type { DmaPort, PciFunction } from './function.js';
import { IntxLine, IntxPin } from './intx.js';
import { MsiRouter } from './msi-sink.js';

export class PciBus {
  number = 0;
  /** Functions by devfn, in devfn order. */
  readonly functions: PciFunction[] = [];

  constructor(
    /** The bridge this bus is the secondary of (null for the root bus). */
    readonly self: PciBridge | null,
  ) {}

  get parent(): PciBus | null {
    return this.self?.bus ?? null;
  }

  get isRoot(): boolean {
    return this.self === null;
  }

  /** Plugs `f` at device `dev`, function `fn`. */
  add<F extends PciFunction>(dev: number, fn: number, f: F): F {
    if (dev < 0 || dev > 31 || fn < 0 || fn > 7) throw new RangeError(`slot ${dev}.${fn} does not exist on a PCI bus`);
    const devfn = (dev << 3) | fn;
    if (this.functions.some((x) => x.devfn === devfn)) throw new Error(`slot ${dev}.${fn} is already occupied`);
    f.bus = this;
    f.devfn = devfn;
    this.functions.push(f);
    this.functions.sort((a, b) => a.devfn - b.devfn);
    return f;
  }

  /** Every function below this bus (not including the bridge itself), depth-first. */
  allBelow(): PciFunction[] {
    const out: PciFunction[] = [];
    for (const f of this.functions) {
      out.push(f);
      const sub = (f as Partial<PciBridge>).secondary;
      if (sub) out.push(...sub.allBelow());
    }
    return out;
  }

  /** Bridges on this bus. */
  bridges(): PciBridge[] {
    return this.functions.filter((f): f is PciBridge => (f as Partial<PciBridge>).secondary !== undefined);
  }
}

/** Maps a root-bus slot and swizzled pin to a platform interrupt (GSI): Q35-like PIRQ A-H at GSI 16-23. */
export type IntxRouting = (slot: number, pin: number) => number;

export const defaultIntxRouting: IntxRouting = (slot, pin) => 16 + ((slot + pin - 1) % 8);

export interface ResourceWindows {
  readonly mem32Base: number;
  readonly ioBase: number;
}

export class PciTopology {
  readonly root = new PciBus(null);
  readonly lines = new Map<number, IntxLine>();
  readonly msiRouter = new MsiRouter();
  /** Every function's DMA goes here (the IOMMU). */
  dma: DmaPort | null = null;
  private enumerated = false;

  constructor(
    readonly trace: TraceBus,
    readonly sched: Scheduler,
    readonly routing: IntxRouting = defaultIntxRouting,
    readonly windows: ResourceWindows = { mem32Base: 0xc000_0000, ioBase: 0x1000 },
  ) {}

  /** Every function, parents before children, each bus's functions before its child buses (pci_bus_add_devices order). */
  functions(): PciFunction[] {
    const out: PciFunction[] = [];
    const walk = (bus: PciBus) => {
      out.push(...bus.functions);
      for (const b of bus.bridges()) walk(b.secondary);
    };
    walk(this.root);
    return out;
  }

  find(bdf: string): PciFunction | undefined {
    const name = bdf.length === 7 ? `0000:${bdf}` : bdf;
    return this.functions().find((f) => f.bdf === name);
  }

  line(gsi: number): IntxLine {
    let l = this.lines.get(gsi);
    if (!l) {
      l = new IntxLine(gsi);
      this.lines.set(gsi, l);
    }
    return l;
  }

  /** The requester ID the IOMMU sees on `f`'s DMA. */
  dmaRid(f: PciFunction): number {
    return f.upstreamRid >= 0 ? f.upstreamRid : f.rid;
  }

  /** The root-bus slot and pin `f`'s INTx arrives on after the swizzle. */
  swizzle(f: PciFunction): { slot: number; pin: number } {
    let pin = f.interruptPin;
    let cur: PciFunction = f;
    while (cur.bus && !cur.bus.isRoot) {
      pin = ((pin - 1 + cur.slot) % 4) + 1;
      cur = cur.bus.self!;
    }
    return { slot: cur.slot, pin };
  }

  /** Firmware: bus numbers, multi-function bits, BARs, INTx wiring, requester IDs. Idempotent. */
  enumerate(): void {
    if (this.enumerated) return;
    this.enumerated = true;
    let next = 0;
    const number = (bus: PciBus) => {
      bus.number = next;
      for (const b of bus.bridges()) {
        next++;
        b.cfg.u8(PCI_PRIMARY_BUS, bus.number);
        b.cfg.u8(PCI_SECONDARY_BUS, next);
        number(b.secondary);
        b.cfg.u8(PCI_SUBORDINATE_BUS, next);
      }
    };
    number(this.root);
    const all = this.functions();
    for (const f of all) {
      f.renumbered();
      f.trace = this.trace;
      f.sched = this.sched;
      f.msiSink = this.msiRouter;
      const slotMates = f.bus!.functions.filter((x) => x.slot === f.slot);
      if (slotMates.length > 1) f.markMultifunction();
    }
    this.assignResources(all);
    for (const f of all) {
      if (f.interruptPin) {
        const { slot, pin } = this.swizzle(f);
        const gsi = this.routing(slot, pin);
        f.intx = new IntxPin(this.line(gsi), f.bdf, this.trace, this.sched);
        f.cfg.u8(PCI_INTERRUPT_LINE, gsi);
      }
      let rid = f.rid;
      for (let bus = f.bus; bus && !bus.isRoot; bus = bus.parent) {
        const br = bus.self!;
        if (br.kind === 'pcie-to-pci') rid = bus.number << 8;
        else if (br.kind === 'pci-to-pci') rid = br.rid;
      }
      f.upstreamRid = rid;
      const port = this.dma;
      if (port) f.dma = port;
    }
  }

  /** Connects every function's DMA to `port` (the IOMMU). */
  attachDma(port: DmaPort): void {
    this.dma = port;
    for (const f of this.functions()) f.dma = port;
  }

  private assignResources(all: PciFunction[]): void {
    let mem32 = this.windows.mem32Base;
    let io = this.windows.ioBase;
    const align = (a: number, s: number) => Math.ceil(a / s) * s;
    type Req = { f: PciFunction; i: number; size: number; kind: 'mem32' | 'mem64' | 'io' | 'rom' };
    const reqs: Req[] = [];
    for (const f of all) {
      f.bars.forEach((b, i) => b && reqs.push({ f, i, size: b.size, kind: b.kind }));
      if (f.rom) reqs.push({ f, i: 6, size: f.romSize, kind: 'rom' });
    }
    // Largest first keeps natural alignment without holes, as firmware allocators do; every memory BAR
    // (64-bit ones too, as in the seed's GM107 listing) is placed below 4 GiB.
    reqs.sort((a, b) => b.size - a.size);
    for (const r of reqs) {
      if (r.kind === 'io') {
        io = align(io, r.size);
        r.f.assignBar(r.i, io);
        io += r.size;
      } else {
        mem32 = align(mem32, r.size);
        if (r.kind === 'rom') r.f.assignRom(mem32);
        else r.f.assignBar(r.i, mem32);
        mem32 += r.size;
      }
    }
  }
}
