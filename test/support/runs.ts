// How many runs a property gets: the number that suits `npm test`, multiplied for soak runs
// (`npm run soak` sets VKS_SOAK_FACTOR). Seeds are printed by fast-check on failure; to replay one,
// set VKS_SEED (and VKS_PATH for the shrunk counterexample) and run the failing test file.
import type { Parameters } from 'fast-check';

const factor = Number(process.env['VKS_SOAK_FACTOR'] ?? '1') || 1;

export function runs(n: number): number {
  return Math.max(1, Math.round(n * factor));
}

/** fast-check parameters: `numRuns` scaled for soak, and a replay seed/path when given. */
export function fcParams<T = unknown>(numRuns: number, extra: Parameters<T> = {}): Parameters<T> {
  const seed = process.env['VKS_SEED'];
  const path = process.env['VKS_PATH'];
  return { numRuns: runs(numRuns), ...(seed ? { seed: Number(seed) } : {}), ...(path ? { path } : {}), ...extra };
}
