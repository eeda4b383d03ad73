// Xen's boot as far as the intpost switch goes, in boot order (reference xen.md 1.2-1.3):
// 1. command line (iommu=..., apicv=...);
// 2. acpi_iommu_init: no DMAR table -> no IOMMU;
// 3. iommu_setup -> vtd_setup (vtd/iommu.c:2684-2731): per unit, no QI -> no QI, no ECAP.IR -> no
//    intremap, no CAP.PI (bit 59) or no intremap -> no intpost; after the loop, no QI -> no intremap
//    (intpost is NOT cleared here); then the "Intel VT-d ... enabled." lines;
//    iommu_setup (iommu.c:574-604): IOMMU off -> intremap off; !intremap -> intpost off (silently);
// 4. start_vmx -> vmx_init_vmcs_config (vmcs.c:464-477): posted-interrupt processing needs virtual-
//    interrupt delivery, which needs a TPR shadow and apicv; intpost without it is switched off with a
//    message; the VMX feature list is printed;
// 5. start_vmx tail (vmx.c:3149-3157): posted_intr_vector whenever the CPU has PI processing,
//    pi_wakeup_vector only if intpost is still on, from alloc_hipriority_vector (0xf1.. in order).
import { cap_intr_post, ecap_intr_remap, ecap_queued_inval, bit } from '../hw/iommu/vtd/regs.js';
import { Domain } from './domain.js';
import { IntRemap } from './passthrough/vtd/intremap.js';
import type { Xen } from './xen.js';
import { LAST_HIPRIORITY_VECTOR } from './xen.js';

/** alloc_hipriority_vector() (irq.c:986-1011) */
export function allocHipriorityVector(xen: Xen): number {
  if (xen.nextHipriorityVector > LAST_HIPRIORITY_VECTOR) throw new Error('alloc_hipriority_vector: out of high-priority vectors');
  return xen.nextHipriorityVector++;
}

export function bootXen(xen: Xen): void {
  const p = (s: string) => xen.console.printk(s);
  const cl = xen.cmdline;
  for (const u of cl.unknown) p(`parameter "${u}" unknown!`);
  let iommuEnable = cl.iommu;
  let intremap = cl.intremap;
  let intpost = cl.intpost;
  let qinval = true;
  // acpi_iommu_init()
  if (xen.vtd === null) {
    iommuEnable = false;
    if (cl.iommu) p('IOMMU: no DMAR table found: I/O virtualisation not available');
  }
  // iommu_setup() -> vtd_setup()
  let iommuEnabled = false;
  if (iommuEnable && xen.vtd) {
    let snoop = true;
    for (const u of xen.vtd.units) {
      p(`Intel VT-d iommu ${u.index} supported page sizes: 4kB${bit(u.cap, 34) ? ', 2MB' : ''}${bit(u.cap, 35) ? ', 1GB' : ''}.`);
      if (!bit(u.ecap, 7)) snoop = false;
      if (qinval && !ecap_queued_inval(u.ecap)) qinval = false;
      if (intremap && !ecap_intr_remap(u.ecap)) intremap = false;
      if (!cap_intr_post(u.cap) || !intremap) intpost = false;
    }
    if (!qinval && intremap) intremap = false; // dprintk only: "Interrupt Remapping disabled since Queued Invalidation isn't supported or enabled."
    const P = (on: boolean, s: string) => p(`Intel VT-d ${s} ${on ? '' : 'not '}enabled.`);
    P(snoop, 'Snoop Control');
    P(false, 'Dom0 DMA Passthrough');
    P(qinval, 'Queued Invalidation');
    P(intremap, 'Interrupt Remapping');
    P(intpost, 'Posted Interrupt');
    P(true, 'Shared EPT tables');
    iommuEnabled = true;
  }
  if (!iommuEnabled) intremap = false;
  if (!intremap) intpost = false;
  p(`I/O virtualisation ${iommuEnabled ? 'en' : 'dis'}abled`);
  if (iommuEnabled) {
    p(' - Dom0 mode: Relaxed');
    p(`Interrupt remapping ${intremap ? 'en' : 'dis'}abled`);
  }
  xen.iommuEnabled = iommuEnabled;
  xen.qinval = iommuEnabled && qinval;
  xen.intremap = intremap;
  if (intremap && xen.vtd) {
    xen.intremaps = xen.vtd.units.map((u) => new IntRemap(u, xen.mem, xen.hw.x2apic));
    for (const ir of xen.intremaps) ir.enable();
  }

  // start_vmx() -> vmx_init_vmcs_config()
  const caps = xen.hw.vmx;
  const tprShadow = caps.tprShadow;
  const apicRegVirt = tprShadow && cl.apicv && caps.apicRegVirt;
  const vid = tprShadow && cl.apicv && caps.virtualIntrDelivery;
  const cpuPi = caps.postedIntrProcessing && vid;
  if (intpost && !cpuPi) {
    p('Intel VT-d Posted Interrupt is disabled for CPU-side Posted Interrupt is not enabled');
    intpost = false;
  }
  p('VMX: Supported advanced features:');
  p(' - APIC MMIO access virtualisation');
  if (tprShadow) p(' - APIC TPR shadow');
  p(' - Extended Page Tables (EPT)');
  p(' - Virtual-Processor Identifiers (VPID)');
  p(' - Virtual NMI');
  p(' - MSR direct-access bitmap');
  p(' - Unrestricted Guest');
  if (apicRegVirt) p(' - APIC Register Virtualization');
  if (vid) p(' - Virtual Interrupt Delivery');
  if (cpuPi) p(' - Posted Interrupt Processing');
  xen.vid = vid;
  xen.apicRegVirt = apicRegVirt;
  xen.cpuPi = cpuPi;
  xen.intpost = intpost;
  // start_vmx() tail
  if (cpuPi) {
    xen.postedIntrVector = allocHipriorityVector(xen);
    if (intpost) xen.piWakeupVector = allocHipriorityVector(xen);
  }
  p('HVM: VMX enabled');
  // The hardware domain owns every device.
  const dom0 = new Domain(0, false, 256);
  for (const f of xen.pci.functions()) dom0.devices.add(f);
  xen.domains.set(0, dom0);
}
