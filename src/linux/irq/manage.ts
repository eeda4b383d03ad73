// kernel/irq/manage.c: request_irq()/free_irq() (request_threaded_irq, __setup_irq, __free_irq) and
// disable_irq()/disable_irq_nosync()/enable_irq() (__disable_irq, __enable_irq).
//
// Rules kept from the kernel:
// - request_irq: EINVAL for an irq without a descriptor, no handler, IRQF_SHARED without dev_id,
//   IRQF_SHARED together with IRQF_NO_AUTOEN; a caller that gives no trigger type inherits the line's.
//   A line that already has actions accepts another only if both have IRQF_SHARED and the same trigger
//   type and ONESHOT/PERCPU bits; otherwise EBUSY with "Flags mismatch irq N. <new> (<name>) vs.
//   <old> (<name>)" (unless IRQF_PROBE_SHARED). Actions are chained in request order. The first
//   action starts the line up (unless IRQF_NO_AUTOEN: it stays disabled with depth 1); every install
//   resets the spurious counts, and a shared install re-enables a line the detector disabled.
// - free_irq: removes the action whose dev_id matches ("Trying to free already-free IRQ N" if none);
//   the last one shuts the line down (masked, depth 1) and clears IRQ_DISABLE_UNLAZY.
// - disable_irq_nosync: depth++ and, from 0, irq_disable() (lazy unless unlazy); enable_irq: depth--
//   and, at 1 -> 0, irq_startup with resend; enable at depth 0 warns "Unbalanced enable for IRQ N".
//   disable_irq also waits for running handlers (synchronize_irq): nothing runs concurrently here.
// All of these hold the descriptor lock with interrupts off (raw_spin_lock_irqsave): an interrupt they
// cause (unmasking a line that is asserted, replaying a pending edge) is taken after they return.

import { kerr } from '../errors.js';
import { irqDisable, irqShutdown, irqStartup } from './chip.js';
import type { IrqCore } from './irq-core.js';
import {
  IRQ_DISABLE_UNLAZY, IRQ_NOAUTOEN, IRQF_NO_AUTOEN, IRQF_ONESHOT, IRQF_PERCPU, IRQF_PROBE_SHARED, IRQF_SHARED,
  IRQF_TRIGGER_MASK, IRQS_SPURIOUS_DISABLED, IrqAction, type IrqDesc, type IrqHandler,
} from './irqdesc.js';

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** request_irq() */
export function requestIrq(core: IrqCore, irq: number, handler: IrqHandler, flags: number, name: string, devId: unknown): IrqAction {
  const desc = core.desc(irq);
  if (!desc) throw kerr('EINVAL', `irq ${irq} has no descriptor (nothing is mapped there)`);
  if ((flags & IRQF_SHARED) !== 0 && devId == null) throw kerr('EINVAL', `request_irq(${irq}, "${name}"): a shared handler needs a dev_id`);
  if ((flags & IRQF_SHARED) !== 0 && (flags & IRQF_NO_AUTOEN) !== 0) throw kerr('EINVAL', `request_irq(${irq}, "${name}"): IRQF_NO_AUTOEN cannot be used on a shared line`);
  let f = flags;
  if ((f & IRQF_TRIGGER_MASK) === 0) f |= desc.triggerType;
  const old = desc.action;
  if (old) {
    const mismatch = !(old.flags & f & IRQF_SHARED) || (old.flags & IRQF_TRIGGER_MASK) !== (f & IRQF_TRIGGER_MASK) ||
      (old.flags & IRQF_ONESHOT) !== (f & IRQF_ONESHOT) || (old.flags & IRQF_PERCPU) !== (f & IRQF_PERCPU);
    if (mismatch) {
      if (!(f & IRQF_PROBE_SHARED)) core.log.err(`genirq: Flags mismatch irq ${irq}. ${hex8(f)} (${name}) vs. ${hex8(old.flags)} (${old.name})`);
      throw kerr('EBUSY', `irq ${irq} is in use by ${desc.actions.map((a) => a.name).join(', ')}${(f & IRQF_SHARED) === 0 ? ' and this request needs it exclusively' : ' without IRQF_SHARED'}`);
    }
  }
  const action = new IrqAction(irq, handler, f, name, devId);
  core.localIrqSave();
  try {
    setupAction(core, desc, action, !old);
  } finally {
    core.localIrqRestore();
  }
  if (core.trace.active) core.trace.emit({ type: 'irq', t: core.sched.now, hop: 'host-irq', at: `irq ${irq}`, detail: `request_irq "${name}" (flags 0x${f.toString(16)})` });
  return action;
}

/** The part of __setup_irq() under the descriptor lock. */
function setupAction(core: IrqCore, desc: IrqDesc, action: IrqAction, first: boolean): void {
  const f = action.flags;
  let tail = desc.action;
  if (tail === null) desc.action = action;
  else {
    while (tail.next !== null) tail = tail.next;
    tail.next = action;
  }
  desc.irqCount = 0;
  desc.irqsUnhandled = 0;
  if (first) {
    desc.istate &= ~IRQS_SPURIOUS_DISABLED;
    if ((f & IRQF_NO_AUTOEN) === 0 && (desc.settings & IRQ_NOAUTOEN) === 0) irqStartup(core, desc, true);
    else desc.depth = 1;
  } else if (desc.istate & IRQS_SPURIOUS_DISABLED) {
    desc.istate &= ~IRQS_SPURIOUS_DISABLED;
    enableDesc(core, desc);
  }
}

/** free_irq(): returns the action removed, or null (with the kernel's warning) if none matched. */
export function freeIrq(core: IrqCore, irq: number, devId: unknown): IrqAction | null {
  const desc = core.desc(irq);
  if (!desc) return null;
  let prev: IrqAction | null = null;
  let action = desc.action;
  while (action !== null && action.devId !== devId) {
    prev = action;
    action = action.next;
  }
  if (action === null) {
    core.log.warn(`Trying to free already-free IRQ ${irq}`);
    return null;
  }
  if (prev === null) desc.action = action.next;
  else prev.next = action.next;
  action.next = null;
  if (desc.action === null) {
    core.localIrqSave();
    desc.settings &= ~IRQ_DISABLE_UNLAZY;
    irqShutdown(desc);
    core.localIrqRestore();
  }
  return action;
}

/** disable_irq_nosync() / disable_irq() */
export function disableIrq(core: IrqCore, irq: number): void {
  const desc = core.desc(irq);
  if (!desc) return;
  core.localIrqSave();
  if (desc.depth++ === 0) irqDisable(desc);
  core.localIrqRestore();
}

/** enable_irq() */
export function enableIrq(core: IrqCore, irq: number): void {
  const desc = core.desc(irq);
  if (!desc) return;
  core.localIrqSave();
  try {
    enableDesc(core, desc);
  } finally {
    core.localIrqRestore();
  }
}

/** __enable_irq() */
function enableDesc(core: IrqCore, desc: IrqDesc): void {
  switch (desc.depth) {
    case 0:
      core.log.warn(`WARNING: Unbalanced enable for IRQ ${desc.irq}`);
      return;
    case 1:
      irqStartup(core, desc, true);
      return;
    default:
      desc.depth--;
  }
}
