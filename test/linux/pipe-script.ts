// The model half of the pipe real-kernel comparison: runs the command script pipe-oracle.c runs (see
// the command list there) on a model process and prints the same result lines.
import { SyscallError } from '../../src/index.js';
import type { PollFd, Process } from '../../src/linux/process.js';
import { EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, epoll_event } from '../../include-ts/linux/eventpoll.js';
import { F_GETFL, F_GETPIPE_SZ, F_SETFL, F_SETPIPE_SZ } from '../../include-ts/linux/fcntl.js';
import { FIONREAD } from '../../include-ts/asm-generic/ioctls.js';
import { POLLIN, POLLOUT } from '../../include-ts/linux/poll.js';
import { getU32 } from '../../abi/bytes.js';

/** FNV-1a, 32 bits, in hex: what the oracle prints for the bytes a read returned. */
function fnv(b: Uint8Array): string {
  let h = 2166136261;
  for (const x of b) h = Math.imul(h ^ x, 16777619) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export function runPipeScript(p: Process, script: readonly string[]): string[] {
  const names = new Map<string, number>();
  let seq = 0;
  const fd = (n: string): number => names.get(n) ?? -1; // as the oracle: EBADF
  const step = (a: string[]): string => {
    const [c, x = '', y = '', z = ''] = a;
    switch (c) {
      case 'pipe': {
        const [r, w] = p.pipe(parseInt(z, 16));
        names.set(x, r);
        names.set(y, w);
        return '0';
      }
      case 'w': {
        const b = new Uint8Array(Number(y));
        for (let i = 0; i < b.length; i++) b[i] = (seq + i) & 0xff;
        const n = p.write(fd(x), b);
        seq += n;
        return String(n);
      }
      case 'r': {
        const b = new Uint8Array(Number(y));
        const n = p.read(fd(x), b);
        return `${n}#${fnv(b.subarray(0, n))}`;
      }
      case 'nread': {
        const b = new Uint8Array(4);
        p.ioctl(fd(x), FIONREAD, b);
        return String(getU32(b, 0) | 0);
      }
      case 'getsz': return String(p.fcntl(fd(x), F_GETPIPE_SZ));
      case 'setsz': return String(p.fcntl(fd(x), F_SETPIPE_SZ, Number(y) | 0));
      case 'getfl': return p.fcntl(fd(x), F_GETFL).toString(16);
      case 'setfl': return String(p.fcntl(fd(x), F_SETFL, parseInt(y, 16)));
      case 'poll': {
        const fds: PollFd[] = [{ fd: fd(x), events: POLLIN | POLLOUT }];
        p.poll(fds, 0);
        return (fds[0]!.revents ?? 0).toString(16);
      }
      case 'ep': names.set(x, p.epollCreate1(0)); return '0';
      case 'ctl': {
        const op = y === 'add' ? EPOLL_CTL_ADD : y === 'del' ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
        p.epollCtl(fd(x), op, fd(z), epoll_event.encode({ events: parseInt(a[4]!, 16) >>> 0, data: BigInt(a[5]!) }));
        return '0';
      }
      case 'wait': {
        const max = Number(y);
        const buf = new Uint8Array(16 * 12);
        const n = p.epollWait(fd(x), buf, max, 0);
        let s = String(n);
        for (let i = 0; i < n; i++) {
          const dv = new DataView(buf.buffer, i * 12);
          s += ` ${dv.getBigUint64(4, true)}:${dv.getUint32(0, true).toString(16)}`;
        }
        return s;
      }
      case 'dup': names.set(y, p.dup(fd(x))); return '0';
      case 'close': p.close(fd(x)); return '0';
      case 'reset':
        for (const f of names.values()) {
          try {
            p.close(f);
          } catch {
            // Already closed by the script, as the oracle's close() would find.
          }
        }
        names.clear();
        return 'reset';
      default: throw new Error(`unknown command ${c}`);
    }
  };
  const out: string[] = [];
  for (const line of script) {
    const a = line.trim().split(/\s+/);
    if (a[0] === '') continue;
    try {
      out.push(step(a));
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      out.push(`E${e.errno}`);
    }
  }
  return out;
}
