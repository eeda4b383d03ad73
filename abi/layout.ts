// C struct layout with gcc's x86-64 System V rules, plus zero-copy typed views over the bytes.
//
// Rules implemented (checked against gcc by test/abi/layout-gcc.test.ts):
// - scalars are naturally aligned (u64/s64: 8 bytes); a struct's alignment is its largest member's;
//   its size is rounded up to that alignment (tail padding); unions put every member at offset 0;
// - arrays align like their element; a flexible array member takes its element's alignment and no size;
// - bitfields (little-endian, GCC order): a bitfield of type T is placed at the next free bit unless it
//   would cross a boundary of T's alignment unit, in which case it starts at the next such boundary; the
//   first declared bitfield takes the least significant bits; a zero-width bitfield rounds up to T's
//   alignment; named bitfields give the struct T's alignment, unnamed ones do not;
// - `packed` drops member alignment to 1, `aligned` raises the record's alignment.

export type ScalarName = 'u8' | 's8' | 'u16' | 's16' | 'u32' | 's32' | 'u64' | 's64';

export interface ScalarType<N extends ScalarName = ScalarName> {
  readonly kind: 'scalar';
  readonly name: N;
  readonly cname: string;
  readonly size: number;
  readonly align: number;
  readonly signed: boolean;
}

export interface ArrayType<E extends CType = CType> {
  readonly kind: 'array';
  readonly elem: E;
  readonly length: number;
  readonly cname: string;
  readonly size: number;
  readonly align: number;
}

/** A flexible array member (`__u32 data[];`); only valid as the last member. */
export interface FlexType<E extends CType = CType> {
  readonly kind: 'flex';
  readonly elem: E;
  /** Name of a sibling field holding the element count, when the struct has one (e.g. `nr`). */
  readonly countField: string | undefined;
}

export interface BitsType<N extends ScalarName = ScalarName> {
  readonly kind: 'bits';
  readonly base: ScalarType<N>;
  readonly width: number;
}

/** A C11 anonymous struct/union member: its fields are reachable from the enclosing record. */
export interface AnonType<R extends AnyRecord = AnyRecord> {
  readonly kind: 'anon';
  readonly record: R;
}

/**
 * Any record, whatever its fields: the type members and generic helpers accept. (A specific
 * `RecordType<{...}>` is not assignable to `RecordType<FieldSpecs>` because its views are exact.)
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRecord = RecordType<any>;
export type CType = ScalarType | ArrayType | AnyRecord;
export type MemberType = CType | FlexType | BitsType | AnonType;
export type FieldSpecs = { readonly [name: string]: MemberType };

export interface Field {
  readonly name: string;
  readonly type: MemberType;
  /** Byte offset from the start of the record (for bitfields: of the storage unit holding it). */
  readonly offset: number;
  /** Bitfields only: bit offset from the start of the record, and width. */
  readonly bitOffset: number;
  readonly bitWidth: number;
  /** Unnamed bitfield / padding member: not exposed in views or plain objects. */
  readonly unnamed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Type constructors

function scalar<N extends ScalarName>(name: N, cname: string, size: number, signed: boolean): ScalarType<N> {
  return Object.freeze({ kind: 'scalar', name, cname, size, align: size, signed });
}

export const u8 = scalar('u8', '__u8', 1, false);
export const s8 = scalar('s8', '__s8', 1, true);
export const u16 = scalar('u16', '__u16', 2, false);
export const s16 = scalar('s16', '__s16', 2, true);
export const u32 = scalar('u32', '__u32', 4, false);
export const s32 = scalar('s32', '__s32', 4, true);
export const u64 = scalar('u64', '__u64', 8, false);
export const s64 = scalar('s64', '__s64', 8, true);

export const SCALARS: Readonly<Record<ScalarName, ScalarType>> = { u8, s8, u16, s16, u32, s32, u64, s64 };

export function array<E extends CType>(elem: E, length: number): ArrayType<E> {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`array length ${length} is not a count`);
  return Object.freeze({ kind: 'array', elem, length, cname: `${elem.cname}[${length}]`, size: elem.size * length, align: elem.align });
}

export function flex<E extends CType>(elem: E, countField?: string): FlexType<E> {
  return Object.freeze({ kind: 'flex', elem, countField });
}

export function bits<N extends ScalarName>(base: ScalarType<N>, width: number): BitsType<N> {
  if (!Number.isInteger(width) || width < 0 || width > base.size * 8) {
    throw new RangeError(`bitfield width ${width} does not fit ${base.cname}`);
  }
  if (width > 32) throw new RangeError(`bitfields wider than 32 bits are not supported (got ${width})`);
  return Object.freeze({ kind: 'bits', base, width });
}

export function anon<R extends AnyRecord>(record: R): AnonType<R> {
  return Object.freeze({ kind: 'anon', record });
}

export interface RecordOptions {
  /** `__attribute__((packed))` */
  readonly packed?: boolean;
  /** `__attribute__((aligned(n)))` on the record */
  readonly aligned?: number;
}

/** Names starting with `$` are unnamed members (`__u32 :3;` or reserved gaps kept out of views). */
const isUnnamed = (name: string): boolean => name.startsWith('$');

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function computeLayout(kind: 'struct' | 'union', name: string, spec: FieldSpecs, opts: RecordOptions) {
  const fields: Field[] = [];
  let bitpos = 0; // struct: next free bit
  let maxBits = 0; // union: largest member
  let align = 1;
  const names = Object.keys(spec);
  names.forEach((fname, i) => {
    const t = spec[fname]!;
    const unnamed = isUnnamed(fname);
    if (t.kind === 'flex') {
      if (kind === 'union' || i !== names.length - 1) {
        throw new TypeError(`${name}.${fname}: a flexible array member must be the last member of a struct`);
      }
      if (!fields.some((f) => !f.unnamed)) throw new TypeError(`${name}.${fname}: a flexible array member needs a named member before it`);
      const a = opts.packed ? 1 : t.elem.align;
      const off = roundUp(Math.ceil(bitpos / 8), a);
      fields.push({ name: fname, type: t, offset: off, bitOffset: off * 8, bitWidth: 0, unnamed });
      bitpos = off * 8;
      align = Math.max(align, a);
      return;
    }
    if (t.kind === 'bits') {
      const unitBits = t.base.size * 8;
      const a = t.base.align;
      let start = kind === 'union' ? 0 : bitpos;
      if (t.width === 0) {
        if (!unnamed) throw new TypeError(`${name}.${fname}: a zero-width bitfield must be unnamed`);
        if (kind === 'struct') bitpos = roundUp(bitpos, a * 8);
        fields.push({ name: fname, type: t, offset: Math.floor(bitpos / 8), bitOffset: bitpos, bitWidth: 0, unnamed });
        return;
      }
      if (!opts.packed && (start % (a * 8)) + t.width > unitBits) start = roundUp(start, a * 8);
      const unitOffset = opts.packed ? Math.floor(start / 8) : Math.floor(start / (a * 8)) * a;
      fields.push({ name: fname, type: t, offset: unitOffset, bitOffset: start, bitWidth: t.width, unnamed });
      if (kind === 'struct') bitpos = start + t.width;
      else maxBits = Math.max(maxBits, roundUp(t.width, 8));
      if (!unnamed && !opts.packed) align = Math.max(align, a);
      return;
    }
    const mt = t.kind === 'anon' ? t.record : t;
    const a = opts.packed ? 1 : mt.align;
    const off = kind === 'union' ? 0 : roundUp(Math.ceil(bitpos / 8), a);
    fields.push({ name: fname, type: t, offset: off, bitOffset: off * 8, bitWidth: 0, unnamed });
    if (kind === 'struct') bitpos = (off + mt.size) * 8;
    else maxBits = Math.max(maxBits, mt.size * 8);
    align = Math.max(align, a);
  });
  if (opts.aligned !== undefined) align = Math.max(align, opts.aligned);
  const used = kind === 'struct' ? Math.ceil(bitpos / 8) : Math.ceil(maxBits / 8);
  return { fields, align, size: roundUp(used, align) };
}

// ---------------------------------------------------------------------------------------------
// Value types for views and plain objects

type Wide = 'u64' | 's64';
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

export type ViewValue<T> = T extends ScalarType<infer N>
  ? N extends Wide ? bigint : number
  : T extends BitsType
    ? number
    : T extends ArrayType<infer E>
      ? ArrayView<ViewValue<E>>
      : T extends FlexType<infer E>
        ? ArrayView<ViewValue<E>>
        : T extends RecordType<infer F>
          ? View<F>
          : never;

type NamedKeys<F> = { [K in keyof F]: K extends `$${string}` ? never : F[K] extends AnonType ? never : K }[keyof F];
type WritableKeys<F> = { [K in NamedKeys<F>]: F[K] extends ScalarType | BitsType ? K : never }[NamedKeys<F>];
type ReadonlyKeys<F> = Exclude<NamedKeys<F>, WritableKeys<F>>;
type AnonKeys<F> = { [K in keyof F]: F[K] extends AnonType ? K : never }[keyof F];
type Lifted<F> = UnionToIntersection<{ [K in AnonKeys<F>]: F[K] extends AnonType<RecordType<infer G>> ? View<G> : never }[AnonKeys<F>]>;

/** True for the wide `FieldSpecs` (an index signature) rather than a concrete record's field map. */
type IsWide<F> = string extends keyof F ? true : false;

/**
 * A view of a concrete record has one typed accessor per member. The wide `View` (of `RecordType`
 * with unknown fields) only promises named members of unknown type, so that every concrete view is
 * assignable to it and a typed record can be nested in another (`struct('b', { a, arr: array(a, 2) })`).
 */
export type View<F extends FieldSpecs = FieldSpecs> =
  IsWide<F> extends true
    ? ViewBase<F> & { readonly [name: string]: unknown }
    : { -readonly [K in WritableKeys<F>]: ViewValue<F[K]> } & {
        readonly [K in ReadonlyKeys<F>]: ViewValue<F[K]>;
      } & ([AnonKeys<F>] extends [never] ? unknown : Lifted<F>) &
        ViewBase<F>;

// A type alias, not an interface: concrete views then get an implicit index signature and are
// assignable to the wide View.
export type ViewBase<F extends FieldSpecs = FieldSpecs> = {
  /** The bytes this view reads and writes: exactly sizeof(struct), or up to the end of the buffer for a struct with a flexible array. */
  readonly bytes: Uint8Array;
  readonly layout: RecordType<F>;
};

export type PlainValue<T> = T extends ScalarType<infer N>
  ? N extends Wide ? bigint : number
  : T extends BitsType
    ? number
    : T extends ArrayType<infer E>
      ? PlainValue<E>[]
      : T extends FlexType<infer E>
        ? PlainValue<E>[]
        : T extends RecordType<infer F>
          ? Plain<F>
          : never;

type LiftedPlain<F> = UnionToIntersection<{ [K in AnonKeys<F>]: F[K] extends AnonType<RecordType<infer G>> ? Plain<G> : never }[AnonKeys<F>]>;
export type Plain<F extends FieldSpecs = FieldSpecs> = { [K in NamedKeys<F>]: PlainValue<F[K]> } & ([AnonKeys<F>] extends [never] ? unknown : LiftedPlain<F>);

/** A plain object for encode(): every field optional (missing fields are zero), nested records partial. */
export type PlainInput<F extends FieldSpecs = FieldSpecs> = { [K in NamedKeys<F>]?: PlainInputValue<F[K]> } & ([AnonKeys<F>] extends [never]
  ? unknown
  : Partial<UnionToIntersection<{ [K in AnonKeys<F>]: F[K] extends AnonType<RecordType<infer G>> ? PlainInput<G> : never }[AnonKeys<F>]>>);
type PlainInputValue<T> = T extends ScalarType<infer N>
  ? N extends Wide ? bigint | number : number
  : T extends BitsType
    ? number
    : T extends ArrayType<infer E> | FlexType<infer E>
      ? ArrayLike<PlainInputValue<E>>
      : T extends RecordType<infer F>
        ? PlainInput<F>
        : never;

export interface ArrayView<V> extends Iterable<V> {
  readonly length: number;
  get(i: number): V;
  set(i: number, v: V extends View ? never : V): void;
  toArray(): V[];
  /** The bytes of the whole array. */
  readonly bytes: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Scalar access on a DataView

/** Reads a scalar member little-endian (exported for formatters that walk layouts). */
export function readScalar(dv: DataView, off: number, t: ScalarType): number | bigint {
  switch (t.name) {
    case 'u8': return dv.getUint8(off);
    case 's8': return dv.getInt8(off);
    case 'u16': return dv.getUint16(off, true);
    case 's16': return dv.getInt16(off, true);
    case 'u32': return dv.getUint32(off, true);
    case 's32': return dv.getInt32(off, true);
    case 'u64': return dv.getBigUint64(off, true);
    case 's64': return dv.getBigInt64(off, true);
  }
}

function writeScalar(dv: DataView, off: number, t: ScalarType, v: number | bigint): void {
  switch (t.name) {
    case 'u8': case 's8': dv.setUint8(off, Number(v) & 0xff); return;
    case 'u16': case 's16': dv.setUint16(off, Number(v) & 0xffff, true); return;
    case 'u32': case 's32': dv.setUint32(off, Number(v) >>> 0, true); return;
    case 'u64': dv.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true); return;
    case 's64': dv.setBigInt64(off, BigInt.asIntN(64, BigInt(v)), true); return;
  }
}

/** Reads `width` bits at absolute bit offset `bit` (little-endian), up to 32 bits, as an unsigned number. */
export function readBits(bytes: Uint8Array, bit: number, width: number): number {
  let v = 0;
  let got = 0;
  while (got < width) {
    const byte = bytes[(bit + got) >> 3]!;
    const sh = (bit + got) & 7;
    const take = Math.min(8 - sh, width - got);
    v += ((byte >> sh) & ((1 << take) - 1)) * 2 ** got;
    got += take;
  }
  return v;
}

function writeBits(bytes: Uint8Array, bit: number, width: number, value: number): void {
  let v = value;
  let done = 0;
  while (done < width) {
    const idx = (bit + done) >> 3;
    const sh = (bit + done) & 7;
    const take = Math.min(8 - sh, width - done);
    const mask = ((1 << take) - 1) << sh;
    const part = (v % 2 ** take) << sh;
    bytes[idx] = (bytes[idx]! & ~mask) | (part & mask);
    v = Math.floor(v / 2 ** take);
    done += take;
  }
}

function bitsValue(raw: number, t: BitsType): number {
  if (t.base.signed && t.width > 0 && raw >= 2 ** (t.width - 1)) return raw - 2 ** t.width;
  return raw;
}

function normBits(v: number, width: number): number {
  const m = 2 ** width;
  return ((Math.trunc(v) % m) + m) % m;
}

// ---------------------------------------------------------------------------------------------
// Records

export interface RecordType<F extends FieldSpecs = FieldSpecs> {
  readonly kind: 'struct' | 'union';
  readonly name: string;
  readonly cname: string;
  readonly size: number;
  readonly align: number;
  readonly spec: F;
  readonly options: RecordOptions;
  readonly fields: readonly Field[];
  /** The flexible array member, if the struct ends with one. */
  readonly flexField: Field | undefined;
  /** Named field lookup, including fields lifted from anonymous members. */
  field(name: string): Field;
  /** offsetof(), with dotted paths through nested and anonymous members (`u.msi.data`). */
  offsetof(path: string): number;
  /** offsetofend(): the kernel's `minsz` idiom. */
  offsetofend(path: string): number;
  /** A zero-copy view over `bytes` starting at `offset`. */
  view(bytes: Uint8Array, offset?: number): View<F>;
  /** Allocates zeroed bytes (sizeof, plus `flexCount` flexible-array elements) and returns a view. */
  alloc(flexCount?: number): View<F>;
  decode(bytes: Uint8Array, offset?: number): Plain<F>;
  encode(value: PlainInput<F>, into?: Uint8Array, offset?: number): Uint8Array;
}

interface Resolved {
  readonly offset: number;
  readonly field: Field;
}

class RecordImpl<F extends FieldSpecs> implements RecordType<F> {
  readonly cname: string;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly Field[];
  readonly flexField: Field | undefined;
  private readonly byName = new Map<string, Resolved>();
  private readonly ViewClass: new (bytes: Uint8Array) => View<F>;

  constructor(readonly kind: 'struct' | 'union', readonly name: string, readonly spec: F, readonly options: RecordOptions) {
    const opts = options;
    const { fields, size, align } = computeLayout(kind, name, spec, opts);
    this.cname = `${kind} ${name}`;
    this.fields = Object.freeze(fields);
    this.size = size;
    this.align = align;
    this.flexField = fields.find((f) => f.type.kind === 'flex');
    this.index(this.fields, 0);
    this.ViewClass = makeViewClass(this);
  }

  private index(fields: readonly Field[], base: number): void {
    for (const f of fields) {
      if (f.unnamed) continue;
      if (f.type.kind === 'anon') {
        this.index(f.type.record.fields, base + f.offset);
        continue;
      }
      if (this.byName.has(f.name)) throw new TypeError(`${this.cname}: duplicate member ${f.name}`);
      this.byName.set(f.name, { offset: base + f.offset, field: f });
    }
  }

  field(name: string): Field {
    const r = this.byName.get(name);
    if (!r) throw new RangeError(`${this.cname} has no member ${name}`);
    return r.field;
  }

  /** Offset of a lifted/named member relative to this record. */
  memberOffset(name: string): number {
    const r = this.byName.get(name);
    if (!r) throw new RangeError(`${this.cname} has no member ${name}`);
    return r.offset;
  }

  memberNames(): string[] {
    return [...this.byName.keys()];
  }

  private resolvePath(path: string): { offset: number; size: number } {
    let rec: RecordType = this;
    let offset = 0;
    const parts = path.split('.');
    for (let i = 0; i < parts.length; i++) {
      const r = (rec as RecordImpl<FieldSpecs>).byName.get(parts[i]!);
      if (!r) throw new RangeError(`${rec.cname} has no member ${parts[i]}`);
      offset += r.offset;
      const t = r.field.type;
      if (i === parts.length - 1) {
        const size = t.kind === 'flex' ? 0 : t.kind === 'bits' ? t.base.size : t.kind === 'anon' ? t.record.size : t.size;
        if (t.kind === 'bits') throw new RangeError(`offsetof() on bitfield ${path}`);
        return { offset, size };
      }
      if (t.kind !== 'struct' && t.kind !== 'union') throw new RangeError(`${path}: ${parts[i]} is not a record`);
      rec = t;
    }
    throw new RangeError(`empty path`);
  }

  offsetof(path: string): number {
    return this.resolvePath(path).offset;
  }

  offsetofend(path: string): number {
    const r = this.resolvePath(path);
    return r.offset + r.size;
  }

  view(bytes: Uint8Array, offset = 0): View<F> {
    const end = this.flexField ? bytes.length : offset + this.size;
    if (offset < 0 || offset + this.size > bytes.length) {
      throw new RangeError(`${this.cname} needs ${this.size} bytes at offset ${offset}, buffer has ${bytes.length}`);
    }
    return new this.ViewClass(bytes.subarray(offset, end));
  }

  alloc(flexCount = 0): View<F> {
    const extra = this.flexField && flexCount > 0 ? (this.flexField.type as FlexType).elem.size * flexCount : 0;
    return new this.ViewClass(new Uint8Array(Math.max(this.size, this.flexField ? this.flexField.offset + extra : 0)));
  }

  decode(bytes: Uint8Array, offset = 0): Plain<F> {
    if (offset + this.size > bytes.length) {
      throw new RangeError(`${this.cname} needs ${this.size} bytes at offset ${offset}, buffer has ${bytes.length}`);
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return decodeRecord(this, bytes, dv, offset, bytes.length) as Plain<F>;
  }

  encode(value: PlainInput<F>, into?: Uint8Array, offset = 0): Uint8Array {
    let flexCount = 0;
    const ff = this.flexField;
    if (ff) {
      const fv = (value as Record<string, unknown>)[ff.name] as ArrayLike<unknown> | undefined;
      flexCount = fv ? fv.length : 0;
    }
    const need = ff ? Math.max(this.size, ff.offset + (ff.type as FlexType).elem.size * flexCount) : this.size;
    const out = into ?? new Uint8Array(need);
    if (offset + need > out.length) throw new RangeError(`${this.cname}: encoding needs ${need} bytes, buffer has ${out.length - offset}`);
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    encodeRecord(this, value as Record<string, unknown>, out, dv, offset);
    return into ? out : out;
  }
}

function decodeValue(t: MemberType, bytes: Uint8Array, dv: DataView, off: number, end: number, count?: number): unknown {
  switch (t.kind) {
    case 'scalar': return readScalar(dv, off, t);
    case 'array': {
      const out: unknown[] = [];
      for (let i = 0; i < t.length; i++) out.push(decodeValue(t.elem, bytes, dv, off + i * t.elem.size, end));
      return out;
    }
    case 'flex': {
      const n = count ?? Math.max(0, Math.floor((end - off) / t.elem.size));
      const out: unknown[] = [];
      for (let i = 0; i < n && off + (i + 1) * t.elem.size <= end; i++) out.push(decodeValue(t.elem, bytes, dv, off + i * t.elem.size, end));
      return out;
    }
    case 'struct': case 'union': return decodeRecord(t, bytes, dv, off, end);
    case 'anon': return decodeRecord(t.record, bytes, dv, off, end);
    case 'bits': throw new Error('unreachable');
  }
}

function decodeRecord(rec: RecordType, bytes: Uint8Array, dv: DataView, base: number, end: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of rec.fields) {
    if (f.unnamed) continue;
    if (f.type.kind === 'bits') {
      out[f.name] = bitsValue(readBits(bytes, base * 8 + f.bitOffset, f.bitWidth), f.type);
    } else if (f.type.kind === 'anon') {
      Object.assign(out, decodeRecord(f.type.record, bytes, dv, base + f.offset, end));
    } else if (f.type.kind === 'flex') {
      let count: number | undefined;
      if (f.type.countField !== undefined) count = Number(out[f.type.countField] ?? 0);
      out[f.name] = decodeValue(f.type, bytes, dv, base + f.offset, end, count);
    } else {
      out[f.name] = decodeValue(f.type, bytes, dv, base + f.offset, end);
    }
  }
  return out;
}

function encodeValue(t: MemberType, v: unknown, bytes: Uint8Array, dv: DataView, off: number): void {
  switch (t.kind) {
    case 'scalar': writeScalar(dv, off, t, v as number | bigint); return;
    case 'array': case 'flex': {
      const arr = v as ArrayLike<unknown>;
      const n = t.kind === 'array' ? Math.min(arr.length, t.length) : arr.length;
      for (let i = 0; i < n; i++) encodeValue(t.elem, arr[i], bytes, dv, off + i * t.elem.size);
      return;
    }
    case 'struct': case 'union': encodeRecord(t, v as Record<string, unknown>, bytes, dv, off); return;
    case 'anon': encodeRecord(t.record, v as Record<string, unknown>, bytes, dv, off); return;
    case 'bits': throw new Error('unreachable');
  }
}

function encodeRecord(rec: RecordType, v: Record<string, unknown>, bytes: Uint8Array, dv: DataView, base: number): void {
  for (const f of rec.fields) {
    if (f.unnamed) continue;
    if (f.type.kind === 'anon') {
      encodeRecord(f.type.record, v, bytes, dv, base + f.offset);
      continue;
    }
    const fv = v[f.name];
    if (fv === undefined) continue;
    if (f.type.kind === 'bits') writeBits(bytes, base * 8 + f.bitOffset, f.bitWidth, normBits(Number(fv), f.bitWidth));
    else encodeValue(f.type, fv, bytes, dv, base + f.offset);
  }
}

// ---------------------------------------------------------------------------------------------
// Views: a class per record, with one accessor per named member (including lifted anonymous ones).

interface ViewInternals {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  sub?: Map<string, unknown>;
}

class ArrayViewImpl<V> implements ArrayView<V> {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;
  constructor(private readonly elem: CType, bytes: Uint8Array, readonly length: number) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get(i: number): V {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`index ${i} out of range 0..${this.length - 1}`);
    const off = i * this.elem.size;
    if (this.elem.kind === 'scalar') return readScalar(this.dv, off, this.elem) as V;
    if (this.elem.kind === 'array') return new ArrayViewImpl(this.elem.elem, this.bytes.subarray(off, off + this.elem.size), this.elem.length) as V;
    return this.elem.view(this.bytes, off) as V;
  }
  set(i: number, v: V extends View ? never : V): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`index ${i} out of range 0..${this.length - 1}`);
    if (this.elem.kind !== 'scalar') throw new TypeError('only arrays of scalars can be assigned element-wise');
    writeScalar(this.dv, i * this.elem.size, this.elem, v as number | bigint);
  }
  toArray(): V[] {
    const out: V[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.get(i));
    return out;
  }
  *[Symbol.iterator](): Iterator<V> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

function defineAccessors(proto: object, rec: RecordType, base: number): void {
  for (const f of rec.fields) {
    if (f.unnamed) continue;
    const t = f.type;
    const off = base + f.offset;
    if (t.kind === 'anon') {
      defineAccessors(proto, t.record, off);
      Object.defineProperty(proto, f.name, {
        get(this: ViewInternals) { return subView(this, f.name, () => t.record.view(this.bytes, off)); },
        enumerable: true,
      });
      continue;
    }
    let desc: PropertyDescriptor;
    switch (t.kind) {
      case 'scalar':
        desc = {
          get(this: ViewInternals) { return readScalar(this.dv, off, t); },
          set(this: ViewInternals, v: number | bigint) { writeScalar(this.dv, off, t, v); },
        };
        break;
      case 'bits': {
        const bit = base * 8 + f.bitOffset;
        const w = f.bitWidth;
        desc = {
          get(this: ViewInternals) { return bitsValue(readBits(this.bytes, bit, w), t); },
          set(this: ViewInternals, v: number) { writeBits(this.bytes, bit, w, normBits(v, w)); },
        };
        break;
      }
      case 'array':
        desc = { get(this: ViewInternals) { return subView(this, f.name, () => new ArrayViewImpl(t.elem, this.bytes.subarray(off, off + t.size), t.length)); } };
        break;
      case 'flex':
        desc = {
          get(this: ViewInternals) {
            const avail = Math.max(0, Math.floor((this.bytes.length - off) / t.elem.size));
            return new ArrayViewImpl(t.elem, this.bytes.subarray(off, off + avail * t.elem.size), avail);
          },
        };
        break;
      case 'struct': case 'union':
        desc = { get(this: ViewInternals) { return subView(this, f.name, () => t.view(this.bytes, off)); } };
        break;
    }
    Object.defineProperty(proto, f.name, { ...desc, enumerable: true });
  }
}

function subView(self: ViewInternals, key: string, make: () => unknown): unknown {
  const m = (self.sub ??= new Map());
  let v = m.get(key);
  if (v === undefined) {
    v = make();
    m.set(key, v);
  }
  return v;
}

function makeViewClass<F extends FieldSpecs>(rec: RecordType<F>): new (bytes: Uint8Array) => View<F> {
  class V implements ViewInternals {
    readonly bytes: Uint8Array;
    readonly dv: DataView;
    sub?: Map<string, unknown>;
    constructor(bytes: Uint8Array) {
      this.bytes = bytes;
      this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    get layout(): RecordType<F> { return rec; }
    toJSON(): unknown { return rec.decode(this.bytes); }
  }
  Object.defineProperty(V, 'name', { value: `View(${rec.cname})` });
  defineAccessors(V.prototype, rec, 0);
  return V as unknown as new (bytes: Uint8Array) => View<F>;
}

export function struct<F extends FieldSpecs>(name: string, spec: F, opts: RecordOptions = {}): RecordType<F> {
  return new RecordImpl('struct', name, spec, opts);
}

export function union<F extends FieldSpecs>(name: string, spec: F, opts: RecordOptions = {}): RecordType<F> {
  return new RecordImpl('union', name, spec, opts);
}

/** Names of every member reachable by name (anonymous members lifted), in declaration order. */
export function memberNames(rec: RecordType): string[] {
  return (rec as RecordImpl<FieldSpecs>).memberNames();
}

/** Anything that carries struct bytes: a Uint8Array or a view. */
export type Bytes = Uint8Array | { readonly bytes: Uint8Array };

export function bytesOf(b: Bytes): Uint8Array {
  return b instanceof Uint8Array ? b : b.bytes;
}
