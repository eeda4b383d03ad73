// The model half of the epoll real-kernel comparison: runs the command script epoll-oracle.c runs (see
// the command list there) on a model process and prints the same result lines.
import { SyscallError } from '../../../src/index.js';
import type { PollFd, Process } from '../../../src/linux/process.js';
import { EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, epoll_event } from '../../../include-ts/linux/eventpoll.js';
import { O_NONBLOCK } from '../../../include-ts/linux/fcntl.js';
import { POLLIN, POLLOUT } from '../../../include-ts/linux/poll.js';
import { KVM_CREATE_VCPU, KVM_CREATE_VM } from '../../../include-ts/linux/kvm.js';
import { getU32 } from '../../../abi/bytes.js';

const PAGE = 4096;

function opOf(s: string): number {
  return s === 'add' ? EPOLL_CTL_ADD : s === 'del' ? EPOLL_CTL_DEL : s === 'mod' ? EPOLL_CTL_MOD : Number(s);
}

/** struct epoll_event bytes: events (hex), data (decimal or 0x). */
export function epollEvent(events: number, data: bigint): Uint8Array {
  return epoll_event.encode({ events: events >>> 0, data });
}

export function runEpollScript(p: Process, script: readonly string[]): string[] {
  const names = new Map<string, number>();
  const fd = (n: string): number => names.get(n) ?? (/^-?\d+$/.test(n) ? Number(n) : (() => { throw new Error(`unknown name ${n}`); })());
  const out: string[] = [];
  for (const line of script) {
    const a = line.trim().split(/\s+/);
    if (a[0] === '') continue;
    try {
      out.push(step(p, a, names, fd));
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      out.push(`E${e.errno}`);
    }
  }
  return out;
}

function step(p: Process, a: string[], names: Map<string, number>, fd: (n: string) => number): string {
  const [c, x = '', y = '', z = '', w = ''] = a;
  switch (c) {
    case 'efd': names.set(x, p.eventfd(y ? Number(y) : 0, O_NONBLOCK)); return '0';
    case 'pipe': {
      const [r, wr] = p.pipe(O_NONBLOCK);
      names.set(x, r);
      names.set(y, wr);
      return '0';
    }
    case 'ep': names.set(x, p.epollCreate1(0)); return '0';
    case 'create1': p.close(p.epollCreate1(Number(x))); return '0';
    case 'create': p.close(p.epollCreate(Number(x))); return '0';
    case 'open': names.set(x, p.open(y, parseInt(z, 16), 0o600)); return '0';
    case 'kvmvm': names.set(x, p.ioctl(fd(y), KVM_CREATE_VM, 0)); return '0';
    case 'kvmvcpu': names.set(x, p.ioctl(fd(y), KVM_CREATE_VCPU, 0)); return '0';
    case 'ctl': p.epollCtl(fd(x), opOf(y), fd(z), epollEvent(parseInt(w, 16), BigInt(a[5]!))); return '0';
    case 'ctlnull': p.epollCtl(fd(x), opOf(y), fd(z), null); return '0';
    case 'wait': case 'waitnull': case 'pwait2': case 'pwait2null': {
      const max = Number(y);
      const pw2 = c.startsWith('pwait2');
      const bytes = c === 'waitnull' ? 0 : Math.max(0, Math.min(PAGE, z && !pw2 ? Number(z) : max * 12));
      const buf = c === 'waitnull' ? null : new Uint8Array(bytes).fill(0xee);
      let n: number;
      if (c === 'pwait2') {
        const ts = new Uint8Array(16);
        new DataView(ts.buffer).setBigInt64(0, BigInt(z), true);
        new DataView(ts.buffer).setBigInt64(8, BigInt(w), true);
        const mask = a[6] === '-' ? null : new Uint8Array(8);
        if (mask) new DataView(mask.buffer).setBigUint64(0, BigInt(`0x${a[6]}`), true);
        n = p.epollPwait2(fd(x), buf, max, ts, mask, Number(a[5]));
      } else if (c === 'pwait2null') n = p.epollPwait2(fd(x), buf, max, null, null, Number(z));
      else n = p.epollWait(fd(x), buf, max, 0);
      let s = String(n);
      for (let i = 0; i < n; i++) {
        const dv = new DataView(buf!.buffer, i * 12);
        s += ` ${dv.getBigUint64(4, true)}:${dv.getUint32(0, true).toString(16)}`;
      }
      if (buf && bytes - n * 12 >= 4) s += ` next=${getU32(buf, n * 12).toString(16)}`;
      return s;
    }
    case 'w': {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(y), true);
      return String(p.write(fd(x), b));
    }
    case 'r': {
      const b = new Uint8Array(8);
      p.read(fd(x), b);
      return String(new DataView(b.buffer).getBigUint64(0, true));
    }
    case 'pw': return String(p.write(fd(x), new Uint8Array([0x78])));
    case 'pr': return String(p.read(fd(x), new Uint8Array(1)));
    case 'poll': {
      const fds: PollFd[] = [{ fd: fd(x), events: POLLIN | POLLOUT }];
      p.poll(fds, 0);
      return (fds[0]!.revents ?? 0).toString(16);
    }
    case 'dup': names.set(y, p.dup(fd(x))); return '0';
    case 'close': p.close(fd(x)); return '0';
    case 'getfl': return p.fcntl(fd(x), 3).toString(8);
    default: throw new Error(`unknown command ${c}`);
  }
}
