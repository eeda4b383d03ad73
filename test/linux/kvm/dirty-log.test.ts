// Dirty page logging (virt/kvm/kvm_main.c kvm_get_dirty_log_protect, kvm_clear_dirty_log_protect,
// kvm_prepare_memory_region's bitmap handling, kvm_vm_ioctl_enable_cap_generic for
// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2). dirty-log-oracle.c runs a sequence on this machine's /dev/kvm
// with a real-mode guest that writes guest pages 1 and 3; the same sequence runs on the model with a
// guest program doing the same writes, and every printed line must be equal.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Host } from '../../../src/index.js';
import { GuestAsm } from '../../../src/guest/program.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { K } from './helpers.js';
import { fcParams } from '../../support/runs.js';
import { oracleSkip, resultCode, runCOracle } from '../../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const PAGE = 4096;

const SKIP = oracleSkip('KVM dirty log', ['kvm']);

/** A VM with one vCPU (no irqchip) and 16 pages of memory the VMM maps where it likes. */
function setup(pages = 16) {
  const host = Host.create();
  const p = host.spawn();
  const kvm = p.open('/dev/kvm', O_RDWR);
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  const mem = p.mmap(null, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const call = resultCode;
  const slot = (gpa: number, flags: number, size = pages * PAGE): string => {
    const r = K.kvm_userspace_memory_region.alloc();
    r.slot = 0;
    r.flags = flags;
    r.guest_phys_addr = BigInt(gpa);
    r.memory_size = BigInt(size);
    r.userspace_addr = BigInt(mem.addr);
    return call(() => p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, r));
  };
  const bitmap = p.mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const get = (slotId: number, ptr = bitmap.addr): string => {
    bitmap.bytes!.fill(0xee);
    const l = K.kvm_dirty_log.alloc();
    l.slot = slotId;
    l.dirty_bitmap = BigInt(ptr);
    const r = call(() => p.ioctl(vm, K.KVM_GET_DIRTY_LOG, l));
    if (r !== '0') return r;
    const dv = new DataView(bitmap.bytes!.buffer, bitmap.bytes!.byteOffset);
    return `${dv.getBigUint64(0, true).toString(16)} ${dv.getBigUint64(8, true).toString(16)}`;
  };
  const clear = (first: number, num: number, mask: bigint, ptr: number | null = bitmap.addr, slotId = 0): string => {
    if (ptr) new DataView(bitmap.bytes!.buffer, bitmap.bytes!.byteOffset).setBigUint64(0, mask, true);
    const c = K.kvm_clear_dirty_log.alloc();
    c.slot = slotId;
    c.first_page = BigInt(first);
    c.num_pages = num;
    c.dirty_bitmap = BigInt(ptr ?? 0);
    return call(() => p.ioctl(vm, K.KVM_CLEAR_DIRTY_LOG, c));
  };
  const cap = (flags: number, a0: number): string => {
    const c = K.kvm_enable_cap.alloc();
    c.cap = K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
    c.flags = flags;
    c.args.set(0, BigInt(a0));
    return call(() => p.ioctl(vm, K.KVM_ENABLE_CAP, c));
  };
  return { host, p, kvm, vm, mem, call, slot, get, clear, cap };
}

/** The guest: a write to each page of `pages` (guest-physical), then HLT. */
function writer(pages: readonly number[], base = 0): ReturnType<GuestAsm['build']> {
  const a = new GuestAsm('dirty').label('start');
  for (const pg of pages) a.store32(base + pg * PAGE, 1);
  a.hlt();
  return a.build();
}

function modelLines(): string[] {
  const s = setup();
  const out: string[] = [];
  const line = (w: string, r: string) => out.push(`${w}: ${r}`);
  line('cap MANUAL_DIRTY_LOG_PROTECT2', s.call(() => s.p.ioctl(s.kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)));
  line('cap MANUAL_DIRTY_LOG_PROTECT', s.call(() => s.p.ioctl(s.kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT)));
  line('vm cap MANUAL_DIRTY_LOG_PROTECT2', s.call(() => s.p.ioctl(s.vm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)));
  line('slot 0 no logging', s.slot(0, 0));
  line('get, not logging', s.get(0));
  line('get, no slot 5', s.get(5));
  line('get, slot 32764', s.get(32764));
  line('get, address space 1', s.get(1 << 16));
  const vcpu = s.p.ioctl(s.vm, K.KVM_CREATE_VCPU, 0);
  const run = s.p.mmap(null, s.p.ioctl(s.kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  const go = (w: string) => {
    s.host.control.kvm.loadGuest(s.p, vcpu, writer([1, 3]));
    const r = s.call(() => s.p.ioctl(vcpu, K.KVM_RUN));
    line(w, r === '0' ? `exit ${run.read32(8)}` : r);
  };
  go('run, not logging');
  line('slot 0 logging', s.slot(0, K.KVM_MEM_LOG_DIRTY_PAGES));
  line('get, logging, nothing run', s.get(0));
  go('run');
  line('get after run', s.get(0));
  line('get again', s.get(0));
  line('get NULL bitmap', s.get(0, 0));
  s.mem.bytes![0x2000] = 1;
  line('get after a VMM write', s.get(0));
  go('run again');
  line('clear 0x2 without manual protect', s.clear(0, 16, 0x2n));
  line('get after that clear', s.get(0));
  line('enable PROTECT alone', s.cap(0, 1));
  line('enable 0', s.cap(0, 0));
  line('enable flags 1', s.cap(1, 1));
  line('enable INITIALLY_SET alone', s.cap(0, 2));
  line('enable 4', s.cap(0, 4));
  line('enable PROTECT|INITIALLY_SET', s.cap(0, 3));
  line('get, manual, nothing run', s.get(0));
  go('run');
  line('get, manual', s.get(0));
  line('get, manual, again', s.get(0));
  line('clear first 1', s.clear(1, 16, 0n));
  line('clear 17 pages', s.clear(0, 17, 0n));
  line('clear 8 pages', s.clear(0, 8, 0n));
  line('clear 0x8 of 16', s.clear(0, 16, 0x8n));
  line('get after clear', s.get(0));
  line('logging off', s.slot(0, 0));
  line('get, logging off', s.get(0));
  line('clear, logging off', s.clear(0, 16, 0n));
  line('logging on (initially set)', s.slot(0, K.KVM_MEM_LOG_DIRTY_PAGES));
  line('get, initially set', s.get(0));
  line('clear 0xff00', s.clear(0, 16, 0xff00n));
  line('get after clear', s.get(0));
  line('clear first 16 num 0', s.clear(16, 0, 0n));
  line('clear first 0 num 0', s.clear(0, 0, 0n));
  line('clear NULL bitmap', s.clear(0, 16, 0n, null));
  line('move slot', s.slot(0x100000, K.KVM_MEM_LOG_DIRTY_PAGES));
  line('get after move', s.get(0));
  line('clear, first_page 64 past the slot', s.clear(64, 0, 0n));
  line('clear, first 0 num 0 after the move', s.clear(0, 0, 0n));
  line('clear, no slot 5, first_page 1', s.clear(1, 0, 0n, 0, 5));
  line('clear, no slot 5', s.clear(0, 0, 0n, 0, 5));
  line('delete slot', s.slot(0x100000, 0, 0));
  line('slot 0 again, logging', s.slot(0, K.KVM_MEM_LOG_DIRTY_PAGES));
  line('get, new slot', s.get(0));
  return out;
}

describe('KVM dirty page logging against this machine\'s /dev/kvm', () => {
  it.skipIf(SKIP !== undefined)('the same sequence gives the same line for every step', () => {
    expect(modelLines()).toEqual(runCOracle(join(here, 'dirty-log-oracle.c')));
  });
});

type Op =
  | { kind: 'write'; pages: number[] }
  | { kind: 'vmmWrite'; page: number }
  | { kind: 'get' }
  | { kind: 'clear'; mask: number }
  | { kind: 'manual'; on: boolean }
  | { kind: 'logging'; on: boolean };

describe('KVM dirty page logging against a reference bitmap (property)', () => {
  it('guest writes, VMM writes, GET and CLEAR in either protect mode, logging toggled: GET always shows the reference bits', () => {
    const PAGES = 16;
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), pages: fc.uniqueArray(fc.integer({ min: 0, max: PAGES - 1 }), { minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('vmmWrite' as const), page: fc.integer({ min: 0, max: PAGES - 1 }) }),
      fc.constant({ kind: 'get' as const }),
      fc.record({ kind: fc.constant('clear' as const), mask: fc.integer({ min: 0, max: 0xffff }) }),
      fc.record({ kind: fc.constant('manual' as const), on: fc.boolean() }),
      fc.record({ kind: fc.constant('logging' as const), on: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const s = setup(PAGES);
        const vcpu = s.p.ioctl(s.vm, K.KVM_CREATE_VCPU, 0);
        expect(s.slot(0, K.KVM_MEM_LOG_DIRTY_PAGES)).toBe('0');
        // The reference: null while logging is off, else the bits KVM holds.
        let ref: number | null = 0;
        let manual = 0;
        for (const o of ops) {
          switch (o.kind) {
            case 'write':
              s.host.control.kvm.loadGuest(s.p, vcpu, writer(o.pages));
              s.p.ioctl(vcpu, K.KVM_RUN);
              if (ref !== null) for (const pg of o.pages) ref |= 1 << pg;
              break;
            case 'vmmWrite':
              s.mem.bytes![o.page * PAGE] ^= 1;
              break;
            case 'get': {
              const r = s.get(0);
              if (ref === null) expect(r).toBe('E2');
              else {
                expect(r).toBe(`${ref.toString(16)} eeeeeeeeeeeeeeee`); // 16 pages: one long copied
                if (!(manual & 1)) ref = 0;
              }
              break;
            }
            case 'clear': {
              const r = s.clear(0, PAGES, BigInt(o.mask));
              expect(r).toBe(ref === null ? 'E2' : '0');
              if (ref !== null) ref &= ~o.mask;
              break;
            }
            case 'manual':
              manual = o.on ? 3 : 0;
              expect(s.cap(0, manual)).toBe('0');
              break;
            case 'logging':
              expect(s.slot(0, o.on ? K.KVM_MEM_LOG_DIRTY_PAGES : 0)).toBe('0');
              if (!o.on) ref = null;
              else if (ref === null) ref = manual & 2 ? (1 << PAGES) - 1 : 0;
              break;
          }
        }
      }),
      fcParams(100),
    );
  });
});
