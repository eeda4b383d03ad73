// examples/memfd-guest-ram.ts: guest RAM in a sealed memfd is one set of pages for the guest (KVM slot),
// the assigned device (VFIO DMA) and a second process's read-only mapping, and the seals hold.
import { describe, expect, it } from 'vitest';
import { memfdGuestRam } from '../../examples/memfd-guest-ram.js';
import { F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK } from '../../include-ts/linux/fcntl.js';

describe('examples/memfd-guest-ram', () => {
  it('the backend sees what the guest stored and what the device copied, and no one can resize the RAM', () => {
    const r = memfdGuestRam(() => {});
    expect(r.backendSawGuest).toBe('stored by the guest!');
    expect(r.backendSawDevice).toBe('stored by the guest!');
    expect(r.seals).toBe(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW);
    expect([r.backendTruncate, r.qemuGrow]).toEqual(['EINVAL', 'EPERM']);
    expect(r.lines).toContain('fcntl(3, F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW) = 0');
    expect(r.lines.filter((l) => l.startsWith('ioctl(9, KVM_RUN')).length).toBe(1);
  });
});
