// The model side of the KVM differential test: executes the command script of kvm-diff.c through the
// model's system calls and prints the same result lines. Also holds the C helper's build and run.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { SyscallError } from '../../../src/linux/errors.js';
import * as K from '../../../include-ts/linux/kvm.js';
import { O_CLOEXEC, O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { EFD_CLOEXEC, EFD_NONBLOCK } from '../../../include-ts/linux/eventfd.js';
import { POLLIN } from '../../../include-ts/linux/poll.js';
import { GuestAsm, r0 } from '../../../src/guest/program.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Why the real-kernel side cannot run here, or null if it can. */
export function realKvmUnavailable(): string | null {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (e) {
    return `/dev/kvm is not usable here (${(e as Error).message})`;
  }
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'gcc is not installed';
  }
  return null;
}

let exe: string | null = null;

/** Compiles kvm-diff.c once per test process. */
export function helper(): string {
  if (exe) return exe;
  const dir = mkdtempSync(join(tmpdir(), 'kvm-diff-'));
  const out = join(dir, 'kvm-diff');
  execFileSync('gcc', ['-O1', '-Wall', '-o', out, join(here, 'kvm-diff.c')], { stdio: 'pipe' });
  exe = out;
  return out;
}

/** Runs scripts (separated by `reset`) on the real kernel; one array of result lines per script. */
export function runReal(scripts: string[][]): string[][] {
  const input = scripts.map((s) => ['reset', ...s].join('\n')).join('\n') + '\n';
  const r = spawnSync(helper(), [], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`kvm-diff exited with ${r.status}: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  const out: string[][] = [];
  let cur: string[] | null = null;
  for (const l of lines) {
    if (l === 'reset') {
      cur = [];
      out.push(cur);
    } else if (l !== '' && cur) cur.push(l);
  }
  return out;
}

const u32 = (s: string): number => Number(BigInt.asUintN(32, BigInt(s)));
const u64 = (s: string): bigint => BigInt.asUintN(64, BigInt(s));
/** printf's %#llx. */
const hex = (v: bigint): string => (v === 0n ? '0' : `0x${v.toString(16)}`);

/** Executes one script against a fresh model host. */
export function runModel(script: string[]): string[] {
  const host = Host.create();
  const p: Process = host.spawn();
  const h: number[] = [];
  const buf = p.mmap(null, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  // An unset handle reads as 0, like the C helper's zeroed array.
  const fd = (s: string): number => (s.startsWith('h') ? (h[Number(s.slice(1))] ?? 0) : Number(s));
  const out: string[] = [];
  const res = (f: () => number, extra?: (r: number) => string | undefined): void => {
    try {
      const r = f();
      const x = extra?.(r);
      out.push(`${r} 0${x !== undefined ? ' ' + x : ''}`);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      out.push(`-1 ${e.errno}`);
    }
  };
  const newh = (f: () => number): void => {
    try {
      h.push(f());
      out.push('ok 0');
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      out.push(`-1 ${e.errno}`);
    }
  };
  for (const line of script) {
    const t = line.trim().split(/\s+/);
    switch (t[0]) {
      case 'settle':
        host.control.flush();
        out.push('settle');
        break;
      case 'kvm':
        newh(() => p.open('/dev/kvm', O_RDWR | O_CLOEXEC));
        break;
      case 'vm':
        newh(() => p.ioctl(fd(t[1]!), K.KVM_CREATE_VM, u64(t[2]!)));
        break;
      case 'vcpu':
        newh(() => p.ioctl(fd(t[1]!), K.KVM_CREATE_VCPU, u64(t[2]!)));
        break;
      case 'eventfd':
        newh(() => p.eventfd(u32(t[1]!), EFD_NONBLOCK | EFD_CLOEXEC));
        break;
      case 'pipe':
        res(() => {
          const [r, w] = p.pipe(O_CLOEXEC);
          h.push(r, w);
          return 0;
        });
        break;
      case 'close': {
        const i = Number(t[1]!.slice(1));
        res(() => {
          p.close(h[i]!);
          return 0;
        });
        h[i] = -1;
        break;
      }
      case 'irqchip':
        res(() => p.ioctl(fd(t[1]!), K.KVM_CREATE_IRQCHIP, 0));
        break;
      case 'cap': {
        const c = K.kvm_enable_cap.alloc();
        c.cap = u32(t[2]!);
        c.flags = u32(t[3]!);
        c.args.set(0, u64(t[4]!));
        res(() => p.ioctl(fd(t[1]!), K.KVM_ENABLE_CAP, c));
        break;
      }
      case 'check':
        res(() => p.ioctl(fd(t[1]!), K.KVM_CHECK_EXTENSION, u64(t[2]!)));
        break;
      case 'write': {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setBigUint64(0, u64(t[2]!), true);
        res(() => p.write(fd(t[1]!), b));
        break;
      }
      case 'read': {
        const b = new Uint8Array(8);
        res(() => p.read(fd(t[1]!), b), (r) => (r === 8 ? new DataView(b.buffer).getBigUint64(0, true).toString() : undefined));
        break;
      }
      case 'poll': {
        const pf = [{ fd: fd(t[1]!), events: POLLIN, revents: 0 }];
        res(() => p.poll(pf, 0), () => String(pf[0]!.revents));
        break;
      }
      case 'irqfd': {
        const a = K.kvm_irqfd.alloc();
        a.fd = fd(t[2]!) >>> 0;
        a.gsi = u32(t[3]!);
        a.flags = u32(t[4]!);
        a.resamplefd = fd(t[5]!) >>> 0;
        res(() => p.ioctl(fd(t[1]!), K.KVM_IRQFD, a));
        break;
      }
      case 'route': {
        const nr = Number(t[2]);
        const r = K.kvm_irq_routing.alloc(nr);
        r.nr = nr;
        r.flags = u32(t[3]!);
        for (let i = 0, k = 4; i < nr && k + 6 < t.length; i++, k += 7) {
          const e = r.entries.get(i);
          e.gsi = u32(t[k]!);
          e.type = u32(t[k + 1]!);
          e.flags = u32(t[k + 2]!);
          for (let j = 0; j < 4; j++) e.u.pad.set(j, u32(t[k + 3 + j]!));
        }
        res(() => p.ioctl(fd(t[1]!), K.KVM_SET_GSI_ROUTING, r));
        break;
      }
      case 'line':
      case 'linest': {
        const st = t[0] === 'linest';
        const l = K.kvm_irq_level.alloc();
        l.irq = u32(t[2]!);
        l.level = u32(t[3]!);
        res(() => p.ioctl(fd(t[1]!), st ? K.KVM_IRQ_LINE_STATUS : K.KVM_IRQ_LINE, l), () => (st ? String(l.status) : undefined));
        break;
      }
      case 'msi': {
        const m = K.kvm_msi.alloc();
        m.address_lo = u32(t[2]!);
        m.address_hi = u32(t[3]!);
        m.data = u32(t[4]!);
        m.flags = u32(t[5]!);
        res(() => p.ioctl(fd(t[1]!), K.KVM_SIGNAL_MSI, m));
        break;
      }
      case 'ioev': {
        const e = K.kvm_ioeventfd.alloc();
        e.addr = u64(t[2]!);
        e.len = u32(t[3]!);
        e.fd = fd(t[4]!);
        e.flags = u32(t[5]!);
        e.datamatch = u64(t[6]!);
        res(() => p.ioctl(fd(t[1]!), K.KVM_IOEVENTFD, e));
        break;
      }
      case 'getioapic': {
        const c = K.kvm_irqchip.alloc();
        c.chip_id = K.KVM_IRQCHIP_IOAPIC;
        res(
          () => p.ioctl(fd(t[1]!), K.KVM_GET_IRQCHIP, c),
          () => `irr=${c.chip.ioapic.irr.toString(16)}` + Array.from({ length: 24 }, (_, i) => ',' + c.chip.ioapic.redirtbl.get(i).bits.toString(16)).join(''),
        );
        break;
      }
      case 'setpin': {
        const c = K.kvm_irqchip.alloc();
        c.chip_id = K.KVM_IRQCHIP_IOAPIC;
        res(() => {
          p.ioctl(fd(t[1]!), K.KVM_GET_IRQCHIP, c);
          c.chip.ioapic.redirtbl.get(Number(t[2])).bits = u64(t[3]!);
          return p.ioctl(fd(t[1]!), K.KVM_SET_IRQCHIP, c);
        });
        break;
      }
      // len bytes of the kvm_irqchip union, between KVM_GET_IRQCHIP and KVM_SET_IRQCHIP.
      case 'setchip': {
        const c = K.kvm_irqchip.alloc();
        c.chip_id = u32(t[2]!);
        res(() => {
          p.ioctl(fd(t[1]!), K.KVM_GET_IRQCHIP, c);
          const at = K.kvm_irqchip.offsetof('chip') + u32(t[3]!);
          const v = u32(t[5]!);
          for (let i = 0; i < u32(t[4]!); i++) c.bytes[at + i] = (v >>> (i * 8)) & 0xff;
          return p.ioctl(fd(t[1]!), K.KVM_SET_IRQCHIP, c);
        });
        break;
      }
      case 'getpic': {
        const c = K.kvm_irqchip.alloc();
        c.chip_id = u32(t[2]!);
        res(
          () => p.ioctl(fd(t[1]!), K.KVM_GET_IRQCHIP, c),
          () => {
            const q = c.chip.pic;
            return `irr=${q.irr.toString(16)} imr=${q.imr.toString(16)} isr=${q.isr.toString(16)} elcr=${q.elcr.toString(16)} last=${q.last_irr.toString(16)}`;
          },
        );
        break;
      }
      // One u32 of the LAPIC register page through KVM_GET/SET_LAPIC (apicon: SPIV = 0x1ff).
      case 'apicon':
      case 'setlapic': {
        const s = K.kvm_lapic_state.alloc();
        const on = t[0] === 'apicon';
        res(() => {
          p.ioctl(fd(t[1]!), K.KVM_GET_LAPIC, s);
          new DataView(s.bytes.buffer, s.bytes.byteOffset).setUint32(on ? 0xf0 : u32(t[2]!), on ? 0x1ff : u32(t[3]!), true);
          return p.ioctl(fd(t[1]!), K.KVM_SET_LAPIC, s);
        });
        break;
      }
      case 'getlapic': {
        const s = K.kvm_lapic_state.alloc();
        res(
          () => p.ioctl(fd(t[1]!), K.KVM_GET_LAPIC, s),
          () => {
            const dv = new DataView(s.bytes.buffer, s.bytes.byteOffset);
            const bank = (base: number) => Array.from({ length: 8 }, (_, i) => dv.getUint32(base + (7 - i) * 16, true).toString(16).padStart(8, '0')).join('');
            return `isr=${bank(0x100)} tmr=${bank(0x180)} irr=${bank(0x200)}`;
          },
        );
        break;
      }
      case 'mem': {
        const m = K.kvm_userspace_memory_region.alloc();
        m.slot = u32(t[2]!);
        m.flags = u32(t[3]!);
        m.guest_phys_addr = u64(t[4]!);
        m.memory_size = u64(t[5]!);
        m.userspace_addr = t[6]!.startsWith('@') ? u64(t[6]!.slice(1)) : BigInt(buf.addr) + u64(t[6]!);
        res(() => p.ioctl(fd(t[1]!), K.KVM_SET_USER_MEMORY_REGION, m));
        break;
      }
      case 'runie': {
        const m = p.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd(t[1]!), 0);
        m.write8(K.kvm_run.offsetof('immediate_exit'), 1);
        if (t.length > 2) m.write64(K.kvm_run.offsetof('cr8'), u64(t[2]!));
        m.write64(K.kvm_run.offsetof('apic_base'), 0x5a5an);
        // kvm_run.cr8 and apic_base are printed on failure too: post_kvm_run_save runs on every return.
        let r: string;
        try {
          r = `${p.ioctl(fd(t[1]!), K.KVM_RUN)} 0`;
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e;
          r = `-1 ${e.errno}`;
        }
        out.push(`${r} cr8=${m.read64(K.kvm_run.offsetof('cr8'))} apic_base=${hex(m.read64(K.kvm_run.offsetof('apic_base')))}`);
        p.munmap(m.addr, 4096);
        break;
      }
      case 'getcr8':
      case 'getab': {
        const sr = K.kvm_sregs.alloc();
        res(() => p.ioctl(fd(t[1]!), K.KVM_GET_SREGS, sr), () => (t[0] === 'getcr8' ? `cr8=${sr.cr8}` : `apic_base=${hex(sr.apic_base)}`));
        break;
      }
      // KVM_GET_SREGS, change cr8 (setcr8 vcpu cr8) or apic_base and maybe cr8 (setab vcpu base [cr8]), KVM_SET_SREGS.
      case 'setcr8':
      case 'setab': {
        const sr = K.kvm_sregs.alloc();
        res(() => {
          p.ioctl(fd(t[1]!), K.KVM_GET_SREGS, sr);
          if (t[0] === 'setab') sr.apic_base = u64(t[2]!);
          const cr8 = t[0] === 'setcr8' ? t[2] : t[3];
          if (cr8 !== undefined) sr.cr8 = u64(cr8);
          return p.ioctl(fd(t[1]!), K.KVM_SET_SREGS, sr);
        });
        break;
      }
      case 'msrlist': {
        const room = u32(t[2]!);
        const l = K.kvm_msr_list.alloc(Math.min(room, 1024));
        l.nmsrs = room;
        // The count is printed on failure too (E2BIG writes it back).
        let r: string;
        try {
          r = `${p.ioctl(fd(t[1]!), K.KVM_GET_MSR_INDEX_LIST, l)} 0 n=${l.nmsrs} list=` + Array.from({ length: l.nmsrs }, (_, i) => hex(BigInt(l.indices.get(i)))).join(',');
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e;
          r = `-1 ${e.errno} n=${l.nmsrs}`;
        }
        out.push(r);
        break;
      }
      // KVM_GET_MSRS (data prefilled with 0x5a bytes; printed after, the TSC's as "tsc"), KVM_SET_MSRS of
      // index/data pairs, or KVM_GET_MSRS of n SYSENTER_CS entries (nmsrs); pad and reserved nonzero.
      case 'getmsr':
      case 'setmsr':
      case 'nmsrs': {
        const set = t[0] === 'setmsr';
        const cnt = t[0] === 'nmsrs';
        const n = cnt ? u32(t[2]!) : set ? (t.length - 2) >> 1 : t.length - 2;
        const m = K.kvm_msrs.alloc(Math.min(n, 300));
        m.nmsrs = n;
        m.pad = 7;
        for (let i = 0; i < Math.min(n, 300); i++) {
          const e = m.entries.get(i);
          e.index = cnt ? 0x174 : u32(t[2 + (set ? 2 * i : i)]!);
          e.reserved = 5;
          e.data = set ? u64(t[3 + 2 * i]!) : 0x5a5a5a5a5a5a5a5an;
        }
        res(
          () => p.ioctl(fd(t[1]!), set ? K.KVM_SET_MSRS : K.KVM_GET_MSRS, m),
          (r) => (set || cnt ? undefined : Array.from({ length: n }, (_, i) => (m.entries.get(i).index === 0x10 && r > i ? 'tsc' : hex(m.entries.get(i).data))).join(',')),
        );
        break;
      }
      case 'getsregs': {
        const sr = K.kvm_sregs.alloc();
        res(() => p.ioctl(fd(t[1]!), K.KVM_GET_SREGS, sr), () => {
          let ib = -1;
          for (let i = 0; i < 256 && ib < 0; i++) if ((sr.interrupt_bitmap.get(i >> 6) >> BigInt(i & 63)) & 1n) ib = i;
          return `cr0=${hex(sr.cr0)} cr3=${hex(sr.cr3)} cr4=${hex(sr.cr4)} efer=${hex(sr.efer)} apic_base=${hex(sr.apic_base)} cr8=${sr.cr8} fs=${hex(sr.fs.base)} gs=${hex(sr.gs.base)} l=${sr.cs.l} ib=${ib}`;
        });
        break;
      }
      // KVM_GET_SREGS, fields changed (field=value; ib=N sets a bit of an emptied interrupt_bitmap), KVM_SET_SREGS.
      case 'setsregs': {
        const sr = K.kvm_sregs.alloc();
        res(() => {
          p.ioctl(fd(t[1]!), K.KVM_GET_SREGS, sr);
          for (let i = 0; i < 4; i++) sr.interrupt_bitmap.set(i, 0n);
          for (const kv of t.slice(2)) {
            const [k, vs] = kv.split('=') as [string, string];
            const v = u64(vs);
            if (k === 'cr0') sr.cr0 = v;
            else if (k === 'cr3') sr.cr3 = v;
            else if (k === 'cr4') sr.cr4 = v;
            else if (k === 'efer') sr.efer = v;
            else if (k === 'apic_base') sr.apic_base = v;
            else if (k === 'cr8') sr.cr8 = v;
            else if (k === 'fs') sr.fs.base = v;
            else if (k === 'gs') sr.gs.base = v;
            else if (k === 'l') sr.cs.l = Number(v);
            else if (k === 'cssel') sr.cs.selector = Number(v);
            else if (k === 'csbase') sr.cs.base = v;
            else if (k === 'ib') sr.interrupt_bitmap.set(Number(v) >> 6, sr.interrupt_bitmap.get(Number(v) >> 6) | (1n << BigInt(Number(v) & 63)));
            else throw new Error(`setsregs: unknown field ${k}`);
          }
          return p.ioctl(fd(t[1]!), K.KVM_SET_SREGS, sr);
        });
        break;
      }
      case 'getmp':
      case 'setmp': {
        const mp = K.kvm_mp_state.alloc();
        mp.mp_state = t.length > 2 ? u32(t[2]!) : 0xff;
        const get = t[0] === 'getmp';
        res(() => p.ioctl(fd(t[1]!), get ? K.KVM_GET_MP_STATE : K.KVM_SET_MP_STATE, mp), () => (get ? `mp=${mp.mp_state}` : undefined));
        break;
      }
      case 'setrip': {
        const rg = K.kvm_regs.alloc();
        res(() => {
          p.ioctl(fd(t[1]!), K.KVM_GET_REGS, rg);
          rg.rip = u64(t[2]!);
          return p.ioctl(fd(t[1]!), K.KVM_SET_REGS, rg);
        });
        break;
      }
      case 'getregs': {
        const rg = K.kvm_regs.alloc();
        res(() => p.ioctl(fd(t[1]!), K.KVM_GET_REGS, rg), () => {
          const g = (['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const).map((r) => rg[r].toString(16));
          return `gpr=${g.join(',')} rip=${hex(rg.rip)} rflags=${hex(rg.rflags)}`;
        });
        break;
      }
      // KVM_GET_REGS, u64s of kvm_regs set by index (0-15 GPRs, 16 rip, 17 rflags), KVM_SET_REGS.
      case 'setgpr': {
        const rg = K.kvm_regs.alloc();
        res(() => {
          p.ioctl(fd(t[1]!), K.KVM_GET_REGS, rg);
          const dv = new DataView(rg.bytes.buffer, rg.bytes.byteOffset);
          for (let i = 2; i + 1 < t.length; i += 2) dv.setBigUint64(Number(t[i]) * 8, u64(t[i + 1]!), true);
          return p.ioctl(fd(t[1]!), K.KVM_SET_REGS, rg);
        });
        break;
      }
      // KVM_GET_DEBUGREGS (prefilled with 0x5a bytes) printed; setdbg: GET, flags/dr6/dr7/db0 set, KVM_SET_DEBUGREGS.
      case 'getdbg':
      case 'setdbg': {
        const d = K.kvm_debugregs.alloc();
        d.bytes.fill(0x5a);
        const get = t[0] === 'getdbg';
        res(() => {
          p.ioctl(fd(t[1]!), K.KVM_GET_DEBUGREGS, d);
          if (get) return 0;
          d.flags = u64(t[2]!);
          d.dr6 = u64(t[3]!);
          d.dr7 = u64(t[4]!);
          d.db.set(0, u64(t[5]!));
          return p.ioctl(fd(t[1]!), K.KVM_SET_DEBUGREGS, d);
        }, () => (get ? `db=${[0, 1, 2, 3].map((i) => d.db.get(i).toString(16)).join(',')} dr6=${hex(d.dr6)} dr7=${hex(d.dr7)} flags=${d.flags.toString(16)} res0=${d.reserved.get(0).toString(16)}` : undefined));
        break;
      }
      // KVM_GET_SREGS' segments (selector:base:limit:type.present.dpl.db.s.l.g.avl.unusable, hex), gdt, idt, cr2.
      case 'getseg': {
        const sr = K.kvm_sregs.alloc();
        res(() => p.ioctl(fd(t[1]!), K.KVM_GET_SREGS, sr), () => {
          const segs = (['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const).map((n) => {
            const g = sr[n];
            const f = [g.type, g.present, g.dpl, g.db, g.s, g.l, g.g, g.avl, g.unusable].map((x) => x.toString(16)).join('.');
            return `${n}=${g.selector.toString(16)}:${g.base.toString(16)}:${g.limit.toString(16)}:${f} `;
          });
          return `${segs.join('')}gdt=${sr.gdt.base.toString(16)}:${sr.gdt.limit.toString(16)} idt=${sr.idt.base.toString(16)}:${sr.idt.limit.toString(16)} cr2=${sr.cr2.toString(16)}`;
        });
        break;
      }
      // One u32 of KVM_GET_LAPIC's register page, in hex.
      case 'lapicreg': {
        const s = K.kvm_lapic_state.alloc();
        res(() => p.ioctl(fd(t[1]!), K.KVM_GET_LAPIC, s), () => hex(BigInt(new DataView(s.bytes.buffer, s.bytes.byteOffset).getUint32(u32(t[2]!), true))));
        break;
      }
      // Guest code, as kvm-diff.c's guest(): one access, then OUT 0x10 with r0 (eax).
      case 'mmiow':
      case 'mmior':
      case 'piow':
      case 'pior': {
        const addr = u32(t[2]!);
        const len = u32(t[3]!) as 1 | 2 | 4;
        const a = new GuestAsm(t[0]!).label('start');
        if (t[0] === 'mmiow') a.store(addr, u32(t[4]!), len);
        else if (t[0] === 'mmior') a.load(r0, addr, len);
        else if (t[0] === 'pior') a.in(r0, addr, len);
        else a.mov(r0, u32(t[4]!)).out(addr, r0, len);
        a.out(0x10, r0, 4).hlt();
        host.control.kvm.loadGuest(p, fd(t[1]!), a.build());
        const m = p.mmap(null, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd(t[1]!), 0);
        const exits: string[] = [];
        const at = (f: string): number => K.kvm_run.offsetof(f);
        res(() => {
          for (let i = 0; i < 6; i++) {
            p.ioctl(fd(t[1]!), K.KVM_RUN);
            const reason = m.read32(at('exit_reason'));
            if (reason === K.KVM_EXIT_MMIO) {
              exits.push(`mmio@${hex(m.read64(at('mmio.phys_addr')))}/${m.read32(at('mmio.len'))}`);
              if (m.read8(at('mmio.is_write')) === 0) m.write64(at('mmio.data'), 0x5a5a5a5a5a5a5a5an);
              continue;
            }
            if (reason !== K.KVM_EXIT_IO) {
              exits.push(`exit${reason}`);
              break;
            }
            const size = m.read8(at('io.size'));
            const data = Number(m.read64(at('io.data_offset')));
            if (m.read8(at('io.direction')) === K.KVM_EXIT_IO_IN) for (let b = 0; b < size; b++) m.write8(data + b, 0x5a);
            const v = size === 1 ? m.read8(data) : size === 2 ? m.read16(data) : m.read32(data);
            const port = m.read16(at('io.port'));
            exits.push(`io@0x${port.toString(16)}=${hex(BigInt(v))}`);
            if (port === 0x10) break;
          }
          return 0;
        }, () => exits.join(' '));
        p.munmap(m.addr, 8192);
        break;
      }
      default:
        throw new Error(`diff script: unknown command ${line}`);
    }
  }
  return out;
}
