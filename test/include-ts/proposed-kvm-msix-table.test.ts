// The proposed KVM_DEFINE_MSIX_TABLE ABI (include-ts/proposed/kvm_msix_table.ts) against gcc and the
// installed <linux/kvm.h>:
// - the C header printed in docs/proposals/kvm-msix-table.md compiles after <linux/kvm.h>, and every
//   struct size, alignment, member offset, constant and ioctl number in it equals the TypeScript one;
// - the kvm_run member fits the real 256-byte exit union at offset 32 (a _Static_assert in C, and the
//   layout here);
// - no proposed ioctl collides with any KVM ioctl — neither the full 32-bit request nor the (type, nr)
//   pair — in include-ts/linux/kvm.ts or in the installed header (every architecture's ioctls, read from
//   the macro text; every x86-evaluable one, by value); the capability and the exit reason are unused.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileAndRun, constantProbe, gccAvailable, integerConstants, recordProbes, runProbe, type ProbeItem } from '../../abi/cprobe.js';
import { _IOC_NR, _IOC_TYPE } from '../../abi/ioc.js';
import * as P from '../../include-ts/proposed/kvm_msix_table.js';
import * as K from '../../include-ts/linux/kvm.js';
import { KVM_SYSTEM_IOCTLS, KVM_VCPU_IOCTLS, KVM_VM_IOCTLS } from '../../src/linux/trace/decoders/kvm.js';
import { KVM_MSIX_TABLE_IOCTLS } from '../../src/linux/trace/decoders/kvm-msix-table.js';
import type { AnyRecord } from '../../abi/layout.js';

function isLayout(v: unknown): v is AnyRecord {
  return typeof v === 'object' && v !== null && ((v as AnyRecord).kind === 'struct' || (v as AnyRecord).kind === 'union') && Array.isArray((v as AnyRecord).fields);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IOCTLS = ['KVM_DEFINE_MSIX_TABLE', 'KVM_REMOVE_MSIX_TABLE', 'KVM_SET_MSIX_ENTRY_IRQ', 'KVM_SET_MSIX_ENTRY', 'KVM_GET_MSIX_ENTRY', 'KVM_GET_MSIX_PENDING', 'KVM_GET_MSIX_TABLE_STATE', 'KVM_SET_MSIX_TABLE_STATE'] as const;
const proposedIoctls = IOCTLS.map((n) => [n, P[n]] as const);

/** The ```c block of the proposal's "The header" section. */
function docHeader(): string {
  const md = readFileSync(join(root, 'docs', 'proposals', 'kvm-msix-table.md'), 'utf8');
  const m = md.match(/## The header\s+```c\n([\s\S]*?)```/);
  if (!m) throw new Error('docs/proposals/kvm-msix-table.md has no "## The header" C block');
  return m[1]!;
}

function gcc(args: readonly string[], input: string): string {
  return execFileSync('gcc', [...args], { input, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('layout without a compiler', () => {
  it('struct sizes: 32, 32, 32, 48, 272, 16, 272 (+16 per entry), and the kvm_run member is 32 bytes', () => {
    expect([P.kvm_msix_table.size, P.kvm_msix_entry.size, P.kvm_msix_irq_desc.size, P.kvm_msix_entry_irq.size, P.kvm_msix_pending.size, P.kvm_msix_table_entry.size, P.kvm_msix_table_state.size]).toEqual([32, 32, 32, 48, 272, 16, 272]);
    expect(P.kvm_run_msix_entry_updated.size).toBe(32);
  });

  it('the kvm_run member fits the exit union at offset 32: the union stays 256 bytes and kvm_run 2352', () => {
    expect(K.kvm_run.offsetof('hw')).toBe(32);
    expect(K.kvm_run.offsetof('kvm_valid_regs') - K.kvm_run.offsetof('hw')).toBe(256);
    expect(P.kvm_run_exit_with_msix.size).toBe(256);
    expect(P.kvm_run_msix_entry_updated.size).toBeLessThanOrEqual(256);
    expect(K.kvm_run.size).toBe(2352);
  });

  it('every ioctl number is _IOW/_IOWR(KVMIO, nr, struct) with the struct\'s size', () => {
    expect(P.KVM_DEFINE_MSIX_TABLE).toBe(0x4020ae7d);
    expect(P.KVM_REMOVE_MSIX_TABLE).toBe(0x4020ae7e);
    expect(P.KVM_SET_MSIX_ENTRY_IRQ).toBe(0x4030ae7f);
    expect(P.KVM_SET_MSIX_ENTRY).toBe(0x4020ae6b);
    expect(P.KVM_GET_MSIX_ENTRY).toBe(0xc020ae6c);
    expect(P.KVM_GET_MSIX_PENDING).toBe(0xc110ae6d);
    expect(P.KVM_GET_MSIX_TABLE_STATE).toBe(0xc110ae6e);
    expect(P.KVM_SET_MSIX_TABLE_STATE).toBe(0x4110ae6f);
  });

  it('no collision with include-ts/linux/kvm.ts: full request and (type, nr) against every KVM ioctl the tracer names; cap and exit reason unused', () => {
    const real = new Map<number, string>();
    for (const t of [KVM_SYSTEM_IOCTLS, KVM_VM_IOCTLS, KVM_VCPU_IOCTLS]) for (const [req, d] of t) real.set(req, d.name);
    // Plus every export of kvm.ts that is an ioctl request of type KVMIO by name (including deprecated ones).
    for (const [name, v] of Object.entries(K)) {
      if (typeof v === 'number' && v > 0xffff && _IOC_TYPE(v) === K.KVMIO && /^(KVM_|__KVM_DEPRECATED)/.test(name) && !/^KVM_(CAP|EXIT|REG|TRC)_/.test(name)) real.set(v >>> 0, name);
    }
    expect(real.size).toBeGreaterThan(100);
    const pairs = new Set([...real.keys()].filter((r) => _IOC_TYPE(r) === K.KVMIO).map((r) => _IOC_NR(r)));
    for (const [name, req] of proposedIoctls) {
      expect(real.get(req), `${name} = 0x${req.toString(16)}`).toBeUndefined();
      expect(pairs.has(_IOC_NR(req)), `${name}: nr 0x${_IOC_NR(req).toString(16)} is used by a real KVM ioctl`).toBe(false);
    }
    const caps = Object.entries(K).filter(([n]) => n.startsWith('KVM_CAP_')).map(([, v]) => v);
    const exits = Object.entries(K).filter(([n]) => n.startsWith('KVM_EXIT_')).map(([, v]) => v);
    expect(caps).not.toContain(P.KVM_CAP_MSIX_TABLE);
    expect(exits).not.toContain(P.KVM_EXIT_MSIX_ENTRY_UPDATED);
    // The merged strace table of a VM fd would have thrown on a reused number; check it has all eight.
    expect([...KVM_MSIX_TABLE_IOCTLS.keys()].sort()).toEqual(proposedIoctls.map(([, r]) => r).sort());
  });
});

const noGcc = gccAvailable() ? null : 'gcc is not installed (CI installs gcc and linux-libc-dev)';

describe('against gcc and the installed <linux/kvm.h>', () => {
  if (noGcc) {
    console.warn(`proposed ABI gcc checks SKIPPED: ${noGcc}`);
    it.skip(`SKIPPED: ${noGcc}`, () => {});
    return;
  }

  it('the C header in the proposal compiles after <linux/kvm.h> and agrees with include-ts/proposed on every layout, constant and number', () => {
    const header = docHeader();
    const items: ProbeItem[] = [];
    for (const [name, v] of Object.entries(P)) {
      if (isLayout(v)) {
        if (name === 'kvm_run_exit_with_msix') continue; // the TS-side union used for the fit proof
        items.push(...recordProbes(v, `struct ${name}`));
      } else if (typeof v === 'number') {
        items.push(constantProbe(name, v));
      }
    }
    expect(items.length).toBeGreaterThan(60);
    const res = runProbe(['linux/kvm.h'], items, header);
    expect(res.mismatches, res.mismatches.map((m) => `${m.key}: TS ${m.expected}, C ${m.actual}`).join('\n')).toEqual([]);
    // And the C header defines nothing the TypeScript side lacks.
    for (const m of header.matchAll(/#define (\w+)/g)) expect(m[1]! in P, `${m[1]} is in the doc's header but not in include-ts/proposed`).toBe(true);
    for (const m of header.matchAll(/^struct (\w+) \{/gm)) expect(isLayout((P as Record<string, unknown>)[m[1]!]), `struct ${m[1]}`).toBe(true);
  });

  it('the kvm_run member fits the real exit union at offset 32 (_Static_assert against the installed struct kvm_run)', () => {
    const src = `#include <stddef.h>\n#include <stdio.h>\n#include <linux/kvm.h>\n${docHeader()}\n` +
      `_Static_assert(offsetof(struct kvm_run, padding) == 32, "exit union at 32");\n` +
      `_Static_assert(sizeof(((struct kvm_run *)0)->padding) == 256, "exit union is 256 bytes");\n` +
      `_Static_assert(sizeof(struct kvm_run_msix_entry_updated) <= sizeof(((struct kvm_run *)0)->padding), "member fits");\n` +
      `_Static_assert(_Alignof(struct kvm_run_msix_entry_updated) <= 8, "no stricter alignment than the union's");\n` +
      `int main(void) { printf("%zu %zu\\n", offsetof(struct kvm_run, padding), sizeof(struct kvm_run)); return 0; }\n`;
    expect(compileAndRun(src).trim()).toBe(`32 ${K.kvm_run.size}`);
  });

  it('no proposed ioctl, capability or exit reason collides with the installed <linux/kvm.h> (full request and (type, nr))', () => {
    const macros = new Map<string, string>();
    for (const m of gcc(['-dM', '-E', '-x', 'c', '-'], '#include <linux/kvm.h>\n').matchAll(/^#define (\w+)(?: (.*))?$/gm)) macros.set(m[1]!, (m[2] ?? '').trim());
    // (type, nr) of every ioctl macro of any architecture, from its text: _IO*(KVMIO, nr, ...).
    const textNrs = new Set<number>();
    const ioctlNames: string[] = [];
    for (const [name, body] of macros) {
      const m = body.match(/^_IO(?:R|W|WR)?\s*\(\s*KVMIO\s*,\s*(0x[0-9a-fA-F]+|\d+)/);
      if (m) {
        textNrs.add(Number(m[1]));
        ioctlNames.push(name);
      }
    }
    // Aliases of ioctl macros (KVM_TRACE_ENABLE -> __KVM_DEPRECATED_MAIN_W_0x06).
    for (const [name, body] of macros) if (ioctlNames.includes(body) && !ioctlNames.includes(name)) ioctlNames.push(name);
    expect(textNrs.size).toBeGreaterThan(120);
    for (const [name, req] of proposedIoctls) expect(textNrs.has(_IOC_NR(req)), `${name}: (KVMIO, 0x${_IOC_NR(req).toString(16)}) is used in <linux/kvm.h>`).toBe(false);
    // Full 32-bit numbers of every ioctl gcc can evaluate on x86 (one syntax-only pass filters the rest).
    const head = '#include <linux/kvm.h>\n';
    const evaluable = [...integerConstants('linux/kvm.h', ioctlNames)];
    expect(evaluable.length).toBeGreaterThan(140);
    const out = compileAndRun(`#include <stdio.h>\n${head}int main(void) {\n${evaluable.map((n) => `  printf("%s %llu\\n", "${n}", (unsigned long long)(${n}));`).join('\n')}\n  return 0;\n}\n`);
    const values = new Map<number, string>();
    for (const line of out.trim().split('\n')) {
      const [n, v] = line.split(' ');
      values.set(Number(BigInt.asUintN(32, BigInt(v!))), n!);
    }
    for (const [name, req] of proposedIoctls) {
      expect(values.get(req), `${name} = 0x${req.toString(16)} equals ${values.get(req)}`).toBeUndefined();
      for (const [v, n] of values) if (_IOC_TYPE(v) === K.KVMIO) expect(_IOC_NR(v) === _IOC_NR(req), `${name} shares (type, nr) with ${n}`).toBe(false);
    }
    // Capabilities and exit reasons: every KVM_CAP_* / KVM_EXIT_* integer macro of the header.
    const ints = [...macros.keys()].filter((n) => /^KVM_(CAP|EXIT)_\w+$/.test(n) && /^\(?-?\d/.test(macros.get(n)!));
    const out2 = compileAndRun(`#include <stdio.h>\n${head}int main(void) {\n${ints.map((n) => `  printf("%s %lld\\n", "${n}", (long long)(${n}));`).join('\n')}\n  return 0;\n}\n`);
    const caps = new Set<number>();
    const exits = new Set<number>();
    for (const line of out2.trim().split('\n')) {
      const [n, v] = line.split(' ');
      (n!.startsWith('KVM_CAP_') ? caps : exits).add(Number(v));
    }
    expect(caps.size).toBeGreaterThan(200);
    expect(exits.size).toBeGreaterThan(30);
    expect(caps.has(P.KVM_CAP_MSIX_TABLE)).toBe(false);
    expect(exits.has(P.KVM_EXIT_MSIX_ENTRY_UPDATED)).toBe(false);
    expect(Math.max(...caps)).toBeLessThan(P.KVM_CAP_MSIX_TABLE);
    expect(Math.max(...exits)).toBeLessThan(P.KVM_EXIT_MSIX_ENTRY_UPDATED);
  });
});
