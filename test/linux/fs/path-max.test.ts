// PATH_MAX in the path syscalls (fs/namei.c getname_flags: a path of 4096 bytes or more is ENAMETOOLONG;
// fs/open.c do_sys_openat2: after build_open_flags()'s EINVAL, before the fd and the walk). The open,
// opendir (readdir), readlink, chmod, chown and lchown calls of path-max-oracle.c run on this machine and
// on the model, and every line must match.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host, SyscallError } from '../../../src/index.js';
import { O_CREAT, O_DIRECTORY, O_RDONLY, O_TMPFILE } from '../../../include-ts/linux/fcntl.js';
import { oracleSkip, runCOracle } from '../../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = oracleSkip('PATH_MAX');

function modelLines(): string[] {
  const p = Host.create().spawn();
  const long = `/${'a'.repeat(4990)}`;
  const slashes = '/'.repeat(4096);
  const out: string[] = [];
  const res = (what: string, f: () => unknown) => {
    try {
      f();
      out.push(`${what}: ok`);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      out.push(`${what}: E${e.errno}`);
    }
  };
  res('open long', () => p.open(long, O_RDONLY));
  res('open slashes 4096', () => p.open(slashes, O_RDONLY));
  res('open slashes 4095', () => p.open(slashes.slice(1), O_RDONLY));
  res('open long O_CREAT|O_DIRECTORY', () => p.open(long, O_CREAT | O_DIRECTORY, 0o600));
  res('open long O_TMPFILE rdonly', () => p.open(long, O_TMPFILE | O_RDONLY));
  res('readlink long', () => p.readlink(long));
  res('chmod long', () => p.chmod(long, 0o600));
  res('chown long', () => p.chown(long, 0, 0));
  res('lchown long', () => p.lchown(long, 0, 0));
  res('opendir long', () => p.readdir(long));
  return out;
}

describe('PATH_MAX (getname_flags) in the path syscalls', () => {
  it.skipIf(SKIP !== undefined)('every line of path-max-oracle.c matches the model', () => {
    expect(modelLines()).toEqual(runCOracle(join(here, 'path-max-oracle.c')));
  });
  it('the flag checks come first, then ENAMETOOLONG (36), whatever the path names', () => {
    const lines = modelLines();
    expect(lines).toContain('open long: E36');
    expect(lines).toContain('open long O_CREAT|O_DIRECTORY: E22');
    expect(lines).toContain('open slashes 4095: ok');
  });
});
