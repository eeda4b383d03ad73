// kernel/irq/handle.c: handle_irq_event() runs every action on the line (a shared line calls each
// handler; each looks at its own device and answers IRQ_HANDLED or IRQ_NONE), ORs the answers, and
// hands the result to the spurious-interrupt detector.

import type { IrqCore } from './irq-core.js';
import { IRQ_HANDLED, IRQ_NONE, IRQS_PENDING, type IrqDesc } from './irqdesc.js';
import { noteInterrupt } from './spurious.js';

const HANDLED = IRQ_HANDLED;
const NONE = IRQ_NONE;
const PENDING = IRQS_PENDING;

export function handleIrqEvent(core: IrqCore, desc: IrqDesc): number {
  desc.istate &= ~PENDING;
  desc.inProgress = true;
  let ret = NONE;
  const tr = core.trace;
  if (tr.active) traceIrq(core, desc);
  for (let a = desc.action; a !== null; a = a.next) {
    const r = a.handler(desc.irq, a.devId);
    if (r === HANDLED) a.handled++;
    ret |= r;
  }
  desc.inProgress = false;
  if (ret === NONE && tr.active) traceUnhandled(core, desc);
  noteInterrupt(core, desc, ret);
  return ret;
}

// The trace events, out of line: the per-interrupt function stays small enough for TurboFan to inline.
function traceIrq(core: IrqCore, desc: IrqDesc): void {
  core.trace.emit({ type: 'irq', t: core.sched.now, hop: 'host-irq', at: `irq ${desc.irq}`, vector: desc.vector, detail: `CPU${desc.cpu} ${desc.chip.name} ${desc.hwirq}-${desc.flowName}: ${desc.actions.map((a) => a.name).join(', ')}` });
}

function traceUnhandled(core: IrqCore, desc: IrqDesc): void {
  core.trace.emit({ type: 'irq', t: core.sched.now, hop: 'host-irq-unhandled', at: `irq ${desc.irq}`, vector: desc.vector, detail: 'IRQ_NONE from every handler' });
}
