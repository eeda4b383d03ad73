// GSI routing and line injection (virt/kvm/irqchip.c: kvm_set_irq, kvm_irq_map_gsi,
// kvm_irq_map_chip_pin, kvm_set_irq_routing, setup_routing_entry; arch/x86/kvm/irq.c (was irq_comm.c):
// kvm_set_routing_entry, kvm_setup_default_irq_routing, kvm_msi_route_invalid).
//
// The table maps a GSI to at most one entry per irqchip (PIC master, PIC slave, IOAPIC) or to exactly
// one non-irqchip entry (an MSI). KVM_SET_GSI_ROUTING replaces the whole table; every irqfd then
// re-reads its GSI (kvm_irq_routing_update), so the next signal uses the new route. Default routes
// (KVM_CREATE_IRQCHIP): GSI 0-7 -> IOAPIC pin n + PIC master pin n, 8-15 -> IOAPIC pin n + PIC slave
// pin n-8, 16-23 -> IOAPIC only. With a split irqchip the table starts empty and only MSI routes are
// allowed.
//
// kvm_set_irq() return convention (KVM_IRQ_LINE_STATUS): the sum over the chips the GSI is routed to of
// their non-negative results; < 0 = ignored/masked (or no route), 0 = coalesced, > 0 = CPUs reached.

import { kerr } from '../errors.js';
import {
  KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQ_ROUTING_MSI, KVM_MSI_VALID_DEVID, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER,
  KVM_IRQCHIP_PIC_SLAVE, kvm_irq_routing, kvm_irq_routing_entry,
} from '../../../include-ts/linux/kvm.js';
import { getU32 } from '../../../abi/bytes.js';
import { IOAPIC_NUM_PINS } from '../../hw/x86/ioapic.js';
import { KVM_IRQCHIP_SPLIT, KVM_MAX_IRQ_ROUTES } from './kvm-host.js';
import type { Kvm } from './vm.js';
import { kvmSetMsi } from './irq.js';

/** KVM_IRQCHIP_NUM_PINS: the widest chip (the IOAPIC). */
export const KVM_IRQCHIP_NUM_PINS = IOAPIC_NUM_PINS;
export const KVM_NR_IRQCHIPS = 3;
const PIC_NUM_PINS = 16;

/** One routing entry (struct kvm_kernel_irq_routing_entry). For a PIC slave entry `pin` is 8-15. */
export class RouteEntry {
  constructor(
    readonly gsi: number,
    readonly type: number,
    readonly flags: number,
    readonly irqchip: number,
    readonly pin: number,
    readonly msiLo: number,
    readonly msiHi: number,
    readonly msiData: number,
    readonly devid: number,
  ) {}
}

/** struct kvm_irq_routing_table: entries per GSI in insertion order, and the chip/pin -> GSI map. */
export class RoutingTable {
  readonly map: (RouteEntry[] | undefined)[];
  /** chip[irqchip * 24 + pin] = GSI, or -1. */
  readonly chip = new Int32Array(KVM_NR_IRQCHIPS * KVM_IRQCHIP_NUM_PINS).fill(-1);

  constructor(readonly nrRtEntries: number) {
    this.map = new Array(nrRtEntries);
  }

  /** kvm_irq_map_gsi(): the entries of `gsi` (empty if unrouted). */
  entries(gsi: number): readonly RouteEntry[] {
    if (gsi >= this.nrRtEntries) return NONE;
    return this.map[gsi] ?? NONE;
  }

  /** kvm_irq_map_chip_pin(). */
  gsiOf(irqchip: number, pin: number): number {
    return this.chip[irqchip * KVM_IRQCHIP_NUM_PINS + pin]!;
  }

  all(): RouteEntry[] {
    const out: RouteEntry[] = [];
    for (const l of this.map) if (l) out.push(...l);
    return out;
  }
}

const NONE: readonly RouteEntry[] = Object.freeze([]);

/** A routing entry as userspace writes it (decoded from struct kvm_irq_routing_entry). */
export interface UserRoute {
  readonly gsi: number;
  readonly type: number;
  readonly flags: number;
  readonly u: readonly [number, number, number, number];
}

/** kvm_msi_route_invalid(): with 32-bit x2APIC IDs, address_hi bits 7:0 must be zero. */
export function msiRouteInvalid(kvm: Kvm, addressHi: number): boolean {
  return kvm.x2apicFormat && (addressHi & 0xff) !== 0;
}

/** setup_routing_entry() + kvm_set_routing_entry(): validates and adds one entry; throws EINVAL. */
function addEntry(kvm: Kvm, rt: RoutingTable, ue: UserRoute, index: number): void {
  const where = `entry ${index} (gsi ${ue.gsi})`;
  const existing = rt.map[ue.gsi];
  if (existing) {
    for (const ei of existing) {
      if (ei.type !== KVM_IRQ_ROUTING_IRQCHIP || ue.type !== KVM_IRQ_ROUTING_IRQCHIP || ue.u[0] === ei.irqchip) {
        throw kerr('EINVAL', `${where}: GSI ${ue.gsi} already has ${ei.type === KVM_IRQ_ROUTING_MSI ? 'an MSI route' : `a route to irqchip ${ei.irqchip}`}; a GSI takes one entry per irqchip, or a single non-irqchip entry`);
      }
    }
  }
  let e: RouteEntry;
  switch (ue.type) {
    case KVM_IRQ_ROUTING_IRQCHIP: {
      if (kvm.irqchipMode === KVM_IRQCHIP_SPLIT) throw kerr('EINVAL', `${where}: irqchip routes are not allowed with a split irqchip (only MSI routes)`);
      const [chip, upin] = ue.u;
      let pin = upin;
      switch (chip) {
        case KVM_IRQCHIP_PIC_SLAVE:
        case KVM_IRQCHIP_PIC_MASTER:
          if (upin >= PIC_NUM_PINS / 2) throw kerr('EINVAL', `${where}: PIC pin ${upin} is not 0-7`);
          if (chip === KVM_IRQCHIP_PIC_SLAVE) pin += 8;
          break;
        case KVM_IRQCHIP_IOAPIC:
          if (upin >= IOAPIC_NUM_PINS) throw kerr('EINVAL', `${where}: IOAPIC pin ${upin} is not 0-23`);
          break;
        default:
          throw kerr('EINVAL', `${where}: irqchip ${chip} is not 0 (PIC master), 1 (PIC slave) or 2 (IOAPIC)`);
      }
      e = new RouteEntry(ue.gsi, ue.type, ue.flags, chip, pin, 0, 0, 0, 0);
      break;
    }
    case KVM_IRQ_ROUTING_MSI:
      if (msiRouteInvalid(kvm, ue.u[1])) throw kerr('EINVAL', `${where}: with KVM_X2APIC_API_USE_32BIT_IDS, address_hi bits 7:0 must be 0 (got 0x${ue.u[1].toString(16)})`);
      e = new RouteEntry(ue.gsi, ue.type, ue.flags, 0, 0, ue.u[0], ue.u[1], ue.u[2], ue.u[3]);
      break;
    default:
      throw kerr('EINVAL', `${where}: routing type ${ue.type} is not supported on x86 here (1 IRQCHIP, 2 MSI; HV_SINT needs Hyper-V SynIC, XEN_EVTCHN Xen HVM support)`);
  }
  if (e.type === KVM_IRQ_ROUTING_IRQCHIP) rt.chip[e.irqchip * KVM_IRQCHIP_NUM_PINS + e.pin] = e.gsi;
  (rt.map[e.gsi] ??= []).push(e);
}

/** kvm_set_irq_routing(): builds a new table from `routes` (all-or-nothing) and installs it. */
export function setIrqRouting(kvm: Kvm, routes: readonly UserRoute[]): void {
  let nr = 0;
  routes.forEach((r, i) => {
    if (r.gsi >= KVM_MAX_IRQ_ROUTES) throw kerr('EINVAL', `entry ${i}: gsi ${r.gsi} is not below KVM_MAX_IRQ_ROUTES (${KVM_MAX_IRQ_ROUTES})`);
    nr = Math.max(nr, r.gsi);
  });
  const rt = new RoutingTable(nr + 1);
  routes.forEach((ue, i) => {
    if (ue.type === KVM_IRQ_ROUTING_MSI) {
      if (ue.flags & ~KVM_MSI_VALID_DEVID) throw kerr('EINVAL', `entry ${i} (gsi ${ue.gsi}): MSI route flags 0x${ue.flags.toString(16)} has bits other than KVM_MSI_VALID_DEVID`);
    } else if (ue.flags) {
      throw kerr('EINVAL', `entry ${i} (gsi ${ue.gsi}): flags must be 0 for routing type ${ue.type} (got 0x${ue.flags.toString(16)})`);
    }
    addEntry(kvm, rt, ue, i);
  });
  kvm.installRouting(rt);
}

/** kvm_setup_default_irq_routing(): the 24 default GSIs (IOAPIC entry first, then the PIC one). */
export function defaultRoutes(): UserRoute[] {
  const out: UserRoute[] = [];
  for (let gsi = 0; gsi < 24; gsi++) {
    out.push({ gsi, type: KVM_IRQ_ROUTING_IRQCHIP, flags: 0, u: [KVM_IRQCHIP_IOAPIC, gsi, 0, 0] });
    if (gsi < 16) out.push({ gsi, type: KVM_IRQ_ROUTING_IRQCHIP, flags: 0, u: [gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8, 0, 0] });
  }
  return out;
}

/** Decodes the entries of a struct kvm_irq_routing argument (header already read). */
export function decodeRoutes(bytes: Uint8Array, nr: number): UserRoute[] {
  const hdr = kvm_irq_routing.size;
  const es = kvm_irq_routing_entry.size;
  const uOff = kvm_irq_routing_entry.offsetof('u');
  const out: UserRoute[] = [];
  for (let i = 0; i < nr; i++) {
    const o = hdr + i * es;
    out.push({
      gsi: getU32(bytes, o),
      type: getU32(bytes, o + 4),
      flags: getU32(bytes, o + 8),
      u: [getU32(bytes, o + uOff), getU32(bytes, o + uOff + 4), getU32(bytes, o + uOff + 8), getU32(bytes, o + uOff + 12)],
    });
  }
  return out;
}

/**
 * kvm_set_irq(): drives `gsi` to `level` for `sourceId` on every chip it is routed to (in the order the
 * routes were added) and sums their results. An assert on a GSI bound to an in-kernel MSI-X entry
 * (the proposed KVM_SET_MSIX_ENTRY_IRQ) goes through the entry's mask gate instead: 1 when the message
 * was accepted for delivery, 0 when it became pending.
 */
export function kvmSetIrq(kvm: Kvm, sourceId: number, gsi: number, level: boolean, lineStatus: boolean): number {
  if (level && kvm.msix.bound !== 0) {
    const gate = kvm.msix.gateOf(gsi);
    if (gate >= 0) return kvm.msix.raiseGate(gate);
  }
  return kvmSetIrqRouted(kvm, sourceId, gsi, level, lineStatus);
}

/** kvm_set_irq() past any MSI-X gate: straight to the GSI's routes. */
export function kvmSetIrqRouted(kvm: Kvm, sourceId: number, gsi: number, level: boolean, lineStatus: boolean): number {
  const entries = kvm.routing.entries(gsi);
  let ret = -1;
  if (entries.length === 0) {
    if (kvm.trace.active) kvm.trace.emit({ type: 'irq', t: kvm.sched.now, hop: 'dropped', at: `vm${kvm.id} gsi ${gsi}`, gsi, detail: `${level ? 'assert' : 'deassert'} from source ${sourceId}: GSI has no route` });
    return ret;
  }
  for (let i = 0; i < entries.length; i++) {
    const r = setEntry(kvm, entries[i]!, sourceId, level, lineStatus);
    if (r < 0) continue;
    ret = r + (ret < 0 ? 0 : ret);
  }
  return ret;
}

/** The entry's `set` callback (kvm_pic_set_irq / kvm_ioapic_set_irq / kvm_set_msi). */
export function setEntry(kvm: Kvm, e: RouteEntry, sourceId: number, level: boolean, lineStatus: boolean): number {
  if (kvm.trace.active) kvm.trace.emit({ type: 'irq', t: kvm.sched.now, hop: 'route', at: `vm${kvm.id} gsi ${e.gsi}`, gsi: e.gsi, detail: `${level ? 'assert' : 'deassert'} src ${sourceId} -> ${routeName(e)}` });
  if (e.type === KVM_IRQ_ROUTING_IRQCHIP) {
    if (e.irqchip === KVM_IRQCHIP_IOAPIC) return kvm.ioapic!.setIrq(e.pin, sourceId, level, lineStatus);
    return kvm.pic!.setIrq(e.pin, sourceId, level);
  }
  return kvmSetMsi(kvm, e.msiLo, e.msiHi, e.msiData, level);
}

export function routeName(e: RouteEntry): string {
  if (e.type === KVM_IRQ_ROUTING_MSI) return `MSI addr 0x${e.msiHi ? e.msiHi.toString(16) + e.msiLo.toString(16).padStart(8, '0') : e.msiLo.toString(16)} data 0x${e.msiData.toString(16)}`;
  return e.irqchip === KVM_IRQCHIP_IOAPIC ? `IOAPIC pin ${e.pin}` : `PIC ${e.irqchip === KVM_IRQCHIP_PIC_MASTER ? 'master' : 'slave'} pin ${e.pin % 8}`;
}
