// control.irq: the mock-only view of interrupts, for tests and teaching scripts: a device's interrupt
// hardware (INTx request, Interrupt Status / Disable, the wire; MSI and MSI-X enable, masks and pending
// bits), the platform line and its I/O APIC entry, the host's irq descriptors (actions, depth, masking,
// per-CPU counts, the spurious detector), vfio-pci's interrupt state (irq_type, the INTx `masked` flag,
// virq_disabled, bound eventfds), and two knobs: how many host vectors may be allocated, and an AER
// error to relay. Nothing here is reachable through an fd.

import type { Kernel } from '../linux/kernel.js';
import type { PciFunction } from '../hw/pci/function.js';
import { IRQS_PENDING, IRQS_SPURIOUS_DISABLED, type IrqDesc } from '../linux/irq/irqdesc.js';
import { showInterrupts } from '../linux/irq/proc.js';
import { VfioPciCoreDevice } from '../linux/vfio/pci/vfio-pci-core.js';
import type { VfioPciIntrsImpl } from '../linux/vfio/pci/vfio-pci-intrs.js';
import { normBdf } from './pci.js';
import { PCI_COMMAND_INTX_DISABLE, PCI_STATUS_INTERRUPT } from '../../include-ts/linux/pci_regs.js';

export interface IrqDescState {
  readonly irq: number;
  readonly hwirq: number;
  /** The controller (/proc/interrupts' chip column). */
  readonly chip: string;
  readonly flow: 'fasteoi' | 'edge';
  readonly actions: readonly string[];
  /** disable_irq() nesting (1 while shut down). */
  readonly depth: number;
  readonly disabled: boolean;
  /** Masked at the controller (I/O APIC entry or MSI mask). */
  readonly masked: boolean;
  /** An interrupt arrived while disabled (IRQS_PENDING). */
  readonly pending: boolean;
  /** Disabled by the spurious detector ("nobody cared"). */
  readonly spuriousDisabled: boolean;
  /** Interrupts taken, per CPU and in total. */
  readonly perCpu: readonly number[];
  readonly count: number;
  /** note_interrupt() counters. */
  readonly unhandled: number;
  readonly cpu: number;
  readonly vector: number;
}

export interface IoapicPinView {
  readonly pin: number;
  readonly masked: boolean;
  readonly remoteIrr: boolean;
  /** The input is latched high. */
  readonly irr: boolean;
  readonly level: boolean;
}

export interface LineState {
  readonly gsi: number;
  /** The wired-OR level of the line. */
  readonly level: boolean;
  /** Every function whose INTx pin is wired to the line, and whether it drives it now. */
  readonly pins: readonly { readonly bdf: string; readonly asserted: boolean }[];
  readonly ioapic: IoapicPinView | null;
  readonly irq: IrqDescState | null;
}

export interface DeviceIrqState {
  readonly bdf: string;
  /** The device's interrupt request (what Interrupt Status reports on PCI 2.3 functions). */
  readonly request: boolean;
  readonly pci23: boolean;
  /** Command.INTx-Disable (hardware). */
  readonly intxDisabled: boolean;
  /** Status.Interrupt (hardware). */
  readonly intxStatus: boolean;
  /** The INTx wire as the function drives it now. */
  readonly intxAsserted: boolean;
  readonly gsi: number | null;
  readonly msi: { readonly enabled: boolean; readonly vectors: number; readonly maskBits: number; readonly pendingBits: number; readonly sent: readonly number[] } | null;
  readonly msix: { readonly enabled: boolean; readonly functionMask: boolean; readonly vectors: number } | null;
}

export interface VfioIntxState {
  readonly irq: number;
  /** vfio's ctx->masked */
  readonly masked: boolean;
  readonly trigger: number | null;
  readonly unmaskEventfd: number | null;
}

export interface VfioVectorState {
  readonly vector: number;
  readonly irq: number;
  readonly name: string;
  readonly trigger: number;
}

export interface VfioIrqState {
  readonly irqType: 'none' | 'intx' | 'msi' | 'msix';
  readonly pci23: boolean;
  /** The guest's virtual Command.INTx-Disable (vdev->virq_disabled). */
  readonly virqDisabled: boolean;
  readonly intx: VfioIntxState | null;
  /** MSI/MSI-X vectors enabled (allocated) and those with a bound eventfd. */
  readonly vectorsEnabled: number;
  readonly vectors: readonly VfioVectorState[];
  readonly msiQmax: number;
  /** Eventfd ids (EventFdCtx.id) of the ERR and REQ channels. */
  readonly err: number | null;
  readonly req: number | null;
}

const TYPES = ['intx', 'msi', 'msix'] as const;

export class IrqControl {
  constructor(private readonly kernel: Kernel) {}

  private fn(bdf: string): PciFunction {
    const f = this.kernel.machine.pci.find(bdf);
    if (!f) throw new Error(`no PCI function at ${bdf}`);
    return f;
  }

  /** /proc/interrupts as the kernel renders it. */
  procInterrupts(): string {
    return showInterrupts(this.kernel.irq);
  }

  private descState(d: IrqDesc): IrqDescState {
    return {
      irq: d.irq,
      hwirq: d.hwirq,
      chip: d.chip.name,
      flow: d.flowName as 'fasteoi' | 'edge',
      actions: d.actions.map((a) => a.name),
      depth: d.depth,
      disabled: d.disabled,
      masked: d.masked,
      pending: (d.istate & IRQS_PENDING) !== 0,
      spuriousDisabled: (d.istate & IRQS_SPURIOUS_DISABLED) !== 0,
      perCpu: [...d.kstat],
      count: d.count,
      unhandled: d.irqsUnhandled,
      cpu: d.cpu,
      vector: d.vector,
    };
  }

  /** A host irq's descriptor, or null if the number is not in use. */
  desc(irq: number): IrqDescState | null {
    const d = this.kernel.irq.desc(irq);
    return d ? this.descState(d) : null;
  }

  /** Every host irq in use. */
  descs(): IrqDescState[] {
    return this.kernel.irq.all().map((d) => this.descState(d));
  }

  /** The platform line a GSI number (or a function's INTx pin, by BDF) is. */
  line(gsiOrBdf: number | string): LineState {
    const gsi = typeof gsiOrBdf === 'number' ? gsiOrBdf : (this.fn(gsiOrBdf).intx?.line.gsi ?? -1);
    const l = this.kernel.machine.pci.lines.get(gsi);
    if (!l) throw new Error(`no platform interrupt line ${gsiOrBdf}`);
    const io = this.kernel.irq.platform.ioapic;
    const ioapic = gsi < 24 ? (() => {
      const s = io.pinState(gsi);
      return { pin: gsi, masked: s.masked, remoteIrr: s.remoteIrr, irr: s.irr, level: s.level };
    })() : null;
    return { gsi, level: l.level, pins: l.pins.map((p) => ({ bdf: p.at, asserted: p.asserted })), ioapic, irq: this.desc(gsi) };
  }

  /** A function's interrupt hardware. */
  device(bdf: string): DeviceIrqState {
    const f = this.fn(bdf);
    const cmd = f.configRead(4, 2);
    const status = f.configRead(6, 2);
    const m = f.msi;
    const x = f.msix;
    return {
      bdf: f.bdf,
      request: f.irqLevel,
      pci23: f.pci23,
      intxDisabled: (cmd & PCI_COMMAND_INTX_DISABLE) !== 0,
      intxStatus: (status & PCI_STATUS_INTERRUPT) !== 0,
      intxAsserted: f.intx?.asserted ?? false,
      gsi: f.intx?.line.gsi ?? null,
      msi: m ? { enabled: m.enabled, vectors: m.allocated, maskBits: m.maskBits, pendingBits: m.pendingBits, sent: [...m.sent.subarray(0, m.capable)] } : null,
      msix: x ? { enabled: x.enabled, functionMask: x.functionMasked, vectors: x.vectors } : null,
    };
  }

  /** MSI-X vector `v` of `bdf`: its Vector Control mask bit, PBA bit and messages sent. */
  msixVector(bdf: string, v: number): { readonly masked: boolean; readonly pending: boolean; readonly sent: number; readonly addrLo: number; readonly data: number } {
    const x = this.fn(bdf).msix;
    if (!x || v < 0 || v >= x.vectors) throw new Error(`${bdf} has no MSI-X vector ${v}`);
    return { masked: x.vectorMasked(v), pending: x.pending(v), sent: x.sent[v]!, addrLo: x.tableRead(v * 16, 4), data: x.tableRead(v * 16 + 8, 4) };
  }

  /** The MSI-X Pending Bit Array of `bdf` as a list of pending vector numbers. */
  pba(bdf: string): number[] {
    const x = this.fn(bdf).msix;
    if (!x) return [];
    const out: number[] = [];
    for (let v = 0; v < x.vectors; v++) if (x.pending(v)) out.push(v);
    return out;
  }

  private intrs(bdf: string): VfioPciIntrsImpl | null {
    const d = this.kernel.pci.get(normBdf(bdf));
    const core = d?.driverData;
    return core instanceof VfioPciCoreDevice ? (core.intrs as VfioPciIntrsImpl | null) : null;
  }

  /** vfio-pci's interrupt state for `bdf` (null unless bound to vfio-pci). */
  vfio(bdf: string): VfioIrqState | null {
    const v = this.intrs(bdf);
    if (!v) return null;
    const c0 = v.ctx[0];
    const intx = v.irqType === 0 && c0 ? { irq: v.pdev.irq, masked: c0.masked, trigger: c0.trigger?.id ?? null, unmaskEventfd: c0.unmask.current?.eventfd.id ?? null } : null;
    const vectors: VfioVectorState[] = [];
    if (v.irqType === 1 || v.irqType === 2) {
      v.ctx.forEach((c, i) => {
        if (c && c.trigger) vectors.push({ vector: i, irq: c.irq, name: c.name, trigger: c.trigger.id });
      });
    }
    return {
      irqType: v.irqType < 0 ? 'none' : TYPES[v.irqType]!,
      pci23: v.pci23,
      virqDisabled: v.virqDisabled,
      intx,
      vectorsEnabled: v.numVectors,
      vectors,
      msiQmax: v.msiQmax,
      err: v.errTrigger?.id ?? null,
      req: v.reqTrigger?.id ?? null,
    };
  }

  /** Caps the host vectors in use (null: no cap beyond the CPUs' vector space). */
  setVectorLimit(n: number | null): void {
    this.kernel.irq.matrix.limit = n === null ? Infinity : n;
  }

  /** Host vectors still available for allocation. */
  get vectorsAvailable(): number {
    return this.kernel.irq.matrix.available;
  }

  /** An AER error is detected on `bdf`: vfio-pci relays it to the ERR eventfd (true if one is registered). */
  aerError(bdf: string): boolean {
    const v = this.intrs(bdf);
    const r = v ? v.errorDetected() : false;
    this.kernel.point();
    return r;
  }
}
