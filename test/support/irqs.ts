// Helpers for interrupt tests: struct vfio_irq_set bytes, SET_IRQS calls, eventfds read without blocking.
import type { Process } from '../../src/linux/process.js';
import { SyscallError } from '../../src/linux/errors.js';
import { EFD_NONBLOCK } from '../../include-ts/linux/eventfd.js';
import * as V from '../../include-ts/linux/vfio.js';

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

/**
 * struct vfio_irq_set with its data: `data` is a list of fds (DATA_EVENTFD, s32 each), of bools
 * (DATA_BOOL, one byte each), or absent (DATA_NONE).
 */
export function irqSet(index: number, flags: number, start: number, count: number, data: readonly number[] = []): Uint8Array {
  const size = flags & EVENTFD ? 4 : flags & BOOL ? 1 : 0;
  const b = new Uint8Array(20 + size * data.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, index, true);
  v.setUint32(12, start, true);
  v.setUint32(16, count, true);
  data.forEach((x, i) => {
    if (size === 4) v.setInt32(20 + 4 * i, x, true);
    else b[20 + i] = x;
  });
  return b;
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
