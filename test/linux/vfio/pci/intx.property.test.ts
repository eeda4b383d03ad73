// Property: no INTx interrupt is lost or invented (issue 4). Model-based (fc.commands + fc.modelRun)
// over random sequences of device assert/deassert, MASK/UNMASK through the ioctl and through the unmask
// eventfd (virqfd), virtual INTx-Disable writes, enable/disable, and reads of the trigger eventfd,
// on a PCI 2.3 device (edu: automask with Interrupt Disable, shared-capable line) and on a device without
// PCI 2.3 masking (exclusive line, masked at the IO-APIC). The reference model is vfio_pci_intrs.c's
// INTx rules in a few lines (reference vfio.md §4.3-4.4):
// - the handler fires when the line is enabled, unmasked and the device asserts: masked, one signal;
// - unmask (ioctl, virqfd, INTx-Disable cleared) of a masked line: if the device still asserts, it stays
//   masked and the trigger is signalled again; otherwise it is unmasked;
// - enable starts masked iff the guest has INTx virtually disabled, and fires at once if asserting.
// Checked after every command: the trigger's total count equals the model's; vfio's `masked` flag
// equals the model's; an enabled, unmasked line is never left asserting (nothing lost); and every
// signal of the trigger happens while the device asserts (nothing invented).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../../../support/runs.js';
import { Host } from '../../../../src/host.js';
import type { Process } from '../../../../src/linux/process.js';
import type { EventFdFile } from '../../../../src/linux/eventfd.js';
import { EDU, LEGACY, GROUP, V, openDevice } from '../../../support/vfio.js';
import { BOOL, EVENTFD, INTX, MASK, NONE, TRIGGER, UNMASK, efd, errno, poke, setIrqs, take } from '../../../support/irqs.js';

const CONFIG = 7 * 2 ** 40;

interface Model {
  asserting: boolean;
  enabled: boolean;
  masked: boolean;
  virq: boolean;
  unmaskFd: boolean;
  /** The unmask eventfd holds a count nobody consumed (written while unregistered). */
  unmaskPending: boolean;
  signals: number;
}

interface Real {
  host: Host;
  p: Process;
  device: number;
  bdf: string;
  trig: number;
  unmask: number;
  read: number;
  invented: number;
}

/** An unmask of a masked line: still asserting -> stays masked, signalled again; else unmasked. */
function unmaskModel(m: Model): void {
  if (!m.enabled || !m.masked || m.virq) return;
  if (m.asserting) m.signals++;
  else m.masked = false;
}


function counter(r: Real): number {
  return (r.p.fileOrNull(r.trig) as EventFdFile).ctx.countNumber;
}

function check(m: Model, r: Real): void {
  expect(r.read + counter(r), 'trigger eventfd total').toBe(m.signals);
  expect(r.invented, 'signals while the device was not asserting').toBe(0);
  const v = r.host.control.irq.vfio(r.bdf)!;
  expect(v.irqType).toBe(m.enabled ? 'intx' : 'none');
  if (m.enabled) expect(v.intx!.masked, 'vfio masked').toBe(m.masked);
  expect(v.virqDisabled).toBe(m.virq);
  // Nothing lost: an enabled, unmasked line whose device asserts would have been taken and masked.
  expect(m.enabled && m.asserting && !m.masked).toBe(false);
}

type Cmd = fc.Command<Model, Real>;

class Assert implements Cmd {
  constructor(readonly on: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.host.control.pci.setIrqLevel(r.bdf, this.on);
    if (this.on && !m.asserting && m.enabled && !m.masked) {
      m.masked = true;
      m.signals++;
    }
    m.asserting = this.on;
    check(m, r);
  }
  toString = () => (this.on ? 'device asserts' : 'device deasserts');
}

class MaskIoctl implements Cmd {
  constructor(readonly bool: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const e = errno(() => setIrqs(r.p, r.device, INTX, (this.bool ? BOOL : NONE) | MASK, 0, 1, this.bool ? [1] : []));
    expect(e).toBe(m.enabled ? null : 'EINVAL');
    if (m.enabled) m.masked = true;
    check(m, r);
  }
  toString = () => `ioctl MASK (${this.bool ? 'DATA_BOOL 1' : 'DATA_NONE'})`;
}

class UnmaskIoctl implements Cmd {
  constructor(readonly bool: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const e = errno(() => setIrqs(r.p, r.device, INTX, (this.bool ? BOOL : NONE) | UNMASK, 0, 1, this.bool ? [1] : []));
    expect(e).toBe(m.enabled ? null : 'EINVAL');
    unmaskModel(m);
    check(m, r);
  }
  toString = () => `ioctl UNMASK (${this.bool ? 'DATA_BOOL 1' : 'DATA_NONE'})`;
}

class RegisterUnmaskFd implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    const e = errno(() => setIrqs(r.p, r.device, INTX, EVENTFD | UNMASK, 0, 1, [r.unmask]));
    expect(e).toBe(!m.enabled ? 'EINVAL' : m.unmaskFd ? 'EBUSY' : null);
    if (m.enabled && !m.unmaskFd) {
      m.unmaskFd = true;
      if (m.unmaskPending) unmaskModel(m);
    }
    check(m, r);
  }
  toString = () => 'register the unmask eventfd';
}

class UnregisterUnmaskFd implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    const e = errno(() => setIrqs(r.p, r.device, INTX, EVENTFD | UNMASK, 0, 1, [-1]));
    expect(e).toBe(m.enabled ? null : 'EINVAL');
    if (m.enabled && m.unmaskFd) {
      m.unmaskFd = false;
      m.unmaskPending = false; // virqfd_shutdown consumes the count
    }
    check(m, r);
  }
  toString = () => 'unregister the unmask eventfd (fd -1)';
}

class PokeUnmaskFd implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    poke(r.p, r.unmask);
    if (m.unmaskFd) {
      m.unmaskPending = false;
      unmaskModel(m);
    } else m.unmaskPending = true;
    check(m, r);
  }
  toString = () => 'write 1 to the unmask eventfd';
}

class VirtualIntxDisable implements Cmd {
  constructor(readonly on: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const b = new Uint8Array(2);
    r.p.pread(r.device, b, CONFIG + 4);
    const cmd = (b[0]! | (b[1]! << 8)) & ~0x400;
    r.p.pwrite(r.device, new Uint8Array([cmd & 0xff, (cmd >> 8) | (this.on ? 4 : 0)]), CONFIG + 4);
    if (this.on && !m.virq) {
      m.virq = true;
      if (m.enabled) m.masked = true;
    } else if (!this.on && m.virq) {
      m.virq = false;
      unmaskModel(m);
    }
    check(m, r);
  }
  toString = () => `guest writes Command.INTx-Disable = ${this.on ? 1 : 0}`;
}

class Enable implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    setIrqs(r.p, r.device, INTX, EVENTFD | TRIGGER, 0, 1, [r.trig]);
    if (!m.enabled) {
      m.enabled = true;
      m.masked = m.virq;
      if (!m.masked && m.asserting) {
        m.masked = true;
        m.signals++;
      }
    }
    check(m, r);
  }
  toString = () => 'SET_IRQS INTx TRIGGER eventfd (enable, or same trigger again)';
}

class Disable implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    const e = errno(() => setIrqs(r.p, r.device, INTX, NONE | TRIGGER, 0, 0));
    expect(e).toBe(m.enabled ? null : 'EINVAL');
    if (m.enabled) {
      m.enabled = false;
      if (m.unmaskFd) m.unmaskPending = false;
      m.unmaskFd = false;
    }
    check(m, r);
  }
  toString = () => 'SET_IRQS INTx TRIGGER count 0 (disable)';
}

class ReadTrigger implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    r.read += take(r.p, r.trig);
    check(m, r);
  }
  toString = () => 'read the trigger eventfd';
}

const commands = [
  fc.boolean().map((on) => new Assert(on)),
  fc.boolean().map((b) => new MaskIoctl(b)),
  fc.boolean().map((b) => new UnmaskIoctl(b)),
  fc.constant(new RegisterUnmaskFd()),
  fc.constant(new UnregisterUnmaskFd()),
  fc.constant(new PokeUnmaskFd()),
  fc.boolean().map((on) => new VirtualIntxDisable(on)),
  fc.constant(new Enable()),
  fc.constant(new Disable()),
  fc.constant(new ReadTrigger()),
];

function setup(bdf: string): () => { model: Model; real: Real } {
  return () => {
    const host = Host.create();
    if (bdf === LEGACY) {
      // The device without PCI 2.3 masking needs its line to itself.
      const admin = host.spawn();
      admin.writeFile('/sys/bus/pci/drivers/r8169/unbind', '0000:03:01.0');
      admin.writeFile('/sys/bus/pci/drivers/e1000e/unbind', '0000:06:00.0');
    }
    const o = openDevice(bdf, bdf === LEGACY ? GROUP.legacy : GROUP.edu, V.VFIO_TYPE1v2_IOMMU, host);
    const real: Real = { host, p: o.p, device: o.device, bdf, trig: efd(o.p), unmask: efd(o.p), read: 0, invented: 0 };
    const trigId = (o.p.fileOrNull(real.trig) as EventFdFile).ctx.id;
    const dev = host.control.pci.device(bdf);
    host.trace.on((ev) => {
      if (ev.type === 'irq' && ev.hop === 'eventfd-signal' && ev.at === `eventfd#${trigId}` && !dev.irqLevel) real.invented++;
    });
    return { model: { asserting: false, enabled: false, masked: false, virq: false, unmaskFd: false, unmaskPending: false, signals: 0 }, real };
  };
}

describe('property: INTx is never lost nor invented', () => {
  for (const [name, bdf] of [['PCI 2.3 device (edu, automask by Interrupt Disable)', EDU], ['device without PCI 2.3 masking (exclusive line, IO-APIC masking)', LEGACY]] as const) {
    it(name, () => {
      fc.assert(
        fc.property(fc.commands(commands, { maxCommands: 60, size: '+1' }), (cmds) => {
          fc.modelRun(setup(bdf), cmds);
        }),
        fcParams(100),
      );
    });
  }
});
