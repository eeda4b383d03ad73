// A guest program for a vCPU, the way an idle OS behaves: an idle loop (sti; hlt) when it has no work,
// a handler per vector that counts the interrupt and writes EOI, and the interrupt controls a kernel
// uses (cli/sti, the task-priority register). Hypervisor-neutral: it talks to the CPU only through
// GuestCpuOps and is read by the CPU through GuestCpuProgram.
//
// STAND-IN: the shared guest programs are being built on branch `kvm` (src/guest/); this one will be
// bound to them when they land.
import type { GuestCpuOps, GuestCpuProgram } from '../hw/vmx/guest-port.js';
import type { ApicRegisters } from '../hw/x86/lapic-standin.js';

export class IdleGuest implements GuestCpuProgram {
  ifFlag = true;
  /** In the idle loop: halts whenever nothing is deliverable. */
  halting = true;
  /** Interrupts handled, per vector. */
  readonly handled = new Uint32Array(256);
  total = 0;
  /** Called after each handled interrupt (tests, examples). */
  onHandled: ((vector: number) => void) | null = null;

  constructor(readonly apic: ApicRegisters) {}

  interrupt(vector: number, ops: GuestCpuOps): void {
    this.handled[vector]!++;
    this.total++;
    if (this.onHandled !== null) this.onHandled(vector);
    ops.eoi();
  }

  /** Leaves the idle loop (the guest has work and keeps running). */
  busy(): void {
    this.halting = false;
  }

  /** Enters the idle loop: `sti; hlt` whenever nothing is pending. */
  idle(): void {
    this.ifFlag = true;
    this.halting = true;
  }

  cli(): void {
    this.ifFlag = false;
  }

  sti(): void {
    this.ifFlag = true;
  }

  /** mov cr8 / write to the APIC TPR (with a TPR shadow this writes the virtual-APIC page). */
  setTpr(tpr: number): void {
    this.apic.tpr = tpr & 0xff;
  }
}
