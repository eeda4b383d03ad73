// kernel/irq/spurious.c: note_interrupt(), the detector for interrupts nobody handles. Each
// IRQ_NONE counts as unhandled, unless the previous one was more than HZ/10 ago (then the count
// restarts at 1: an odd spurious interrupt is not a storm). Every 100,000 interrupts the counts are
// judged: more than 99,900 unhandled means the line is stuck, so the kernel reports "irq N: nobody
// cared", lists the handlers, and disables the line for good (IRQS_SPURIOUS_DISABLED, one more level
// of depth); a later request_irq() of a shared handler on that line gives it another chance.
// Not modeled: the irqpoll/irqfixup options and the 100 ms poll of disabled lines they enable.

import { irqDisable } from './chip.js';
import { KERN_EMERG } from '../printk.js';
import type { IrqCore } from './irq-core.js';
import { IRQ_NONE, IRQS_SPURIOUS_DISABLED, type IrqDesc } from './irqdesc.js';

/** HZ/10 in virtual nanoseconds. */
const UNHANDLED_WINDOW_NS = 100_000_000;
const NONE = IRQ_NONE;

export function noteInterrupt(core: IrqCore, desc: IrqDesc, ret: number): void {
  if (ret === NONE) countUnhandled(core, desc);
  if (++desc.irqCount < 100_000) return;
  judge(core, desc);
}

function countUnhandled(core: IrqCore, desc: IrqDesc): void {
  const now = core.sched.now;
  if (now > desc.lastUnhandled + UNHANDLED_WINDOW_NS) desc.irqsUnhandled = 1;
  else desc.irqsUnhandled++;
  desc.lastUnhandled = now;
}

/** Every 100,000 interrupts: a line with more than 99,900 unhandled is disabled. */
function judge(core: IrqCore, desc: IrqDesc): void {
  desc.irqCount = 0;
  if (desc.irqsUnhandled > 99_900) {
    reportBadIrq(core, desc);
    core.log.printk(KERN_EMERG, `Disabling IRQ #${desc.irq}`);
    desc.istate |= IRQS_SPURIOUS_DISABLED;
    desc.depth++;
    irqDisable(desc);
  }
  desc.irqsUnhandled = 0;
}

/** __report_bad_irq() */
function reportBadIrq(core: IrqCore, desc: IrqDesc): void {
  const log = core.log;
  log.err(`irq ${desc.irq}: nobody cared (try booting with the "irqpoll" option)`);
  log.err('handlers:');
  for (const a of desc.actions) log.err(`[<00000000>] ${a.handler.name || 'handler'}`);
}
