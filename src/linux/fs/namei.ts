// fs/namei.c: permission checks. generic_permission() = acl_permission_check() (the owner's bits if
// the fsuid owns the inode, else the group's if the fsgid or a supplementary group is the inode's
// group, else the others'; no POSIX ACLs in the model) and then the capability overrides: on a
// directory CAP_DAC_READ_SEARCH allows anything but writing and CAP_DAC_OVERRIDE everything; on other
// files CAP_DAC_READ_SEARCH allows reading, CAP_DAC_OVERRIDE reading and writing, and executing only
// when some execute bit is set. inode_permission() uses the inode's own ->permission when it has one
// (procfs's /proc/<pid>/fd). may_lookup(): search (MAY_EXEC) on every directory a path walk looks a
// name up in. Denials are EACCES. getname_flags()'s PATH_MAX rule (checkPathLength).

import { kerr } from '../errors.js';
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER } from '../../../include-ts/linux/capability.js';
import { inGroup, type Cred } from '../cred.js';
import type { IAttr } from './attr.js';

/** include/uapi/linux/limits.h: PATH_MAX, a path's bytes with its NUL; NAME_MAX, a name's bytes. */
export const PATH_MAX = 4096;
export const NAME_MAX = 255;

/** The UTF-8 length of a name or path above `limit` bytes (each UTF-16 unit is at most 3 bytes). */
function longerThan(s: string, limit: number): number {
  if (s.length * 3 <= limit) return 0;
  const n = new TextEncoder().encode(s).length;
  return n > limit ? n : 0;
}

/** simple_lookup() (fs/libfs.c, shmem's ->lookup): a name longer than NAME_MAX is ENAMETOOLONG. */
export function checkNameLength(name: string): void {
  const n = longerThan(name, NAME_MAX);
  if (n) throw kerr('ENAMETOOLONG', `a ${n}-byte name is longer than NAME_MAX (${NAME_MAX})`);
}

/**
 * getname_flags()'s length rule: strncpy_from_user(kname, filename, PATH_MAX) that finds no NUL within
 * PATH_MAX bytes is ENAMETOOLONG, so a path may have at most 4095 bytes (UTF-8).
 */
export function checkPathLength(path: string): void {
  const n = longerThan(path, PATH_MAX - 1);
  if (n) throw kerr('ENAMETOOLONG', `the path is ${n} bytes long; PATH_MAX (${PATH_MAX}) counts its NUL too`);
}

/** include/linux/fs.h */
export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;

/** What permission checks read of an inode: its type, i_mode's permission bits, owner and group. */
export interface InodeAttrs {
  readonly type: string;
  /** Permission bits (S_IALLUGO: 0o7777), set-id and sticky bits included. */
  mode: number;
  uid: number;
  gid: number;
  /** i_op->permission when it is not generic_permission(). */
  permission?(cred: Cred, mask: number): boolean;
  /** i_op->setattr when it is more than setattr_prepare() + setattr_copy() (procfs's proc_setattr). */
  setattr?(cred: Cred, attr: IAttr, path: string): void;
}

/** acl_permission_check() without ACLs: the owner's, the group's or the others' bits. */
function aclPermissionCheck(cred: Cred, inode: InodeAttrs, mask: number): boolean {
  let mode = inode.mode;
  mask &= 7;
  if (inode.uid === cred.uid) mode >>= 6;
  // Only when the group's bits differ from the others' in what is asked does group membership matter.
  else if (mask & (mode ^ (mode >> 3)) && inGroup(cred, inode.gid)) mode >>= 3;
  return (mask & ~mode) === 0;
}

/** generic_permission(): the mode bits, then the DAC capability overrides. */
export function genericPermission(cred: Cred, inode: InodeAttrs, mask: number): boolean {
  if (aclPermissionCheck(cred, inode, mask)) return true;
  if (inode.type === 'dir') {
    if (!(mask & MAY_WRITE) && cred.capable(CAP_DAC_READ_SEARCH)) return true;
    return cred.capable(CAP_DAC_OVERRIDE);
  }
  mask &= MAY_READ | MAY_WRITE | MAY_EXEC;
  if (mask === MAY_READ && cred.capable(CAP_DAC_READ_SEARCH)) return true;
  if (!(mask & MAY_EXEC) || inode.mode & 0o111) return cred.capable(CAP_DAC_OVERRIDE);
  return false;
}

/** inode_permission(): the inode's ->permission, or generic_permission(). */
export function inodePermission(cred: Cred, inode: InodeAttrs, mask: number): boolean {
  return inode.permission ? inode.permission(cred, mask) : genericPermission(cred, inode, mask);
}

/** inode_owner_or_capable(): the fsuid owns the inode, or has CAP_FOWNER. */
export function ownerOrCapable(cred: Cred, inode: InodeAttrs): boolean {
  return cred.uid === inode.uid || cred.capable(CAP_FOWNER);
}

/** `0660 owned by 0:36`, for EACCES and EPERM reasons. */
export function modeText(inode: InodeAttrs): string {
  return `${inode.mode.toString(8).padStart(4, '0')} owned by ${inode.uid}:${inode.gid}`;
}
