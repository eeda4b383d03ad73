// The in-kernel I/O buses (virt/kvm/kvm_main.c: kvm_io_bus_register_dev, kvm_io_bus_get_first_dev,
// __kvm_io_bus_read/__kvm_io_bus_write): devices a guest access reaches without exiting to userspace
// — the IOAPIC, the 8259 ports, ioeventfds. A device claims a range; an access is offered to every
// device whose range contains it (a zero-length range matches its exact address only), in address
// order, until one handles it (the first candidate is found by binary search, as
// kvm_io_bus_get_first_dev does, so a bus with many ioeventfds costs O(log n) per access, not O(n)).
// Unhandled accesses exit to the VMM. Writes carry the vCPU that made them
// (kvm_io_device_ops take it too) so a device can ask for an exit after the access completes.

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

interface Range {
  readonly addr: number;
  readonly len: number;
  readonly dev: IoDevice;
}

export class IoBus {
  private ranges: Range[] = [];
  /** The longest registered range: a range starting more than this below an access cannot cover it. */
  private maxLen = 0;
  /** Registered ioeventfds (they do not count against the device limit). */
  ioeventfdCount = 0;

  constructor(readonly name: string) {}

  /**
   * kvm_io_bus_register_dev(). ENOSPC once the bus holds NR_IOBUS_DEVS devices other than ioeventfds
   * ("exclude ioeventfd which is limited by maximum fd"); a caller registering an ioeventfd counts it
   * in ioeventfdCount after this returns.
   */
  register(addr: number, len: number, dev: IoDevice): void {
    if (this.ranges.length - this.ioeventfdCount > NR_IOBUS_DEVS - 1) throw kerr('ENOSPC', `the KVM ${this.name} bus already has ${NR_IOBUS_DEVS} devices besides ioeventfds (NR_IOBUS_DEVS)`);
    this.ranges.push({ addr, len, dev });
    // kvm_io_bus_sort_cmp: by address, then by end.
    this.ranges.sort((a, b) => a.addr - b.addr || a.addr + a.len - (b.addr + b.len));
    if (len > this.maxLen) this.maxLen = len;
  }

  unregister(dev: IoDevice): void {
    this.ranges = this.ranges.filter((r) => r.dev !== dev);
    this.maxLen = 0;
    for (const r of this.ranges) if (r.len > this.maxLen) this.maxLen = r.len;
  }

  get devices(): readonly IoDevice[] {
    return this.ranges.map((r) => r.dev);
  }

  /** kvm_io_bus_cmp() == 0: the access lies inside the device's range (or at its address when len is 0). */
  private static covers(r: Range, addr: number, len: number): boolean {
    if (r.len === 0) return addr === r.addr;
    return addr >= r.addr && addr + len <= r.addr + r.len;
  }

  /** The first range that may cover an access at `addr` (binary search on the start address). */
  private first(addr: number): number {
    const rs = this.ranges;
    const from = addr - this.maxLen;
    let lo = 0;
    let hi = rs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rs[mid]!.addr < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  read(addr: number, len: number): number {
    const rs = this.ranges;
    for (let i = this.first(addr); i < rs.length; i++) {
      const r = rs[i]!;
      if (r.addr > addr) break;
      if (!IoBus.covers(r, addr, len)) continue;
      const v = r.dev.read(addr, len);
      if (v >= 0) return v;
    }
    return -1;
  }

  write(addr: number, len: number, value: number, vcpu: KvmVcpu | null = null): boolean {
    const rs = this.ranges;
    for (let i = this.first(addr); i < rs.length; i++) {
      const r = rs[i]!;
      if (r.addr > addr) break;
      if (!IoBus.covers(r, addr, len)) continue;
      if (r.dev.write(addr, len, value, vcpu)) return true;
    }
    return false;
  }
}
