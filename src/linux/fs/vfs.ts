// The VFS (fs/namei.c, fs/open.c, fs/kernfs): one tree of inodes for /dev, /sys and /proc. Directories
// may be dynamic (their entries computed on lookup, e.g. /dev/vfio/<group> exists only while a device of
// the group is bound to vfio-pci); attribute files are sysfs/procfs style (show on read, store on write);
// symlinks are followed like namei does (40 hops at most, then ELOOP).

import { kerr } from '../errors.js';
import type { FileContext, KFile } from './file.js';

export interface NodeBase {
  /** Permission bits (0o644...). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export interface DirNode extends NodeBase {
  readonly type: 'dir';
  list(ctx: FileContext): string[];
  lookup(name: string, ctx: FileContext): Inode | undefined;
}

export interface CharDevNode extends NodeBase {
  readonly type: 'chr';
  open(ctx: FileContext, flags: number, path: string): KFile;
}

/** A sysfs/procfs attribute: `show` renders the content at read, `store` takes each write. */
export interface AttrNode extends NodeBase {
  readonly type: 'attr';
  readonly kind: 'sysfs' | 'procfs';
  show?(ctx: FileContext): string | Uint8Array;
  store?(ctx: FileContext, data: string): void;
}

export interface LinkNode extends NodeBase {
  readonly type: 'link';
  target(ctx: FileContext): string;
}

export type Inode = DirNode | CharDevNode | AttrNode | LinkNode;

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
    readonly mode = 0o755,
    readonly uid = 0,
    readonly gid = 0,
  ) {}

  list(ctx: FileContext): string[] {
    const own = [...this.children.keys()];
    if (this.dynamic) own.push(...this.dynamic.list(ctx));
    return own.sort();
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
  store?: (ctx: FileContext, data: string) => void,
  mode?: number,
): AttrNode {
  const m = mode ?? ((show ? 0o444 : 0) | (store ? 0o200 : 0));
  const node: AttrNode = { type: 'attr', kind, mode: m, uid: 0, gid: 0 };
  if (show) node.show = show;
  if (store) node.store = store;
  return node;
}

export function chardev(open: (ctx: FileContext, flags: number, path: string) => KFile, mode = 0o600, uid = 0, gid = 0): CharDevNode {
  return { type: 'chr', mode, uid, gid, open };
}

const MAX_SYMLINKS = 40;

export interface Resolved {
  readonly node: Inode;
  /** The path with every symlink resolved. */
  readonly path: string;
}

export class Vfs {
  readonly root = new StaticDir();

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
  resolve(path: string, ctx: FileContext, followLast = true): Resolved {
    if (!path.startsWith('/')) throw kerr('ENOENT', `${path}: only absolute paths exist in this model (no working directory)`);
    let hops = 0;
    let parts = path.split('/').filter(Boolean);
    // Whether the string being walked (the path, or the body of the symlink last followed) ends in '/'.
    let slash = path.endsWith('/');
    let mustBeDir = false;
    let stack: string[] = [];
    let node: Inode = this.root;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      if (node.type !== 'dir') throw kerr('ENOTDIR', `/${stack.join('/')} is not a directory`);
      if (name === '.') continue;
      if (name === '..') {
        stack.pop();
        node = this.walk(stack, ctx);
        continue;
      }
      const last = i === parts.length - 1;
      const trailing = last && slash;
      if (trailing) mustBeDir = true;
      const child = node.lookup(name, ctx);
      if (!child) throw kerr('ENOENT', `/${[...stack, name].join('/')} does not exist`);
      if (child.type === 'link' && (!last || followLast || trailing)) {
        if (++hops > MAX_SYMLINKS) throw kerr('ELOOP', `too many levels of symbolic links resolving ${path}`);
        const target = child.target(ctx);
        const rest = parts.slice(i + 1);
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
