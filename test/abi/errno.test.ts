// The errno table against the machine's C library: every number, name and strerror() message.
import { describe, expect, it } from 'vitest';
import { ERRNO_TABLE, errnoAliases, errnoOf } from '../../abi/errno.js';
import { compileAndRun, gccAvailable } from '../../abi/cprobe.js';

describe('errno table (Linux x86-64)', () => {
  const haveGcc = gccAvailable();
  it.runIf(haveGcc)('matches <errno.h> and strerror() for every entry', () => {
    const names = [...ERRNO_TABLE.map((e) => e.code), ...Object.keys(errnoAliases)];
    const src = ['#include <stdio.h>', '#include <string.h>', '#include <errno.h>', 'int main(void){',
      ...names.map((n) => `printf("%s\\t%d\\t%s\\n", "${n}", ${n}, strerror(${n}));`), 'return 0;}'].join('\n');
    const rows = compileAndRun(src).trim().split('\n').map((l) => l.split('\t'));
    expect(rows.length).toBe(names.length);
    for (const [name, num, msg] of rows) {
      const ours = ERRNO_TABLE.find((e) => e.errno === Number(num))!;
      expect(errnoOf(name!), name).toBe(Number(num));
      expect(ours.message, name).toBe(msg);
    }
    console.log(`errno table: ${rows.length} names compared with <errno.h>/strerror()`);
  });
  if (!haveGcc) it('gcc is missing: errno table check skipped', () => expect(haveGcc).toBe(false));
});
