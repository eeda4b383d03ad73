// examples/intx-userspace.ts and examples/msix-userspace.ts: userspace drivers servicing INTx and MSI-X
// through VFIO, traced strace-style.
import { describe, expect, it } from 'vitest';
import { intxUserspace } from '../../examples/intx-userspace.js';
import { msixUserspace } from '../../examples/msix-userspace.js';

describe('examples/intx-userspace', () => {
  it('each factorial completion is one host interrupt, one eventfd signal, one unmask', () => {
    const r = intxUserspace(() => {}, undefined, 3);
    expect(r.results).toEqual([120, 720, 5040]);
    expect(r.handled).toBe(3);
    expect(r.hostIrqs).toBe(3);
    expect(r.lines).toContain('ioctl(5, VFIO_DEVICE_SET_IRQS, {argsz=20, flags=VFIO_IRQ_SET_DATA_NONE|VFIO_IRQ_SET_ACTION_UNMASK, index=VFIO_PCI_INTX_IRQ_INDEX, start=0, count=1}) = 0');
    expect(r.lines.some((l) => l.startsWith('--- irq vfio-mask 0000:00:03.0 automask'))).toBe(true);
  });
});

describe('examples/msix-userspace', () => {
  it('every raise reaches its own vector\'s eventfd; /proc/interrupts names the vectors', () => {
    const r = msixUserspace(() => {}, undefined, 4, [0, 2, 2, 3, 1, 2]);
    expect(r.counts).toEqual([1, 1, 3, 1]);
    expect(r.proc).toHaveLength(4);
    expect(r.proc[2]).toMatch(/IR-PCI-MSIX-0000:06:00\.0 +2-edge +vfio-msix\[2\]\(0000:06:00\.0\)$/);
    expect(r.lines).toContain('# Message Control before SET_IRQS: 0x7ff (Enable clear)');
  });
});
