// The real-kernel half of the small KVM oracles (cpuid-oracle.c, fpu-oracle.c): whether gcc and
// /dev/kvm are usable here, and a C file compiled and run, its output as lines.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyscallError } from '../../../src/index.js';

/** Why a real-kernel comparison cannot run here (printed once as a warning), or undefined. */
export function cOracleSkip(label: string): string | undefined {
  let why: string | undefined;
  if (!['/usr/bin/gcc', '/bin/gcc'].some(existsSync)) why = 'gcc is not installed';
  else {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      why = '/dev/kvm is not usable here';
    }
  }
  if (why) console.warn(`${label}: the real-kernel comparison is skipped: ${why}`);
  return why;
}

/** Compiles `source` with gcc -O1, runs it, and returns its stdout's lines. */
export function runCOracle(source: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-oracle-'));
  try {
    execFileSync('gcc', ['-O1', '-o', join(dir, 'oracle'), source]);
    return execFileSync(join(dir, 'oracle'), { encoding: 'utf8' }).trim().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A call's result as the oracles print it: the return value, or E<errno> for a failed syscall. */
export function resultCode(f: () => number): string {
  try {
    return String(f());
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    return `E${e.errno}`;
  }
}
