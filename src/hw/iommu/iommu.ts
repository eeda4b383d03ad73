// The DMA-remapping unit (Intel VT-d 3.x ch. 3 and ch. 7): a context table maps each requester ID
// (bus << 8 | devfn, as it arrives after bridge aliasing) to a translation domain; every DMA a device
// performs is translated through it. A DMA whose requester has no context, or whose IOVA is not
// mapped with the needed permission, is blocked and recorded as a fault (VT-d fault recording
// registers): it touches no memory. Interrupt remapping (the IRTE table) joins this unit in a later
// issue; `intRemap` is where it will hang.

import type { DmaPort, PciFunction } from '../pci/function.js';
import type { PciTopology } from '../pci/topology.js';
import { IOMMU_READ, IOMMU_WRITE, type IommuDomain } from './domain.js';

export type DmaFaultReason = 'no-context' | 'not-mapped' | 'no-permission';

export interface DmaFault {
  /** Requester ID the transaction carried. */
  readonly rid: number;
  /** The function that issued it (pci_name). */
  readonly source: string;
  readonly iova: number;
  readonly length: number;
  readonly write: boolean;
  readonly reason: DmaFaultReason;
  /** Virtual time of the fault. */
  readonly t: number;
}

const MAX_RECORDED = 256;

export class Iommu implements DmaPort {
  private readonly contexts = new Map<number, IommuDomain>();
  /** The most recent faults (at most 256), oldest first. */
  readonly faults: DmaFault[] = [];
  /** Faults since boot. */
  faultCount = 0;
  /** The fault interrupt's handler (the OS driver logs it). */
  onFault: ((f: DmaFault) => void) | null = null;
  /** Reserved for interrupt remapping (issue 4/7). */
  intRemap: unknown = null;

  constructor(private readonly topo: PciTopology) {}

  /** Points a requester ID's context entry at `domain` (null: no translation, DMA blocked). */
  setContext(rid: number, domain: IommuDomain | null): void {
    if (domain) this.contexts.set(rid, domain);
    else this.contexts.delete(rid);
  }

  context(rid: number): IommuDomain | undefined {
    return this.contexts.get(rid);
  }

  read(source: PciFunction, iova: number, dst: Uint8Array): boolean {
    return this.transfer(source, iova, dst, false);
  }

  write(source: PciFunction, iova: number, src: Uint8Array): boolean {
    return this.transfer(source, iova, src, true);
  }

  private transfer(source: PciFunction, iova: number, buf: Uint8Array, write: boolean): boolean {
    const rid = this.topo.dmaRid(source);
    const dom = this.contexts.get(rid);
    if (!dom) return this.fault(source, rid, iova, buf.length, write, 'no-context');
    const bad = dom.check(iova, buf.length, write ? IOMMU_WRITE : IOMMU_READ);
    if (bad >= 0) {
      const mapped = dom.check(bad, 1, 0) < 0;
      return this.fault(source, rid, bad, buf.length, write, mapped ? 'no-permission' : 'not-mapped');
    }
    // A peer window that does not decode: Unsupported Request, which is not a translation fault.
    return dom.copy(iova, buf, write);
  }

  private fault(source: PciFunction, rid: number, iova: number, length: number, write: boolean, reason: DmaFaultReason): false {
    this.faultCount++;
    if (this.faults.length >= MAX_RECORDED) this.faults.shift();
    const f: DmaFault = { rid, source: source.bdf, iova, length, write, reason, t: source.sched.now };
    this.faults.push(f);
    if (this.onFault !== null) this.onFault(f);
    return false;
  }
}
