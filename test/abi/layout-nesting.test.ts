// Typed records nest in other records (as struct members, array elements and anonymous members) and
// keep their typed views: the include-ts headers are built this way (`kvm_sregs` holds `kvm_segment`s).
// This is also a compile-time test: `tsc --noEmit` fails if a typed record stops being a MemberType.
import { describe, expect, it } from 'vitest';
import { anon, array, struct, u64, u8, union, type AnyRecord } from '../../abi/layout.js';

const seg = struct('vks_seg', { sel: u8, base: u64 });
const regs = struct('vks_regs', { cs: seg, segs: array(seg, 2), u: anon(union('vks_u', { small: u8, wide: u64 })) });

describe('nested typed records', () => {
  it('are accepted as members and as AnyRecord, and keep typed views', () => {
    const wide: AnyRecord = seg;
    expect(wide.size).toBe(16);
    const v = regs.alloc();
    v.cs.sel = 7;
    v.segs.get(1).base = 0x1234n;
    v.wide = 0xffn;
    const sel: number = v.cs.sel;
    const base: bigint = v.segs.get(1).base;
    const small: number = v.small;
    expect([sel, base, small]).toEqual([7, 0x1234n, 0xff]);
    const plain = regs.decode(v.bytes);
    const p: bigint = plain.segs[1]!.base;
    expect(p).toBe(0x1234n);
    // @ts-expect-error a typed view has no members beyond its record's
    expect(v.nope).toBeUndefined();
  });
});
