// What the real-kernel oracle tests that run a C program as root need to know of this machine: whether
// they can run (root, gcc), where strace is, and the capabilities this root really has (a container's
// or this VM's root may lack some: here CAP_SYS_RESOURCE), which the model's root is then given.
import { existsSync, readFileSync } from 'node:fs';

/** This process's effective capability set (CapEff of /proc/self/status). */
export const REAL_CAPS = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);

export const STRACE = ['/usr/bin/strace', '/bin/strace'].find(existsSync);

/**
 * Why the oracle test of `what` cannot run here (undefined if it can); prints the reason, and a note
 * when strace is missing (the test then compares results only).
 */
export function rootOracleSkip(what: string): string | undefined {
  const skip = process.getuid?.() !== 0 ? 'not running as root' : !['/usr/bin/gcc', '/bin/gcc'].some(existsSync) ? 'gcc is not installed' : undefined;
  if (skip) console.warn(`${what}: the real-kernel oracle test is skipped: ${skip}`);
  else if (!STRACE) console.warn(`${what}: strace is not installed: the oracle test compares results only`);
  return skip;
}
