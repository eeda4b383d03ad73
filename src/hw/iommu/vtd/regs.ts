// Intel VT-d remapping-unit registers the interrupt-remapping model uses (VT-d spec 3.x ch. 11; Xen's
// names from xen/drivers/passthrough/vtd/iommu.h): register offsets, the Capability and Extended
// Capability bits that gate interrupt remapping and posting, and the Global Command/Status bits.

export const DMAR_VER_REG = 0x0;
export const DMAR_CAP_REG = 0x8;
export const DMAR_ECAP_REG = 0x10;
export const DMAR_GCMD_REG = 0x18;
export const DMAR_GSTS_REG = 0x1c;
export const DMAR_IRTA_REG = 0xb8;

/** CAP bit 59: Posted Interrupts Support (`cap_intr_post`, vtd/iommu.h:64). */
export const CAP_PI_BIT = 59;
/** CAP bits 34/35: 2 MiB / 1 GiB second-level pages (only printed by Xen). */
export const CAP_SPS_2MB_BIT = 34;
export const CAP_SPS_1GB_BIT = 35;

/** ECAP bit 1: Queued Invalidation (`ecap_queued_inval`). */
export const ECAP_QI_BIT = 1;
/** ECAP bit 3: Interrupt Remapping (`ecap_intr_remap`). */
export const ECAP_IR_BIT = 3;
/** ECAP bit 4: Extended Interrupt Mode (x2APIC 32-bit destinations, `ecap_eim`). */
export const ECAP_EIM_BIT = 4;

/** Global Command / Status bits (DMA_GCMD_* / DMA_GSTS_*). */
export const DMA_GCMD_QIE = 1 << 26;
export const DMA_GCMD_IRE = 1 << 25;
export const DMA_GCMD_SIRTP = 1 << 24;
export const DMA_GCMD_CFI = 1 << 23;
export const DMA_GSTS_QIES = 1 << 26;
export const DMA_GSTS_IRES = 1 << 25;
export const DMA_GSTS_IRTPS = 1 << 24;
export const DMA_GSTS_CFIS = 1 << 23;

/** IRTA: table address in [63:12], EIME bit 11, size S in [3:0] (2^(S+1) entries). */
export const IRTA_EIME = 1 << 11;
export const IRTA_SIZE_MASK = 0xf;

export const bit = (reg: bigint, n: number): boolean => ((reg >> BigInt(n)) & 1n) === 1n;
export const cap_intr_post = (cap: bigint): boolean => bit(cap, CAP_PI_BIT);
export const ecap_queued_inval = (ecap: bigint): boolean => bit(ecap, ECAP_QI_BIT);
export const ecap_intr_remap = (ecap: bigint): boolean => bit(ecap, ECAP_IR_BIT);
export const ecap_eim = (ecap: bigint): boolean => bit(ecap, ECAP_EIM_BIT);

/** What a unit supports, as a hardware description gives it. */
export interface DrhdCaps {
  /** CAP bit 59. Default true. */
  readonly postedInterrupts?: boolean;
  /** ECAP bit 3. Default true. */
  readonly interruptRemapping?: boolean;
  /** ECAP bit 1. Default true. */
  readonly queuedInvalidation?: boolean;
  /** ECAP bit 4. Default true. */
  readonly eim?: boolean;
}

/** CAP and ECAP register values for `caps` (other bits as on a Skylake-SP unit: 2M/1G pages, 48-bit MGAW). */
export function capRegisters(caps: DrhdCaps): { cap: bigint; ecap: bigint } {
  let cap = 0x00d2_0082_3f05_0c66n & ~(1n << BigInt(CAP_PI_BIT));
  cap |= (1n << BigInt(CAP_SPS_2MB_BIT)) | (1n << BigInt(CAP_SPS_1GB_BIT));
  if (caps.postedInterrupts ?? true) cap |= 1n << BigInt(CAP_PI_BIT);
  let ecap = 0x0000_0000_00f0_50d1n & ~((1n << BigInt(ECAP_QI_BIT)) | (1n << BigInt(ECAP_IR_BIT)) | (1n << BigInt(ECAP_EIM_BIT)));
  if (caps.queuedInvalidation ?? true) ecap |= 1n << BigInt(ECAP_QI_BIT);
  if (caps.interruptRemapping ?? true) ecap |= 1n << BigInt(ECAP_IR_BIT);
  if (caps.eim ?? true) ecap |= 1n << BigInt(ECAP_EIM_BIT);
  return { cap, ecap };
}
