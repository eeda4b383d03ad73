// Mirrors Xen's public <xen/domctl.h> (xen/include/public/domctl.h) as of Xen 4.22: the xen_domctl
// header and the members the passthrough interrupt path uses (assign_device, bind_pt_irq).
import { array, struct, u16, u32, u64, u8, union } from '../../abi/layout.js';

/** "Last version bump: Xen 4.22". A domctl with another interface_version fails with EACCES. */
export const XEN_DOMCTL_INTERFACE_VERSION = 0x00000018;

export const XEN_DOMCTL_assign_device = 37;
export const XEN_DOMCTL_bind_pt_irq = 38;
export const XEN_DOMCTL_test_assign_device = 45;
export const XEN_DOMCTL_deassign_device = 47;
export const XEN_DOMCTL_unbind_pt_irq = 48;

/** struct xen_domctl_assign_device.dev */
export const XEN_DOMCTL_DEV_PCI = 0;
export const XEN_DOMCTL_DEV_DT = 1;
/** struct xen_domctl_assign_device.flags (assign only) */
export const XEN_DOMCTL_DEV_RDM_RELAXED = 1;

export const xen_domctl_assign_device = struct('xen_domctl_assign_device', {
  dev: u32,
  flags: u32,
  u: union('xen_domctl_assign_device_u', {
    pci: struct('xen_domctl_assign_device_pci', { machine_sbdf: u32 }),
    dt: struct('xen_domctl_assign_device_dt', { size: u32, path: u64 }),
  }),
});

/** enum pt_irq_type: irq_type of struct xen_domctl_bind_pt_irq. */
export const PT_IRQ_TYPE_PCI = 0;
export const PT_IRQ_TYPE_ISA = 1;
export const PT_IRQ_TYPE_MSI = 2;
export const PT_IRQ_TYPE_MSI_TRANSLATE = 3;
export const PT_IRQ_TYPE_SPI = 4;

/** gflags of u.msi: the guest's MSI address/data in one word (QEMU builds it from the guest's message). */
export const XEN_DOMCTL_VMSI_X86_DEST_ID_MASK = 0x0000ff;
export const XEN_DOMCTL_VMSI_X86_RH_MASK = 0x000100;
export const XEN_DOMCTL_VMSI_X86_DM_MASK = 0x000200;
export const XEN_DOMCTL_VMSI_X86_DELIV_MASK = 0x007000;
export const XEN_DOMCTL_VMSI_X86_TRIG_MASK = 0x008000;
/** Not stored: tells Xen to unmask the MSI after binding. */
export const XEN_DOMCTL_VMSI_X86_UNMASKED = 0x010000;

/** machine_irq is the pirq (domain namespace); u.msi.gtable is the guest-physical MSI-X table address (0: MSI). */
export const xen_domctl_bind_pt_irq = struct('xen_domctl_bind_pt_irq', {
  machine_irq: u32,
  irq_type: u32,
  u: union('xen_domctl_bind_pt_irq_u', {
    isa: struct('xen_domctl_bind_pt_irq_isa', { isa_irq: u8 }),
    pci: struct('xen_domctl_bind_pt_irq_pci', { bus: u8, device: u8, intx: u8 }),
    msi: struct('xen_domctl_bind_pt_irq_msi', { gvec: u8, gflags: u32, gtable: u64 }),
    spi: struct('xen_domctl_bind_pt_irq_spi', { spi: u16 }),
  }),
});

/** The domctl hypercall argument: a fixed header, then a 128-byte union of per-command structs. */
export const xen_domctl = struct('xen_domctl', {
  cmd: u32,
  interface_version: u32,
  domain: u16,
  _pad: array(u16, 3),
  u: union('xen_domctl_u', {
    assign_device: xen_domctl_assign_device,
    bind_pt_irq: xen_domctl_bind_pt_irq,
    pad: array(u8, 128),
  }),
});
