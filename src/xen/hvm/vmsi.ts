// Guest MSI delivery through Xen (xen/arch/x86/hvm/vmsi.c): vmsi_deliver (67-106) for the remapped
// (non-posted) passthrough path, and hvm_girq_dest_2_vcpu_id (128-148), the single-destination test
// the posting decision uses (0 for any 1-vCPU domain; -1 for several matches or none; no
// vlapic_enabled check).
import { DLM_FIXED, DLM_LOWEST_PRIO } from '../../hw/iommu/vtd/msi-format.js';
import type { Domain } from '../domain.js';
import type { ExecCtx, Xen } from '../xen.js';
import { vlapicLowestPrio, vlapicMatchDest, vlapicSetIrq } from './vlapic.js';

/** vmsi_deliver(): 0, or -ESRCH (lowest priority with no target) / -EINVAL (other delivery modes). */
export function vmsiDeliver(xen: Xen, d: Domain, vector: number, dest: number, logical: boolean, dlm: number, trig: boolean, ctx: ExecCtx): number {
  switch (dlm) {
    case DLM_LOWEST_PRIO: {
      const t = vlapicLowestPrio(d, dest, logical);
      if (t === null) return -3;
      vlapicSetIrq(xen, t, vector, trig, ctx);
      return 0;
    }
    case DLM_FIXED:
      for (const v of d.vcpus) if (v.vlapic.enabled && vlapicMatchDest(v, dest, logical)) vlapicSetIrq(xen, v, vector, trig, ctx);
      return 0;
    default:
      xen.console.printk(`d${d.id}: Unsupported MSI delivery mode ${dlm} for Dom${d.id}`);
      return -22;
  }
}

/** hvm_girq_dest_2_vcpu_id() */
export function hvmGirqDest2VcpuId(d: Domain, dest: number, logical: boolean): number {
  if (d.vcpus.length === 1) return 0;
  let id = -1;
  let w = 0;
  for (const v of d.vcpus) {
    if (vlapicMatchDest(v, dest, logical)) {
      w++;
      id = v.id;
    }
  }
  return w > 1 ? -1 : id;
}
