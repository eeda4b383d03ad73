// The machine-side half of the real-kernel oracle tests: a small C program compiled with gcc and run
// on this machine, whose printed lines a test compares with the model's. Here: whether such a test can
// run (gcc; root; /dev/kvm), where strace is, the capabilities this root really has (a container's or
// this VM's root may lack some: here CAP_SYS_RESOURCE; the model's root is then given the same), the
// compile-and-run helpers, and how a model call's result is printed to match.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { SyscallError, type Host } from '../../src/index.js';

/** This process's effective capability set (CapEff of /proc/self/status). */
export const REAL_CAPS = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);

export const STRACE = ['/usr/bin/strace', '/bin/strace'].find(existsSync);

/** What an oracle needs besides gcc: root (uid/capability changes), or a usable /dev/kvm. */
export type OracleNeed = 'root' | 'kvm';

/**
 * Why the oracle test `label` cannot run here (undefined if it can); the reason is printed. With
 * `strace` set, a missing strace is mentioned too (the test then compares results only).
 */
export function oracleSkip(label: string, needs: readonly OracleNeed[] = [], strace = false): string | undefined {
  let why: string | undefined;
  if (needs.includes('root') && process.getuid?.() !== 0) why = 'not running as root';
  else if (!['/usr/bin/gcc', '/bin/gcc'].some(existsSync)) why = 'gcc is not installed';
  else if (needs.includes('kvm')) {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      why = '/dev/kvm is not usable here';
    }
  }
  if (why) console.warn(`${label}: the real-kernel comparison is skipped: ${why}`);
  else if (strace && !STRACE) console.warn(`${label}: strace is not installed: the comparison checks results only`);
  return why;
}

/** A C oracle compiled into a temporary directory (`dispose()` removes it). */
export class COracle {
  readonly dir = mkdtempSync(join(tmpdir(), 'c-oracle-'));
  readonly bin = join(this.dir, 'oracle');

  constructor(source: string) {
    try {
      execFileSync('gcc', ['-O1', '-Wall', '-o', this.bin, source]);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Runs it (with `input` on stdin) and returns its stdout. */
  run(args: readonly string[] = [], input?: string): string {
    return execFileSync(this.bin, args, { input, encoding: 'utf8' });
  }

  /** Runs it under strace with `straceArgs` before the program; the trace goes to `traceFile` in the directory. */
  strace(straceArgs: readonly string[], args: readonly string[] = [], input?: string): { stdout: string; trace: string } {
    const traceFile = join(this.dir, 'trace');
    const stdout = execFileSync(STRACE!, [...straceArgs, '-o', traceFile, this.bin, ...args], { input, encoding: 'utf8' });
    return { stdout, trace: readFileSync(traceFile, 'utf8') };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Compiles `source` and runs it once under strace, tracing ioctls only: the trace's lines. */
export function straceCOracleIoctls(source: string): string[] {
  const o = new COracle(source);
  try {
    return o.strace(['-qq', '-e', 'trace=ioctl', '-e', 'signal=none']).trace.trim().split('\n');
  } finally {
    o.dispose();
  }
}

/** Compiles `source`, runs it once (with `input` on stdin) and returns its stdout's lines. */
export function runCOracle(source: string, input?: string): string[] {
  const o = new COracle(source);
  try {
    return o.run([], input).trim().split('\n');
  } finally {
    o.dispose();
  }
}

/** A model call's result as the oracles print it: the return value, or E<errno> for a failed syscall. */
export function resultCode(f: () => number): string {
  try {
    return String(f());
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    return `E${e.errno}`;
  }
}

/**
 * The usual real-kernel comparison: the oracle's printed lines must equal what `model()` returns (run
 * while `host`'s strace collects), then, where strace is installed, the oracle's calls traced with
 * `straceArgs` must equal the model's, both passed through `calls` (which picks and normalises them).
 */
export function expectSameAsOracle(source: string, host: Host, model: () => string[], straceArgs: readonly string[], calls: (lines: readonly string[]) => string[]): void {
  const oracle = new COracle(source);
  try {
    const real = oracle.run().trim().split('\n');
    const traced: string[] = [];
    const stop = host.strace((l: string) => traced.push(l));
    let lines: string[];
    try {
      lines = model();
    } finally {
      stop();
    }
    expect(lines).toEqual(real);
    if (!STRACE) return;
    expect(calls(traced)).toEqual(calls(oracle.strace(straceArgs).trace.trim().split('\n')));
  } finally {
    oracle.dispose();
  }
}
