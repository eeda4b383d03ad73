// The ioctl request-number encoding of include/uapi/asm-generic/ioctl.h (x86 uses the generic one):
//   bits 31:30 direction, 29:16 argument size, 15:8 type ("magic"), 7:0 number.
// Request numbers are kept as unsigned 32-bit JS numbers (`>>> 0`), the way the kernel compares them.

export const _IOC_NRBITS = 8;
export const _IOC_TYPEBITS = 8;
export const _IOC_SIZEBITS = 14;
export const _IOC_DIRBITS = 2;

export const _IOC_NRMASK = (1 << _IOC_NRBITS) - 1;
export const _IOC_TYPEMASK = (1 << _IOC_TYPEBITS) - 1;
export const _IOC_SIZEMASK = (1 << _IOC_SIZEBITS) - 1;
export const _IOC_DIRMASK = (1 << _IOC_DIRBITS) - 1;

export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

export const _IOC_NONE = 0;
export const _IOC_WRITE = 1;
export const _IOC_READ = 2;

/** Anything with a C size: a layout from abi/layout, or a plain byte count. */
export type SizeOf = number | { readonly size: number };

function sizeOf(t: SizeOf): number {
  return typeof t === 'number' ? t : t.size;
}

export function _IOC(dir: number, type: number | string, nr: number, size: number): number {
  const ty = typeof type === 'string' ? type.charCodeAt(0) : type;
  if (dir < 0 || dir > _IOC_DIRMASK) throw new RangeError(`_IOC: direction ${dir} out of range`);
  if (ty < 0 || ty > _IOC_TYPEMASK) throw new RangeError(`_IOC: type ${ty} out of range`);
  if (nr < 0 || nr > _IOC_NRMASK) throw new RangeError(`_IOC: nr ${nr} out of range`);
  if (size < 0 || size > _IOC_SIZEMASK) throw new RangeError(`_IOC: size ${size} out of range`);
  return ((dir << _IOC_DIRSHIFT) | (size << _IOC_SIZESHIFT) | (ty << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT)) >>> 0;
}

export const _IO = (type: number | string, nr: number): number => _IOC(_IOC_NONE, type, nr, 0);
export const _IOR = (type: number | string, nr: number, t: SizeOf): number => _IOC(_IOC_READ, type, nr, sizeOf(t));
export const _IOW = (type: number | string, nr: number, t: SizeOf): number => _IOC(_IOC_WRITE, type, nr, sizeOf(t));
export const _IOWR = (type: number | string, nr: number, t: SizeOf): number =>
  _IOC(_IOC_READ | _IOC_WRITE, type, nr, sizeOf(t));

export const _IOC_DIR = (req: number): number => (req >>> _IOC_DIRSHIFT) & _IOC_DIRMASK;
export const _IOC_TYPE = (req: number): number => (req >>> _IOC_TYPESHIFT) & _IOC_TYPEMASK;
export const _IOC_NR = (req: number): number => (req >>> _IOC_NRSHIFT) & _IOC_NRMASK;
export const _IOC_SIZE = (req: number): number => (req >>> _IOC_SIZESHIFT) & _IOC_SIZEMASK;

export interface DecodedIoctl {
  readonly request: number;
  readonly dir: 'none' | 'write' | 'read' | 'read|write';
  readonly type: number;
  readonly nr: number;
  readonly size: number;
}

const DIR_NAMES = ['none', 'write', 'read', 'read|write'] as const;

/** Splits a request number into its fields, as strace does for ioctls it has no name for. */
export function decodeIoctl(request: number): DecodedIoctl {
  const req = request >>> 0;
  return { request: req, dir: DIR_NAMES[_IOC_DIR(req)]!, type: _IOC_TYPE(req), nr: _IOC_NR(req), size: _IOC_SIZE(req) };
}

/** strace's spelling of an unknown ioctl: `_IOC(_IOC_READ|_IOC_WRITE, 0xae, 0x67, 0x8)`. */
export function formatUnknownIoctl(request: number): string {
  const d = decodeIoctl(request);
  const dir = d.dir === 'none' ? '_IOC_NONE' : d.dir === 'read|write' ? '_IOC_READ|_IOC_WRITE' : d.dir === 'read' ? '_IOC_READ' : '_IOC_WRITE';
  // strace prints each field with %#x, which writes 0 (not 0x0) for zero.
  const x = (v: number): string => (v ? `0x${v.toString(16)}` : '0');
  return `_IOC(${dir}, ${x(d.type)}, ${x(d.nr)}, ${x(d.size)})`;
}
