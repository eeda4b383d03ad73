// Running a small C oracle next to a KVM test: whether /dev/kvm and gcc are usable here, and the
// oracle's output lines (compiled into a temporary directory, removed afterwards).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why the real-kernel comparison cannot run here, or undefined when it can. */
export function kvmOracleSkipReason(): string | undefined {
  if (!['/usr/bin/gcc', '/bin/gcc'].some(existsSync)) return 'gcc is not installed';
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/kvm is not usable here';
  }
  return undefined;
}

/** Compile `source` with gcc -O1, run it, and return its stdout lines. */
export function runCOracle(source: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-oracle-'));
  try {
    execFileSync('gcc', ['-O1', '-o', join(dir, 'oracle'), source]);
    return execFileSync(join(dir, 'oracle'), { encoding: 'utf8' }).trim().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
