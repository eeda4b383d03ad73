// The 64-byte posted-interrupt descriptor (VT-d spec 3.x 9.12; Intel SDM 29.6), laid out exactly as
// Xen's `struct pi_desc` (xen/arch/x86/include/asm/hvm/vmx/vmcs.h:83-97): PIR (256 bits), then the
// 64-bit `control` word at byte 32 with ON (bit 256), SN (bit 257), NV (bits 279:272) and NDST (bits
// 319:288). There is no NDM field: notifications are physical-destination (reference xen.md 2.1).
//
// `PiDesc` gives the hot path byte-level accessors on the same 64 bytes (the IOMMU's atomic
// read-modify-write and Xen's set_bit/cmpxchg on `control` are single JavaScript steps, hence atomic).
import { getU32, setU32 } from '../../../../abi/bytes.js';
import { anon, array, bits, struct, u16, u32, u64, u8, union } from '../../../../abi/layout.js';

export const pi_desc = struct(
  'pi_desc',
  {
    pir: array(u64, 4),
    ctl: anon(
      union('pi_desc_control', {
        fields: anon(struct('pi_desc_fields', { on: bits(u16, 1), sn: bits(u16, 1), rsvd_1: bits(u16, 14), nv: u8, rsvd_2: u8, ndst: u32 })),
        control: u64,
      }),
    ),
    rsvd: array(u32, 6),
  },
  { aligned: 64 },
);

export const PI_DESC_SIZE = 64;
/** Byte offset of `control`; ON is its bit 0 (POSTED_INTR_ON), SN bit 1 (POSTED_INTR_SN). */
export const PI_CONTROL = 32;
export const POSTED_INTR_ON = 0;
export const POSTED_INTR_SN = 1;
export const PI_NV = 34;
export const PI_NDST = 36;
/** NDST for "no destination yet" (APIC_INVALID_DEST, vmx.h:514). */
export const APIC_INVALID_DEST = 0xffffffff;
/** xAPIC NDST holds the 8-bit APIC ID in [15:8] (PI_xAPIC_NDST_MASK, vmx.h:72). */
export const PI_xAPIC_NDST_MASK = 0xff00;

/** Fast accessors over a descriptor's 64 bytes. */
export class PiDesc {
  constructor(readonly bytes: Uint8Array) {
    if (bytes.length < PI_DESC_SIZE) throw new RangeError('a posted-interrupt descriptor is 64 bytes');
  }

  get on(): boolean {
    return (this.bytes[PI_CONTROL]! & 1) !== 0;
  }
  get sn(): boolean {
    return (this.bytes[PI_CONTROL]! & 2) !== 0;
  }
  get nv(): number {
    return this.bytes[PI_NV]!;
  }
  get ndst(): number {
    return getU32(this.bytes, PI_NDST);
  }

  setOn(): void {
    this.bytes[PI_CONTROL] = this.bytes[PI_CONTROL]! | 1;
  }
  /** test_and_clear_bit(POSTED_INTR_ON): true if ON was set. */
  testAndClearOn(): boolean {
    const c = this.bytes[PI_CONTROL]!;
    this.bytes[PI_CONTROL] = c & ~1;
    return (c & 1) !== 0;
  }
  setSn(): void {
    this.bytes[PI_CONTROL] = this.bytes[PI_CONTROL]! | 2;
  }
  clearSn(): void {
    this.bytes[PI_CONTROL] = this.bytes[PI_CONTROL]! & ~2;
  }
  /** write_atomic(&nv, v) */
  setNv(v: number): void {
    this.bytes[PI_NV] = v & 0xff;
  }
  /** write_atomic(&ndst, v) */
  setNdst(v: number): void {
    setU32(this.bytes, PI_NDST, v);
  }
  /** cmpxchg(&ndst, expect, v): the old value. */
  cmpxchgNdst(expect: number, v: number): number {
    const old = getU32(this.bytes, PI_NDST);
    if (old === expect >>> 0) setU32(this.bytes, PI_NDST, v);
    return old;
  }

  testPir(v: number): boolean {
    return ((this.bytes[v >>> 3]! >>> (v & 7)) & 1) !== 0;
  }
  /** test_and_set_bit(v, pir): true if it was already set. */
  testAndSetPir(v: number): boolean {
    const i = v >>> 3;
    const b = this.bytes[i]!;
    const m = 1 << (v & 7);
    this.bytes[i] = b | m;
    return (b & m) !== 0;
  }
  pirEmpty(): boolean {
    const b = this.bytes;
    for (let i = 0; i < 32; i += 4) if (getU32(b, i) !== 0) return false;
    return true;
  }
  /** xchg(&pir[word32], 0): PIR bits [32i+31:32i], cleared. */
  takePirWord(i: number): number {
    const w = getU32(this.bytes, i * 4);
    if (w !== 0) setU32(this.bytes, i * 4, 0);
    return w;
  }
  pirVectors(): number[] {
    const out: number[] = [];
    for (let v = 0; v < 256; v++) if (this.testPir(v)) out.push(v);
    return out;
  }
}
