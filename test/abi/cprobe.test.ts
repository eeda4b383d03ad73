// The conformance probe reaches into arrays of records (element [0]) and passes extra gcc flags:
// needed for `struct kvm_ioapic_state.redirtbl[].fields` bitfields and `<fcntl.h>`'s _GNU_SOURCE names.
import { describe, expect, it } from 'vitest';
import { array, bits, flex, struct, u16, u32, u64, u8, union } from '../../abi/layout.js';
import { cDeclarations, constantProbe, gccAvailable, recordProbes, runProbe } from '../../abi/cprobe.js';

const entry = union('vks_redir', {
  bits: u64,
  fields: struct('vks_redir_fields', {
    vector: u8,
    delivery_mode: bits(u8, 3),
    dest_mode: bits(u8, 1),
    mask: bits(u8, 1),
    reserved: array(u8, 4),
    dest_id: u8,
  }),
});
const table = struct('vks_ioapic', {
  base: u64,
  redirtbl: array(entry, 4),
  grid: array(array(struct('vks_cell', { a: u16, b: u32 }), 2), 3),
  n: u32,
  tail: flex(struct('vks_tail', { x: u32, y: u64 }), 'n'),
});

describe('recordProbes', () => {
  it('walks element [0] of arrays (and flexible arrays) of records, including bitfields', () => {
    const keys = recordProbes(table).map((p) => p.key);
    expect(keys).toContain('bitfield(struct vks_ioapic, redirtbl[0].fields.mask)');
    expect(keys).toContain('offsetof(struct vks_ioapic, redirtbl[0].fields.dest_id)');
    expect(keys).toContain('offsetof(struct vks_ioapic, grid[0][0].b)');
    expect(keys).toContain('offsetof(struct vks_ioapic, tail[0].y)');
    const mask = recordProbes(table).find((p) => p.key === 'bitfield(struct vks_ioapic, redirtbl[0].fields.mask)')!;
    expect(mask.expectedText).toBe(`${8 * 8 + 8 + 4}:1`);
  });

  const haveGcc = gccAvailable();
  it.runIf(haveGcc)('agrees with gcc on nested array elements', () => {
    const res = runProbe(['linux/types.h'], recordProbes(table), cDeclarations(table));
    expect(res.mismatches).toEqual([]);
    expect(res.compared).toBeGreaterThan(30);
  });

  it.runIf(haveGcc)('catches a wrong element layout that the array size alone would not reveal', () => {
    // Same element size (8), different member: C has `__u32 x; __u32 pad;`, TS says `__u16 x` + padding.
    const wrong = struct('vks_wrong', { arr: array(struct('vks_wrong_e', { x: u16, y: u32 }), 2) });
    const prelude = 'struct vks_wrong_e { __u32 x; __u32 y; }; struct vks_wrong { struct vks_wrong_e arr[2]; };';
    const res = runProbe(['linux/types.h'], recordProbes(wrong), prelude);
    expect(res.mismatches.map((m) => m.key)).toEqual(['sizeof(((struct vks_wrong*)0)->arr[0].x)']);
  });

  it.runIf(haveGcc)('passes extra flags to gcc', () => {
    const res = runProbe([], [constantProbe('VKS_FLAG', 42)], '', ['-DVKS_FLAG=42']);
    expect(res).toEqual({ compared: 1, mismatches: [] });
  });
  if (!haveGcc) it('gcc is missing: probe tests skipped (install gcc to run them)', () => expect(haveGcc).toBe(false));
});
