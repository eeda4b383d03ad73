// KVM benchmarks: MSI deliveries (eventfd write -> irqfd wakeup -> MSI route -> LAPIC IRR, then the IRR
// vector taken and EOI'd as the guest CPU would) with 1 and 256 vCPUs, and a level-triggered cycle with
// a guest in KVM_RUN (irqfd RESAMPLE signal -> IOAPIC -> LAPIC -> guest handler -> EOI -> resamplefd
// read by the VMM), each next to a bare-JavaScript baseline of the same bookkeeping, plus heap bytes
// allocated per interrupt once warm. Reports rates and ratios; nothing here passes or fails.
import { Host } from '../src/index.js';
import type { Process } from '../src/linux/process.js';
import * as K from '../include-ts/linux/kvm.js';
import { O_RDWR } from '../include-ts/linux/fcntl.js';
import { EFD_NONBLOCK } from '../include-ts/linux/eventfd.js';
import { GuestAsm } from '../src/guest/program.js';
import { enableLapic, ioapicRoute, maskPic } from '../src/guest/x86.js';
import { msiAddress, msiData } from '../src/hw/x86/msi.js';
import type { Lapic } from '../src/hw/x86/lapic.js';
import { EventFdFile } from '../src/linux/eventfd.js';
import { APIC_SPIV, APIC_SPIV_APIC_ENABLED } from '../src/hw/x86/apicdef.js';
import { setU32 } from '../abi/bytes.js';
import { bytesPerOp, compareRates, type BenchResult } from './lib/harness.js';

const ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

/**
 * Software-enables a vCPU's LAPIC (SPIV: APIC_SPIV_APIC_ENABLED, spurious vector 0xff) through
 * KVM_GET_LAPIC/KVM_SET_LAPIC, for benchmarks that take interrupts without running guest code.
 */
export function enableLapicBySetLapic(p: Process, vcpu: number, state = K.kvm_lapic_state.alloc()): void {
  p.ioctl(vcpu, K.KVM_GET_LAPIC, state);
  setU32(state.bytes, APIC_SPIV, APIC_SPIV_APIC_ENABLED | 0xff);
  p.ioctl(vcpu, K.KVM_SET_LAPIC, state);
}

interface MsiSetup {
  p: Process;
  fds: number[];
  apics: Lapic[];
}

/** A VM with `n` vCPUs (software-enabled LAPICs) and one MSI-routed irqfd per vCPU. */
function msiSetup(n: number): MsiSetup {
  const host = Host.create();
  const p = host.spawn();
  const kvm = p.open('/dev/kvm', O_RDWR);
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  p.ioctl(vm, K.KVM_CREATE_IRQCHIP);
  const vcpus: number[] = [];
  const state = K.kvm_lapic_state.alloc();
  for (let i = 0; i < n; i++) {
    const fd = p.ioctl(vm, K.KVM_CREATE_VCPU, i);
    vcpus.push(fd);
    enableLapicBySetLapic(p, fd, state);
  }
  // Physical destinations 0-254 (0xff is the broadcast ID).
  const routes = K.kvm_irq_routing.alloc(n);
  routes.nr = n;
  for (let i = 0; i < n; i++) {
    const e = routes.entries.get(i);
    e.gsi = 32 + i;
    e.type = K.KVM_IRQ_ROUTING_MSI;
    e.u.msi.address_lo = msiAddress(i % 255);
    e.u.msi.data = msiData(0x40);
  }
  p.ioctl(vm, K.KVM_SET_GSI_ROUTING, routes);
  const fds: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = p.eventfd(0, EFD_NONBLOCK);
    const a = K.kvm_irqfd.alloc();
    a.fd = e;
    a.gsi = 32 + i;
    p.ioctl(vm, K.KVM_IRQFD, a);
    fds.push(e);
  }
  const apics = vcpus.map((fd) => host.control.kvm.vcpu(p, fd).vcpu.lapic!);
  return { p, fds, apics };
}

/** The same bookkeeping in bare JS: counter add+consume, cached route, physical lookup, IRR/TMR set, take, EOI. */
function bareMsi(n: number): (i: number) => void {
  const counters = new Float64Array(n);
  const routeDest = new Int32Array(n).map((_, i) => i % 255);
  const routeVec = new Int32Array(n).fill(0x40);
  const phys = new Int32Array(256).map((_, i) => (i < n ? i : -1));
  const irr = new Uint32Array(n * 8);
  const isr = new Uint32Array(n * 8);
  const tmr = new Uint32Array(n * 8);
  const irrCount = new Int32Array(n);
  const highest = (bank: Uint32Array, base: number): number => {
    for (let w = 7; w >= 0; w--) {
      const x = bank[base + w]!;
      if (x) return w * 32 + 31 - Math.clz32(x);
    }
    return -1;
  };
  return (i: number) => {
    const k = i % n;
    counters[k]! += ONE[0]!;
    counters[k] = 0;
    const cpu = phys[routeDest[k]!]!;
    const v = routeVec[k]!;
    const base = cpu * 8;
    tmr[base + (v >> 5)]! &= ~(1 << (v & 31));
    if (!(irr[base + (v >> 5)]! & (1 << (v & 31)))) {
      irr[base + (v >> 5)]! |= 1 << (v & 31);
      irrCount[cpu]!++;
    }
    const t = highest(irr, base);
    irr[base + (t >> 5)]! &= ~(1 << (t & 31));
    irrCount[cpu]!--;
    isr[base + (t >> 5)]! |= 1 << (t & 31);
    const e = highest(isr, base);
    isr[base + (e >> 5)]! &= ~(1 << (e & 31));
  };
}

function msiOp(s: MsiSetup, kernelSide: boolean, only?: number): (i: number) => void {
  const n = only === undefined ? s.fds.length : 1;
  const ctxs = s.fds.map((fd) => (s.p.fileOrNull(fd) as EventFdFile).ctx);
  return (i: number) => {
    const k = only === undefined ? i % n : only;
    if (kernelSide) ctxs[k]!.signal();
    else s.p.write(s.fds[k]!, ONE);
    const apic = s.apics[k]!;
    apic.ackInterrupt();
    apic.eoi();
  };
}

/** A guest that sleeps in HLT with IF=1 and exits with OUT after each handled level interrupt. */
function levelSetup(): { p: Process; vcpu: number; trigger: number; resample: number } {
  const host = Host.create();
  const p = host.spawn();
  const kvm = p.open('/dev/kvm', O_RDWR);
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  p.ioctl(vm, K.KVM_CREATE_IRQCHIP);
  const vcpu = p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
  p.mmap(null, 12288, 3, 1, vcpu, 0);
  const a = new GuestAsm('level-bench');
  a.label('start');
  maskPic(a);
  enableLapic(a);
  ioapicRoute(a, 20, { vector: 0x60, level: true });
  a.label('loop').out(0x80, 0, 1).sti().hlt().cli().jmp('loop');
  a.handler(0x60, 'isr').label('isr').eoi().iret();
  host.control.kvm.loadGuest(p, vcpu, a.build());
  const trigger = p.eventfd(0, EFD_NONBLOCK);
  const resample = p.eventfd(0, EFD_NONBLOCK);
  const f = K.kvm_irqfd.alloc();
  f.fd = trigger;
  f.gsi = 20;
  f.flags = K.KVM_IRQFD_FLAG_RESAMPLE;
  f.resamplefd = resample;
  p.ioctl(vm, K.KVM_IRQFD, f);
  p.ioctl(vcpu, K.KVM_RUN);
  return { p, vcpu, trigger, resample };
}

function levelOp(s: ReturnType<typeof levelSetup>): (i: number) => void {
  const out = new Uint8Array(8);
  return () => {
    s.p.write(s.trigger, ONE);
    s.p.ioctl(s.vcpu, K.KVM_RUN);
    s.p.read(s.resample, out);
  };
}

/** The level cycle's bookkeeping in bare JS: source bitmap, IOAPIC irr/remote IRR, LAPIC IRR/ISR, handler, EOI, resamplefd. */
function bareLevel(): (i: number) => void {
  let trigger = 0;
  let resample = 0;
  let src = 0;
  let irr = 0;
  let remote = 0;
  let lirr = 0;
  let lisr = 0;
  let handled = 0;
  return () => {
    trigger += 1;
    trigger = 0;
    src |= 2;
    irr = 1;
    if (!remote) {
      lirr |= 1;
      remote = 1;
    }
    if (lirr) {
      lirr = 0;
      lisr = 1;
      handled++;
    }
    lisr = 0;
    src &= ~2;
    if (!src) irr = 0;
    resample++;
    remote = 0;
    if (irr) lirr = 1;
    resample = 0;
    if (handled < 0 || lisr < 0) throw new Error('unreachable');
  };
}

/** MSI deliveries with 1 and 256 vCPUs (one process: the comparison is the point). */
function msi(): BenchResult[] {
  const one = msiSetup(1);
  const many = msiSetup(256);
  const msi1 = compareRates(msiOp(one, false), bareMsi(1));
  const msi256 = compareRates(msiOp(many, false), bareMsi(256));
  const msi256one = compareRates(msiOp(many, false, 7), bareMsi(1));
  const kernel1 = compareRates(msiOp(msiSetup(1), true), bareMsi(1));
  // The cost ratio from alternating rounds of the two (both see the same machine conditions).
  const vs = compareRates(msiOp(one, false), msiOp(many, false));
  return [
    { name: 'MSI delivery, 1 vCPU (eventfd write -> irqfd -> LAPIC IRR -> taken + EOI)', ...msi1, unit: 'interrupts/s', vsKernel: true, target: '>= 10x the real kernel pair, within 3x of bare JS' },
    { name: 'MSI delivery, 256 vCPUs (round-robin destinations)', ...msi256, unit: 'interrupts/s', vsKernel: true, note: `${(msi1.rate / msi256.rate).toFixed(2)}x slower than 1 vCPU`, target: 'within 1.25x of 1 vCPU' },
    { name: 'MSI delivery, 256 vCPUs, one source and destination (O(1) in vCPUs)', ...msi256one, unit: 'interrupts/s', vsKernel: true, note: `${(msi1.rate / msi256one.rate).toFixed(2)}x slower than 1 vCPU`, target: 'within 1.25x of 1 vCPU' },
    { name: 'MSI delivery cost, 256 vCPUs round-robin vs 1 vCPU (alternating rounds)', rate: vs.rate / vs.baseline, unit: 'x', target: '<= 1.25' },
    { name: 'MSI delivery from a kernel eventfd_signal (as VFIO signals), 1 vCPU', ...kernel1, unit: 'interrupts/s', vsKernel: true },
    { name: 'MSI delivery allocations once warm', rate: bytesPerOp(msiOp(one, false), 1_000_000), unit: 'bytes/interrupt', target: '0' },
  ];
}

/** The level-triggered cycle with a guest in KVM_RUN. */
function level(): BenchResult[] {
  const lvl = levelSetup();
  const r = compareRates(levelOp(lvl), bareLevel(), 150, 200);
  return [
    { name: 'level cycle: irqfd RESAMPLE signal -> guest handler (KVM_RUN) -> EOI -> resamplefd read', ...r, unit: 'cycles/s', vsKernel: true },
    { name: 'level cycle allocations once warm', rate: bytesPerOp(levelOp(lvl), 300_000), unit: 'bytes/cycle', target: '0' },
  ];
}

/** Each benchmark is run in its own process by bench/run.ts (see there). */
export const sections = { msi, level };

export async function run(): Promise<BenchResult[]> {
  return [...msi(), ...level()];
}
