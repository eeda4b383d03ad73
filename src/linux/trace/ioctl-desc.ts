// What the strace-style tracer knows about an ioctl: its name, how its argument is passed, the struct
// it points to, and which named constants decode which fields. Tables are keyed by request number and
// chosen by the *file type* of the fd, because VFIO reuses numbers across container, group and device fds.

import type { AnyRecord } from '../../../abi/layout.js';

/** Names for bits of a flags word, and for values of a multi-bit field within it. */
export interface FlagSet {
  /** Single-bit (or multi-bit, exact-match under `mask`) names, printed `A|B|C`. */
  readonly bits: ReadonlyArray<readonly [value: number, name: string, mask?: number]>;
  /** strace's comment when no bit has a name (printflags' `NAME_???`): `0x4 /* KVM_MEM_??? *\/`. */
  readonly unknown?: string;
}

/** Names for an enumerated value (e.g. an extension id or an IRQ index). */
export type ValueNames = ReadonlyMap<number, string>;

export type IoctlArgKind =
  /** No argument (`_IO` and the arg is ignored). */
  | 'none'
  /** No argument, and strace prints none either (its file ioctl decoder: FIOCLEX, FIONCLEX). */
  | 'omitted'
  /** An integer passed by value (`VFIO_CHECK_EXTENSION`, `KVM_CREATE_VCPU`). */
  | 'value'
  /** A pointer to `layout`. */
  | 'struct'
  /** A pointer to a NUL-terminated string (`VFIO_GROUP_GET_DEVICE_FD`). */
  | 'string'
  /** A pointer to an `int`/`__s32` (`VFIO_GROUP_SET_CONTAINER`). */
  | 'int-ptr'
  /** A pointer strace names but does not decode: printed as an unknown ioctl's argument. */
  | 'ptr';

export interface IoctlDesc {
  /** The C name (error messages use it). */
  readonly name: string;
  /**
   * What strace 6.1 prints instead, for an ioctl newer than it: the _IOC() form of a number it does not
   * know, or the name of an older ioctl that shares the number.
   */
  readonly straceName?: string;
  readonly arg: IoctlArgKind;
  readonly layout?: AnyRecord;
  /** Whether the kernel writes the struct back: strace then prints the struct as it is after the call. */
  readonly out?: boolean;
  /** With `out`: print the input and then `=> {changed fields}` (for in/out structs like UNMAP_DMA). */
  readonly inout?: boolean;
  /** Formats the bytes after the fixed part (a flexible array whose element type depends on a flag). */
  readonly formatTail?: (structBytes: Uint8Array) => string | undefined;
  /** Per-field decoders: field name (dotted for nested) to flag names or value names. */
  readonly flags?: Readonly<Record<string, FlagSet>>;
  readonly values?: Readonly<Record<string, ValueNames>>;
  /** Names for a by-value argument. */
  readonly valueNames?: ValueNames;
  /** With valueNames: strace's comment for a value it has no name for (`0xe7 /* KVM_CAP_??? *\/`). */
  readonly valueUnknown?: string;
  /** Fields printed in hex (addresses, sizes); 'arg' for a by-value argument strace prints as %#lx. */
  readonly hex?: ReadonlyArray<string>;
  /** Of `hex`, the fields strace prints with %#llx (PRINT_FIELD_X): zero as "0", not "0x0". */
  readonly altHex?: ReadonlyArray<string>;
}

export type IoctlTable = ReadonlyMap<number, IoctlDesc>;

/** The file types whose ioctls the tracer can name. Kernel file classes carry one of these. */
export type TraceFileKind =
  | 'eventfd'
  | 'pipe'
  | 'epoll'
  | 'vfio-container'
  | 'vfio-group'
  | 'vfio-device'
  | 'iommufd'
  | 'kvm'
  | 'kvm-vm'
  | 'kvm-vcpu'
  | 'kvm-vm-stats'
  | 'kvm-vcpu-stats'
  | 'kvm-device'
  | 'kvm-gmem'
  | 'xen-privcmd'
  | 'sysfs'
  | 'procfs'
  | 'other';

export function ioctlTable(entries: ReadonlyArray<readonly [number, IoctlDesc]>): IoctlTable {
  const m = new Map<number, IoctlDesc>();
  for (const [req, d] of entries) {
    if (m.has(req >>> 0)) throw new Error(`ioctl table: ${d.name} reuses request 0x${(req >>> 0).toString(16)} of ${m.get(req >>> 0)!.name}`);
    m.set(req >>> 0, d);
  }
  return m;
}
