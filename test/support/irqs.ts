// Helpers for interrupt tests: struct vfio_irq_set bytes, SET_IRQS calls, eventfds read without blocking.
import type { Process } from '../../src/linux/process.js';
import { SyscallError } from '../../src/linux/errors.js';
import { EFD_NONBLOCK } from '../../include-ts/linux/eventfd.js';
import * as V from '../../include-ts/linux/vfio.js';
import { irqSet as vfioIrqSet } from '../../examples/lib/vfio.js';

export const INTX = V.VFIO_PCI_INTX_IRQ_INDEX;
export const MSI = V.VFIO_PCI_MSI_IRQ_INDEX;
export const MSIX = V.VFIO_PCI_MSIX_IRQ_INDEX;
export const ERR = V.VFIO_PCI_ERR_IRQ_INDEX;
export const REQ = V.VFIO_PCI_REQ_IRQ_INDEX;

export const NONE = V.VFIO_IRQ_SET_DATA_NONE;
export const BOOL = V.VFIO_IRQ_SET_DATA_BOOL;
export const EVENTFD = V.VFIO_IRQ_SET_DATA_EVENTFD;
export const MASK = V.VFIO_IRQ_SET_ACTION_MASK;
export const UNMASK = V.VFIO_IRQ_SET_ACTION_UNMASK;
export const TRIGGER = V.VFIO_IRQ_SET_ACTION_TRIGGER;

/** struct vfio_irq_set with its data (examples/lib/vfio.ts), index first as the tests read it. */
export function irqSet(index: number, flags: number, start: number, count: number, data: readonly number[] = []): Uint8Array {
  return vfioIrqSet(flags, index, start, count, data);
}

/** VFIO_DEVICE_SET_IRQS; `data` as in irqSet (count defaults to its length, or 1 without data). */
export function setIrqs(p: Process, device: number, index: number, flags: number, start = 0, count?: number, data: readonly number[] = []): number {
  return p.ioctl(device, V.VFIO_DEVICE_SET_IRQS, irqSet(index, flags, start, count ?? (data.length || 1), data));
}

/** A non-blocking eventfd. */
export function efd(p: Process): number {
  return p.eventfd(0, EFD_NONBLOCK);
}

/** Reads (and so clears) an eventfd's counter, 0 when it is 0; writes 1 to an eventfd (a user's signal). */
export { count as take, signal as poke } from '../linux/kvm/helpers.js';

/** Runs `fn`; the errno code of the SyscallError it throws, or null if it succeeds. */
export function errno(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
}
