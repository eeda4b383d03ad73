// vCPU events (arch/x86/kvm/x86.c: kvm_vcpu_ioctl_x86_get_vcpu_events, kvm_vcpu_ioctl_x86_set_vcpu_events,
// process_nmi, kvm_vcpu_ioctl_nmi/kvm_inject_nmi, kvm_vcpu_ioctl_interrupt, kvm_check_and_inject_events,
// vcpu_run's KVM_EXIT_IRQ_WINDOW_OPEN, post_kvm_run_save, kvm_vcpu_ready_for_interrupt_injection,
// kvm_cpu_accept_dm_intr; irq.c kvm_cpu_has_extint/kvm_cpu_get_extint; vmx.c vmx_get/set_interrupt_shadow).
//
// events-oracle.c runs a fixed sequence on this machine's /dev/kvm with a flat 32-bit guest; the same
// steps run on the model with a GuestAsm program doing the same (sti; hlt; a loop writing port 0x80;
// handlers writing their vector to port 0x81, then sti and back to the loop), and the printed lines
// must be equal. This machine is kvm_pvm, which differs from x86.c + vmx.c in three places, kept out of
// the comparison (HOST_SPECIFIC below) and checked against the source instead:
//  - it has no interrupt-window exit: with request_interrupt_window set, KVM_RUN does not stop with
//    KVM_EXIT_IRQ_WINDOW_OPEN once IF=1 (vcpu_enter_guest enables the window, VMX exits at once);
//  - it does not force the immediate exit kvm_check_and_inject_events asks for (-EBUSY) when an injected
//    exception and an injected interrupt wait together, so the interrupt waits for the next natural exit;
//    VMX injects it before the exception handler's first instruction;
//  - its guests cannot IRET (KVM_EXIT_INTERNAL_ERROR), so the handlers never return.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyscallError } from '../../../src/index.js';
import { GuestAsm } from '../../../src/guest/program.js';
import { getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import {
  KVM_VCPUEVENT_VALID_NMI_PENDING, KVM_VCPUEVENT_VALID_PAYLOAD, KVM_VCPUEVENT_VALID_SHADOW, KVM_VCPUEVENT_VALID_SIPI_VECTOR,
  KVM_VCPUEVENT_VALID_SMM, KVM_VCPUEVENT_VALID_TRIPLE_FAULT, KVM_SYNC_X86_EVENTS, kvm_sync_regs, kvm_vcpu_events,
} from '../../../include-ts/asm/kvm.js';
import { enableCap, errno, K, signalMsi, vmm, type Vmm } from './helpers.js';
import { oracleSkip, runCOracle } from '../../support/c-oracle.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';

const here = dirname(fileURLToPath(import.meta.url));

const SKIP = oracleSkip('KVM vCPU events', ['kvm']);

const O = (p: string) => kvm_vcpu_events.offsetof(p);
const EVSZ = kvm_vcpu_events.size;
const SREGS_CR2 = K.kvm_sregs.offsetof('cr2');
const SREGS_BITMAP = K.kvm_sregs.offsetof('interrupt_bitmap');

/** The guest both halves run (see the header). */
function program(): GuestAsm {
  const a = new GuestAsm('events');
  a.label('main').entry('main').sti().hlt().label('L').out(0x80, 0, 1).jmp('L');
  for (const v of [2, 6, 14, 0x40, 0x41]) a.label(`h${v}`).handler(v, `h${v}`).out(0x81, v, 1).sti().jmp('L');
  return a;
}

/** A vCPU fd of the model with helpers printing the oracle's lines. */
class Steps {
  readonly out: string[] = [];
  constructor(
    readonly v: Vmm,
    readonly fd: number,
    readonly runIdx: number,
  ) {}
  get p() {
    return this.v.p;
  }
  res(what: string, f: () => number): void {
    try {
      this.out.push(`${what}: ${f()}`);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      this.out.push(`${what}: E${e.errno}`);
    }
  }
  get(what: string): void {
    const b = new Uint8Array(EVSZ).fill(0xa5);
    try {
      this.p.ioctl(this.fd, K.KVM_GET_VCPU_EVENTS, b);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      this.out.push(`${what}: E${e.errno}`);
      return;
    }
    const u = (p: string) => b[O(p)]!;
    this.out.push(`${what}: flags=${getU32(b, O('flags')).toString(16)} exc=${u('exception.injected')}/${u('exception.pending')}/${u('exception.nr')}/${u('exception.has_error_code')}/${getU32(b, O('exception.error_code')).toString(16)}`
      + ` intr=${u('interrupt.injected')}/${u('interrupt.nr').toString(16)}/${u('interrupt.soft')}/${u('interrupt.shadow')} nmi=${u('nmi.injected')}/${u('nmi.pending')}/${u('nmi.masked')}`
      + ` sipi=${getU32(b, O('sipi_vector')).toString(16)} smi=${u('smi.smm')}/${u('smi.pending')}/${u('smi.smm_inside_nmi')}/${u('smi.latched_init')} tf=${u('triple_fault.pending')}`
      + ` pl=${u('exception_has_payload')}/${getU64(b, O('exception_payload')).toString(16)}`);
  }
  set(what: string, flags: number, excInj: number, excPend: number, excNr: number, irqInj: number, irqNr: number, shadow: number,
    nmiPend: number, nmiMasked: number, smm: number, smiPend: number, latched: number, tf: number, hasPl: number, pl: number | bigint): void {
    const b = new Uint8Array(EVSZ);
    setU32(b, O('flags'), flags);
    b[O('exception.injected')] = excInj;
    b[O('exception.pending')] = excPend;
    b[O('exception.nr')] = excNr;
    b[O('interrupt.injected')] = irqInj;
    b[O('interrupt.nr')] = irqNr;
    b[O('interrupt.shadow')] = shadow;
    b[O('nmi.pending')] = nmiPend;
    b[O('nmi.masked')] = nmiMasked;
    b[O('smi.smm')] = smm;
    b[O('smi.pending')] = smiPend;
    b[O('smi.latched_init')] = latched;
    b[O('triple_fault.pending')] = tf;
    b[O('exception_has_payload')] = hasPl;
    setU64(b, O('exception_payload'), BigInt(pl));
    this.res(what, () => this.p.ioctl(this.fd, K.KVM_SET_VCPU_EVENTS, b));
  }
  run(what: string): void {
    const m = this.v.runs[this.runIdx]!;
    let line: string;
    const r = errno(() => this.p.ioctl(this.fd, K.KVM_RUN));
    if (r !== 0) line = `${what}: E${(r === 'EINTR' ? 4 : r) as number | string}`;
    else {
      line = `${what}: exit=${m.read32(8)}`;
      if (m.read32(8) === K.KVM_EXIT_IO) {
        const port = m.read16(34);
        line += ` io=${port.toString(16)}/${(port === 0x81 ? m.read8(Number(m.read64(40))) : 0).toString(16)}`;
      }
    }
    this.out.push(`${line} if=${m.read8(13)} ready=${m.read8(12)} cr8=${m.read64(16).toString(16)} apicbase=${m.read64(24).toString(16)}`);
  }
  intr(what: string, irq: number): void {
    const b = new Uint8Array(4);
    setU32(b, 0, irq);
    this.res(what, () => this.p.ioctl(this.fd, K.KVM_INTERRUPT, b));
  }
  nmi(what = 'nmi'): void {
    this.res(what, () => this.p.ioctl(this.fd, K.KVM_NMI, 0));
  }
  sregs(): Uint8Array {
    const b = new Uint8Array(K.kvm_sregs.size);
    this.p.ioctl(this.fd, K.KVM_GET_SREGS, b);
    return b;
  }
  set window(on: number) {
    this.v.runs[this.runIdx]!.write8(0, on);
  }
  set immediateExit(on: number) {
    this.v.runs[this.runIdx]!.write8(1, on);
  }
}

function cap(s: Steps, what: string, vm: number, c: number, a0: number): void {
  s.res(what, () => enableCap(s.p, vm, c, a0));
}

/** The model half of events-oracle.c, line for line. */
function modelLines(): string[] {
  const v = vmm({ irqchip: 'none' });
  const { p } = v;
  const out: string[] = [];
  for (const c of [K.KVM_CAP_VCPU_EVENTS, K.KVM_CAP_USER_NMI, K.KVM_CAP_INTR_SHADOW, K.KVM_CAP_EXCEPTION_PAYLOAD, K.KVM_CAP_X86_TRIPLE_FAULT_EVENT, K.KVM_CAP_X86_SMM]) {
    out.push(`cap ${c}: ${p.ioctl(v.kvm, K.KVM_CHECK_EXTENSION, c)}`);
  }
  const s = new Steps(v, v.vcpus[0]!, 0);
  s.get('reset');
  v.host.control.kvm.loadGuest(p, s.fd, program().build());
  s.run('run sti;hlt');
  s.intr('interrupt 256', 256);
  s.intr('interrupt 0x40', 0x40);
  s.get('queued 0x40');
  const sr = s.sregs();
  let first = -1;
  for (let i = 0; i < 256 && first < 0; i++) if (sr[SREGS_BITMAP + (i >> 3)]! & (1 << (i & 7))) first = i;
  s.out.push(`sregs interrupt_bitmap first: ${first}`);
  s.immediateExit = 1;
  s.run('run immediate_exit');
  s.immediateExit = 0;
  s.run('run takes 0x40');
  s.get('in handler');
  s.run('run sti;jmp');
  s.window = 1;
  s.run('run window, IF=1');
  s.intr('interrupt 0x41', 0x41);
  s.run('run window, takes 0x41');
  s.run('run window, sti;jmp');
  s.window = 0;
  s.nmi();
  s.get('nmi queued');
  s.run('run takes nmi');
  s.get('in nmi handler');
  s.nmi();
  s.nmi();
  s.get('two more, masked');
  s.run('run, nmi masked');
  s.set('unmask nmi', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.get('unmasked, one pending');
  s.run('run takes nmi');
  s.set('inject #UD', 0, 1, 0, 6, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0);
  s.get('#UD injected');
  s.run('run takes #UD');
  s.get('after #UD');
  s.run('run sti;jmp');
  s.set('interrupt and #UD injected', 0, 1, 0, 6, 1, 0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0);
  s.run('run takes #UD first');
  s.get('after #UD, interrupt still injected');
  s.run('run takes 0x40');
  s.run('run sti;jmp');
  s.set('shadow 1 (MOV SS)', KVM_VCPUEVENT_VALID_SHADOW, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0);
  s.get('shadow MOV SS');
  s.set('#BP injected', 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.get('#BP (soft) injected');
  s.set('clear', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.set('exception nr 2', 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.set('exception nr 32', 0, 1, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.set('exception nr 32, pending only', 0, 0, 1, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.set('exception nr 32, not injected', 0, 0, 0, 32, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.get('after nr 32 not injected');
  s.set('unknown flag 0x40', 0x40, 0, 0, 0, 1, 0x45, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.set('payload without the cap', KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, 14, 1, 0x45, 0, 0, 0, 0, 0, 0, 0, 1, 0x1234);
  s.get('after refused');
  s.set('triple fault without the cap', KVM_VCPUEVENT_VALID_TRIPLE_FAULT | KVM_VCPUEVENT_VALID_NMI_PENDING, 1, 0, 13, 1, 0x46, 0, 1, 1, 0, 0, 0, 1, 0, 0);
  s.get('after triple-fault refusal');
  s.set('smm', KVM_VCPUEVENT_VALID_SMM, 0, 0, 0, 1, 0x47, 0, 0, 0, 1, 0, 0, 0, 0, 0);
  s.get('after smm refusal');
  s.set('smi pending', KVM_VCPUEVENT_VALID_SMM, 0, 0, 0, 0, 0x48, 0, 0, 0, 0, 1, 0, 0, 0, 0);
  s.set('latched init, no lapic', KVM_VCPUEVENT_VALID_SMM, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
  s.get('after latched init');
  s.set('nmi pending 5', KVM_VCPUEVENT_VALID_NMI_PENDING, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0);
  s.get('nmi 5 unmasked');
  s.set('nmi pending 5 masked', KVM_VCPUEVENT_VALID_NMI_PENDING, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0, 0, 0);
  s.get('nmi 5 masked');
  s.set('unmask, pending not valid', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.get('unmasked');
  s.set('nmi pending 0', KVM_VCPUEVENT_VALID_NMI_PENDING, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  s.set('shadow 2 (STI)', KVM_VCPUEVENT_VALID_SHADOW, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0);
  s.get('shadow STI');
  s.set('shadow 0', KVM_VCPUEVENT_VALID_SHADOW, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  cap(s, 'enable triple fault event', v.vm, K.KVM_CAP_X86_TRIPLE_FAULT_EVENT, 1);
  s.get('with triple fault event');
  s.set('triple fault pending', KVM_VCPUEVENT_VALID_TRIPLE_FAULT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0);
  s.get('triple fault');
  s.run('run triple fault');
  s.get('after shutdown');
  cap(s, 'enable exception payload', v.vm, K.KVM_CAP_EXCEPTION_PAYLOAD, 1);
  s.get('with payload');
  s.set('pending #PF payload', KVM_VCPUEVENT_VALID_PAYLOAD, 1, 1, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1234);
  s.get('pending #PF');
  s.set('injected #UD payload', KVM_VCPUEVENT_VALID_PAYLOAD, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x99);
  s.get('injected #UD, payload dropped');
  s.set('pending #PF payload', KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1234);
  cap(s, 'disable exception payload', v.vm, K.KVM_CAP_EXCEPTION_PAYLOAD, 0);
  s.get('payload delivered');
  s.out.push(`cr2: ${getU64(s.sregs(), SREGS_CR2).toString(16)}`);
  // kvm_deliver_exception_payload(): DR6 is an unsigned long, and a #DB payload's bits above 31 land in it.
  cap(s, 'enable exception payload', v.vm, K.KVM_CAP_EXCEPTION_PAYLOAD, 1);
  s.set('pending #DB payload with bit 40', KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, (1n << 40n) | 0x4001n);
  cap(s, 'disable exception payload', v.vm, K.KVM_CAP_EXCEPTION_PAYLOAD, 0);
  s.get('#DB payload delivered');
  const dbg = new Uint8Array(K.kvm_debugregs.size);
  s.p.ioctl(s.fd, K.KVM_GET_DEBUGREGS, dbg);
  s.out.push(`dr6: ${getU64(dbg, K.kvm_debugregs.offsetof('dr6')).toString(16)}`);
  s.set('clear', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  // B: in-kernel irqchip (a second VM in the same process).
  const vm2 = p.ioctl(v.kvm, K.KVM_CREATE_VM, 0);
  p.ioctl(vm2, K.KVM_CREATE_IRQCHIP);
  const b = new Steps(addVcpu(v, vm2), v.vcpus[1]!, 1);
  b.out.length = 0;
  b.intr('kernel irqchip: interrupt 256', 256);
  b.intr('kernel irqchip: interrupt 0x40', 0x40);
  b.nmi('kernel irqchip: nmi');
  b.get('kernel irqchip: nmi queued');
  b.set('sipi vector', KVM_VCPUEVENT_VALID_SIPI_VECTOR, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  b.set('latched init', KVM_VCPUEVENT_VALID_SMM, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
  b.get('kernel irqchip: latched init');
  const mp = new Uint8Array(4);
  p.ioctl(b.fd, K.KVM_GET_MP_STATE, mp);
  b.out.push(`mp state after latched init: ${getU32(mp, 0)}`);
  b.get('after INIT accepted');
  b.immediateExit = 1;
  b.run('kernel irqchip: run immediate_exit');

  // C: split irqchip.
  const vm3 = p.ioctl(v.kvm, K.KVM_CREATE_VM, 0);
  const c = new Steps(v, -1, 2);
  cap(c, 'split irqchip', vm3, K.KVM_CAP_SPLIT_IRQCHIP, 24);
  addVcpu(v, vm3);
  const c2 = new Steps(v, v.vcpus[2]!, 2);
  c2.intr('split: interrupt 256', 256);
  c2.intr('split: interrupt 0x40', 0x40);
  c2.intr('split: interrupt 0x41', 0x41);
  c2.get('split: extint pending');
  c2.immediateExit = 1;
  c2.run('split: run immediate_exit');

  // D: a u32 SIPI vector from KVM_SET_VCPU_EVENTS, delivered as a u8 by kvm_apic_accept_events().
  const vm4 = p.ioctl(v.kvm, K.KVM_CREATE_VM, 0);
  p.ioctl(vm4, K.KVM_CREATE_IRQCHIP);
  p.ioctl(vm4, K.KVM_CREATE_VCPU, 0);
  const d = new Steps(v, p.ioctl(vm4, K.KVM_CREATE_VCPU, 1), -1);
  const lapic = K.kvm_lapic_state.alloc();
  p.ioctl(d.fd, K.KVM_GET_LAPIC, lapic);
  setU32(lapic.bytes, 0xf0, 0x1ff);
  d.res('sipi: software-enable the APIC', () => p.ioctl(d.fd, K.KVM_SET_LAPIC, lapic));
  setU32(mp, 0, K.KVM_MP_STATE_INIT_RECEIVED);
  d.res('sipi: mp state INIT_RECEIVED', () => p.ioctl(d.fd, K.KVM_SET_MP_STATE, mp));
  d.res('sipi: SIPI 0x12 to APIC 1', () => signalMsi(p, vm4, 0xfee01000, 0x600 | 0x12));
  const e = new Uint8Array(EVSZ);
  setU32(e, O('flags'), KVM_VCPUEVENT_VALID_SIPI_VECTOR);
  setU32(e, O('sipi_vector'), 0x1234);
  d.res('sipi: sipi_vector 0x1234', () => p.ioctl(d.fd, K.KVM_SET_VCPU_EVENTS, e));
  d.res('sipi: get mp state', () => p.ioctl(d.fd, K.KVM_GET_MP_STATE, mp));
  const sr4 = K.kvm_sregs.alloc();
  p.ioctl(d.fd, K.KVM_GET_SREGS, sr4);
  d.out.push(`sipi: mp state ${getU32(mp, 0)} cs ${sr4.cs.selector.toString(16)} base ${sr4.cs.base.toString(16)}`);

  // E: injecting a pending #DB clears DR7.GD (kvm_check_and_inject_events); a pending #UD leaves it.
  const vm5 = p.ioctl(v.kvm, K.KVM_CREATE_VM, 0);
  const e5 = new Steps(v, -1, -1);
  cap(e5, 'gd: exception payload', vm5, K.KVM_CAP_EXCEPTION_PAYLOAD, 1);
  const hlt = new GuestAsm('hlt').label('start');
  hlt.hlt();
  const prog = hlt.build();
  for (let i = 0; i < 2; i++) {
    const g = new Steps(v, p.ioctl(vm5, K.KVM_CREATE_VCPU, i), -1);
    p.mmap(null, p.ioctl(v.kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, g.fd, 0);
    v.host.control.kvm.loadGuest(p, g.fd, prog);
    const dr = K.kvm_debugregs.alloc();
    dr.dr6 = 0xffff0ff0n;
    dr.dr7 = 0x2400n;
    g.res('gd: set DR7.GD', () => p.ioctl(g.fd, K.KVM_SET_DEBUGREGS, dr));
    g.set(i === 0 ? 'gd: pending #DB' : 'gd: pending #UD', KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, i === 0 ? 1 : 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    g.res('gd: run', () => p.ioctl(g.fd, K.KVM_RUN));
    p.ioctl(g.fd, K.KVM_GET_DEBUGREGS, dr);
    g.out.push(`gd: dr7 ${dr.dr7.toString(16)}`);
    e5.out.push(...g.out);
  }
  return [...out, ...s.out, ...b.out, ...c.out, ...c2.out, ...d.out, ...e5.out];
}

/** KVM_CREATE_VCPU 0 on `vm`, its kvm_run mapped; appended to v.vcpus/v.runs. */
function addVcpu(v: Vmm, vm: number): Vmm {
  const fd = v.p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
  v.vcpus.push(fd);
  v.runs.push(v.p.mmap(null, v.p.ioctl(v.kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  return v;
}

/**
 * Lines where this machine's kvm_pvm differs from x86.c + vmx.c (see the header), with what the source
 * gives: the model's line must be this one, the host's is not compared.
 */
const HOST_SPECIFIC: Record<string, string> = {
  // vcpu_enter_guest enables the interrupt window; VMX exits before the first instruction with IF=1.
  'run window, IF=1': 'run window, IF=1: exit=7 if=1 ready=1 cr8=0 apicbase=fee00900',
  // ... and after `sti; jmp` (the STI shadow covers the jmp), before the next instruction.
  'run window, sti;jmp': 'run window, sti;jmp: exit=7 if=1 ready=1 cr8=0 apicbase=fee00900',
  // kvm_check_and_inject_events: #UD re-injected; interrupt.injected makes kvm_cpu_has_injectable_intr
  // true with can_inject false -> -EBUSY -> immediate exit; the next entry injects 0x40 before the #UD
  // handler's first instruction.
  'run takes #UD first': 'run takes #UD first: exit=2 io=81/40 if=0 ready=0 cr8=0 apicbase=fee00900',
  'after #UD, interrupt still injected': 'after #UD, interrupt still injected: flags=d exc=0/0/6/0/0 intr=0/40/0/0 nmi=0/0/1 sipi=0 smi=0/0/0/0 tf=0 pl=0/0',
  // The 0x40 handler ends with sti; jmp L (the #UD handler it interrupted never resumes).
  'run takes 0x40': 'run takes 0x40: exit=2 io=80/0 if=1 ready=1 cr8=0 apicbase=fee00900',
};

describe('vCPU events against the real kernel (events-oracle.c)', () => {
  it.skipIf(SKIP !== undefined)('the model prints what this machine prints, but where kvm_pvm differs from x86.c/vmx.c', () => {
    const real = runCOracle(join(here, 'events-oracle.c'));
    const model = modelLines();
    expect(model.length).toBe(real.length);
    const label = (l: string) => l.slice(0, l.indexOf(':'));
    for (let i = 0; i < real.length; i++) {
      const name = label(real[i]!);
      // 'run takes 0x40' is compared at its first occurrence (before the host-specific scenario).
      const special = HOST_SPECIFIC[name];
      if (special !== undefined && model[i] === special) continue;
      expect(model[i], `line ${i + 1}`).toBe(real[i]);
    }
  });
});

describe('model lines follow the source where the host differs', () => {
  it('each HOST_SPECIFIC line appears in the model output exactly as x86.c/vmx.c give it', () => {
    const model = modelLines();
    for (const line of Object.values(HOST_SPECIFIC)) expect(model).toContain(line);
  });
});

/** One vCPU of a fresh VM, with the events program (or `a`) loaded. */
function one(irqchip: 'kernel' | 'split' | 'none', a: GuestAsm = program()): Steps {
  const v = vmm({ irqchip });
  v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
  return new Steps(v, v.vcpus[0]!, 0);
}

describe('vCPU events in the model, rule by rule (arch/x86/kvm/x86.c)', () => {
  it('CHECK_EXTENSION: VCPU_EVENTS, USER_NMI, EXCEPTION_PAYLOAD and X86_TRIPLE_FAULT_EVENT are 1; INTR_SHADOW, ROBUST_SINGLESTEP and X86_SMM are 0', () => {
    // kvm_vm_ioctl_check_extension: INTR_SHADOW is never reported on x86; the host's ROBUST_SINGLESTEP (1)
    // needs KVM_SET_GUEST_DEBUG, which the model lacks; X86_SMM needs CONFIG_KVM_SMM.
    const v = vmm({ irqchip: 'none' });
    const caps = [K.KVM_CAP_VCPU_EVENTS, K.KVM_CAP_USER_NMI, K.KVM_CAP_EXCEPTION_PAYLOAD, K.KVM_CAP_X86_TRIPLE_FAULT_EVENT, K.KVM_CAP_INTR_SHADOW, K.KVM_CAP_X86_ROBUST_SINGLESTEP, K.KVM_CAP_X86_SMM];
    expect(caps.map((c) => v.p.ioctl(v.vm, K.KVM_CHECK_EXTENSION, c))).toEqual([1, 1, 1, 1, 0, 0, 0]);
  });

  it('split irqchip: HLT with IF=1 and a requested window exits KVM_EXIT_IRQ_WINDOW_OPEN; KVM_INTERRUPT then wakes the vCPU with the ExtINT', () => {
    // vcpu_run: after vcpu_enter_guest handled HLT in the kernel (r = 1), dm_request_for_irq_injection &&
    // kvm_vcpu_ready_for_interrupt_injection -> KVM_EXIT_IRQ_WINDOW_OPEN. kvm_vcpu_ioctl_interrupt stores
    // pending_external_vector (EEXIST while it waits); kvm_cpu_has_extint makes the halted vCPU runnable.
    const s = one('split');
    s.window = 1;
    s.run('hlt');
    s.intr('intr', 0x40);
    s.intr('again', 0x41);
    s.run('wake');
    s.window = 0;
    expect(s.out).toEqual([
      'hlt: exit=7 if=1 ready=1 cr8=0 apicbase=fee00900',
      'intr: 0',
      'again: E17',
      'wake: exit=2 io=81/40 if=0 ready=0 cr8=0 apicbase=fee00900',
    ]);
  });

  it('the full irqchip ignores request_interrupt_window and always reports ready_for_interrupt_injection', () => {
    // dm_request_for_irq_injection is false with pic_in_kernel; post_kvm_run_save: ready = pic_in_kernel || ...
    const s = one('kernel');
    s.window = 1;
    s.run('hlt');
    expect(s.out).toEqual(['hlt: E4 if=1 ready=1 cr8=0 apicbase=fee00900']);
  });

  it('a queued NMI wakes a halted vCPU even while NMIs are blocked, and stays pending', () => {
    // kvm_vcpu_has_events: kvm_test_request(KVM_REQ_NMI) is enough; process_nmi then keeps one pending
    // (limit 1 while blocked) that cannot be injected.
    const a = new GuestAsm('nmi-hlt');
    a.label('main').entry('main').label('L').out(0x80, 0, 1).jmp('L');
    a.label('h2').handler(2, 'h2').hlt().out(0x82, 2, 1).label('spin').jmp('spin');
    const s = one('kernel', a);
    s.nmi();
    s.run('into handler, hlt');
    s.nmi();
    s.run('woken');
    s.get('after');
    expect(s.out).toEqual([
      'nmi: 0',
      'into handler, hlt: E4 if=0 ready=1 cr8=0 apicbase=fee00900',
      'nmi: 0',
      'woken: exit=2 io=82/0 if=0 ready=1 cr8=0 apicbase=fee00900',
      'after: flags=d exc=0/0/0/0/0 intr=0/0/0/0 nmi=0/1/1 sipi=0 smi=0/0/0/0 tf=0 pl=0/0',
    ]);
  });

  it('an injected exception whose vector has no handler is a triple fault: KVM_EXIT_SHUTDOWN', () => {
    // The model's guest has no IDT beyond its handlers: a missing one is what a #NP -> #DF -> triple
    // fault would end in (kvm_multiple_exception, KVM_REQ_TRIPLE_FAULT -> KVM_EXIT_SHUTDOWN).
    const s = one('none');
    s.set('inject #GP', 0, 1, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    s.run('run');
    expect(s.out).toEqual(['inject #GP: 0', 'run: exit=8 if=0 ready=0 cr8=0 apicbase=fee00900']);
  });

  it('a pending #DB payload goes to DR6 (kvm_deliver_exception_payload) when GET reports it without KVM_CAP_EXCEPTION_PAYLOAD', () => {
    const s = one('none');
    enableCap(s.p, s.v.vm, K.KVM_CAP_EXCEPTION_PAYLOAD, 1);
    s.set('pending #DB', KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x4001);
    enableCap(s.p, s.v.vm, K.KVM_CAP_EXCEPTION_PAYLOAD, 0);
    s.get('get');
    const dbg = new Uint8Array(K.kvm_debugregs.size);
    s.p.ioctl(s.fd, K.KVM_GET_DEBUGREGS, dbg);
    // DR6 0xffff0ff0: B0 set from the payload, BS (bit 14) set, bit 12 cleared.
    expect(getU64(dbg, K.kvm_debugregs.offsetof('dr6'))).toBe(0xffff4ff1n);
    expect(s.out[1]).toBe('get: flags=d exc=1/1/1/0/0 intr=0/0/0/0 nmi=0/0/0 sipi=0 smi=0/0/0/0 tf=0 pl=0/0');
  });

  it('INIT clears the injected exception, interrupt and NMIs but keeps the vectors (kvm_vcpu_reset)', () => {
    const s = one('kernel');
    s.set('stuff', KVM_VCPUEVENT_VALID_NMI_PENDING, 1, 0, 6, 1, 0x33, 0, 1, 1, 0, 0, 0, 0, 0, 0);
    s.set('latch INIT', KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_NMI_PENDING, 1, 0, 6, 1, 0x33, 0, 1, 1, 0, 0, 1, 0, 0, 0);
    s.p.ioctl(s.fd, K.KVM_GET_MP_STATE, new Uint8Array(4));
    s.get('after INIT');
    expect(s.out[2]).toBe('after INIT: flags=d exc=0/0/6/0/0 intr=0/33/0/0 nmi=0/0/0 sipi=0 smi=0/0/0/0 tf=0 pl=0/0');
  });

  it('ready_for_interrupt_injection is 0 while an event waits for (re)injection, even with IF=1', () => {
    // kvm_vcpu_ready_for_interrupt_injection: !kvm_event_needs_reinjection && !kvm_is_exception_pending.
    const s = one('none');
    s.run('hlt');
    s.set('nmi injected', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const b = new Uint8Array(EVSZ);
    b[O('nmi.injected')] = 1;
    s.p.ioctl(s.fd, K.KVM_SET_VCPU_EVENTS, b);
    s.immediateExit = 1;
    s.run('immediate');
    expect(s.out).toEqual([
      'hlt: exit=5 if=1 ready=1 cr8=0 apicbase=fee00900',
      'nmi injected: 0',
      'immediate: E4 if=1 ready=0 cr8=0 apicbase=fee00900',
    ]);
  });

  it('KVM_SET_VCPU_EVENTS refuses before changing anything: unknown flags, payload without the cap, exception vector 2 or > 31', () => {
    const s = one('none');
    s.set('ok', 0, 0, 0, 0, 1, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    s.set('flag', 0x80, 0, 0, 0, 1, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    s.set('payload', KVM_VCPUEVENT_VALID_PAYLOAD, 0, 0, 0, 1, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    s.set('nmi vector', 0, 1, 0, 2, 1, 0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    s.set('vector 200', 0, 1, 0, 200, 1, 0x24, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    s.get('get');
    expect(s.out).toEqual(['ok: 0', 'flag: E22', 'payload: E22', 'nmi vector: E22', 'vector 200: E22',
      'get: flags=d exc=0/0/0/0/0 intr=1/20/0/0 nmi=0/0/0 sipi=0 smi=0/0/0/0 tf=0 pl=0/0']);
  });

  it('KVM_SYNC_X86_EVENTS: kvm_run.s.regs.events is read like KVM_SET_VCPU_EVENTS before entry and written like GET on every return', () => {
    // x86.c sync_regs()/store_regs(); checked on this machine: a refused events block fails KVM_RUN with
    // EINVAL, keeps the dirty bit, and the block is rewritten from the vCPU on the way out.
    const s = one('none');
    const m = s.v.runs[0]!;
    const ev = K.kvm_run.offsetof('s') + kvm_sync_regs.offsetof('events');
    const valid = K.kvm_run.offsetof('kvm_valid_regs');
    const dirty = K.kvm_run.offsetof('kvm_dirty_regs');
    m.write64(valid, BigInt(KVM_SYNC_X86_EVENTS));
    s.immediateExit = 1;
    const r1 = errno(() => s.p.ioctl(s.fd, K.KVM_RUN));
    expect([r1, m.read32(ev + O('flags'))]).toEqual(['EINTR', 0xd]);
    m.write32(ev + O('flags'), 0);
    m.write8(ev + O('interrupt.injected'), 1);
    m.write8(ev + O('interrupt.nr'), 0x40);
    m.write64(dirty, BigInt(KVM_SYNC_X86_EVENTS));
    const r2 = errno(() => s.p.ioctl(s.fd, K.KVM_RUN));
    expect([r2, m.read64(dirty), m.read8(ev + O('interrupt.injected')), m.read8(ev + O('interrupt.nr'))]).toEqual(['EINTR', 0n, 1, 0x40]);
    m.write32(ev + O('flags'), 0x80);
    m.write8(ev + O('interrupt.nr'), 0x41);
    m.write64(dirty, BigInt(KVM_SYNC_X86_EVENTS));
    const r3 = errno(() => s.p.ioctl(s.fd, K.KVM_RUN));
    expect([r3, m.read64(dirty), m.read8(ev + O('interrupt.nr')), m.read32(ev + O('flags'))]).toEqual(['EINVAL', BigInt(KVM_SYNC_X86_EVENTS), 0x40, 0xd]);
  });
});
