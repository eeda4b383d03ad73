// IOMMU groups from the topology (drivers/iommu/iommu.c pci_device_group, drivers/pci/pci.c
// pci_acs_enabled / pci_acs_path_enabled, drivers/pci/search.c pci_for_each_dma_alias), sysfs
// /sys/kernel/iommu_groups, and a property test against an independent union-find model.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../../support/runs.js';
import { Host } from '../../../src/host.js';
import type { Machine } from '../../../src/hw/machine.js';
import { PciBridge, HostBridge } from '../../../src/hw/pci/bridge.js';
import type { PciBus } from '../../../src/hw/pci/topology.js';
import type { PciFunction } from '../../../src/hw/pci/function.js';
import { SimpleDevice } from '../../../src/hw/devices/simple.js';

describe('groups of the default host', () => {
  const host = Host.create();
  const p = host.spawn();
  const members = (g: number) => p.readdir(`/sys/kernel/iommu_groups/${g}/devices`);

  it('a root port without ACS shares its group with what is behind it (GPU + audio + 00:01.0)', () => {
    expect(members(1)).toEqual(['0000:00:01.0', '0000:01:00.0', '0000:01:00.1']);
  });

  it('a PCIe-to-PCI bridge aliases everything behind it: one group for 02:00.0, 03:00.0, 03:01.0', () => {
    expect(members(7)).toEqual(['0000:02:00.0', '0000:03:00.0', '0000:03:01.0']);
  });

  it('ACS root and downstream ports isolate: the NIC at 06:00.0 is alone; a multifunction device without ACS shares', () => {
    expect(members(11)).toEqual(['0000:06:00.0']);
    expect(members(12)).toEqual(['0000:07:00.0', '0000:07:00.1']);
    expect(members(6)).toEqual(['0000:00:1f.0', '0000:00:1f.3', '0000:00:1f.6']);
  });

  it('iommu_group and the group devices links point at each other', () => {
    expect(p.readlink('/sys/bus/pci/devices/0000:01:00.1/iommu_group')).toBe('../../../../kernel/iommu_groups/1');
    expect(p.readlink('/sys/kernel/iommu_groups/1/devices/0000:01:00.1')).toBe('../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.1');
    // and the link resolves to the device directory, whose vendor file can be read
    expect(p.readFile('/sys/kernel/iommu_groups/1/devices/0000:01:00.1/vendor')).toBe('0x10de\n');
  });
});

// ---- property: random topologies vs a union-find reference ------------------------------------------

type Node =
  | { kind: 'ep'; pcie: boolean; fns: number; acs: boolean[] }
  | { kind: 'rp' | 'down'; acs: boolean; child: Node[] }
  | { kind: 'up'; child: Node[] }
  | { kind: 'p2p' | 'pci2pci'; child: Node[] };

const ep = (pcie: boolean) => fc.record({
  kind: fc.constant('ep' as const), pcie: fc.constant(pcie), fns: fc.integer({ min: 1, max: 3 }),
  acs: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }).map((a) => (pcie ? a : [false, false, false])),
});

const conventional: fc.Arbitrary<Node[]> = fc.letrec<{ seg: Node[]; item: Node }>((tie) => ({
  seg: fc.array(tie('item'), { minLength: 0, maxLength: 3 }),
  item: fc.oneof({ maxDepth: 2, depthIdentifier: 'c' }, ep(false), fc.record({ kind: fc.constant('pci2pci' as const), child: tie('seg') })),
})).seg;

const pcieTree = fc.letrec<{ ports: Node[]; below: Node[]; item: Node }>((tie) => ({
  ports: fc.array(tie('item'), { minLength: 1, maxLength: 4 }),
  below: fc.oneof(
    fc.array(ep(true), { minLength: 0, maxLength: 1 }),
    fc.array(fc.record({ kind: fc.constant('p2p' as const), child: conventional }), { minLength: 1, maxLength: 1 }),
    fc.array(fc.record({ kind: fc.constant('up' as const), child: fc.array(fc.record({ kind: fc.constant('down' as const), acs: fc.boolean(), child: tie('below') }), { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 1 }),
  ),
  item: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'p' },
    ep(true),
    ep(false),
    fc.record({ kind: fc.constant('rp' as const), acs: fc.boolean(), child: tie('below') }),
    fc.record({ kind: fc.constant('p2p' as const), child: conventional }),
  ),
})).ports;

function build(nodes: Node[]): (m: Machine) => void {
  const plug = (bus: PciBus, list: Node[], first: number) => {
    let slot = first;
    for (const n of list) {
      if (slot > 31) return;
      if (n.kind === 'ep') {
        for (let f = 0; f < n.fns; f++) {
          bus.add(slot, f, new SimpleDevice({
            id: { vendor: 0x1234, device: 0x100 + f, revision: 0, classCode: 0xff0000, name: 'ep' },
            pcie: n.pcie ? 'endpoint' : false, pin: 1, acs: n.pcie && n.acs[f]!, pm: false,
          }));
        }
      } else {
        const kind = n.kind === 'rp' ? 'root-port' : n.kind === 'down' ? 'switch-down' : n.kind === 'up' ? 'switch-up' : n.kind === 'p2p' ? 'pcie-to-pci' : 'pci-to-pci';
        const b = bus.add(slot, 0, new PciBridge({ kind, acs: 'acs' in n ? n.acs : false }));
        plug(b.secondary, n.child, 0);
      }
      slot++;
    }
  };
  return (m) => {
    m.pci.root.add(0, 0, new HostBridge());
    plug(m.pci.root, nodes, 1);
  };
}

/** The reference: PCIe §6.12 ACS applicability + union-find over aliasing, upstream and slot rules. */
function referenceGroups(fns: PciFunction[]): string[][] {
  const parent = new Map<PciFunction, PciFunction>();
  const find = (x: PciFunction): PciFunction => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const union = (a: PciFunction, b: PciFunction) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(rb, ra);
  };
  for (const f of fns) parent.set(f, f);
  const type = (f: PciFunction) => f.pcieType;
  const hasAcs = (f: PciFunction) => f.cfg.findCap(0x0d, true) !== undefined;
  const sameSlot = (f: PciFunction) => f.bus!.functions.filter((g) => g.slot === f.slot);
  const isolated = (f: PciFunction): boolean => {
    if (type(f) < 0) return false; // conventional PCI
    const t = type(f);
    if (t === 7 || t === 8 || t === 10) return false; // PCIe-to-PCI (and reverse) bridges, RCEC
    if (t === 4 || t === 6) return hasAcs(f); // root and downstream ports always need ACS
    return sameSlot(f).length > 1 ? hasAcs(f) : true; // multifunction endpoints/upstream ports need it
  };
  const pathIsolated = (f: PciFunction): boolean => {
    for (let x: PciFunction | null = f; x; x = x.bus!.self) if (!isolated(x)) return false;
    return true;
  };
  for (const f of fns) {
    // Aliasing: the topmost conventional-segment bridge above stands for the device.
    let top: PciFunction = f;
    for (let b = f.bus!.self; b; b = b.bus!.self) if ((b as PciBridge).kind === 'pcie-to-pci' || (b as PciBridge).kind === 'pci-to-pci') top = b;
    union(top, f);
    const up = top.bus!.self;
    if (up && !pathIsolated(up)) union(up, top);
    if (sameSlot(top).length > 1 && !isolated(top)) for (const g of sameSlot(top)) if (g !== top && !isolated(g)) union(g, top);
  }
  const groups = new Map<PciFunction, string[]>();
  for (const f of fns) {
    const r = find(f);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r)!.push(f.bdf);
  }
  return [...groups.values()];
}

describe('group computation vs a reference model', () => {
  it('random topologies: same partition, numbered in bus order', () => {
    fc.assert(
      fc.property(pcieTree, (nodes) => {
        const host = Host.create({ preset: build(nodes) });
        const fns = host.machine.pci.functions();
        const kernelGroups = host.kernel.iommu.groups.map((g) => g.devices.map((d) => d.name));
        const expected = referenceGroups(fns);
        const norm = (gs: string[][]) => gs.map((g) => [...g].sort().join(' ')).sort();
        expect(norm(kernelGroups)).toEqual(norm(expected));
        // IDs follow the order in which each group's first device was added (bus order).
        const order = fns.map((f) => host.kernel.pci.of(f)!.group!.id);
        let max = -1;
        for (const id of order) {
          expect(id).toBeLessThanOrEqual(max + 1);
          max = Math.max(max, id);
        }
      }),
      fcParams(150),
    );
  });
});
