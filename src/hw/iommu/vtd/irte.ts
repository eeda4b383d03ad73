// The 128-bit Interrupt Remapping Table Entry (VT-d spec 3.x 9.10 / 9.11), laid out exactly as Xen's
// `struct iremap_entry` (xen/drivers/passthrough/vtd/iommu.h:288-330): one union with a raw view
// (`lo`, `hi`), the remapped-format view (`remap`, IM=0) and the posted-format view (`post`, IM=1).
// The same bits 15 (IM), 64-83 (SID/SQ/SVT) are shared by both views; a posted entry carries the guest
// vector and the posted-interrupt descriptor address (PDA[31:6] in pda_l, PDA[63:32] in pda_h).
//
// Hardware reads an entry as four 32-bit words; the IRTE_* constants below give the same bit
// positions for the hot path (no views, no allocation). test/hw/iommu/vtd/layouts.test.ts checks that
// both agree, and that the layout matches gcc compiling the C declaration.
import { anon, bits, struct, u16, u32, u64, u8, union } from '../../../../abi/layout.js';

const remap = struct('iremap_entry_remap', {
  p: bits(u16, 1),
  fpd: bits(u16, 1),
  dm: bits(u16, 1),
  rh: bits(u16, 1),
  tm: bits(u16, 1),
  dlm: bits(u16, 3),
  avail: bits(u16, 4),
  res_1: bits(u16, 3),
  im: bits(u16, 1),
  vector: u8,
  res_2: u8,
  dst: u32,
  sid: u16,
  sq: bits(u16, 2),
  svt: bits(u16, 2),
  res_3: bits(u16, 12),
  res_4: u32,
});

const post = struct('iremap_entry_post', {
  p: bits(u16, 1),
  fpd: bits(u16, 1),
  res_1: bits(u16, 6),
  avail: bits(u16, 4),
  res_2: bits(u16, 2),
  urg: bits(u16, 1),
  im: bits(u16, 1),
  vector: u8,
  res_3: u8,
  res_4: bits(u32, 6),
  pda_l: bits(u32, 26),
  sid: u16,
  sq: bits(u16, 2),
  svt: bits(u16, 2),
  res_5: bits(u16, 12),
  pda_h: u32,
});

/** `struct iremap_entry`; 16-byte aligned like the C one (its union holds an `__uint128_t val`). */
export const iremap_entry = struct(
  'iremap_entry',
  {
    u: anon(union('iremap_entry_u', { words: anon(struct('iremap_entry_words', { lo: u64, hi: u64 })), remap, post })),
  },
  { aligned: 16 },
);

export const IRTE_SIZE = 16;

// Word 0 (bits 31:0)
export const IRTE_P = 1 << 0;
export const IRTE_FPD = 1 << 1;
export const IRTE_DM = 1 << 2;
export const IRTE_RH = 1 << 3;
export const IRTE_TM = 1 << 4;
export const IRTE_DLM_SHIFT = 5;
export const IRTE_DLM_MASK = 0x7 << 5;
export const IRTE_URG = 1 << 14;
export const IRTE_IM = 1 << 15;
export const IRTE_VECTOR_SHIFT = 16;
// Word 1 (bits 63:32): remapped DST, or posted res_4:6 + pda_l:26 (PDA[31:6] in place)
export const IRTE_PDA_LO_MASK = 0xffffffc0;
// Word 2 (bits 95:64)
export const IRTE_SID_MASK = 0xffff;
export const IRTE_SQ_SHIFT = 16;
export const IRTE_SVT_SHIFT = 18;
// Word 3 (bits 127:96): posted PDA[63:32]

/** SVT values (source validation type). */
export const SVT_NO_VERIFY = 0;
export const SVT_VERIFY_SID_SQ = 1;
export const SVT_VERIFY_BUS = 2;

/** A decoded entry (for inspection and Xen's dump; never built on the hot path). */
export type DecodedIrte =
  | { readonly format: 'remapped'; readonly present: boolean; readonly vector: number; readonly dst: number; readonly dm: number; readonly rh: number; readonly tm: number; readonly dlm: number; readonly sid: number; readonly sq: number; readonly svt: number }
  | { readonly format: 'posted'; readonly present: boolean; readonly vector: number; readonly pda: number; readonly urg: number; readonly sid: number; readonly sq: number; readonly svt: number };

/** Decodes the entry at `off` in `table` through the layout's views. */
export function decodeIrte(table: Uint8Array, off: number): DecodedIrte {
  const e = iremap_entry.view(table, off);
  if (e.post.im) {
    const p = e.post;
    return { format: 'posted', present: p.p === 1, vector: p.vector, pda: p.pda_h * 0x1_0000_0000 + p.pda_l * 64, urg: p.urg, sid: p.sid, sq: p.sq, svt: p.svt };
  }
  const r = e.remap;
  return { format: 'remapped', present: r.p === 1, vector: r.vector, dst: r.dst, dm: r.dm, rh: r.rh, tm: r.tm, dlm: r.dlm, sid: r.sid, sq: r.sq, svt: r.svt };
}
