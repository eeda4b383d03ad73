// The shape of a device's MMIO or port-I/O window as the machine sees it: what a BAR decodes to.
// Lives in src/hw so device models need nothing from src/linux; src/linux/mm/backing.ts re-exports it
// for mmap'ed BARs (whose accesses reach the device model directly, bypassing the kernel).

/** A device's MMIO window. Accesses of 1, 2 and 4 bytes; 8-byte accesses use read64/write64 if present, else two 4-byte halves (low first). */
export interface MmioHandler {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
  read64?(offset: number): bigint;
  write64?(offset: number, value: bigint): void;
}
