// Property: for random C record declarations (scalars, arrays, nested and anonymous records, unions,
// bitfields including unnamed and zero-width ones, flexible array members, packed/aligned), our layout
// engine computes the same sizeof, _Alignof, offsetof and bitfield positions as gcc on x86-64.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  anon, array, bits, flex, struct, union, SCALARS, type FieldSpecs, type MemberType, type RecordType, type ScalarName,
} from '../../abi/layout.js';
import { cDeclarations, gccAvailable, recordProbes, runProbe } from '../../abi/cprobe.js';
import { fcParams } from '../support/runs.js';

const scalarNames: ScalarName[] = ['u8', 's8', 'u16', 's16', 'u32', 's32', 'u64', 's64'];
let counter = 0;

type Shape =
  | { k: 'scalar'; t: ScalarName }
  | { k: 'array'; t: ScalarName; n: number }
  | { k: 'bits'; t: ScalarName; w: number; unnamed: boolean }
  | { k: 'rec'; kind: 'struct' | 'union'; anon: boolean; fields: Shape[] };

const leaf: fc.Arbitrary<Shape> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('scalar' as const), t: fc.constantFrom(...scalarNames) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('array' as const), t: fc.constantFrom(...scalarNames), n: fc.integer({ min: 1, max: 5 }) }) },
  {
    weight: 4,
    arbitrary: fc
      .record({ k: fc.constant('bits' as const), t: fc.constantFrom<ScalarName>('u8', 'u16', 'u32', 's32', 'u64'), w: fc.integer({ min: 0, max: 32 }), unnamed: fc.boolean() })
      .map((b) => {
        const max = b.t === 'u8' ? 8 : b.t === 'u16' ? 16 : 32;
        const w = Math.min(b.w, max);
        return { ...b, w, unnamed: w === 0 ? true : b.unnamed };
      }),
  },
);

const shape: fc.Arbitrary<Shape> = fc.letrec<{ node: Shape }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: leaf },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant('rec' as const),
        kind: fc.constantFrom<'struct' | 'union'>('struct', 'union'),
        anon: fc.boolean(),
        fields: fc.array(tie('node'), { minLength: 1, maxLength: 5 }),
      }),
    },
  ),
})).node;

function build(kind: 'struct' | 'union', fields: Shape[], withFlex: ScalarName | null, opts: { packed?: boolean; aligned?: number }): RecordType {
  const spec: Record<string, MemberType> = {};
  fields.forEach((s, i) => {
    const name = `f${i}`;
    switch (s.k) {
      case 'scalar': spec[name] = SCALARS[s.t]; break;
      case 'array': spec[name] = array(SCALARS[s.t], s.n); break;
      case 'bits': spec[s.unnamed ? `$f${i}` : name] = bits(SCALARS[s.t], s.w); break;
      case 'rec': {
        const inner = build(s.kind, s.fields, null, {});
        spec[s.anon ? `a${i}` : name] = s.anon ? anon(inner) : inner;
        break;
      }
    }
  });
  if (withFlex && kind === 'struct' && Object.keys(spec).some((k) => !k.startsWith('$'))) spec['flexible'] = flex(SCALARS[withFlex]);
  return (kind === 'struct' ? struct : union)(`r${counter++}`, renameAnon(spec as FieldSpecs), opts);
}

// Members of anonymous records share the enclosing namespace in C, so give every name a unique suffix.
function renameAnon(spec: FieldSpecs): FieldSpecs {
  const out: Record<string, MemberType> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (v.kind === 'anon') {
      const inner = v.record;
      const innerSpec: Record<string, MemberType> = {};
      for (const [ik, iv] of Object.entries(inner.spec as FieldSpecs)) innerSpec[`${ik.startsWith('$') ? '$' : ''}${k}_${ik.replace('$', '')}`] = iv;
      out[k] = anon((inner.kind === 'struct' ? struct : union)(inner.name, renameAnon(innerSpec), {}));
    } else out[k] = v;
  }
  return out;
}

const topRecord = fc
  .record({
    kind: fc.constantFrom<'struct' | 'union'>('struct', 'struct', 'union'),
    fields: fc.array(shape, { minLength: 1, maxLength: 8 }),
    flex: fc.option(fc.constantFrom<ScalarName>('u8', 'u32', 'u64'), { nil: null }),
    packed: fc.boolean(),
    aligned: fc.option(fc.constantFrom(8, 16), { nil: undefined }),
  })



describe('struct layout vs gcc (x86-64 SysV)', () => {
  const haveGcc = gccAvailable();
  it.runIf(haveGcc)('matches gcc for random records', () => {
    fc.assert(
      fc.property(fc.array(topRecord, { minLength: 10, maxLength: 25 }), (recs) => {
        const records = recs.map((r) => build(r.kind, r.fields, r.flex, { packed: r.packed, ...(r.aligned ? { aligned: r.aligned } : {}) }));
        const decls = records.map((r) => cDeclarations(r)).join('\n');
        const items = records.flatMap((r) => recordProbes(r));
        const res = runProbe(['linux/types.h'], items, decls);
        expect(res.mismatches, `first declaration:\n${decls.slice(0, 2000)}`).toEqual([]);
      }),
      fcParams(40),
    );
  });
  if (!haveGcc) it('gcc is missing: layout-vs-gcc property skipped (install gcc to run it)', () => expect(haveGcc).toBe(false));
});
