// The guest drivers (src/guest/drivers) driving small fake devices through KVM, with a few lines of
// VMM glue standing in for VFIO (which this suite does not depend on): the edu driver with level INTx
// over a resampling irqfd and with MSI; the MSI-X driver with a table the VMM traps (KVM_EXIT_MMIO), as
// QEMU does.
import { describe, expect, it } from 'vitest';
import { eduDriver, EDU_IRQ_ACK, EDU_IRQ_RAISE, EDU_IRQ_STATUS } from '../../src/guest/drivers/edu.js';
import { msixDriver } from '../../src/guest/drivers/msix.js';
import { KFile, type FileContext, type MmapRequest } from '../../src/linux/fs/file.js';
import { IoBacking, type Backing, type MmioHandler } from '../../src/linux/mm/backing.js';
import { EventFdFile } from '../../src/linux/eventfd.js';
import { O_RDWR } from '../../include-ts/linux/fcntl.js';
import { efd, irqfd, K, memRegion, setRoutes, signalMsi, vmm, type Vmm } from '../linux/kvm/helpers.js';
import { EduDevice } from '../../src/hw/devices/edu.js';
import { IntxLine, IntxPin } from '../../src/hw/pci/intx.js';

/** A minimal edu: status register, raise/ack, INTx level while status != 0 or one MSI per raise. */
class FakeEdu implements MmioHandler {
  status = 0;
  msi = false;
  onLine: (level: boolean) => void = () => {};
  onMsi: () => void = () => {};
  read(off: number): number {
    return off === EDU_IRQ_STATUS ? this.status : off === 0 ? 0x010000ed : 0;
  }
  write(off: number, _size: number, v: number): void {
    if (off === EDU_IRQ_RAISE) {
      this.status |= v;
      if (this.status === 0) return;
      if (this.msi) this.onMsi();
      else this.onLine(true);
    } else if (off === EDU_IRQ_ACK) {
      this.status &= ~v;
      if (this.status === 0 && !this.msi) this.onLine(false);
    }
  }
}

class BarFile extends KFile {
  readonly kind = 'other' as const;
  readonly path = 'bar0';
  constructor(private readonly dev: MmioHandler) {
    super();
  }
  override mmap(_ctx: FileContext, req: MmapRequest): Backing {
    return new IoBacking(this.dev, req.offset, req.length);
  }
}

const BAR0 = 0xfea0_0000;

function mapBar(v: Vmm, dev: MmioHandler): void {
  const f = new BarFile(dev);
  f.flags = O_RDWR;
  const fd = v.p.fds.install(f, false);
  const m = v.p.mmap(null, 0x1000, 3, 1, fd, 0);
  memRegion(v.p, v.vm, 1, 0, BAR0, 0x1000, m.addr);
}

/** Runs the guest, answering config-space port I/O; returns when the guest idles with nothing to do. */
function runGuest(v: Vmm, onConfig: (reg: number, size: number, value: number) => void = () => {}): void {
  let addr = 0;
  for (let i = 0; i < 10_000; i++) {
    let r: number;
    try {
      r = v.p.ioctl(v.vcpus[0]!, K.KVM_RUN);
    } catch (e) {
      if ((e as { code?: string }).code === 'EINTR') return;
      throw e;
    }
    expect(r).toBe(0);
    const run = v.runs[0]!;
    expect(run.read32(8)).toBe(K.KVM_EXIT_IO);
    const port = run.read16(34);
    const size = run.read8(33);
    const out = run.read8(32) === K.KVM_EXIT_IO_OUT;
    const data = size === 4 ? run.read32(4096) : size === 2 ? run.read16(4096) : run.read8(4096);
    if (port === 0xcf8 && out) addr = data;
    else if (port >= 0xcfc && port < 0xd00 && out) onConfig((addr & 0xfc) + (port - 0xcfc), size, data);
  }
  throw new Error('guest did not settle');
}

describe('edu guest driver', () => {
  it('INTx over a resampling irqfd: every raise is handled once, acked before EOI, and the resample unmask finds the line low', () => {
    const v = vmm();
    const dev = new FakeEdu();
    mapBar(v, dev);
    const trigger = efd(v.p);
    const unmask = efd(v.p);
    irqfd(v.p, v.vm, trigger, 16, K.KVM_IRQFD_FLAG_RESAMPLE, unmask);
    // VFIO-like INTx glue: the line fires the trigger eventfd and masks; the resamplefd unmasks and re-checks.
    let masked = false;
    let line = false;
    let unmasks = 0;
    const fire = () => {
      if (line && !masked) {
        masked = true;
        (v.p.fileOrNull(trigger) as EventFdFile).ctx.signal();
      }
    };
    dev.onLine = (l) => {
      line = l;
      fire();
    };
    (v.p.fileOrNull(unmask) as EventFdFile).ctx.wqh.add({
      wake: () => {
        unmasks++;
        masked = false;
        fire();
      },
    });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, eduDriver({ bar0: BAR0, mode: 'intx', vector: 0x41, ioapicPin: 16, selfTest: 5 }));
    runGuest(v);
    const g = v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest();
    expect(g.regs[1]).toBe(5);
    expect(g.regs[2]).toBe(5);
    expect(g.regs[3]).toBe(0);
    expect(g.handled.get(0x41)).toBe(5);
    expect(unmasks).toBe(5);
    expect(dev.status).toBe(0);
    expect(v.host.control.kvm.vm(v.p, v.vm).ioapicPin(16)).toMatchObject({ irr: false, remoteIrr: false, sources: 0 });
  });

  it('MSI: the driver programs the capability through config space; each raise is one interrupt', () => {
    const v = vmm();
    const dev = new FakeEdu();
    mapBar(v, dev);
    const cfg = new Map<number, number>();
    const e = efd(v.p);
    dev.onMsi = () => (v.p.fileOrNull(e) as EventFdFile).ctx.signal();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, eduDriver({ bar0: BAR0, mode: 'msi', vector: 0x52, selfTest: 3 }));
    runGuest(v, (reg, _size, value) => {
      cfg.set(reg, value);
      if (reg === 0x42 && value & 1) {
        // The VMM sees MSI enabled: route a GSI to the message and bind the device's eventfd to it.
        setRoutes(v.p, v.vm, [{ gsi: 24, msi: { lo: cfg.get(0x44)!, hi: cfg.get(0x48)!, data: cfg.get(0x4c)! } }]);
        irqfd(v.p, v.vm, e, 24);
        dev.msi = true;
      }
    });
    expect(cfg.get(0x04)).toBe(6);
    expect(cfg.get(0x44)).toBe(0xfee00000);
    expect(cfg.get(0x4c)).toBe(0x52);
    const g = v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest();
    expect(g.handled.get(0x52)).toBe(3);
    expect(g.regs[2]).toBe(3);
  });
});

describe('edu guest driver against the edu device model (src/hw/devices/edu.ts)', () => {
  function setup(): { v: Vmm; edu: EduDevice } {
    const v = vmm();
    const edu = new EduDevice();
    // Standalone (not plugged into the preset topology): give it the machine's clock and trace bus.
    edu.trace = v.host.trace;
    edu.sched = v.host.sched;
    mapBar(v, edu.barHandler(0));
    return { v, edu };
  }
  const forwardConfig = (edu: EduDevice) => (reg: number, size: number, value: number) => edu.configWrite(reg, size, value);

  it('INTx: the device line drives a resampling irqfd; every raise is handled and the line ends low', () => {
    const { v, edu } = setup();
    const line = new IntxLine(16);
    edu.intx = new IntxPin(line, 'edu', v.host.trace, v.host.sched);
    const trigger = efd(v.p);
    const unmask = efd(v.p);
    irqfd(v.p, v.vm, trigger, 16, K.KVM_IRQFD_FLAG_RESAMPLE, unmask);
    let masked = false;
    const fire = () => {
      if (line.level && !masked) {
        masked = true;
        (v.p.fileOrNull(trigger) as EventFdFile).ctx.signal();
      }
    };
    line.listener = fire;
    (v.p.fileOrNull(unmask) as EventFdFile).ctx.wqh.add({ wake: () => void ((masked = false), fire()) });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, eduDriver({ bar0: BAR0, mode: 'intx', vector: 0x41, ioapicPin: 16, selfTest: 4 }));
    runGuest(v, forwardConfig(edu));
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest().handled.get(0x41)).toBe(4);
    expect(edu.irqStatus).toBe(0);
    expect(line.level).toBe(false);
  });

  it('MSI: the driver enables the device\'s MSI capability; its messages reach the guest through KVM_SIGNAL_MSI', () => {
    const { v, edu } = setup();
    edu.msiSink = { deliver: (_src, lo, hi, data) => void signalMsi(v.p, v.vm, lo, data, hi) };
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, eduDriver({ bar0: BAR0, mode: 'msi', vector: 0x52, selfTest: 3 }));
    runGuest(v, forwardConfig(edu));
    const g = v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest();
    expect(g.handled.get(0x52)).toBe(3);
    expect(g.regs[3]).toBe(0);
  });
});

describe('MSI-X guest driver', () => {
  it('programs each entry (address, upper, data, unmask) through trapped MMIO; each vector is handled and EOId', () => {
    const v = vmm();
    const TABLE = 0xfeb0_0000;
    const table = new Map<number, number>();
    const fds = [efd(v.p), efd(v.p), efd(v.p)];
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, msixDriver({ tableAddr: TABLE, vectors: [{ entry: 0, vector: 0x61 }, { entry: 1, vector: 0x62 }, { entry: 2, vector: 0x63, masked: true }] }));
    const seen: string[] = [];
    for (let i = 0; i < 200; i++) {
      let r: number;
      try {
        r = v.p.ioctl(v.vcpus[0]!, K.KVM_RUN);
      } catch {
        break;
      }
      expect(r).toBe(0);
      const run = v.runs[0]!;
      if (run.read32(8) !== K.KVM_EXIT_MMIO) continue;
      const off = Number(run.read64(32)) - TABLE;
      expect(run.read8(52)).toBe(1);
      const val = run.read32(40);
      table.set(off, val);
      seen.push(`${off.toString(16)}=${val.toString(16)}`);
      const entry = off >> 4;
      if ((off & 0xf) === 0xc && val === 0) {
        // Unmasked: route a GSI to the entry's message and bind its eventfd (QEMU's vector notifier).
        setRoutes(v.p, v.vm, [0, 1, 2].filter((n) => table.get(n * 16 + 12) === 0).map((n) => ({ gsi: 30 + n, msi: { lo: table.get(n * 16)!, hi: table.get(n * 16 + 4)!, data: table.get(n * 16 + 8)! } })));
        irqfd(v.p, v.vm, fds[entry]!, 30 + entry);
      }
    }
    expect(seen.slice(0, 4)).toEqual(['0=fee00000', '4=0', '8=61', 'c=0']);
    expect(table.get(0x2c)).toBe(1);
    for (const f of fds) (v.p.fileOrNull(f) as EventFdFile).ctx.signal();
    expect(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN)).toThrow(/EINTR/);
    const g = v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest();
    expect([g.handled.get(0x61), g.handled.get(0x62), g.handled.get(0x63)]).toEqual([1, 1, undefined]);
  });
});
