// include-ts/xen against C. <xen/privcmd.h> is the installed Linux uapi header (its <xen/interface/xen.h>
// include is satisfied by a two-line stub with domid_t and xen_pfn_t, as the kernel's copy defines
// them). Xen's public physdev.h, domctl.h and xen.h are not installed: their declarations below are
// written from the header facts (xen/include/public/{physdev.h:138-163,domctl.h,xen.h}) and compiled.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { constantProbe, gccAvailable, recordProbes, runProbe } from '../../abi/cprobe.js';
import { errnoOf } from '../../abi/errno.js';
import * as privcmd from '../../include-ts/xen/privcmd.js';
import * as xen from '../../include-ts/xen/xen.js';
import * as physdev from '../../include-ts/xen/physdev.js';
import * as domctl from '../../include-ts/xen/domctl.js';
import * as xerrno from '../../include-ts/xen/errno.js';

const stubDir = mkdtempSync(join(tmpdir(), 'vks-xen-'));
mkdirSync(join(stubDir, 'xen', 'interface'), { recursive: true });
writeFileSync(join(stubDir, 'xen', 'interface', 'xen.h'), 'typedef unsigned short domid_t;\ntypedef unsigned long xen_pfn_t;\n');
afterAll(() => rmSync(stubDir, { recursive: true, force: true }));

const PUBLIC_C = `
#include <stdint.h>
typedef uint16_t domid_t;
#define uint64_aligned_t uint64_t __attribute__((aligned(8)))
#define __HYPERVISOR_physdev_op 33
#define __HYPERVISOR_domctl 36
#define DOMID_FIRST_RESERVED 0x7FF0U
#define DOMID_SELF 0x7FF0U
#define DOMID_IO 0x7FF1U
#define DOMID_XEN 0x7FF2U
#define DOMID_COW 0x7FF3U
#define DOMID_INVALID 0x7FF4U
#define DOMID_IDLE 0x7FFFU
#define PHYSDEVOP_map_pirq 13
#define PHYSDEVOP_unmap_pirq 14
#define MAP_PIRQ_TYPE_MSI 0x0
#define MAP_PIRQ_TYPE_GSI 0x1
#define MAP_PIRQ_TYPE_UNKNOWN 0x2
#define MAP_PIRQ_TYPE_MSI_SEG 0x3
#define MAP_PIRQ_TYPE_MULTI_MSI 0x4
struct physdev_map_pirq {
    domid_t domid;
    int type;
    int index;
    int pirq;
    int bus;
    int devfn;
    int entry_nr;
    uint64_t table_base;
};
struct physdev_unmap_pirq {
    domid_t domid;
    int pirq;
};
#define XEN_DOMCTL_INTERFACE_VERSION 0x00000018
#define XEN_DOMCTL_assign_device 37
#define XEN_DOMCTL_bind_pt_irq 38
#define XEN_DOMCTL_test_assign_device 45
#define XEN_DOMCTL_deassign_device 47
#define XEN_DOMCTL_unbind_pt_irq 48
#define XEN_DOMCTL_DEV_PCI 0
#define XEN_DOMCTL_DEV_DT 1
#define XEN_DOMCTL_DEV_RDM_RELAXED 1
struct xen_domctl_assign_device {
    uint32_t dev;
    uint32_t flags;
    union {
        struct { uint32_t machine_sbdf; } pci;
        struct { uint32_t size; uint64_aligned_t path; } dt;
    } u;
};
enum pt_irq_type { PT_IRQ_TYPE_PCI, PT_IRQ_TYPE_ISA, PT_IRQ_TYPE_MSI, PT_IRQ_TYPE_MSI_TRANSLATE, PT_IRQ_TYPE_SPI };
struct xen_domctl_bind_pt_irq {
    uint32_t machine_irq;
    uint32_t irq_type;
    union {
        struct { uint8_t isa_irq; } isa;
        struct { uint8_t bus; uint8_t device; uint8_t intx; } pci;
        struct {
            uint8_t gvec;
            uint32_t gflags;
#define XEN_DOMCTL_VMSI_X86_DEST_ID_MASK 0x0000ff
#define XEN_DOMCTL_VMSI_X86_RH_MASK      0x000100
#define XEN_DOMCTL_VMSI_X86_DM_MASK      0x000200
#define XEN_DOMCTL_VMSI_X86_DELIV_MASK   0x007000
#define XEN_DOMCTL_VMSI_X86_TRIG_MASK    0x008000
#define XEN_DOMCTL_VMSI_X86_UNMASKED     0x010000
            uint64_aligned_t gtable;
        } msi;
        struct { uint16_t spi; } spi;
    } u;
};
struct xen_domctl {
    uint32_t cmd;
    uint32_t interface_version;
    domid_t  domain;
    uint16_t _pad[3];
    union {
        struct xen_domctl_assign_device     assign_device;
        struct xen_domctl_bind_pt_irq       bind_pt_irq;
        uint8_t                             pad[128];
    } u;
};
`;

/** Constant probes for every numeric export of a module, except the ones listed. */
function constants(mod: Record<string, unknown>, skip: readonly string[] = []) {
  return Object.entries(mod)
    .filter(([k, v]) => typeof v === 'number' && !skip.includes(k))
    .map(([k, v]) => constantProbe(k, v as number));
}

describe('include-ts/xen against C', () => {
  it('xen/privcmd.h (installed Linux uapi): struct privcmd_hypercall and the ioctl numbers', () => {
    if (!gccAvailable()) return console.log('skipped: gcc is not available');
    const items = [...recordProbes(privcmd.privcmd_hypercall), ...constants(privcmd)];
    const r = runProbe(['linux/types.h', 'linux/ioctl.h', 'xen/privcmd.h'], items, '', ['-I', stubDir]);
    expect(r.mismatches).toEqual([]);
    expect(privcmd.IOCTL_PRIVCMD_HYPERCALL).toBe(0x305000);
  });

  it('physdev.h, domctl.h, xen.h (written from the header facts): layouts and constants', () => {
    if (!gccAvailable()) return console.log('skipped: gcc is not available');
    const items = [
      ...recordProbes(physdev.physdev_map_pirq),
      ...recordProbes(physdev.physdev_unmap_pirq),
      ...recordProbes(domctl.xen_domctl),
      ...recordProbes(domctl.xen_domctl_bind_pt_irq),
      ...recordProbes(domctl.xen_domctl_assign_device),
      ...constants(physdev),
      ...constants(domctl),
      ...constants(xen),
    ];
    const r = runProbe([], items, PUBLIC_C);
    expect(r.mismatches).toEqual([]);
    expect(physdev.physdev_map_pirq.size).toBe(40);
    expect(domctl.xen_domctl.size).toBe(144);
    expect(domctl.xen_domctl.offsetof('u.bind_pt_irq.u.msi.gflags')).toBe(16 + 12);
  });

  it('the Xen errno values used by the hypercalls equal Linux errno values (so the ioctl reports them as is)', () => {
    for (const [k, v] of Object.entries(xerrno)) expect([k, errnoOf(k.replace(/^XEN_/, '') as never)]).toEqual([k, v]);
  });
});
