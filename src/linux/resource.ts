// kernel/sys.c: a process's resource limits (signal_struct.rlim) and prlimit64(), which glibc's
// getrlimit() and setrlimit() call on x86-64 (pid 0, one of the two pointers NULL). The limits a
// process starts with are init's (include/asm-generic/resource.h INIT_RLIMITS), as a process the
// model spawns has no login session (PAM, systemd) that would change them. Two of them are set at
// boot from free memory (kernel/fork.c fork_init: max_threads / 2); the model's machine has 8 GiB.
//
// do_prlimit() checks, in this order: resource < RLIM_NLIMITS (EINVAL); rlim_cur <= rlim_max
// (EINVAL); RLIMIT_NOFILE's hard limit <= fs.nr_open (EPERM); raising a hard limit needs
// CAP_SYS_RESOURCE (EPERM). prlimit64 on another process first finds it (ESRCH) and checks that the
// caller's uid matches its uids or the caller has CAP_SYS_RESOURCE (check_prlimit_permission, EPERM).

import { kerr } from './errors.js';
import {
  MLOCK_LIMIT, RLIM_INFINITY, RLIM_NLIMITS, RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE,
  RLIMIT_NPROC, RLIMIT_RTPRIO, RLIMIT_SIGPENDING, RLIMIT_STACK,
} from '../../include-ts/linux/resource.js';

/** fs.nr_open's default (sysctl_nr_open = 1024 * 1024): no RLIMIT_NOFILE hard limit may exceed it. */
export const NR_OPEN = 1024 * 1024;
/** INR_OPEN_CUR and INR_OPEN_MAX: init's RLIMIT_NOFILE. */
export const INR_OPEN_CUR = 1024;
export const INR_OPEN_MAX = 4096;
const STK_LIM = 8 * 1024 * 1024;
/** MQ_BYTES_MAX (include/linux/mqueue.h). */
const MQ_BYTES_MAX = 819_200;
/**
 * The modeled machine's memory (8 GiB), all of it free at boot and all low memory (x86-64 has no
 * highmem): what boot-time sizing reads (fork_init(), eventpoll_init()).
 */
export const MODEL_FREE_RAM = 8 * 1024 ** 3;
/** fork_init(): max_threads = free memory / (8 * THREAD_SIZE); NPROC and SIGPENDING get half. */
const THREAD_SIZE = 16 * 1024;
const INIT_NPROC = MODEL_FREE_RAM / (8 * THREAD_SIZE) / 2;

/** The name of each limit as /proc/<pid>/limits prints it, and its unit. */
export const RLIMIT_NAMES: readonly (readonly [name: string, unit: string])[] = [
  ['Max cpu time', 'seconds'], ['Max file size', 'bytes'], ['Max data size', 'bytes'], ['Max stack size', 'bytes'],
  ['Max core file size', 'bytes'], ['Max resident set', 'bytes'], ['Max processes', 'processes'],
  ['Max open files', 'files'], ['Max locked memory', 'bytes'], ['Max address space', 'bytes'],
  ['Max file locks', 'locks'], ['Max pending signals', 'signals'], ['Max msgqueue size', 'bytes'],
  ['Max nice priority', ''], ['Max realtime priority', ''], ['Max realtime timeout', 'us'],
];

export class ResourceLimits {
  private readonly cur = new BigUint64Array(RLIM_NLIMITS).fill(RLIM_INFINITY);
  private readonly max = new BigUint64Array(RLIM_NLIMITS).fill(RLIM_INFINITY);

  constructor() {
    const init = (r: number, cur: number, max: number | bigint = cur): void => this.preset(r, BigInt(cur), BigInt(max));
    init(RLIMIT_STACK, STK_LIM, RLIM_INFINITY);
    init(RLIMIT_CORE, 0, RLIM_INFINITY);
    init(RLIMIT_NPROC, INIT_NPROC);
    init(RLIMIT_NOFILE, INR_OPEN_CUR, INR_OPEN_MAX);
    init(RLIMIT_MEMLOCK, MLOCK_LIMIT);
    init(RLIMIT_SIGPENDING, INIT_NPROC);
    init(RLIMIT_MSGQUEUE, MQ_BYTES_MAX);
    init(RLIMIT_NICE, 0);
    init(RLIMIT_RTPRIO, 0);
  }

  soft(resource: number): bigint {
    return this.cur[resource]!;
  }

  hard(resource: number): bigint {
    return this.max[resource]!;
  }

  /**
   * rlimit(RLIMIT_NOFILE) as the fd allocator reads it, kept as a plain number (it is at most NR_OPEN):
   * reading a BigUint64Array element makes a BigInt, and the allocator reads this once per fd it creates.
   */
  nofile = INR_OPEN_CUR;

  /** rlimit(resource) >> PAGE_SHIFT, as a number of pages (RLIM_INFINITY stays far above any count). */
  softPages(resource: number): number {
    return Number(this.cur[resource]! >> 12n);
  }

  /**
   * do_prlimit(): validates `next` (if any) for the caller, then returns the old limit and installs the
   * new one. `privileged` is capable(CAP_SYS_RESOURCE).
   */
  prlimit(resource: number, next: { cur: bigint; max: bigint } | null, privileged: boolean): { cur: bigint; max: bigint } {
    if (resource < 0 || resource >= RLIM_NLIMITS) throw kerr('EINVAL', `resource ${resource >>> 0} is not a limit (there are ${RLIM_NLIMITS})`);
    if (next) {
      if (next.cur > next.max) throw kerr('EINVAL', `the soft limit ${next.cur} is above the hard limit ${next.max}`);
      if (resource === RLIMIT_NOFILE && next.max > BigInt(NR_OPEN)) throw kerr('EPERM', `RLIMIT_NOFILE's hard limit ${next.max} is above fs.nr_open (${NR_OPEN})`);
      if (next.max > this.max[resource]! && !privileged) {
        throw kerr('EPERM', `raising ${RLIMIT_NAMES[resource]![0].toLowerCase()}'s hard limit from ${this.max[resource]} to ${next.max} needs CAP_SYS_RESOURCE`);
      }
    }
    const old = { cur: this.cur[resource]!, max: this.max[resource]! };
    if (next) this.preset(resource, next.cur, next.max);
    return old;
  }

  /** Sets a limit as the process's parent did before exec (a spawn option), unchecked. */
  preset(resource: number, cur: bigint, max: bigint): void {
    this.cur[resource] = cur;
    this.max[resource] = max;
    if (resource === RLIMIT_NOFILE) this.nofile = Number(cur);
  }
}
