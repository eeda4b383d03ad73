// kernel/irq/proc.c show_interrupts() and arch/x86/kernel/irq.c arch_show_interrupts(): /proc/interrupts.
// A header of CPU columns, then one row per irq that has an action or has ever fired: the irq number
// (width `prec`, 3 digits until nr_irqs reaches 1000), the per-CPU counts (%10u), the chip name (%8s),
// the hwirq (width prec), "-" and the flow handler name (%-8s), and the action names joined by ", ".
// The x86 summary rows follow (NMI, LOC, ... ERR, MIS, PIN, NPI, PIW); the model has no timer, IPIs or
// NMIs, so those count 0; ERR counts vectors that arrived with no descriptor.

import type { IrqCore } from './irq-core.js';
import { NR_IRQS_GSI } from './irq-core.js';

const num = (n: number, w: number): string => String(n).padStart(w, ' ');

/** arch_probe_nr_irqs() for this machine, grown like sparse irqs grow when more are allocated. */
export function nrIrqs(core: IrqCore): number {
  const ncpus = core.cpus.length;
  return Math.max(NR_IRQS_GSI + 16 + 8 * ncpus + NR_IRQS_GSI * 16, core.nrIrqs);
}

export function showInterrupts(core: IrqCore): string {
  const ncpus = core.cpus.length;
  let prec = 3;
  for (let j = 1000; j <= nrIrqs(core) && prec < 10; j *= 10) prec++;
  const out: string[] = [];
  out.push(' '.repeat(prec + 8) + core.cpus.map((c) => `CPU${String(c.index).padEnd(8, ' ')}`).join(''));
  for (const d of core.all()) {
    if (d.actions.length === 0 && d.count === 0) continue;
    let line = `${num(d.irq, prec)}: `;
    const kstat = d.kstat; // a copy of the row: take it once per line
    for (let c = 0; c < ncpus; c++) line += `${num(kstat[c]!, 10)} `;
    line += ` ${d.chip.name.padStart(8, ' ')}`;
    line += ` ${num(d.hwirq, prec)}`;
    line += `-${d.flowName.padEnd(8, ' ')}`;
    if (d.actions.length) line += `  ${d.actions.map((a) => a.name).join(', ')}`;
    out.push(line);
  }
  const row = (name: string, vals: (c: number) => number, text: string) => {
    let line = `${name.padStart(prec, ' ')}: `;
    for (let c = 0; c < ncpus; c++) line += `${num(vals(c), 10)} `;
    out.push(`${line}  ${text}`);
  };
  const zero = () => 0;
  row('NMI', zero, 'Non-maskable interrupts');
  row('LOC', zero, 'Local timer interrupts');
  row('SPU', zero, 'Spurious interrupts');
  row('PMI', zero, 'Performance monitoring interrupts');
  row('IWI', zero, 'IRQ work interrupts');
  row('RTR', zero, 'APIC ICR read retries');
  row('RES', zero, 'Rescheduling interrupts');
  row('CAL', zero, 'Function call interrupts');
  row('TLB', zero, 'TLB shootdowns');
  row('TRM', zero, 'Thermal event interrupts');
  row('THR', zero, 'Threshold APIC interrupts');
  row('DFR', zero, 'Deferred Error APIC interrupts');
  row('MCE', zero, 'Machine check exceptions');
  row('MCP', zero, 'Machine check polls');
  // irq_err_count: APIC error interrupts and spurious 8259 interrupts, neither of which the host model
  // raises (a vector without a handler is only logged: arch/x86/kernel/irq.c reevaluate_vector()).
  out.push(`${'ERR'.padStart(prec, ' ')}: ${num(0, 10)}`);
  out.push(`${'MIS'.padStart(prec, ' ')}: ${num(0, 10)}`);
  row('PIN', zero, 'Posted-interrupt notification event');
  row('NPI', zero, 'Nested posted-interrupt event');
  row('PIW', zero, 'Posted-interrupt wakeup event');
  return out.join('\n') + '\n';
}
