// The system bus path of interrupt messages to local APICs (Intel SDM vol. 3 10.6/10.11): an MSI or
// IPI is a message carrying a destination APIC ID and a vector; the APIC whose ID matches accepts it
// into its IRR. Only physical-destination fixed delivery is modeled: that is what Xen programs for its
// host interrupts, IPIs and (VT-d) posted-interrupt notifications.

export interface LocalApicPort {
  readonly apicId: number;
  /** The message arrives: the APIC sets IRR[vector] and the CPU takes it when it can. */
  accept(vector: number): void;
}

export class ApicBus {
  private readonly byId = new Map<number, LocalApicPort>();
  /** The same ports by APIC ID below 4096: an array lookup on the per-interrupt path. */
  private readonly dense: (LocalApicPort | undefined)[] = [];
  /** Messages addressed to no APIC (e.g. to a CPU that went offline): dropped, counted. */
  dropped = 0;

  attach(port: LocalApicPort): void {
    if (this.byId.has(port.apicId)) throw new Error(`APIC ID ${port.apicId} is already on the bus`);
    this.byId.set(port.apicId, port);
    if (port.apicId < 4096) this.dense[port.apicId] = port;
  }

  detach(apicId: number): void {
    this.byId.delete(apicId);
    if (apicId < 4096) this.dense[apicId] = undefined;
  }

  /** Physical-destination fixed delivery; false if no APIC accepted it. */
  sendPhysical(apicId: number, vector: number): boolean {
    const p = apicId >= 0 && apicId < 4096 ? this.dense[apicId] : this.byId.get(apicId);
    if (p === undefined) {
      this.dropped++;
      return false;
    }
    p.accept(vector);
    return true;
  }
}
