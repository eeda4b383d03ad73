// ioeventfd (virt/kvm/eventfd.c: kvm_ioeventfd, kvm_assign_ioeventfd, kvm_assign_ioeventfd_idx,
// ioeventfd_check_collision, kvm_deassign_ioeventfd_idx, ioeventfd_in_range, ioeventfd_write): a guest
// write that matches (address, length, optionally data) signals an eventfd instead of exiting to the
// VMM. Reads are never handled (they exit).
//
// Assign checks: len not 0/1/2/4/8 -> EINVAL; addr + len wraps -> EINVAL; flags outside
// KVM_IOEVENTFD_VALID_FLAG_MASK -> EINVAL; len 0 with DATAMATCH -> EINVAL; fd -> EBADF/EINVAL; an entry
// on the same bus at the same address whose length is equal or zero on either side and whose data
// overlaps (equal datamatch, or a wildcard on either side) -> EEXIST, whatever the eventfd; a bus already
// holding NR_IOBUS_DEVS other devices -> ENOSPC. A zero-length MMIO ioeventfd also goes on the fast-MMIO
// bus, and if that fails the MMIO entry is deassigned again (kvm_assign_ioeventfd's fast_fail). Deassign matches bus, eventfd, address, length,
// wildcard and datamatch exactly; nothing matching -> ENOENT. Port numbers above 0xFFFF and the
// virtio-ccw bus are accepted on x86 (they never fire).

import { kerr } from '../errors.js';
import { eventfdCtxFdget, type EventFdCtx } from '../eventfd.js';
import type { FileContext } from '../fs/file.js';
import {
  KVM_IOEVENTFD_FLAG_DATAMATCH, KVM_IOEVENTFD_FLAG_DEASSIGN, KVM_IOEVENTFD_FLAG_PIO, KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY,
  KVM_IOEVENTFD_VALID_FLAG_MASK,
} from '../../../include-ts/linux/kvm.js';
import type { IoDevice } from './io-bus.js';
import type { Kvm } from './vm.js';

export const KVM_MMIO_BUS = 0;
export const KVM_PIO_BUS = 1;
export const KVM_VIRTIO_CCW_NOTIFY_BUS = 2;
export const KVM_FAST_MMIO_BUS = 3;
const BUS_NAMES = ['mmio', 'pio', 'virtio-ccw', 'fast-mmio'];

export interface IoeventfdArgs {
  readonly datamatch: bigint;
  readonly addr: bigint;
  readonly len: number;
  readonly fd: number;
  readonly flags: number;
}

export class Ioeventfd implements IoDevice {
  /** Signals sent (inspection). */
  hits = 0;
  private readonly dmLo: number;
  private readonly dmHi: number;

  constructor(
    readonly bus: number,
    readonly addr: number,
    readonly length: number,
    readonly eventfd: EventFdCtx,
    readonly wildcard: boolean,
    readonly datamatch: bigint,
  ) {
    this.dmLo = Number(datamatch & 0xffff_ffffn);
    this.dmHi = Number(datamatch >> 32n);
  }

  /** ioeventfd_in_range(). */
  private inRange(addr: number, len: number, value: number): boolean {
    if (addr !== this.addr) return false;
    if (!this.length) return true;
    if (len !== this.length) return false;
    if (this.wildcard) return true;
    const lo = value >>> 0;
    const hi = len === 8 ? Math.floor(value / 0x1_0000_0000) >>> 0 : 0;
    return lo === this.dmLo && hi === this.dmHi;
  }

  read(): number {
    return -1;
  }

  /** ioeventfd_write(). */
  write(addr: number, len: number, value: number): boolean {
    if (!this.inRange(addr, len, value)) return false;
    this.hits++;
    this.eventfd.signal();
    return true;
  }

  describe(): string {
    return `${BUS_NAMES[this.bus]} 0x${this.addr.toString(16)} len ${this.length}${this.wildcard ? '' : ` datamatch 0x${this.datamatch.toString(16)}`} -> eventfd#${this.eventfd.id}`;
  }
}

function busFromFlags(flags: number): number {
  if (flags & KVM_IOEVENTFD_FLAG_PIO) return KVM_PIO_BUS;
  if (flags & KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY) return KVM_VIRTIO_CCW_NOTIFY_BUS;
  return KVM_MMIO_BUS;
}

export class IoeventfdRegistry {
  readonly list: Ioeventfd[] = [];

  constructor(private readonly kvm: Kvm) {}

  /** kvm_ioeventfd(). */
  ioctl(ctx: FileContext, a: IoeventfdArgs): number {
    if (a.flags & KVM_IOEVENTFD_FLAG_DEASSIGN) return this.deassign(ctx, a);
    return this.assign(ctx, a);
  }

  private assign(ctx: FileContext, a: IoeventfdArgs): number {
    const bus = busFromFlags(a.flags);
    if (a.len !== 0 && a.len !== 1 && a.len !== 2 && a.len !== 4 && a.len !== 8) throw kerr('EINVAL', `len ${a.len} is not 0, 1, 2, 4 or 8`);
    if (a.addr + BigInt(a.len) > 0xffff_ffff_ffff_ffffn) throw kerr('EINVAL', `addr 0x${a.addr.toString(16)} + len ${a.len} wraps around`);
    if (a.flags & ~KVM_IOEVENTFD_VALID_FLAG_MASK) throw kerr('EINVAL', `flags 0x${a.flags.toString(16)} has unknown bits (valid mask 0x${KVM_IOEVENTFD_VALID_FLAG_MASK.toString(16)})`);
    if (!a.len && a.flags & KVM_IOEVENTFD_FLAG_DATAMATCH) throw kerr('EINVAL', 'a zero-length ioeventfd cannot have KVM_IOEVENTFD_FLAG_DATAMATCH');
    this.assignIdx(ctx, bus, a);
    if (!a.len && bus === KVM_MMIO_BUS) {
      try {
        this.assignIdx(ctx, KVM_FAST_MMIO_BUS, a);
      } catch (e) {
        // fast_fail: the MMIO entry just added is taken back before the error is returned.
        this.deassignIdx(ctx, bus, a);
        throw e;
      }
    }
    return 0;
  }

  /** kvm_assign_ioeventfd_idx(). */
  private assignIdx(ctx: FileContext, bus: number, a: IoeventfdArgs): void {
    const eventfd = eventfdCtxFdget(ctx, a.fd, 'fd');
    const wildcard = !(a.flags & KVM_IOEVENTFD_FLAG_DATAMATCH);
    const p = new Ioeventfd(bus, Number(a.addr), a.len, eventfd, wildcard, wildcard ? 0n : a.datamatch);
    const clash = this.list.find((q) => q.bus === p.bus && q.addr === p.addr && (!q.length || !p.length || (q.length === p.length && (q.wildcard || p.wildcard || q.datamatch === p.datamatch))));
    if (clash) throw kerr('EEXIST', `an ioeventfd already matches this access (${clash.describe()})`);
    const b = this.busOf(bus);
    if (b) {
      b.register(p.addr, p.length, p);
      b.ioeventfdCount++;
    }
    this.list.push(p);
    eventfd.get();
  }

  private busOf(bus: number) {
    return bus === KVM_MMIO_BUS ? this.kvm.mmioBus : bus === KVM_PIO_BUS ? this.kvm.pioBus : bus === KVM_FAST_MMIO_BUS ? this.kvm.fastMmioBus : null;
  }

  private deassign(ctx: FileContext, a: IoeventfdArgs): number {
    const bus = busFromFlags(a.flags);
    const r = this.deassignIdx(ctx, bus, a);
    if (!a.len && bus === KVM_MMIO_BUS) {
      try {
        this.deassignIdx(ctx, KVM_FAST_MMIO_BUS, a);
      } catch {
        // The fast-MMIO twin's result is ignored, as in kvm_deassign_ioeventfd().
      }
    }
    return r;
  }

  /** kvm_deassign_ioeventfd_idx(). */
  private deassignIdx(ctx: FileContext, bus: number, a: IoeventfdArgs): number {
    const eventfd = eventfdCtxFdget(ctx, a.fd, 'fd');
    const wildcard = !(a.flags & KVM_IOEVENTFD_FLAG_DATAMATCH);
    const i = this.list.findIndex((p) => p.bus === bus && p.eventfd === eventfd && p.addr === Number(a.addr) && p.length === a.len && p.wildcard === wildcard && (p.wildcard || p.datamatch === a.datamatch));
    if (i < 0) throw kerr('ENOENT', `no ioeventfd on the ${BUS_NAMES[bus]} bus matches eventfd fd ${a.fd}, addr 0x${a.addr.toString(16)}, len ${a.len}${wildcard ? '' : `, datamatch 0x${a.datamatch.toString(16)}`}`);
    const [p] = this.list.splice(i, 1);
    const b = this.busOf(bus);
    if (b) {
      b.unregister(p!);
      b.ioeventfdCount--;
    }
    // ioeventfd_release(): the eventfd reference goes with the ioeventfd.
    p!.eventfd.put();
    return 0;
  }

  /** kvm_io_bus_destroy() at kvm_destroy_vm(): every ioeventfd's destructor drops its eventfd. */
  destroy(): void {
    for (const p of this.list.splice(0)) p.eventfd.put();
  }
}
