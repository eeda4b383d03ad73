// The conformance probe: turns layout descriptions and constants into a C program, compiles it with
// the machine's gcc against the installed headers, and reads back what the compiler computed.
// Used by the ABI conformance tests (include-ts vs /usr/include) and the layout-vs-gcc property test.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyRecord as RecordType, Field, MemberType } from './layout.js';

/** One value the compiler is asked for, and what the TypeScript side says it is. */
export interface ProbeItem {
  /** A unique key, e.g. `sizeof(struct vfio_irq_set)`, `offsetof(struct kvm_run, mmio.len)`, `VFIO_TYPE1_IOMMU`. */
  readonly key: string;
  /** A C expression of integer type. */
  readonly cExpr: string;
  /** The value expected from the TypeScript declarations. */
  readonly expected: bigint;
  /** For bitfields: a C statement block printing `bitoffset:width` instead of cExpr. */
  readonly cBlock?: string;
  readonly expectedText?: string;
}

export interface ProbeMismatch {
  readonly key: string;
  readonly expected: string;
  readonly actual: string;
}

export interface ProbeResult {
  readonly compared: number;
  readonly mismatches: ProbeMismatch[];
}

function cString(s: string): string {
  return JSON.stringify(s);
}

/** The C spelling of a record type, as it is named in C (`struct kvm_run`). */
export function cTypeName(rec: RecordType): string {
  return rec.cname;
}

function memberSize(t: MemberType): number {
  switch (t.kind) {
    case 'flex': return 0;
    case 'bits': return t.base.size;
    case 'anon': return t.record.size;
    default: return t.size;
  }
}

/**
 * Probe items for sizeof/alignof of a record and offsetof of every reachable named member (through
 * nested records, anonymous members, and element [0] of arrays of records), and bit position/width
 * for every named bitfield.
 */
export function recordProbes(rec: RecordType, cType = cTypeName(rec)): ProbeItem[] {
  const items: ProbeItem[] = [
    { key: `sizeof(${cType})`, cExpr: `sizeof(${cType})`, expected: BigInt(rec.size) },
    { key: `_Alignof(${cType})`, cExpr: `_Alignof(${cType})`, expected: BigInt(rec.align) },
  ];
  const walk = (r: RecordType, path: string, base: number, baseBits: number): void => {
    for (const f of r.fields) {
      if (f.unnamed) continue;
      if (f.type.kind === 'anon') {
        walk(f.type.record, path, base + f.offset, baseBits + f.offset * 8);
        continue;
      }
      const p = path ? `${path}.${f.name}` : f.name;
      if (f.type.kind === 'bits') {
        items.push(bitfieldProbe(cType, p, baseBits + f.bitOffset, f));
        continue;
      }
      items.push({ key: `offsetof(${cType}, ${p})`, cExpr: `__builtin_offsetof(${cType}, ${p})`, expected: BigInt(base + f.offset) });
      if (f.type.kind !== 'flex') {
        items.push({ key: `sizeof(((${cType}*)0)->${p})`, cExpr: `sizeof(((${cType}*)0)->${p})`, expected: BigInt(memberSize(f.type)) });
      }
      if (f.type.kind === 'struct' || f.type.kind === 'union') walk(f.type, p, base + f.offset, baseBits + f.offset * 8);
      else if (f.type.kind === 'array' || f.type.kind === 'flex') {
        // Arrays (and flexible arrays) of records: check the element layout through element [0][0]...
        let elem: MemberType = f.type.elem;
        let ep = `${p}[0]`;
        while (elem.kind === 'array') {
          elem = elem.elem;
          ep += '[0]';
        }
        if (elem.kind === 'struct' || elem.kind === 'union') walk(elem, ep, base + f.offset, baseBits + f.offset * 8);
      }
    }
  };
  walk(rec, '', 0, 0);
  return items;
}

function bitfieldProbe(cType: string, path: string, bitOffset: number, f: Field): ProbeItem {
  const signed = f.type.kind === 'bits' && f.type.base.signed;
  // Set every bit of the field in a zeroed object and see which bits of the object changed.
  const block = `{ ${cType} s; unsigned char *p = (unsigned char *)&s; memset(&s, 0, sizeof s); s.${path} = ${signed ? '-1' : '~0ULL'};
    long first = -1, n = 0; for (unsigned long i = 0; i < sizeof s * 8; i++) if (p[i / 8] & (1u << (i % 8))) { if (first < 0) first = (long)i; n++; }
    printf("%ld:%ld", first, n); }`;
  return {
    key: `bitfield(${cType}, ${path})`,
    cExpr: '0',
    cBlock: block,
    expected: 0n,
    expectedText: `${bitOffset}:${f.bitWidth}`,
  };
}

/** A probe for an integer constant or ioctl number (compared as unsigned 64-bit). */
export function constantProbe(name: string, expected: number | bigint, cExpr = name): ProbeItem {
  return { key: name, cExpr: `(unsigned long long)(${cExpr})`, expected: BigInt.asUintN(64, BigInt(expected)) };
}

/** Builds the probe program: each item prints `key\tvalue` on its own line. */
export function probeSource(includes: readonly string[], items: readonly ProbeItem[], prelude = ''): string {
  const lines: string[] = ['#include <stdio.h>', '#include <string.h>', '#include <stddef.h>', ...includes.map((h) => `#include <${h}>`), prelude, 'int main(void) {'];
  for (const it of items) {
    lines.push(`  printf("%s\\t", ${cString(it.key)});`);
    if (it.cBlock) lines.push(`  ${it.cBlock}`);
    else lines.push(`  printf("%llu", (unsigned long long)(${it.cExpr}));`);
    lines.push('  printf("\\n");');
  }
  lines.push('  return 0;', '}');
  return lines.join('\n');
}

export function gccAvailable(): boolean {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Compiles `source` with gcc (x86-64, C11), runs it, and returns its stdout. */
export function compileAndRun(source: string, extraFlags: readonly string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'vks-probe-'));
  try {
    const c = join(dir, 'probe.c');
    const exe = join(dir, 'probe');
    writeFileSync(c, source);
    execFileSync('gcc', ['-std=gnu11', '-O0', '-w', '-o', exe, c, ...extraFlags], { stdio: ['ignore', 'pipe', 'pipe'] });
    return execFileSync(exe, { encoding: 'utf8', maxBuffer: 64 << 20 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the probe and compares every item. `extraFlags` go to gcc (e.g. `-D_GNU_SOURCE`). */
export function runProbe(includes: readonly string[], items: readonly ProbeItem[], prelude = '', extraFlags: readonly string[] = []): ProbeResult {
  const seen = new Set<string>();
  for (const it of items) {
    if (seen.has(it.key)) throw new Error(`duplicate probe key ${it.key}`);
    seen.add(it.key);
  }
  const out = compileAndRun(probeSource(includes, items, prelude), extraFlags);
  const actual = new Map<string, string>();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const tab = line.indexOf('\t');
    actual.set(line.slice(0, tab), line.slice(tab + 1));
  }
  const mismatches: ProbeMismatch[] = [];
  for (const it of items) {
    const exp = it.expectedText ?? it.expected.toString();
    const act = actual.get(it.key) ?? '<missing>';
    if (act !== exp) mismatches.push({ key: it.key, expected: exp, actual: act });
  }
  return { compared: items.length, mismatches };
}

/** Which of `names` are integer constant expressions in this configuration (one -fsyntax-only compile). */
export function integerConstants(include: string, names: readonly string[], prelude = ''): Set<string> {
  const head = `#include <${include}>\n${prelude}\n`;
  const base = head.split('\n').length - 1;
  const body = names.map((n) => `enum { vks_probe_${n} = (int)((${n}) != 0) };`).join('\n');
  let stderr = '';
  try {
    execFileSync('gcc', ['-std=gnu11', '-fsyntax-only', '-x', 'c', '-'], { input: head + body + '\n', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    stderr = String((e as { stderr?: unknown }).stderr ?? '');
  }
  const bad = new Set<number>();
  for (const m of stderr.matchAll(/^<stdin>:(\d+):\d+: error/gm)) bad.add(Number(m[1]) - base - 1);
  return new Set(names.filter((_, i) => !bad.has(i)));
}

/** C declaration text of a record and, first, of every named record it contains (for generated test structs). */
export function cDeclarations(rec: RecordType): string {
  const done = new Set<string>();
  const out: string[] = [];
  const memberDecl = (name: string, t: MemberType, indent: string): string => {
    switch (t.kind) {
      case 'scalar': return `${indent}${t.cname} ${name};`;
      case 'array': {
        let dims = '';
        let e: MemberType = t;
        while (e.kind === 'array') {
          dims += `[${e.length}]`;
          e = e.elem;
        }
        return `${indent}${e.kind === 'scalar' ? e.cname : e.cname} ${name}${dims};`;
      }
      case 'flex': return `${indent}${t.elem.cname} ${name}[];`;
      case 'bits': return `${indent}${t.base.cname} ${name.startsWith('$') ? '' : name}:${t.width};`;
      case 'struct': case 'union': return `${indent}${t.cname} ${name};`;
      case 'anon': return `${indent}${t.record.kind} {\n${body(t.record, indent + '  ')}\n${indent}};`;
    }
  };
  const body = (r: RecordType, indent: string): string => r.fields.map((f) => memberDecl(f.name, f.type, indent)).join('\n');
  const visit = (r: RecordType): void => {
    if (done.has(r.cname)) return;
    done.add(r.cname);
    const visitType = (t: MemberType): void => {
      if (t.kind === 'struct' || t.kind === 'union') visit(t);
      else if (t.kind === 'array' || t.kind === 'flex') visitType(t.elem);
      else if (t.kind === 'anon') t.record.fields.forEach((f) => visitType(f.type));
    };
    r.fields.forEach((f) => visitType(f.type));
    const attrs = [r.options.packed ? 'packed' : '', r.options.aligned ? `aligned(${r.options.aligned})` : ''].filter(Boolean);
    out.push(`${r.cname} {\n${body(r, '  ')}\n}${attrs.length ? ` __attribute__((${attrs.join(', ')}))` : ''};`);
  };
  visit(rec);
  return out.join('\n');
}
