// An OS-like guest program for a vCPU: enable the local APIC and set the logical destination, then an
// idle loop (`sti; hlt` whenever it has no work), a handler on every external vector that EOIs and
// returns, and a busy loop. What it does next is read from a mailbox (a JS escape) so tests and
// teaching scripts can steer it like a kernel that decides to run a task, raise its TPR or disable
// interrupts; a change of the mailbox takes effect when the guest next executes (the control API wakes
// it). Hypervisor-neutral: it only uses the APIC page and x86 instructions.
import { APIC_EOI, APIC_TASKPRI } from '../hw/x86/apicdef.js';
import { GuestAsm, r0, r1, r2, type GuestProgram } from './program.js';
import { APIC, enableLapic, setLogicalId } from './x86.js';

/** What the guest kernel wants to do; read at the top of every loop iteration. */
export class GuestMailbox {
  /** Run a task (spin) instead of halting. */
  busy = false;
  /** The task priority to keep in the TPR. */
  tpr = 0;
  /** RFLAGS.IF while busy (the idle loop always halts with `sti; hlt`). */
  ifFlag = true;
}

/** First vector with a handler: 0x20..0xff are the external vectors. */
export const FIRST_EXTERNAL_VECTOR = 0x20;

export function idleLoopProgram(name: string, box: GuestMailbox, logicalId: number): GuestProgram {
  const a = new GuestAsm(name);
  a.label('start');
  enableLapic(a);
  setLogicalId(a, logicalId);
  a.label('loop');
  a.js((cpu) => {
    cpu.regs[0] = box.busy ? 1 : 0;
    cpu.regs[1] = box.tpr & 0xff;
    cpu.regs[2] = box.ifFlag ? 1 : 0;
  });
  a.store32(APIC + APIC_TASKPRI, r1);
  a.jnz(r0, 'busy');
  a.sti();
  a.hlt();
  a.jmp('loop');
  a.label('busy');
  a.jnz(r2, 'busy_sti');
  a.cli();
  a.jmp('spin');
  a.label('busy_sti');
  a.sti();
  a.label('spin');
  a.js((cpu) => {
    cpu.regs[0] = box.busy ? 1 : 0;
    cpu.regs[1] = box.tpr & 0xff;
    cpu.regs[2] = box.ifFlag ? 1 : 0;
  });
  a.jz(r0, 'loop');
  a.store32(APIC + APIC_TASKPRI, r1);
  a.jnz(r2, 'spin_sti');
  a.cli();
  a.jmp('spin');
  a.label('spin_sti');
  a.sti();
  a.jmp('spin');
  a.label('isr');
  a.store32(APIC + APIC_EOI, 0);
  a.iret();
  for (let v = FIRST_EXTERNAL_VECTOR; v < 256; v++) a.handler(v, 'isr');
  return a.build();
}
