// VFIO interrupt delivery through the whole model, each next to a bare-JavaScript baseline of the same
// bookkeeping and to the real kernel's eventfd write+read pair:
// - INTx round trip on the edu device (PCI 2.3): the device asserts -> I/O APIC -> VT-d -> CPU ->
//   vfio_intx_handler masks it (INTx Disable) and signals the trigger eventfd -> the user reads it ->
//   the device is acknowledged (deasserts) -> the user writes the unmask eventfd (virqfd unmask);
//   and the same with the UNMASK ioctl instead of the unmask eventfd;
// - MSI-X raise -> eventfd on the 2048-queue NIC: a doorbell -> the MSI-X table entry -> VT-d
//   remapping -> CPU vector -> handle_edge_irq -> vfio_msihandler -> eventfd, with 1 and with 2048
//   vectors enabled (the cost must not depend on how many there are);
// and the allocation per interrupt once warm; and end to end (issue 5), the full INTx cycle of a KVM guest
// with the edu device assigned (examples/intx-passthrough.ts): the guest's write raises the device's
// interrupt -> host IRQ -> vfio automask -> trigger eventfd -> resampling irqfd -> guest IOAPIC -> LAPIC
// -> guest handler (reads and acks the device, which deasserts) -> EOI -> resampler -> resamplefd ->
// vfio unmask, all inside KVM_RUN.
import { fileURLToPath } from 'node:url';
import { Host } from '../src/index.js';
import type { Process } from '../src/linux/process.js';
import type { EduDevice } from '../src/hw/devices/edu.js';
import type { MsixNic } from '../src/hw/devices/msix-nic.js';
import { EFD_NONBLOCK } from '../include-ts/linux/eventfd.js';
import * as V from '../include-ts/linux/vfio.js';
import { bytesPerOp, compareRates, type BenchResult } from './lib/harness.js';
import { IntxPassthroughVmm } from '../examples/intx-passthrough.js';
import { bindToVfioPci, irqSet, openVfioDevice } from '../examples/lib/vfio.js';

const EDU = '0000:00:03.0';
const NIC = '0000:06:00.0';

function open(host: Host, bdf: string): { p: Process; d: number } {
  const p = host.spawn({ nofile: 8192 });
  const group = bindToVfioPci(p, bdf);
  return { p, d: openVfioDevice(p, group, bdf).device };
}

/** The bare INTx round trip: a level, a mask flag, a counter, the same checks in the same order. */
class BareIntx {
  level = false;
  masked = false;
  disable = false;
  count = 0;
  assert(): void {
    this.level = true;
    if (!this.disable && !this.masked) {
      this.masked = true;
      this.disable = true;
      this.count++;
    }
  }
  read(): number {
    const n = this.count;
    this.count = 0;
    return n;
  }
  deassert(): void {
    this.level = false;
  }
  unmask(): void {
    if (this.masked && !this.level) {
      this.masked = false;
      this.disable = false;
    }
  }
}

/** The bare MSI-X raise: the vector's mask bit, a pending bit or a counter per vector. */
class BareMsix {
  readonly ctrl: Uint8Array;
  readonly pba: Uint8Array;
  readonly counts: Uint32Array;
  constructor(n: number) {
    this.ctrl = new Uint8Array(n);
    this.pba = new Uint8Array(n);
    this.counts = new Uint32Array(n);
  }
  raise(v: number): void {
    if (this.ctrl[v]! & 1) this.pba[v] = 1;
    else this.counts[v]!++;
  }
}

/** INTx round trips on the edu device, with the unmask eventfd and with the UNMASK ioctl. */
function intx(): BenchResult[] {
  const results: BenchResult[] = [];
  {
    const host = Host.create();
    const { p, d } = open(host, EDU);
    const trig = p.eventfd(0, EFD_NONBLOCK);
    const unmask = p.eventfd(0, EFD_NONBLOCK);
    p.ioctl(d, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1, [trig]));
    p.ioctl(d, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_UNMASK, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1, [unmask]));
    const edu = host.control.pci.edu() as EduDevice;
    const buf = new Uint8Array(8);
    const one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
    const unmaskIoctl = irqSet(V.VFIO_IRQ_SET_DATA_NONE | V.VFIO_IRQ_SET_ACTION_UNMASK, V.VFIO_PCI_INTX_IRQ_INDEX, 0, 1);
    let signals = 0;
    const roundTrip = () => {
      edu.raiseIrq(1);
      p.read(trig, buf);
      signals += buf[0]!;
      edu.lowerIrq(1);
      p.write(unmask, one);
    };
    const roundTripIoctl = () => {
      edu.raiseIrq(1);
      p.read(trig, buf);
      signals += buf[0]!;
      edu.lowerIrq(1);
      p.ioctl(d, V.VFIO_DEVICE_SET_IRQS, unmaskIoctl);
    };
    const bare = new BareIntx();
    const bareTrip = () => {
      bare.assert();
      bare.read();
      bare.deassert();
      bare.unmask();
    };
    const a = compareRates(roundTrip, bareTrip, 150, 500);
    results.push({ name: 'INTx round trip, unmask eventfd (assert -> automask -> eventfd -> read -> deassert -> unmask)', ...a, unit: 'round trips/s', vsKernel: true, target: '>= 3x the real kernel pair rate' });
    const b = compareRates(roundTripIoctl, bareTrip, 150, 500);
    results.push({ name: 'INTx round trip, VFIO_DEVICE_SET_IRQS UNMASK ioctl', ...b, unit: 'round trips/s', vsKernel: true });
    results.push({ name: 'INTx round trip allocations once warm', rate: bytesPerOp(roundTrip, 500_000), unit: 'bytes/round trip', target: '0' });
    const before = signals;
    for (let i = 0; i < 1000; i++) roundTrip();
    if (signals - before !== 1000) throw new Error(`INTx bench lost or invented interrupts: ${signals - before} signals for 1000 round trips`);
  }
  return results;
}

/** MSI-X raise -> eventfd with 1 and with 2048 vectors enabled. */
function msix(): BenchResult[] {
  const results: BenchResult[] = [];
  const msix = (n: number) => {
    const host = Host.create();
    const { p, d } = open(host, NIC);
    const fds: number[] = [];
    for (let i = 0; i < n; i++) fds.push(p.eventfd(0, EFD_NONBLOCK));
    const r = p.ioctl(d, V.VFIO_DEVICE_SET_IRQS, irqSet(V.VFIO_IRQ_SET_DATA_EVENTFD | V.VFIO_IRQ_SET_ACTION_TRIGGER, V.VFIO_PCI_MSIX_IRQ_INDEX, 0, fds.length, fds));
    if (r !== 0) throw new Error(`MSI-X enable of ${n} vectors returned ${r}`);
    const nic = host.control.pci.nic() as MsixNic;
    const mask = n - 1;
    const raise = (i: number) => nic.ring(i & mask);
    const bare = new BareMsix(n);
    const bareRaise = (i: number) => bare.raise(i & mask);
    const check = () => {
      const ctx = p.fileOrNull(fds[0]!) as unknown as { ctx: { countNumber: number } };
      const c0 = ctx.ctx.countNumber;
      for (let i = 0; i < n * 4; i++) raise(i);
      if (ctx.ctx.countNumber - c0 !== 4) throw new Error('MSI-X bench: vector 0 did not get exactly its raises');
    };
    return { raise, bareRaise, check };
  };
  const one = msix(1);
  const all = msix(2048);
  const oneRates = compareRates(one.raise, one.bareRaise, 150, 2048);
  const allRates = compareRates(all.raise, all.bareRaise, 150, 2048);
  // The cost ratio from alternating rounds of the two (both see the same machine conditions).
  const vs = compareRates(one.raise, all.raise, 150, 2048);
  one.check();
  all.check();
  results.push({ name: 'MSI-X raise -> eventfd, 1 vector enabled', ...oneRates, unit: 'interrupts/s', vsKernel: true, target: '>= 10x the real kernel pair rate' });
  results.push({ name: 'MSI-X raise -> eventfd, 2048 vectors enabled', ...allRates, unit: 'interrupts/s', vsKernel: true, target: '>= 10x the real kernel pair rate' });
  results.push({ name: 'MSI-X cost per raise, 2048 vectors vs 1 (alternating rounds)', rate: vs.rate / vs.baseline, unit: 'x', target: '<= 1.25' });
  results.push({ name: 'MSI-X raise allocations once warm (2048 vectors)', rate: bytesPerOp(all.raise, 200_000), unit: 'bytes/interrupt', target: '0' });
  return results;
}

/** Full INTx cycles in a KVM guest with the edu device assigned (examples/intx-passthrough.ts). */
function e2e(): BenchResult[] {
  const results: BenchResult[] = [];
  {
    const host = Host.create();
    const vmm = new IntxPassthroughVmm(host, 'resample');
    const cycles = (n: number): number => {
      vmm.load(IntxPassthroughVmm.driver(n));
      const t0 = performance.now();
      vmm.runUntilIdle();
      const ms = performance.now() - t0;
      const done = host.control.kvm.vcpu(vmm.qemu, vmm.vcpu).guest().regs[1]!;
      if (done !== n) throw new Error(`e2e bench: the guest finished ${done} of ${n} cycles`);
      return (n / ms) * 1000;
    };
    cycles(100_000);
    // The same work without the model: the bookkeeping of each stage as plain field updates.
    const bare = { status: 0, disable: false, masked: false, trig: 0, src1: false, remoteIrr: false, irr: false, isr: false, handled: 0, resample: 0 };
    const bareCycle = () => {
      bare.status |= 1; // guest write raises
      if (!bare.disable && !bare.masked) {
        bare.masked = true;
        bare.disable = true;
        bare.trig++;
      }
      if (bare.trig) {
        bare.trig = 0;
        bare.src1 = true;
      }
      if (bare.src1 && !bare.remoteIrr) {
        bare.remoteIrr = true;
        bare.irr = true;
      }
      if (bare.irr) {
        bare.irr = false;
        bare.isr = true;
        const st = bare.status;
        bare.status &= ~st;
        bare.handled++;
        bare.isr = false;
        bare.src1 = false;
        bare.resample++;
        bare.remoteIrr = false;
        if (bare.masked && bare.status === 0) {
          bare.masked = false;
          bare.disable = false;
        }
      }
    };
    const rates: number[] = [];
    const bares: number[] = [];
    for (let r = 0; r < 3; r++) {
      rates.push(cycles(100_000));
      const t0 = performance.now();
      for (let i = 0; i < 5_000_000; i++) bareCycle();
      bares.push((5_000_000 / (performance.now() - t0)) * 1000);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    results.push({ name: 'e2e INTx cycle in a KVM guest (guest raise -> host IRQ -> automask -> irqfd -> guest handler -> EOI -> resample -> unmask)', rate: med(rates), baseline: med(bares), unit: 'cycles/s', vsKernel: true, target: '>= 2x the real kernel pair rate' });
  }
  return results;
}

/** Each benchmark is run in its own process by bench/run.ts (see there). */
export const sections = { intx, msix, e2e };

export async function run(): Promise<BenchResult[]> {
  return [...intx(), ...msix(), ...e2e()];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await run()) console.log(`${r.name}: ${r.rate >= 100 ? Math.round(r.rate).toLocaleString('en-US') : r.rate.toFixed(2)} ${r.unit}${r.baseline ? ` | bare ${Math.round(r.baseline).toLocaleString('en-US')} (${(r.baseline / r.rate).toFixed(1)}x)` : ''}`);
}
