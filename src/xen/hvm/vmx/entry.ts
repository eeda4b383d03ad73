// A CPU's root-mode life under Xen: the VM-exit handler (vmx.c vmx_vmexit_handler: external
// interrupts handled with interrupts off through vmx_do_extint, then local_irq_enable; HLT -> hvm_hlt ->
// vcpu_block; the guest's EOI without APIC virtualization; interrupt-window exits), the VM-entry path of
// vmx/entry.S:84-190 (vmx_intr_assist, cli, softirqs pending -> sti + do_softirq and retry,
// vmx_vmenter_helper -> vmx_pi_do_resume, vmresume), do_softirq, and the idle loop.
import { EXIT_APIC_ACCESS, EXIT_APIC_WRITE, EXIT_EXTINT, EXIT_HLT, EXIT_INTR_WINDOW, EXIT_TRIPLE_FAULT } from '../../../hw/vmx/vmcs.js';
import type { Vcpu } from '../../domain.js';
import type { XenCpu } from '../../percpu.js';
import { HVM_DPCI_SOFTIRQ, SCHEDULE_SOFTIRQ, SOFTIRQ_NAMES, TIMER_SOFTIRQ } from '../../softirq.js';
import { timerSoftirq } from '../vpt.js';
import type { Xen } from '../../xen.js';
import { schedule, vcpuBlock, vcpuDown } from '../../sched/core.js';
import { dpciSoftirq } from '../../passthrough/hvm.js';
import { hvmInterruptBlocked, hvmVcpuPendingLapicIrq, vlapicRegWrite } from '../vlapic.js';
import { vmxPiDoResume } from './pi.js';

/** The CPU's main loop: the VM-entry path for the current vCPU, or the idle loop. Ends in guest mode or halted. */
export function* cpuThread(xen: Xen, c: XenCpu): Generator<void, void, void> {
  for (;;) {
    const v = c.curr;
    if (v === null) {
      // idle_loop(): do_softirq; then halt with interrupts enabled.
      c.hw.setRootIf(true);
      if (c.softirqPending !== 0 && c.online) {
        yield* doSoftirq(xen, c);
        continue;
      }
      c.hw.halted = true;
      return;
    }
    if (yield* vmxDoVmentry(xen, c, v)) return;
  }
}

/** vmx_asm_do_vmentry for `v`: true once in guest mode, false if a softirq switched to another vCPU. */
function* vmxDoVmentry(xen: Xen, c: XenCpu, v: Vcpu): Generator<void, boolean, void> {
  for (;;) {
    c.hw.setRootIf(true);
    vmxIntrAssist(xen, v);
    yield;
    // cli; softirqs pending?
    c.hw.setRootIf(false);
    if (c.softirqPending !== 0) {
      c.hw.setRootIf(true);
      yield;
      yield* doSoftirq(xen, c);
      if (c.curr !== v) return false;
      continue;
    }
    // vmx_vmenter_helper()
    if (v.domain.piVcpuBlock) yield* vmxPiDoResume(xen, v);
    yield;
    // vmresume: interrupts pending in the local APIC are recognized right after entry.
    c.hw.vmentry(v.vmcs);
    return true;
  }
}

/**
 * vmx_intr_assist(): with virtual-interrupt delivery, sync PIR and set RVI to the highest vIRR vector;
 * without it, inject the highest deliverable vector or ask for an interrupt-window / TPR exit.
 */
export function vmxIntrAssist(xen: Xen, v: Vcpu): void {
  const vm = v.vmcs;
  const vec = hvmVcpuPendingLapicIrq(xen, v);
  if (xen.vid) {
    if (vec >= 0) vm.rvi = vec;
    if (v.eoiExitmapChanged !== 0) {
      vm.eoiExitBitmap.set(v.eoiExitBitmap);
      v.eoiExitmapChanged = 0;
    }
    return;
  }
  if (vm.injectVector >= 0 || vec < 0) return;
  const blk = hvmInterruptBlocked(v, vec);
  if (blk === 'rflags' || blk === 'shadow') {
    vm.intrWindowExiting = true;
    return;
  }
  if (blk === 'tpr') {
    vm.tprThreshold = vec & 0xf0;
    return;
  }
  vm.tprThreshold = 0;
  // hvm_vcpu_ack_pending_irq(): IRR -> ISR, then inject through VM_ENTRY_INTR_INFO.
  vm.injectVector = v.vlapic.ackInterrupt();
}

/** do_softirq(): lowest pending first; SCHEDULE_SOFTIRQ may switch vCPUs (then it does not return here). */
export function* doSoftirq(xen: Xen, c: XenCpu): Generator<void, void, void> {
  while (c.softirqPending !== 0 && c.online) {
    const nr = 31 - Math.clz32(c.softirqPending & -c.softirqPending);
    c.softirqPending &= ~(1 << nr);
    const tr = xen.trace;
    if (tr.active) tr.emit({ type: 'irq', t: xen.sched.now, hop: 'softirq', at: `cpu${c.id}`, detail: SOFTIRQ_NAMES[nr] ?? `softirq ${nr}` });
    const before = c.curr;
    if (nr === SCHEDULE_SOFTIRQ) yield* schedule(xen, c);
    else if (nr === HVM_DPCI_SOFTIRQ) dpciSoftirq(xen, c);
    else if (nr === TIMER_SOFTIRQ) timerSoftirq(xen, c);
    // VCPU_KICK_SOFTIRQ does nothing: it only makes the entry path run vmx_intr_assist again.
    yield;
    if (c.curr !== before) return;
  }
}

/** vmx_vmexit_handler() for the exits of this model; the entry path follows (cpuThread). */
export function* vmxVmexitHandler(xen: Xen, c: XenCpu, v: Vcpu, reason: number, vector: number): Generator<void, void, void> {
  if (reason === EXIT_EXTINT) {
    // vmx_do_extint(): the handler of the acknowledged vector, with interrupts still off.
    xen.hostInterrupt(c.hw, vector);
  }
  // Now enable interrupts so it's safe to take locks.
  c.hw.setRootIf(true);
  yield;
  switch (reason) {
    case EXIT_HLT:
      yield* hvmHlt(xen, c, v);
      break;
    case EXIT_APIC_ACCESS:
    case EXIT_APIC_WRITE:
      // vlapic_apicv_write() / the emulated access: the register write and its side effects.
      vlapicRegWrite(v, v.vmcs.apicExitReg, v.vmcs.apicExitValue);
      break;
    case EXIT_INTR_WINDOW:
      v.vmcs.intrWindowExiting = false;
      break;
    case EXIT_TRIPLE_FAULT:
      // domain_crash(): the vCPU stops for good.
      xen.console.printk(`${v.label}: triple fault (${v.guest.fault ?? 'unknown'}): crashing the domain`);
      vcpuDown(xen, c, v);
      break;
    default:
      break;
  }
}

/** hvm_hlt(): HLT with IF=0 takes the vCPU down; otherwise SCHEDOP_block -> vcpu_block(). */
function* hvmHlt(xen: Xen, c: XenCpu, v: Vcpu): Generator<void, void, void> {
  if (!xen.vid && v.vmcs.injectVector >= 0) return; // hvm_event_pending()
  if (!v.guest.ifFlag) {
    vcpuDown(xen, c, v);
    return;
  }
  yield* vcpuBlock(xen, c, v);
}

