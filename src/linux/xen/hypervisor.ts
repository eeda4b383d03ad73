// How this kernel, running as Xen's dom0, reaches the hypervisor: the hypercall instruction
// (arch/x86/include/asm/xen/hypercall.h privcmd_call). The kernel gets a port when it is booted as a
// Xen domain; a failing hypercall returns -errno, modeled as a HypercallFailure with the reason.

/** The caller's memory as the hypervisor reads it through copy_from_guest (the user's virtual addresses). */
export type HypercallMemory = (addr: number, len: number) => Uint8Array;

export interface XenHypervisorPort {
  hypercall(op: number, args: readonly number[], mem: HypercallMemory): number;
}

export class HypercallFailure extends Error {
  constructor(
    readonly errno: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'HypercallFailure';
  }
}
