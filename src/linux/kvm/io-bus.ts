// The in-kernel I/O buses (virt/kvm/kvm_main.c: kvm_io_bus_cmp, kvm_io_bus_register_dev,
// kvm_io_bus_unregister_dev, kvm_io_bus_get_first_dev, __kvm_io_bus_read/__kvm_io_bus_write; lib/bsearch.c):
// devices a guest access reaches without exiting to userspace — the IOAPIC, the 8259 ports, ioeventfds.
// Exactly the kernel's algorithm, because with overlapping ranges it decides which device gets an access:
// - kvm_io_bus_cmp(r1, r2) is 0 when r1 lies inside r2 (at r2's exact address when r2's length is 0);
// - registration inserts before the first entry that compares greater than the new range, so among
//   ranges that compare equal the one registered first comes first;
// - an access is binary-searched with that comparison (lib/bsearch.c's halving), the index walked back
//   while the previous entry still contains the access, then offered forward to each entry while it
//   contains the access, until one handles it. Only that contiguous run is offered: a containing range
//   separated from it by one that does not contain the access is never asked.
// Unhandled accesses exit to the VMM. Writes carry the vCPU that made them (kvm_io_device_ops take it
// too) so a device can ask for an exit after the access completes.

import { kerr } from '../errors.js';
import type { KvmVcpu } from './vcpu.js';

/** NR_IOBUS_DEVS (include/linux/kvm_host.h): devices per bus, ioeventfds not counted. */
export const NR_IOBUS_DEVS = 1000;

/** An in-kernel device on a bus (struct kvm_io_device_ops). */
export interface IoDevice {
  /** Returns the value read, or -1 if the device does not handle this access (-EOPNOTSUPP). */
  read(addr: number, len: number): number;
  /** Returns true if the device handled the write. `vcpu` is null for accesses not made by a guest CPU. */
  write(addr: number, len: number, value: number, vcpu: KvmVcpu | null): boolean;
}

/** A range on a bus (struct kvm_io_range without the device). */
export interface IoRange {
  readonly addr: number;
  readonly len: number;
}

interface Range extends IoRange {
  readonly dev: IoDevice;
}

/**
 * kvm_io_bus_cmp(r1, r2), r1 given as `addr1`/`len1`: -1 when r1 starts below r2; otherwise 1 when r1
 * ends past r2 (when r2 is zero-length: when r1 starts past it), else 0. Not symmetric: r2's length
 * decides. r2 is passed as the range itself: MMIO addresses are above 2^31, so a range's address read
 * from its field and passed to a call V8 did not inline would be boxed on every guest access.
 */
export function ioBusCmp(addr1: number, len1: number, r2: IoRange): number {
  const addr2 = r2.addr;
  if (addr1 < addr2) return -1;
  const len2 = r2.len;
  if (len2 === 0) return addr1 > addr2 ? 1 : 0;
  return addr1 + len1 > addr2 + len2 ? 1 : 0;
}

export class IoBus {
  private ranges: Range[] = [];
  /** Registered ioeventfds (they do not count against the device limit). */
  ioeventfdCount = 0;

  constructor(readonly name: string) {}

  /**
   * kvm_io_bus_register_dev(). ENOSPC once the bus holds NR_IOBUS_DEVS devices other than ioeventfds
   * ("exclude ioeventfd which is limited by maximum fd"); a caller registering an ioeventfd counts it
   * in ioeventfdCount after this returns.
   */
  register(addr: number, len: number, dev: IoDevice): void {
    const rs = this.ranges;
    if (rs.length - this.ioeventfdCount > NR_IOBUS_DEVS - 1) throw kerr('ENOSPC', `the KVM ${this.name} bus already has ${NR_IOBUS_DEVS} devices besides ioeventfds (NR_IOBUS_DEVS)`);
    const range: Range = { addr, len, dev };
    let i = 0;
    while (i < rs.length && ioBusCmp(rs[i]!.addr, rs[i]!.len, range) <= 0) i++;
    rs.splice(i, 0, range);
  }

  /** kvm_io_bus_unregister_dev(): removes the device's first range; a device not on the bus is ignored. */
  unregister(dev: IoDevice): void {
    const i = this.ranges.findIndex((r) => r.dev === dev);
    if (i >= 0) this.ranges.splice(i, 1);
  }

  get devices(): readonly IoDevice[] {
    return this.ranges.map((r) => r.dev);
  }

  /** kvm_io_bus_get_first_dev(): the start of the run of ranges containing the access, or -1 (-ENOENT). */
  private first(addr: number, len: number): number {
    const rs = this.ranges;
    // lib/bsearch.c: halve `num` each step; on "greater", move past the pivot first.
    let base = 0;
    let num = rs.length;
    let off = -1;
    while (num > 0) {
      const pivot = base + (num >> 1);
      const r = ioBusCmp(addr, len, rs[pivot]!);
      if (r === 0) {
        off = pivot;
        break;
      }
      if (r > 0) {
        base = pivot + 1;
        num--;
      }
      num >>= 1;
    }
    if (off < 0) return -1;
    while (off > 0 && ioBusCmp(addr, len, rs[off - 1]!) === 0) off--;
    return off;
  }

  read(addr: number, len: number): number {
    const rs = this.ranges;
    const i0 = this.first(addr, len);
    if (i0 < 0) return -1;
    for (let i = i0; i < rs.length && ioBusCmp(addr, len, rs[i]!) === 0; i++) {
      const v = rs[i]!.dev.read(addr, len);
      if (v >= 0) return v;
    }
    return -1;
  }

  write(addr: number, len: number, value: number, vcpu: KvmVcpu | null = null): boolean {
    const rs = this.ranges;
    const i0 = this.first(addr, len);
    if (i0 < 0) return false;
    for (let i = i0; i < rs.length && ioBusCmp(addr, len, rs[i]!) === 0; i++) {
      if (rs[i]!.dev.write(addr, len, value, vcpu)) return true;
    }
    return false;
  }
}
