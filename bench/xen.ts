// Xen VT-d posted interrupts: one MSI-X interrupt from a passed-through NIC to a vCPU that is running
// guest code, delivered end to end (device -> IOMMU -> guest handler -> virtual EOI), on the same host
// booted with iommu=intpost (posted: PIR + notification, no VM exit) and with iommu=no-intpost (the
// legacy path: external-interrupt VM exit, do_IRQ, HVM_DPCI_SOFTIRQ, vlapic_set_irq, VM entry).
import { bindMsi, rig as xenRig } from '../test/xen/helpers.js';
import { bytesPerOp, opsPerSecond, type BenchResult } from './lib/harness.js';

const GVEC = 0x41;

/** A host with one busy vCPU (guest code in a loop) and NIC entry 0 bound to guest vector 0x41 on it. */
function rig(cmdline: string): { deliver: () => void; fromIommu: () => void; handled: () => number; exits: () => number } {
  // The tests' rig: the toolstack path (libxc -> privcmd) assigns the NIC before the guest starts and
  // maps entry 0; the guest MSI is fixed to vCPU 0.
  const r = xenRig({ cmdline, mode: 'xen-4.22', hardware: { cpus: 2 }, vcpus: 1, entries: 1 });
  bindMsi(r, 0, GVEC, { kind: 'vcpu', vcpu: 0 });
  const { host, dom } = r;
  const nic = host.control.device();
  host.control.guestDo(dom, 0, (b) => (b.busy = true));
  host.control.settle();
  const sched = host.xen.sched;
  // The message entry 0 holds, read once: what the NIC writes, handed straight to the platform.
  const m = nic.msix!;
  const lo = m.entryWord(0, 0), hi = m.entryWord(0, 1), data = m.entryWord(0, 2);
  return {
    fromIommu: () => {
      nic.msiSink.deliver(nic, lo, hi, data);
      sched.flush();
    },
    deliver: () => {
      nic.ring(0);
      sched.flush();
    },
    handled: () => host.control.handled(dom, 0, GVEC),
    exits: () => Object.values(host.control.vcpuState(dom, 0).exits).reduce((a, b) => a + b, 0),
  };
}

/** Runs `n` deliveries and checks that each one reached the guest handler: a bench of a broken path is no bench. */
function check(name: string, r: ReturnType<typeof rig>, n = 1000): number {
  const h0 = r.handled();
  const e0 = r.exits();
  for (let i = 0; i < n; i++) r.deliver();
  const got = r.handled() - h0;
  if (got !== n) throw new Error(`${name}: ${n} MSIs but the guest handled ${got}`);
  return (r.exits() - e0) / n;
}

export async function run(): Promise<BenchResult[]> {
  const posted = rig('iommu=intpost');
  const legacy = rig('iommu=no-intpost');
  const postedExits = check('intpost', posted);
  const legacyExits = check('no-intpost', legacy);
  const postedRate = opsPerSecond(posted.deliver);
  const legacyRate = opsPerSecond(legacy.deliver);
  return [
    { name: 'posted delivery to a running vCPU (iommu=intpost)', rate: postedRate, unit: 'MSIs/s', note: `${postedExits} VM exits per MSI` },
    { name: 'legacy delivery to a running vCPU (iommu=no-intpost)', rate: legacyRate, unit: 'MSIs/s', note: `${legacyExits} VM exits per MSI; posted is ${(postedRate / legacyRate).toFixed(2)}x faster in the model` },
    { name: 'posted delivery allocations once warm', rate: bytesPerOp(posted.deliver), unit: 'bytes/MSI', target: '0' },
    { name: 'posted delivery allocations from the IOMMU on', rate: bytesPerOp(posted.fromIommu), unit: 'bytes/MSI', target: '0' },
    {
      name: 'legacy delivery allocations once warm',
      rate: bytesPerOp(legacy.deliver),
      unit: 'bytes/MSI',
      note: 'the VM exit starts the CPU\'s root-mode thread: a step task and its generators (exit handler, main loop, VM entry, do_softirq)',
    },
  ];
}
