// What the CPU needs from the software running inside a VM (a guest program, src/guest): whether it
// accepts interrupts (RFLAGS.IF), its handler for a delivered vector (which ends with an EOI), and
// whether it is in its idle loop (so it executes HLT when nothing is pending). Hypervisor-neutral.

export interface GuestCpuOps {
  /** The guest writes EOI to its local APIC. */
  eoi(): void;
}

export interface GuestCpuProgram {
  /** RFLAGS.IF */
  readonly ifFlag: boolean;
  /** The guest is idle: it executes HLT whenever no interrupt is deliverable. */
  readonly halting: boolean;
  /** The CPU delivers `vector`: the guest's handler runs and finishes with `ops.eoi()`. */
  interrupt(vector: number, ops: GuestCpuOps): void;
}
