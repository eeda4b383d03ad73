// Little-endian integer access on Uint8Array without allocating (no DataView per call): the kernel's
// hot paths (eventfd counters, MSI-X table entries, ioctl fields) read user bytes in place with these.

export function getU16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function getU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function getS32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/** A u64 as a JS number; exact below 2^53 (addresses, sizes), rounded above. */
export function getU64n(b: Uint8Array, o: number): number {
  return getU32(b, o) + getU32(b, o + 4) * 0x1_0000_0000;
}

export function getU64(b: Uint8Array, o: number): bigint {
  return BigInt(getU32(b, o)) | (BigInt(getU32(b, o + 4)) << 32n);
}

export function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** Stores a non-negative number below 2^64 (exact below 2^53). */
export function setU64n(b: Uint8Array, o: number, v: number): void {
  setU32(b, o, v >>> 0);
  setU32(b, o + 4, Math.floor(v / 0x1_0000_0000) >>> 0);
}

export function setU64(b: Uint8Array, o: number, v: bigint): void {
  const x = BigInt.asUintN(64, v);
  setU32(b, o, Number(x & 0xffff_ffffn));
  setU32(b, o + 4, Number(x >> 32n));
}

/**
 * Reads `size` (1 to 8) bytes little-endian as a number (values exact below 2^53). Sizes other than
 * 1, 2, 4 and 8 are the page parts of an access split at a page boundary.
 */
export function getLE(b: Uint8Array, o: number, size: number): number {
  switch (size) {
    case 1: return b[o]!;
    case 2: return getU16(b, o);
    case 4: return getU32(b, o);
    case 8: return getU64n(b, o);
    default: {
      if (size < 1 || size > 8) throw new RangeError(`access size ${size}`);
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + b[o + i]!;
      return v;
    }
  }
}

export function setLE(b: Uint8Array, o: number, size: number, v: number): void {
  switch (size) {
    case 1: b[o] = v & 0xff; return;
    case 2: setU16(b, o, v); return;
    case 4: setU32(b, o, v); return;
    case 8: setU64n(b, o, v); return;
    default: {
      if (size < 1 || size > 8) throw new RangeError(`access size ${size}`);
      let x = v;
      for (let i = 0; i < size; i++) {
        b[o + i] = x % 256;
        x = Math.floor(x / 256);
      }
    }
  }
}
