// Coalesced MMIO and PIO (virt/kvm/coalesced_mmio.c: kvm_vm_ioctl_register/unregister_coalesced_mmio,
// coalesced_mmio_write, coalesced_mmio_in_range; kvm_main.c kvm_vcpu_fault for the ring page;
// arch/x86/include/asm/kvm_host.h KVM_COALESCED_MMIO_PAGE_OFFSET). A zone is a device on the KVM MMIO
// (or, with pio = 1, PIO) bus that takes a guest write lying inside it and appends it to the VM's ring
// instead of exiting: KVM_RUN goes on, and userspace replays the ring (from `first` to `last`) when it
// next looks, as QEMU's kvm_flush_coalesced_mmio_buffer does. Reads are not taken (they exit as usual).
//
// - Register: pio other than 0/1 -> EINVAL; the bus may be full (ENOSPC). Zones may overlap, and a
//   zone of size 0 takes nothing. Unregister: pio other than 0/1 -> EINVAL; every zone of the same pio
//   that the given range lies inside is removed (so a sub-range removes the whole zone and a range
//   covering a zone removes nothing); always 0.
// - A write is appended at `last` unless `last` is out of range or the ring is full (one entry always
//   stays free: (last + 1) % KVM_COALESCED_MMIO_MAX == first); then it is not handled and exits. The
//   entry gets phys_addr, len, pio and `len` bytes of data; its other data bytes keep what an earlier
//   entry left there.
//
// The ring is one page per VM that every vCPU's mapping shows at page 2. JavaScript cannot map one page
// into several buffers, so each vCPU's kvm_run area holds a copy: KVM writes every copy, and before
// appending takes `first` and `last` from a copy whose value userspace changed (QEMU reads and drains the
// ring through one vCPU's mapping). What the model cannot show: userspace writing different values to
// different vCPUs' copies (the real page would keep the last write), or reading through one vCPU's
// mapping what it wrote through another's before the next append.

import { kerr } from '../errors.js';
import { getU32, setU32 } from '../../../abi/bytes.js';
import { KVM_COALESCED_MMIO_MAX, kvm_coalesced_mmio, kvm_coalesced_mmio_ring } from '../../../include-ts/linux/kvm.js';
import type { IoDevice } from './io-bus.js';
import type { KvmVcpu } from './vcpu.js';
import type { Kvm } from './vm.js';

/** KVM_COALESCED_MMIO_PAGE_OFFSET on x86 (after kvm_run and the PIO page): KVM_CHECK_EXTENSION's answer. */
export const KVM_COALESCED_MMIO_PAGE_OFFSET = 2;
const RING = KVM_COALESCED_MMIO_PAGE_OFFSET * 4096;
const FIRST = RING + kvm_coalesced_mmio_ring.offsetof('first');
const LAST = RING + kvm_coalesced_mmio_ring.offsetof('last');
const ENTRIES = RING + kvm_coalesced_mmio_ring.size;
const ENTRY = kvm_coalesced_mmio.size;
const E_ADDR = kvm_coalesced_mmio.offsetof('phys_addr');
const E_LEN = kvm_coalesced_mmio.offsetof('len');
const E_PIO = kvm_coalesced_mmio.offsetof('pio');
const E_DATA = kvm_coalesced_mmio.offsetof('data');

/** struct kvm_coalesced_mmio_zone, as registered. */
export interface CoalescedZone {
  readonly addr: bigint;
  readonly size: number;
  readonly pio: number;
}

/** coalesced_mmio_in_range(): [addr, addr + len) lies inside the zone. */
function inRange(z: CoalescedZone, addr: bigint, len: number): boolean {
  if (len < 0) return false;
  const end = addr + BigInt(len);
  if (end >= 1n << 64n) return false;
  return addr >= z.addr && end <= z.addr + BigInt(z.size);
}

/** One registered zone: struct kvm_coalesced_mmio_dev on its bus. */
class ZoneDevice implements IoDevice {
  /** The zone as numbers, for the per-write check (the bus addresses accesses as numbers too). */
  private readonly start: number;
  private readonly end: number;

  constructor(
    readonly zone: CoalescedZone,
    private readonly owner: CoalescedMmio,
  ) {
    this.start = Number(zone.addr);
    this.end = this.start + zone.size;
  }

  read(): number {
    return -1;
  }

  /** coalesced_mmio_write(): only a write that lies inside the zone (a guest access: len > 0). */
  write(addr: number, len: number, value: number): boolean {
    return addr >= this.start && addr + len <= this.end && this.owner.append(addr, len, value, this.zone.pio);
  }
}

/** A VM's zones and ring (kvm->coalesced_zones, kvm->coalesced_mmio_ring). */
export class CoalescedMmio {
  private readonly zones: ZoneDevice[] = [];
  /** `first` and `last` as KVM last wrote them into every copy. */
  private first = 0;
  private last = 0;

  constructor(private readonly kvm: Kvm) {}

  /** KVM_REGISTER_COALESCED_MMIO. */
  register(z: CoalescedZone): number {
    if (z.pio !== 0 && z.pio !== 1) throw kerr('EINVAL', `kvm_coalesced_mmio_zone.pio is ${z.pio}: only 0 (MMIO) and 1 (PIO) exist`);
    const dev = new ZoneDevice(z, this);
    (z.pio ? this.kvm.pioBus : this.kvm.mmioBus).register(Number(z.addr), z.size, dev);
    this.zones.push(dev);
    return 0;
  }

  /** KVM_UNREGISTER_COALESCED_MMIO: every zone of that pio the range lies inside. */
  unregister(z: CoalescedZone): number {
    if (z.pio !== 0 && z.pio !== 1) throw kerr('EINVAL', `kvm_coalesced_mmio_zone.pio is ${z.pio}: only 0 (MMIO) and 1 (PIO) exist`);
    for (const dev of [...this.zones]) {
      if (dev.zone.pio !== z.pio || !inRange(dev.zone, z.addr, z.size)) continue;
      (z.pio ? this.kvm.pioBus : this.kvm.mmioBus).unregister(dev);
      this.zones.splice(this.zones.indexOf(dev), 1);
    }
    return 0;
  }

  /** A new vCPU's mapping shows the ring as it is (kvm_vcpu_fault maps the one page). */
  attach(v: KvmVcpu): void {
    const from = this.kvm.vcpus.find((o) => o !== v);
    if (from !== undefined) v.run.set(from.run.subarray(RING, RING + 4096), RING);
  }

  /** coalesced_mmio_write() past the range check: false when the ring is full or `last` is out of range. */
  append(addr: number, len: number, value: number, pio: number): boolean {
    const vcpus = this.kvm.vcpus;
    this.sync(vcpus);
    const insert = this.last;
    if (insert >= KVM_COALESCED_MMIO_MAX || (insert + 1) % KVM_COALESCED_MMIO_MAX === this.first) return false;
    this.last = (insert + 1) % KVM_COALESCED_MMIO_MAX;
    const e = ENTRIES + insert * ENTRY;
    for (const v of vcpus) {
      const b = v.run;
      setU32(b, e + E_ADDR, addr >>> 0);
      setU32(b, e + E_ADDR + 4, Math.floor(addr / 0x1_0000_0000));
      setU32(b, e + E_LEN, len);
      setU32(b, e + E_PIO, pio);
      // memcpy(data, val, len): little-endian bytes of the value, the rest left as they were.
      let x = value;
      for (let i = 0; i < len; i++) {
        b[e + E_DATA + i] = x % 256;
        x = Math.floor(x / 256);
      }
      setU32(b, LAST, this.last);
    }
    return true;
  }

  /** Takes `first` and `last` from a vCPU copy userspace changed. */
  private sync(vcpus: readonly KvmVcpu[]): void {
    for (const v of vcpus) {
      const f = getU32(v.run, FIRST);
      const l = getU32(v.run, LAST);
      if (f !== this.first || l !== this.last) {
        this.first = f;
        this.last = l;
        break;
      }
    }
    for (const v of vcpus) {
      setU32(v.run, FIRST, this.first);
      setU32(v.run, LAST, this.last);
    }
  }
}
