// <linux/resource.h> with <asm-generic/resource.h>: resource limit numbers, RLIM_INFINITY, and the
// structs of getrlimit/setrlimit (struct rlimit: two unsigned longs on x86-64) and prlimit64
// (struct rlimit64: two __u64, the same 16 bytes there).
import { struct, u64 } from '../../abi/layout.js';

export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIMIT_LOCKS = 10;
export const RLIMIT_SIGPENDING = 11;
export const RLIMIT_MSGQUEUE = 12;
export const RLIMIT_NICE = 13;
export const RLIMIT_RTPRIO = 14;
export const RLIMIT_RTTIME = 15;
export const RLIM_NLIMITS = 16;
/** (~0UL) on 64-bit. */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
export const RLIM64_INFINITY = 0xffff_ffff_ffff_ffffn;
/** The default RLIMIT_MEMLOCK, 8 MiB since Linux 5.16 (64 KiB before). */
export const MLOCK_LIMIT = 8 * 1024 * 1024;

export const rlimit = struct('rlimit', { rlim_cur: u64, rlim_max: u64 });
export const rlimit64 = struct('rlimit64', { rlim_cur: u64, rlim_max: u64 });
