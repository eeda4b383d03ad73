// Interrupt bring-up at boot (arch/x86 init_IRQ + the IOMMU's irq-remapping enable + ACPI's mapping of
// PCI GSIs): the board's interrupt wiring, the host CPUs and their vector space, interrupt remapping
// turned on, every GSI a PCI pin is routed to mapped as a level, remapped I/O APIC line (masked until
// requested), the PCI MSI layer, and /proc/interrupts.
// A kernel booted as Xen's dom0 owns none of this: the hypervisor drives the I/O APIC and the VT-d
// unit and hands dom0 its interrupts as event channels (not modeled), so dom0 gets no irq core and its
// drivers request no lines.

import { PcInterrupts } from '../../hw/x86/pc-interrupts.js';
import { attr } from '../fs/vfs.js';
import type { Kernel } from '../kernel.js';
import { PciMsi } from '../pci/msi.js';
import { IrqCore } from './irq-core.js';
import { showInterrupts } from './proc.js';

/** Host CPUs when the kernel options do not say: enough vector space for a 2048-queue NIC. */
export const DEFAULT_HOST_CPUS = 16;

export function initIrq(kernel: Kernel): void {
  if (kernel.xen) return;
  const m = kernel.machine;
  const platform = new PcInterrupts(m);
  const core = new IrqCore(platform, kernel.sched, kernel.trace, kernel.log, { cpus: kernel.options.cpus ?? DEFAULT_HOST_CPUS });
  kernel.irq = core;
  for (const gsi of [...m.pci.lines.keys()].sort((a, b) => a - b)) if (gsi < 24) core.ioapic.mapGsi(gsi);
  kernel.msi = new PciMsi(core);
  kernel.vfs.mkdirp('/proc').set('interrupts', attr('procfs', () => showInterrupts(core)));
}
