// examples/dirty-ring-migration.ts: QEMU's pre-copy rounds over KVM dirty rings end with the destination's
// RAM equal to the source's, and the rings stop the vCPUs at their soft limit along the way.
import { describe, expect, it } from 'vitest';
import { DEFAULTS, dirtyRingMigration } from '../../examples/dirty-ring-migration.js';

describe('examples/dirty-ring-migration', () => {
  it('copies every page the guests dirtied: the destination equals the source', () => {
    const lines: string[] = [];
    const r = dirtyRingMigration((s) => lines.push(s));
    expect(r.identical).toBe(true);
    // 256-entry rings (soft limit 192): the vCPUs stop at a full ring, and no round collects more than
    // both rings hold up to their soft limits.
    expect(r.rounds.some((x) => x.ringFull > 0)).toBe(true);
    for (const x of r.rounds) expect(x.entries).toBeLessThanOrEqual(2 * 192);
    // A page is logged once per write-protect cycle, so a round's entries are distinct unless both vCPUs
    // wrote the page (each logs it in its own ring).
    for (const x of r.rounds) expect(x.copied).toBeLessThanOrEqual(x.entries);
    expect(r.copied).toBe(DEFAULTS.pages + r.rounds.reduce((a, x) => a + x.copied, 0));
    expect(lines.at(-1)).toMatch(/^destination RAM equals the source's/);
  });

  it('with rings large enough for a whole slice, no vCPU stops at a full ring and the copy is still complete', () => {
    const r = dirtyRingMigration(() => {}, { ...DEFAULTS, ringBytes: 65536 });
    expect(r.identical).toBe(true);
    expect(r.rounds.every((x) => x.ringFull === 0)).toBe(true);
  });
});
