// A Xen host with an HVM guest and a passed-through MSI-X NIC, run with iommu=no-intpost and with
// iommu=intpost: what one interrupt does on its way to a running vCPU and to a halted one (the trace
// hops), and how many VM exits 100 interrupts cost. The toolstack steps are libxl's and QEMU's, through
// /dev/xen/privcmd: assign the device, map the MSI-X entry to a pirq, bind the guest's MSI to it.
//   npx tsx --conditions=source examples/xen-posted.ts
import { XenHost, type IrqEvent } from 'vfio-kvm-shim';
import { XEN_DOMCTL_VMSI_X86_UNMASKED } from 'vfio-kvm-shim/include-ts/xen/domctl';
import { msiGflags, sbdf, xc_assign_device, xc_domain_update_msi_irq, xc_interface_open, xc_physdev_map_pirq_msi } from '../src/xen/libxc.js';
import { msiAddress, msiData } from '../src/hw/x86/msi.js';

const GVEC = 0x41;

function show(host: XenHost, what: string, act: () => void): void {
  console.log(`  ${what}:`);
  const stop = host.trace.on((e) => {
    if (e.type !== 'irq') return;
    const i = e as IrqEvent;
    if (i.hop === 'lapic-isr' || (i.hop === 'eoi' && i.at.startsWith('cpu')) || i.hop === 'msi-pending') return;
    const vec = i.vector !== undefined ? ` 0x${i.vector.toString(16)}` : '';
    console.log(`    ${i.hop.padEnd(13)} ${i.at.padEnd(14)}${vec.padEnd(6)} ${i.detail ?? ''}`);
  });
  act();
  stop();
}

for (const cmdline of ['iommu=no-intpost', 'iommu=intpost']) {
  console.log(`\n=== xen ${cmdline} ===`);
  const host = XenHost.create({ cmdline, hardware: { cpus: 2 } });
  for (const l of host.dmesg().filter((l) => l.includes('Posted Interrupt'))) console.log(`  ${l}`);

  // libxl: create the guest paused, assign the NIC, unpause; QEMU: map entry 0, bind the guest MSI.
  const dom = host.createHvmDomain({ vcpus: 2, start: false });
  const xc = xc_interface_open(host.spawnDom0Process({ name: 'qemu' }));
  xc_assign_device(xc, dom, sbdf(0, 1, 0, 0));
  host.control.unpause(dom);
  const nic = host.control.device();
  const pirq = { value: -1 };
  xc_physdev_map_pirq_msi(xc, dom, -1, pirq, 0, 1, 0, nic.barAddress(nic.msix!.tableBar) + nic.msix!.tableOffset);
  const gflags = msiGflags(msiAddress(0), msiData(GVEC)); // the guest's MSI: vector 0x41 to APIC ID 0 (vCPU 0)
  xc_domain_update_msi_irq(xc, dom, GVEC, pirq.value, gflags | XEN_DOMCTL_VMSI_X86_UNMASKED, 0);
  host.control.settle();
  const irte = host.control.irte(0);
  console.log(`  IRTE ${irte.index}: ${irte.format}${irte.format === 'posted' ? ` (guest vector 0x${irte.vector.toString(16)}, PI descriptor at 0x${irte.pda.toString(16)})` : ` (host vector 0x${irte.vector.toString(16)} to APIC ${irte.dst})`}`);

  show(host, 'an MSI to vCPU 0 while it is halted', () => {
    host.control.raise(0);
    host.control.settle();
  });

  host.control.guestDo(dom, 0, (b) => (b.busy = true));
  host.control.settle();
  show(host, 'an MSI to vCPU 0 while it runs guest code', () => {
    host.control.raise(0);
    host.control.settle();
  });

  const before = host.control.vcpuState(dom, 0).exits;
  const handledBefore = host.control.handled(dom, 0, GVEC);
  for (let i = 0; i < 100; i++) {
    host.control.raise(0);
    host.control.settle();
  }
  const after = host.control.vcpuState(dom, 0).exits;
  const delta = Object.fromEntries(Object.entries(after).map(([k, n]) => [k, n - (before[k] ?? 0)]).filter(([, n]) => n !== 0));
  console.log(`  100 MSIs to the running vCPU: guest handled ${host.control.handled(dom, 0, GVEC) - handledBefore}, VM exits ${JSON.stringify(delta)}`);
}
