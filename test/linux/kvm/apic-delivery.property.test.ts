// KVM's APIC map and interrupt delivery, differentially against this machine's kernel with random
// scripts (arch/x86/kvm/lapic.c: kvm_recalculate_apic_map, kvm_recalculate_phys_map/logical_map,
// kvm_apic_map_get_dest_lapic, kvm_irq_delivery_to_apic(_fast), kvm_apic_match_dest, kvm_apic_mda,
// kvm_apic_is_broadcast_dest, __kvm_x2apic_icr_write; irq_comm.c / irq.c kvm_set_msi and
// kvm_msi_to_lapic_irq). A script makes VMs of up to five vCPUs with chosen IDs (some above 0xFF), puts
// each LAPIC in xAPIC, x2APIC or disabled mode, gives xAPIC-mode APICs IDs that may alias, logical IDs in
// flat or cluster mode and software enables, then sends MSIs (physical or logical, fixed or lowest
// priority, broadcast IDs included) and x2APIC IPIs, with and without KVM_X2APIC_API_USE_32BIT_IDS and
// DISABLE_BROADCAST_QUIRK. apic-delivery-oracle.c runs it on /dev/kvm and prints each result with every
// vCPU's IRR; the model must print the same. fast-check shrinks a mismatch to a short script.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { getU32, setU32 } from '../../../abi/bytes.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { enableCap, K, leaf1Cpuid, oneMsr } from './helpers.js';
import { COracle, oracleSkip, resultCode } from '../../support/c-oracle.js';
import { fcParams } from '../../support/runs.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = oracleSkip('KVM APIC delivery', ['kvm']);
const APIC_BASES = [0xfee00000n, 0xfee00800n, 0xfee00c00n];

/** The model half of apic-delivery-oracle.c: the same commands, the same lines. */
function model(script: readonly string[]): string[] {
  const p: Process = Host.create().spawn();
  const kvm = p.open('/dev/kvm', O_RDWR);
  let vm = -1;
  let vcpus: number[] = [];
  const setMsr = (fd: number, index: number, data: bigint) => oneMsr(p, fd, true, index, data).r;
  const irrs = () =>
    vcpus
      .map((fd) => {
        const s = new Uint8Array(0x400);
        p.ioctl(fd, K.KVM_GET_LAPIC, s);
        let t = ' |';
        for (let w = 0; w < 8; w++) {
          const v = getU32(s, 0x200 + w * 16);
          if (v) t += ` ${w}:${v.toString(16)}`;
        }
        return t;
      })
      .join('');
  return script.map((line) => {
    const [cmd, ...rest] = line.split(' ');
    const a = rest.map((x) => BigInt(`0x${x}`));
    const n = (i: number) => Number(a[i]!);
    switch (cmd) {
      case 'vm': {
        for (const fd of vcpus) p.close(fd);
        if (vm >= 0) p.close(vm);
        vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
        p.ioctl(vm, K.KVM_CREATE_IRQCHIP);
        let r = '0';
        if (a[0]) r = resultCode(() => enableCap(p, vm, K.KVM_CAP_X2APIC_API, a[0]!));
        vcpus = [];
        for (let i = 1; i < a.length; i++) {
          const fd = p.ioctl(vm, K.KVM_CREATE_VCPU, n(i));
          p.ioctl(fd, K.KVM_SET_CPUID2, leaf1Cpuid(true));
          vcpus.push(fd);
        }
        return `vm: ${r}`;
      }
      case 'mode':
        return `mode: ${setMsr(vcpus[n(0)]!, 0x1b, APIC_BASES[n(1)]!)}`;
      case 'lapic': {
        const fd = vcpus[n(0)]!;
        const s = new Uint8Array(0x400);
        p.ioctl(fd, K.KVM_GET_LAPIC, s);
        setU32(s, 0x20, n(1));
        setU32(s, 0xd0, n(2));
        setU32(s, 0xe0, n(3));
        setU32(s, 0xf0, n(4));
        return `lapic: ${resultCode(() => p.ioctl(fd, K.KVM_SET_LAPIC, s))}`;
      }
      case 'msi': {
        const m = K.kvm_msi.alloc();
        m.address_lo = n(0);
        m.address_hi = n(1);
        m.data = n(2);
        return `msi: ${resultCode(() => p.ioctl(vm, K.KVM_SIGNAL_MSI, m))}${irrs()}`;
      }
      case 'icr':
        return `icr: ${setMsr(vcpus[n(0)]!, 0x830, (a[1]! << 32n) | a[2]!)}${irrs()}`;
      default:
        throw new Error(`unknown command ${line}`);
    }
  });
}

const hex = (x: number) => x.toString(16);
/** vCPU IDs: small ones, cluster boundaries, 0xFF, and IDs an xAPIC cannot encode. */
const idArb = fc.constantFrom(0, 1, 2, 3, 5, 15, 16, 17, 0xff, 0x100, 0x101, 0x12c);
/** Destinations: the IDs above, both broadcasts, and x2APIC logical (cluster << 16 | bits) ones. */
const destArb = fc.oneof(idArb, fc.constantFrom(0xff, 0xffff_ffff, 0x1_0001, 0x1_0002, 0x3, 0xf, 0x12), fc.integer({ min: 0, max: 0xff }));
const vectorArb = fc.integer({ min: 0x20, max: 0xff });

/** One command for a VM of `n` vCPUs. */
function commandArb(n: number): fc.Arbitrary<string> {
  const vc = fc.integer({ min: 0, max: n - 1 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(vc, fc.constantFrom(0, 1, 2)).map(([i, m]) => `mode ${i} ${m}`) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(vc, fc.constantFrom(0, 1, 2, 3, 5, 0x11, 0xff), fc.constantFrom(0, 0x01, 0x02, 0x04, 0x11, 0x12, 0x80, 0x03), fc.boolean(), fc.boolean())
        .map(([i, id, ldr, flat, sw]) => `lapic ${i} ${hex((id << 24) >>> 0)} ${hex((ldr << 24) >>> 0)} ${flat ? 'ffffffff' : 'fffffff'} ${sw ? '1ff' : 'ff'}`),
    },
    {
      weight: 5,
      arbitrary: fc.tuple(destArb, fc.boolean(), fc.boolean(), fc.boolean(), vectorArb, fc.boolean()).map(([dest, logical, lowest, hint, vector, level]) => {
        const lo = (0xfee00000 | ((dest & 0xff) << 12) | (hint ? 8 : 0) | (logical ? 4 : 0)) >>> 0;
        const hi = (dest & 0xffffff00) >>> 0;
        const data = vector | (lowest ? 0x100 : 0) | (level ? 0xc000 : 0);
        return `msi ${hex(lo)} ${hex(hi)} ${hex(data)}`;
      }),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(vc, destArb, fc.boolean(), fc.constantFrom(0, 0x100, 0x40000, 0x80000, 0xc0000), vectorArb).map(([i, dest, logical, extra, vector]) => `icr ${i} ${hex(dest)} ${hex(vector | (logical ? 0x800 : 0) | extra)}`),
    },
  );
}

/** A VM (X2APIC_API flags, vCPU IDs in creation order) and commands on it; scripts hold one or two. */
const vmArb = fc
  .tuple(fc.constantFrom(0, 1, 2, 3), fc.uniqueArray(idArb, { minLength: 1, maxLength: 5 }))
  .chain(([flags, ids]) => fc.array(commandArb(ids.length), { maxLength: 25 }).map((cmds) => [`vm ${flags} ${ids.map(hex).join(' ')}`, ...cmds]));
const scriptArb = fc.array(vmArb, { minLength: 1, maxLength: 2 }).map((vms) => vms.flat());

describe.skipIf(SKIP !== undefined)("APIC delivery: the model against this machine's kernel", () => {
  let bin!: COracle;
  beforeAll(() => {
    bin = new COracle(join(here, 'apic-delivery-oracle.c'));
  });
  afterAll(() => bin.dispose());
  const oracle = (script: readonly string[]) => bin.run([], `${script.join('\n')}\n`).trim().split('\n');

  it('a fixed script: aliased xAPIC IDs, an x2APIC vCPU above 0xFF, logical x2APIC IPIs, lowest priority', () => {
    const script = [
      'vm 3 0 1 12c', 'mode 2 2', 'lapic 0 1000000 1000000 ffffffff 1ff', 'lapic 1 1000000 2000000 ffffffff 1ff',
      'msi fee01000 0 41', 'lapic 2 12c 0 0 1ff', 'msi fee2c000 100 42', 'icr 2 3 843', 'msi fee01004 0 144',
      'vm 0 1 2', 'mode 1 2', 'lapic 1 2000000 0 ffffffff 1ff', 'msi fee02000 0 45', 'msi feeff000 0 46',
    ];
    const label = (rs: string[]) => rs.map((r, i) => `${script[i]} -> ${r}`);
    expect(label(model(script))).toEqual(label(oracle(script)));
  });

  it('random VMs, modes, IDs, MSIs and IPIs (property): every result and IRR as the kernel gives them', () => {
    fc.assert(
      fc.property(scriptArb, (script) => {
        const label = (rs: string[]) => rs.map((r, i) => `${script[i]} -> ${r}`);
        expect(label(model(script))).toEqual(label(oracle(script)));
      }),
      fcParams(150),
    );
  });
});
