// fs/attr.c, fs/open.c, fs/inode.c: changing an inode's owner and mode. chown_common() and
// chmod_common() build the struct iattr; notify_change() turns ATTR_KILL_SUID/ATTR_KILL_SGID into a
// mode change (chown of a non-directory drops S_ISUID whoever does it, and S_ISGID when group-execute
// is set or the caller may not keep it); setattr_prepare() checks: chown_ok() (CAP_CHOWN, or the owner
// "changing" to its own uid), chgrp_ok() (CAP_CHOWN, or the owner choosing its own group or one it is
// in), a mode change needs the owner or CAP_FOWNER and loses S_ISGID unless the caller is in the
// (new) group or has CAP_FSETID; setattr_copy() stores. Every filesystem of the model does just that
// (shmem_setattr, kernfs_iop_setattr, proc_notify_change, simple_setattr), except proc_setattr on
// /proc/<pid> entries (a node's own `setattr`). inode_init_owner() and mode_strip_sgid() give created
// files their owner and group.

import { kerr } from '../errors.js';
import { CAP_CHOWN, CAP_FSETID } from '../../../include-ts/linux/capability.js';
import { inGroup, type Cred } from '../cred.js';
import { modeText, ownerOrCapable, type InodeAttrs } from './namei.js';

/** include/linux/fs.h ia_valid bits (the ones the model uses). */
export const ATTR_MODE = 1 << 0;
export const ATTR_UID = 1 << 1;
export const ATTR_GID = 1 << 2;
export const ATTR_KILL_SUID = 1 << 11;
export const ATTR_KILL_SGID = 1 << 12;

export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
const S_IXGRP = 0o010;
/** S_IALLUGO: the bits chmod sets. */
export const S_IALLUGO = 0o7777;

/** struct iattr: what to change. */
export interface IAttr {
  valid: number;
  mode: number;
  uid: number;
  gid: number;
}

/** (uid_t)-1 and (gid_t)-1: "leave unchanged". */
export const NO_ID = 0xffffffff;

/** in_group_or_capable(): may keep S_ISGID with group `gid`. */
function inGroupOrCapable(cred: Cred, gid: number): boolean {
  return inGroup(cred, gid) || cred.capable(CAP_FSETID);
}

/** setattr_should_drop_sgid(): S_ISGID goes if group-execute is set, or if the caller may not keep it. */
function shouldDropSgid(cred: Cred, inode: InodeAttrs): number {
  if (!(inode.mode & S_ISGID)) return 0;
  if (inode.mode & S_IXGRP) return ATTR_KILL_SGID;
  return inGroupOrCapable(cred, inode.gid) ? 0 : ATTR_KILL_SGID;
}

/** chown_common(): the iattr of chown(uid, gid); -1 leaves that id as it is. */
export function chownAttr(cred: Cred, inode: InodeAttrs, uid: number, gid: number): IAttr {
  let valid = 0;
  if (uid !== NO_ID) valid |= ATTR_UID;
  if (gid !== NO_ID) valid |= ATTR_GID;
  if (inode.type !== 'dir') valid |= ATTR_KILL_SUID | shouldDropSgid(cred, inode);
  return { valid, mode: 0, uid, gid };
}

/** chmod_common(): the iattr of chmod(mode). */
export function chmodAttr(mode: number): IAttr {
  return { valid: ATTR_MODE, mode: mode & S_IALLUGO, uid: 0, gid: 0 };
}

/**
 * notify_change(): the kill-S*ID bits become a mode change, then the inode's ->setattr (or the
 * generic one) checks and stores. Throws before changing anything when the change is refused.
 */
export function notifyChange(cred: Cred, inode: InodeAttrs, attr: IAttr, path: string): void {
  if (attr.valid & ATTR_MODE && inode.type === 'link') throw kerr('EOPNOTSUPP', `${path} is a symbolic link, whose mode cannot change`);
  if (attr.valid & ATTR_KILL_SUID && inode.mode & S_ISUID) {
    attr.valid |= ATTR_MODE;
    attr.mode = inode.mode & ~S_ISUID;
  }
  if (attr.valid & ATTR_KILL_SGID && inode.mode & S_ISGID) {
    if (!(attr.valid & ATTR_MODE)) {
      attr.valid |= ATTR_MODE;
      attr.mode = inode.mode;
    }
    attr.mode &= ~S_ISGID;
  }
  if (inode.setattr) inode.setattr(cred, attr, path);
  else simpleSetattr(cred, inode, attr, path);
}

/** simple_setattr() (and shmem_setattr, kernfs_iop_setattr, proc_notify_change): prepare, then copy. */
export function simpleSetattr(cred: Cred, inode: InodeAttrs, attr: IAttr, path: string): void {
  setattrPrepare(cred, inode, attr, path);
  setattrCopy(cred, inode, attr);
}

/** setattr_prepare(): EPERM unless the caller may make each change; may drop S_ISGID from the new mode. */
export function setattrPrepare(cred: Cred, inode: InodeAttrs, attr: IAttr, path: string): void {
  const owner = cred.uid === inode.uid;
  // chown_ok()
  if (attr.valid & ATTR_UID && !(owner && attr.uid === inode.uid) && !cred.capable(CAP_CHOWN)) {
    throw kerr('EPERM', `changing the owner of ${path} (${modeText(inode)}) to ${attr.uid} needs CAP_CHOWN; uid ${cred.uid} has not`);
  }
  // chgrp_ok()
  if (attr.valid & ATTR_GID && !(owner && (attr.gid === inode.gid || inGroup(cred, attr.gid))) && !cred.capable(CAP_CHOWN)) {
    throw kerr('EPERM', owner
      ? `uid ${cred.uid} owns ${path} but is not in group ${attr.gid}, and has not CAP_CHOWN`
      : `changing the group of ${path} (${modeText(inode)}) needs its owner or CAP_CHOWN; uid ${cred.uid} is neither`);
  }
  if (attr.valid & ATTR_MODE) {
    if (!ownerOrCapable(cred, inode)) {
      throw kerr('EPERM', `changing the mode of ${path} (${modeText(inode)}) needs its owner or CAP_FOWNER; uid ${cred.uid} is neither`);
    }
    if (!inGroupOrCapable(cred, attr.valid & ATTR_GID ? attr.gid : inode.gid)) attr.mode &= ~S_ISGID;
  }
}

/** setattr_copy(): owner, group, then the mode (without S_ISGID if the caller may not keep it). */
export function setattrCopy(cred: Cred, inode: InodeAttrs, attr: IAttr): void {
  if (attr.valid & ATTR_UID) inode.uid = attr.uid;
  if (attr.valid & ATTR_GID) inode.gid = attr.gid;
  if (attr.valid & ATTR_MODE) inode.mode = inGroupOrCapable(cred, inode.gid) ? attr.mode : attr.mode & ~S_ISGID;
}

/**
 * vfs_prepare_mode() and inode_init_owner() for a regular file created in `dir`: the creator's fsuid;
 * the directory's group if it is set-group-ID, else the creator's fsgid; S_ISGID on a group-executable
 * file dropped in a set-group-ID directory whose group the creator is not in (without CAP_FSETID)
 * (mode_strip_sgid()); then the umask.
 */
export function createdOwner(cred: Cred, dir: InodeAttrs, mode: number, umask: number): { mode: number; uid: number; gid: number } {
  let m = mode & S_IALLUGO;
  if ((m & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP) && dir.mode & S_ISGID && !inGroupOrCapable(cred, dir.gid)) m &= ~S_ISGID;
  m &= ~umask;
  return { mode: m, uid: cred.uid, gid: dir.mode & S_ISGID ? dir.gid : cred.gid };
}
