// include/linux/cred.h and kernel/groups.c: the credentials permission checks read. The model keeps one
// uid and one gid per process (real = effective = saved = fs ids), the supplementary groups and the
// effective capability set; `Process` is a Cred.

export interface Cred {
  /** fsuid (= euid = uid here). */
  readonly uid: number;
  /** fsgid (= egid = gid here). */
  readonly gid: number;
  /** Supplementary groups (group_info). */
  readonly groups: readonly number[];
  /** capable(): whether the effective set has `cap`. */
  capable(cap: number): boolean;
}

/** in_group_p(): the fsgid or one of the supplementary groups. */
export function inGroup(cred: Cred, gid: number): boolean {
  return cred.gid === gid || cred.groups.includes(gid);
}

/** init_cred: root with every capability, as kernel threads and udev act. */
export const INIT_CRED: Cred = { uid: 0, gid: 0, groups: [], capable: () => true };
