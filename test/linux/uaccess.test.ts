// copy_to_user / copy_from_user / access_ok on a process's address space (arch/x86/include/asm/uaccess.h,
// uaccess_64.h __access_ok, arch/x86/kernel/cpu/common.c USER_PTR_MAX): a copy crosses adjacent VMAs,
// stops at the first byte that faults (unmapped, no PROT_WRITE/PROT_READ, device memory) and reports the
// bytes left; access_ok only bounds the range.
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/host.js';
import { accessOk, copyFromUser, copyToUser } from '../../src/linux/uaccess.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../include-ts/linux/mman.js';

const PG = 0x1000;

describe('uaccess helpers', () => {
  it('copyToUser writes across two adjacent mappings and stops at a hole, returning the bytes not copied', () => {
    const p = Host.create().spawn();
    const a = p.mmap(null, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p.munmap(a.addr + 2 * PG, PG);
    const b = p.mmap(a.addr + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    const src = new Uint8Array(PG + 16).fill(7);
    expect(copyToUser(p.mm, a.addr + PG - 8, src)).toBe(8); // 8 bytes in a, a whole page in b, then the hole
    expect(a.bytes![PG - 8]).toBe(7);
    expect(b.bytes![PG - 1]).toBe(7);
    const dst = new Uint8Array(16);
    expect(copyFromUser(p.mm, dst, a.addr + PG - 8)).toBe(0);
    expect([...dst]).toEqual(new Array(16).fill(7));
  });

  it('a read-only page refuses copy_to_user, a PROT_NONE page copy_from_user; NULL faults', () => {
    const p = Host.create().spawn();
    const ro = p.mmap(null, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const none = p.mmap(null, PG, 0, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(copyToUser(p.mm, ro.addr, new Uint8Array(4))).toBe(4);
    expect(copyFromUser(p.mm, new Uint8Array(4), ro.addr)).toBe(0);
    expect(copyFromUser(p.mm, new Uint8Array(4), none.addr)).toBe(4);
    expect(copyToUser(p.mm, 0, new Uint8Array(1))).toBe(1);
  });

  it('access_ok: addr + size must not wrap and must stay at or below USER_PTR_MAX = 0x7ffffffff000', () => {
    expect(accessOk(0x7ffffffff000n - 8n, 8n)).toBe(true);
    expect(accessOk(0x7ffffffff000n - 8n, 9n)).toBe(false);
    expect(accessOk(0n, 0x7ffffffff000n)).toBe(true);
    expect(accessOk(8n, 0xfffffffffffffff8n)).toBe(false); // wraps to 0
    expect(accessOk(0xffff800000000000n, 0n)).toBe(false);
  });
});
