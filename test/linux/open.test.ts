// open(2)'s path walk and creation rules (fs/open.c build_open_flags(), fs/namei.c path_openat(),
// link_path_walk(), lookup_last(), open_last_lookups(), lookup_open(), do_open(), may_open()).
// Every failing case asserts the errno and that nothing changed: no fd installed, no driver open, no
// name added to the directory. The errnos were measured on this machine (Linux 6.18, as root and as
// uid 65534, with a C program calling open(2) on /dev (devtmpfs), /sys (sysfs) and /proc (procfs)).
import { describe, expect, it } from 'vitest';
import { Host, SyscallError } from '../../src/index.js';
import type { Process } from '../../src/linux/process.js';
import { chardev, type CharDevNode } from '../../src/linux/fs/vfs.js';
import { O_DIRECTORY, O_NOFOLLOW, O_PATH, O_RDONLY } from '../../include-ts/linux/fcntl.js';

interface World {
  readonly host: Host;
  /** Driver opens of /dev/null and /dev/kvm (f_op->open calls). */
  readonly opens: Record<string, number>;
}

/** A host whose /dev/null and /dev/kvm count their driver opens. */
function world(): World {
  const host = Host.create();
  const opens: Record<string, number> = { null: 0, kvm: 0 };
  const dev = host.kernel.vfs.mkdirp('/dev');
  const ctx = host.spawn({ stdio: false }).context;
  for (const name of ['null', 'kvm']) {
    const node = dev.lookup(name, ctx) as CharDevNode;
    dev.set(name, chardev((c, f, p) => (opens[name]!++, node.open(c, f, p)), node.mode, node.uid, node.gid));
  }
  return { host, opens };
}

/** What a failed open must leave as it was. */
function state(w: World, p: Process): unknown {
  return { fds: p.readdir('/proc/self/fd'), root: p.readdir('/'), dev: p.readdir('/dev'), vfio: p.readdir('/dev/vfio'), opens: { ...w.opens } };
}

/** open() fails with `code` and changes nothing. */
function refuses(w: World, p: Process, path: string, flags: number, code: string, mode = 0o644): SyscallError {
  const before = state(w, p);
  let e: unknown;
  try {
    p.open(path, flags, mode);
  } catch (x) {
    e = x;
  }
  if (!(e instanceof SyscallError)) throw new Error(`open("${path}", 0${flags.toString(8)}) did not fail`);
  expect(e.code, `open("${path}", 0${flags.toString(8)}): ${e.message}`).toBe(code);
  expect(state(w, p), `open("${path}") changed state`).toEqual(before);
  return e;
}

describe('open(): the path walk (link_path_walk, lookup_last)', () => {
  // link_path_walk(): every component before the last must be a directory, '.' and '..' included
  // (`if (unlikely(!d_can_lookup(nd->path.dentry))) return -ENOTDIR`). Measured: ENOTDIR for both.
  it("'.' or '..' after a file is ENOTDIR (link_path_walk)", () => {
    const w = world();
    const p = w.host.spawn();
    refuses(w, p, '/dev/null/.', O_RDONLY, 'ENOTDIR');
    refuses(w, p, '/dev/null/..', O_RDONLY, 'ENOTDIR');
    refuses(w, p, '/dev/kvm/../null', O_RDONLY, 'ENOTDIR');
  });

  // lookup_last() / open_last_lookups(): a trailing slash after the last name sets LOOKUP_FOLLOW |
  // LOOKUP_DIRECTORY, so the result must be a directory (ENOTDIR, O_NOFOLLOW or not) and a final
  // symlink is followed even with O_NOFOLLOW. Measured: "/dev/null/" ENOTDIR with and without
  // O_NOFOLLOW; "/proc/self/" with O_NOFOLLOW opens the process's directory.
  it('a trailing slash: ENOTDIR on a file, and a final symlink is followed despite O_NOFOLLOW (lookup_last)', () => {
    const w = world();
    const p = w.host.spawn();
    refuses(w, p, '/dev/null/', O_RDONLY, 'ENOTDIR');
    refuses(w, p, '/dev/null/', O_RDONLY | O_NOFOLLOW, 'ENOTDIR');
    refuses(w, p, '/dev/null//', O_PATH, 'ENOTDIR');
    const fd = p.open('/proc/self/', O_RDONLY | O_NOFOLLOW);
    expect(p.readlink(`/proc/self/fd/${fd}`)).toBe(`/proc/${p.pid}`);
    expect(p.readdir('/proc/self/')).toContain('fd');
  });

  // do_open(): `if ((nd->flags & LOOKUP_DIRECTORY) && !d_can_lookup(nd->path.dentry)) return -ENOTDIR;`
  // comes before may_open(), whose S_IFLNK case is ELOOP. Measured: open("/proc/self",
  // O_NOFOLLOW|O_DIRECTORY) is ENOTDIR.
  it('O_DIRECTORY|O_NOFOLLOW on a symlink is ENOTDIR, not ELOOP (do_open checks LOOKUP_DIRECTORY before may_open)', () => {
    const w = world();
    const p = w.host.spawn();
    refuses(w, p, '/proc/self', O_RDONLY | O_NOFOLLOW | O_DIRECTORY, 'ENOTDIR');
    refuses(w, p, '/proc/self', O_RDONLY | O_NOFOLLOW, 'ELOOP');
  });
});
