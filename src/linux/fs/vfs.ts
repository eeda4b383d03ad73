// The VFS (fs/namei.c, fs/open.c, fs/kernfs): one tree of inodes for /dev, /sys and /proc. Directories
// may be dynamic (their entries computed on lookup, e.g. /dev/vfio/<group> exists only while a device of
// the group is bound to vfio-pci); attribute files are sysfs/procfs style (show on read, store on write);
// symlinks are followed like namei does (40 hops at most, then ELOOP). Which filesystem a directory is
// on follows from its path (devtmpfs on /dev, sysfs on /sys, proc on /proc, a rootfs at /): that decides
// what open(O_CREAT) of a missing name does there (only devtmpfs and rootfs create: shmem files).
// Walking a path needs search permission on every directory a name is looked up in (may_lookup():
// EACCES); an inode's owner and mode change with chown/chmod (src/linux/fs/attr.ts), and last as long
// as the node object does: nodes a dynamic directory computes on each lookup start afresh, as procfs's
// /proc/<pid> entries do when pid_revalidate() resets them to the task's owner.
// A relative path starts where path_init() starts it: at the process's working directory (AT_FDCWD) or
// at an *at() call's directory fd, given as a Start; only the directories walked from there are
// searched (may_lookup()), not the start's ancestors, which a later `..` climbs back through.

import { kerr } from '../errors.js';
import type { FileContext, KFile } from './file.js';
import type { ShmemInode } from './shmem.js';
import { MAY_EXEC, NAME_MAX, checkNameLength, inodePermission, modeText, type InodeAttrs } from './namei.js';

/** An inode's permission bits (0o644...), owner and group, which chown and chmod change. */
export interface NodeBase extends Omit<InodeAttrs, 'type'> {}

export interface DirNode extends NodeBase {
  readonly type: 'dir';
  list(ctx: FileContext): string[];
  lookup(name: string, ctx: FileContext): Inode | undefined;
}

export interface CharDevNode extends NodeBase {
  readonly type: 'chr';
  /** i_rdev: the device number (MKDEV(major, minor), src/linux/fs/char-dev.ts) that stat reports. */
  readonly rdev: number;
  open(ctx: FileContext, flags: number, path: string): KFile;
}

/**
 * A sysfs/procfs attribute: `show` renders the content at read, `store` takes each write and may return
 * how many bytes it consumed (proc_sysctl handlers can take less than the whole write); else all.
 */
export interface AttrNode extends NodeBase {
  readonly type: 'attr';
  readonly kind: 'sysfs' | 'procfs';
  show?(ctx: FileContext): string | Uint8Array;
  store?(ctx: FileContext, data: string): number | void;
}

export interface LinkNode extends NodeBase {
  readonly type: 'link';
  target(ctx: FileContext): string;
  /**
   * A procfs magic link (/proc/<pid>/fd/<n>, proc_fd_link()): following it reaches this open file's
   * inode (nd_jump_link()), an anonymous one included, whatever its target text says. Only stat
   * follows it that way (as the last component); other walks read the target as a path.
   */
  file?: KFile;
}

/** A regular file made by open(O_CREAT) or O_TMPFILE (src/linux/fs/shmem.ts). */
export type Inode = DirNode | CharDevNode | AttrNode | LinkNode | ShmemInode;

/** Entries computed on lookup, alongside a static directory's own (e.g. /proc/<pid>). */
export interface DynamicEntries {
  list(ctx: FileContext): string[];
  lookup(name: string, ctx: FileContext): Inode | undefined;
}

/** A directory whose entries are added and removed by kernel code (plus optional dynamic ones). */
export class StaticDir implements DirNode {
  readonly type = 'dir' as const;
  private readonly children = new Map<string, Inode>();
  dynamic: DynamicEntries | undefined;

  constructor(
    public mode = 0o755,
    public uid = 0,
    public gid = 0,
  ) {}

  list(ctx: FileContext): string[] {
    const own = new Set(this.children.keys());
    // A created file may hold a name that dynamic entries would also list (the child shadows them).
    if (this.dynamic) for (const n of this.dynamic.list(ctx)) own.add(n);
    return [...own].sort();
  }

  lookup(name: string, ctx: FileContext): Inode | undefined {
    return this.children.get(name) ?? this.dynamic?.lookup(name, ctx);
  }

  add(name: string, node: Inode): Inode {
    if (this.children.has(name)) throw new Error(`vfs: ${name} already exists`);
    this.children.set(name, node);
    return node;
  }

  set(name: string, node: Inode): void {
    this.children.set(name, node);
  }

  remove(name: string): void {
    this.children.delete(name);
  }

  has(name: string): boolean {
    return this.children.has(name);
  }

  /** The sub-directory `name`, created if missing. */
  dir(name: string): StaticDir {
    const n = this.children.get(name);
    if (n) {
      if (!(n instanceof StaticDir)) throw new Error(`vfs: ${name} is not a static directory`);
      return n;
    }
    const d = new StaticDir();
    this.children.set(name, d);
    return d;
  }
}

/** A directory computed on every lookup. */
export function dynamicDir(
  list: (ctx: FileContext) => string[],
  lookup: (name: string, ctx: FileContext) => Inode | undefined,
  mode = 0o755,
): DirNode {
  return { type: 'dir', mode, uid: 0, gid: 0, list, lookup };
}

export function symlink(target: string | ((ctx: FileContext) => string)): LinkNode {
  return { type: 'link', mode: 0o777, uid: 0, gid: 0, target: typeof target === 'string' ? () => target : target };
}

export function attr(
  kind: 'sysfs' | 'procfs',
  show: ((ctx: FileContext) => string | Uint8Array) | undefined,
  store?: (ctx: FileContext, data: string) => number | void,
  mode?: number,
): AttrNode {
  const m = mode ?? ((show ? 0o444 : 0) | (store ? 0o200 : 0));
  const node: AttrNode = { type: 'attr', kind, mode: m, uid: 0, gid: 0 };
  if (show) node.show = show;
  if (store) node.store = store;
  return node;
}

/** A device node; `rdev` is its number (a device made by a test without one reads 0:0, as an unnamed device). */
export function chardev(open: (ctx: FileContext, flags: number, path: string) => KFile, mode = 0o600, uid = 0, gid = 0, rdev = 0): CharDevNode {
  return { type: 'chr', mode, uid, gid, rdev, open };
}

const MAX_SYMLINKS = 40;

/** Where a relative path walk begins (current->fs->pwd, or a dirfd's f_path): a directory and its resolved path. */
export interface Start {
  readonly node: Inode;
  readonly path: string;
}

export interface Resolved {
  readonly node: Inode;
  /** The path with every symlink resolved. */
  readonly path: string;
}

/** An O_CREAT lookup whose last name does not exist: where it would be created. */
export interface Missing {
  readonly node: undefined;
  readonly dir: DirNode;
  /** The directory's path with every symlink resolved. */
  readonly dirPath: string;
  readonly name: string;
  /** dirPath/name. */
  readonly path: string;
}

/** What open() needs to know of the filesystem a directory is on (its inode_operations). */
export interface FsType {
  readonly name: 'rootfs' | 'devtmpfs' | 'sysfs' | 'proc';
  /** ->create and ->tmpfile: shmem has them; kernfs (sysfs) and procfs directories have neither. */
  readonly creates: boolean;
  /**
   * ->lookup of a missing name fails with ENOENT (procfs: proc_root_lookup(), proc_pident_lookup(),
   * proc_lookupfd_common()) where other filesystems give a negative dentry; so O_CREAT there is ENOENT
   * whatever lookup_open() found about permissions.
   */
  readonly lookupFails: boolean;
  /** shmem's simple_lookup(): a name longer than NAME_MAX is ENAMETOOLONG (kernfs and procfs miss it: ENOENT). */
  readonly shmem: boolean;
}

/**
 * The mounts of the model: devtmpfs (shmem) on /dev, sysfs on /sys, proc on /proc. The root is a
 * rootfs that can create files, as every real root filesystem (tmpfs, ext4...) can.
 */
const ROOTFS: FsType = { name: 'rootfs', creates: true, lookupFails: false, shmem: true };
const MOUNTS: ReadonlyArray<readonly [string, FsType]> = [
  ['/dev', { name: 'devtmpfs', creates: true, lookupFails: false, shmem: true }],
  ['/sys', { name: 'sysfs', creates: false, lookupFails: false, shmem: false }],
  ['/proc', { name: 'proc', creates: false, lookupFails: true, shmem: false }],
];

export class Vfs {
  readonly root = new StaticDir();

  constructor() {
    // The roots of procfs (proc_root) and sysfs (the kernfs root) are 0555; devtmpfs's is 0755.
    this.root.dir('proc').mode = 0o555;
    this.root.dir('sys').mode = 0o555;
  }

  /** The directory at an absolute path made of static directories, created as needed. */
  mkdirp(path: string): StaticDir {
    let d = this.root;
    for (const part of path.split('/').filter(Boolean)) d = d.dir(part);
    return d;
  }

  /**
   * path_lookupat(): resolves an absolute path; `followLast` = false leaves a final symlink unresolved.
   * As link_path_walk() does, every component before the last must be a directory (ENOTDIR), `.` and
   * `..` included; as lookup_last() does, a trailing slash after the last name follows a final symlink
   * whatever `followLast` says, and the result must be a directory (LOOKUP_DIRECTORY: ENOTDIR).
   */
  resolve(path: string, ctx: FileContext, followLast = true, start?: Start, search = true): Resolved {
    return this.lookup(path, ctx, followLast, false, start, search) as Resolved;
  }

  /**
   * The lookup of open(O_CREAT) (open_last_lookups()): a missing last name (in an existing directory)
   * is returned as a Missing, and a trailing slash after the last name is EISDIR before any lookup.
   */
  lookupCreate(path: string, ctx: FileContext, followLast: boolean, start?: Start): Resolved | Missing {
    return this.lookup(path, ctx, followLast, true, start);
  }

  /** The filesystem that a directory at this resolved path is on. */
  fsOf(dirPath: string): FsType {
    for (const [at, fs] of MOUNTS) if (dirPath === at || dirPath.startsWith(at + '/')) return fs;
    return ROOTFS;
  }

  /** ->create: a new name in a directory of a filesystem that creates files. */
  create(where: Missing, inode: ShmemInode): void {
    if (!(where.dir instanceof StaticDir) || !this.fsOf(where.dirPath).creates) throw new Error(`vfs: ${where.dirPath} cannot hold created files`);
    where.dir.add(where.name, inode);
  }

  /** `search` = false skips may_lookup() (a process's starting directory, set up by whoever started it). */
  private lookup(path: string, ctx: FileContext, followLast: boolean, create: boolean, start?: Start, search = true): Resolved | Missing {
    const absolute = path.startsWith('/');
    if (!absolute && start === undefined) throw new Error(`vfs: the relative path ${path} needs a start directory`);
    let hops = 0;
    let parts = path.split('/').filter(Boolean);
    // Whether the string being walked (the path, or the body of the symlink last followed) ends in '/'.
    let slash = path.endsWith('/');
    let mustBeDir = false;
    // path_init(): the root for an absolute path, else the start as it is (no check of its ancestors).
    let stack: string[] = absolute ? [] : start!.path.split('/').filter(Boolean);
    let node: Inode = absolute ? this.root : start!.node;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      if (node.type !== 'dir') throw kerr('ENOTDIR', `/${stack.join('/')} is not a directory`);
      // may_lookup(): search permission on the directory, before any name in it (. and .. too).
      if (search && !inodePermission(ctx.proc, node, MAY_EXEC)) {
        throw kerr('EACCES', `search permission on /${stack.join('/')} (mode ${modeText(node)}) is denied to uid ${ctx.proc.uid}, so ${path} cannot be reached`);
      }
      if (name === '.') continue;
      if (name === '..') {
        stack.pop();
        node = this.walk(stack, ctx);
        continue;
      }
      const last = i === parts.length - 1;
      const trailing = last && slash;
      if (trailing) {
        if (create) throw kerr('EISDIR', `${path}: O_CREAT on a name followed by '/' (only a directory could match, and O_CREAT makes files)`);
        mustBeDir = true;
      }
      // shmem (rootfs, devtmpfs) looks names up with simple_lookup(); kernfs and procfs just miss them.
      if (name.length > NAME_MAX / 3 && this.fsOf('/' + stack.join('/')).shmem) checkNameLength(name);
      const child = node.lookup(name, ctx);
      if (!child) {
        if (last && create) {
          const dirPath = '/' + stack.join('/');
          return { node: undefined, dir: node, dirPath, name, path: dirPath === '/' ? `/${name}` : `${dirPath}/${name}` };
        }
        throw kerr('ENOENT', `/${[...stack, name].join('/')} does not exist`);
      }
      if (child.type === 'link' && (!last || followLast || trailing)) {
        if (++hops > MAX_SYMLINKS) throw kerr('ELOOP', `too many levels of symbolic links resolving ${path}`);
        const target = child.target(ctx);
        const rest = parts.slice(i + 1);
        // A magic link jumps to the open file itself (nd_jump_link()): with names or a '/' after it, that
        // inode must be a directory, whatever the link's text reads (anon_inode:[eventfd] is no path).
        if (child.file && (rest.length > 0 || trailing) && child.file.fInode?.type !== 'dir') {
          throw kerr('ENOTDIR', `/${[...stack, name].join('/')} leads to ${child.file.path}, which is not a directory`);
        }
        if (rest.length === 0) slash = target.endsWith('/');
        if (target.startsWith('/')) stack = [];
        parts = [...target.split('/').filter(Boolean), ...rest];
        node = this.walk(stack, ctx);
        i = -1;
        continue;
      }
      stack.push(name);
      node = child;
    }
    const real = '/' + stack.join('/');
    if (mustBeDir && node.type !== 'dir') throw kerr('ENOTDIR', `${real} is not a directory (the path ends in '/')`);
    return { node, path: real };
  }

  private walk(stack: readonly string[], ctx: FileContext): Inode {
    let node: Inode = this.root;
    for (const name of stack) {
      if (node.type !== 'dir') throw kerr('ENOTDIR', `/${stack.join('/')} is not a directory`);
      const c: Inode | undefined = node.lookup(name, ctx);
      if (!c) throw kerr('ENOENT', `/${stack.join('/')} does not exist`);
      node = c;
    }
    return node;
  }
}
