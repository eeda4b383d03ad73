// kernel/irq/chip.c: starting up, shutting down, enabling, disabling, masking an interrupt at its chip,
// and the two flow handlers the x86 interrupt domains use:
// - handle_fasteoi_irq (I/O APIC lines): a disabled line, or one without an action, is masked and marked
//   pending (this is where a lazy disable_irq() takes effect: the chip is masked only when an
//   interrupt arrives while disabled); otherwise count, run the actions, EOI;
// - handle_edge_irq (MSI/MSI-X): the same checks (mask + ack), otherwise count, ack first, then run the
//   actions, again while another edge arrived meanwhile (IRQS_PENDING) and the line stays enabled.
// irq_disable() masks at once only with IRQ_DISABLE_UNLAZY (what vfio-pci sets for devices without
// PCI 2.3 masking); irq_enable()/irq_startup() unmask and resend pending edge interrupts
// (kernel/irq/resend.c: level interrupts are never resent, the hardware re-asserts them).

import type { IrqCore } from './irq-core.js';
import { handleIrqEvent } from './handle.js';
import { FLOW_EDGE, IRQ_DISABLE_UNLAZY, IRQS_PENDING, IRQS_REPLAY, IRQS_WAITING, kstatIncr, type IrqDesc } from './irqdesc.js';

const PENDING = IRQS_PENDING;
const REPLAY_WAITING = IRQS_REPLAY | IRQS_WAITING;
const EDGE = FLOW_EDGE;

export function maskIrq(desc: IrqDesc): void {
  if (desc.masked) return;
  desc.chip.mask(desc);
  desc.masked = true;
}

export function unmaskIrq(desc: IrqDesc): void {
  if (!desc.masked) return;
  desc.chip.unmask(desc);
  desc.masked = false;
}

/** irq_enable(): clears the disabled state and unmasks. */
export function irqEnable(desc: IrqDesc): void {
  desc.disabled = false;
  unmaskIrq(desc);
}

/** __irq_disable(): marks disabled; masks at the chip now only when asked to (unlazy). */
export function irqDisableMask(desc: IrqDesc, mask: boolean): void {
  if (!desc.disabled) desc.disabled = true;
  if (mask) maskIrq(desc);
}

/** irq_disable(): lazy unless the line has IRQ_DISABLE_UNLAZY. */
export function irqDisable(desc: IrqDesc): void {
  irqDisableMask(desc, (desc.settings & IRQ_DISABLE_UNLAZY) !== 0);
}

/** irq_startup(): depth 0, enabled and unmasked; then a pending edge is resent if asked. */
export function irqStartup(core: IrqCore, desc: IrqDesc, resend: boolean): void {
  desc.depth = 0;
  irqEnable(desc);
  desc.started = true;
  if (resend) checkIrqResend(core, desc);
}

/** irq_shutdown(): depth 1, disabled and masked (a pending edge stays pending: the next startup resends it). */
export function irqShutdown(desc: IrqDesc): void {
  if (!desc.started) return;
  desc.depth = 1;
  irqDisableMask(desc, true);
  desc.started = false;
}

/**
 * check_irq_resend() (kernel/irq/resend.c): level interrupts are not resent (hardware re-asserts them
 * while active); a pending edge interrupt is re-raised through the chip (on x86 an IPI of the vector
 * to its CPU), marked IRQS_REPLAY until it is handled.
 */
export function checkIrqResend(core: IrqCore, desc: IrqDesc): void {
  if (desc.level) {
    desc.istate &= ~PENDING;
    return;
  }
  if (desc.istate & IRQS_REPLAY) return;
  if (!(desc.istate & PENDING)) return;
  desc.istate &= ~PENDING;
  if (desc.chip.retrigger(desc)) desc.istate |= IRQS_REPLAY;
  else core.swResend(desc);
}

/** handle_fasteoi_irq() */
export function handleFasteoiIrq(core: IrqCore, desc: IrqDesc, cpu: number): void {
  desc.istate &= ~REPLAY_WAITING;
  if (desc.action === null || desc.disabled) {
    desc.istate |= PENDING;
    desc.spuriousArrivals++;
    maskIrq(desc);
    desc.chip.eoi(desc);
    return;
  }
  kstatIncr(desc, cpu);
  handleIrqEvent(core, desc);
  desc.chip.eoi(desc);
}

/** handle_edge_irq() */
export function handleEdgeIrq(core: IrqCore, desc: IrqDesc, cpu: number): void {
  desc.istate &= ~REPLAY_WAITING;
  if (desc.inProgress || desc.disabled || desc.action === null) {
    desc.istate |= PENDING;
    desc.spuriousArrivals++;
    maskIrq(desc);
    desc.chip.ack(desc);
    return;
  }
  kstatIncr(desc, cpu);
  desc.chip.ack(desc);
  do {
    if (desc.action === null) {
      maskIrq(desc);
      return;
    }
    if (desc.istate & PENDING && !desc.disabled && desc.masked) unmaskIrq(desc);
    handleIrqEvent(core, desc);
  } while (desc.istate & PENDING && !desc.disabled);
}

/** generic_handle_irq_desc(): the descriptor's flow handler. */
export function handleIrq(core: IrqCore, desc: IrqDesc, cpu: number): void {
  if (desc.flow === EDGE) handleEdgeIrq(core, desc, cpu);
  else handleFasteoiIrq(core, desc, cpu);
}
