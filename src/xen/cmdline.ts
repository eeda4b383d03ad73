// Xen's boot command line for the options of this model: `iommu=<list>` (passthrough/iommu.c:68,
// 111-117: intpost, no-intpost, intpost=<bool>, intremap, no-intremap; other list items ignored) and
// `apicv=<bool>` (hvm/vmx/vmcs.c:43-44). Boolean spellings follow common/kernel.c parse_bool(): true
// is 1/on/yes/true/enable, false is 0/no/off/false/disable; the "no-" prefix only on a bare name.

export interface XenCmdline {
  /** iommu_intpost as the user set it (default false: passthrough/x86/iommu.c:51-58). */
  readonly intpost: boolean;
  /** iommu_intremap (default on). */
  readonly intremap: boolean;
  /** iommu_enable (`iommu=0/off` disables the IOMMU). */
  readonly iommu: boolean;
  /** opt_apicv_enabled (default true). */
  readonly apicv: boolean;
  /** Options not understood (Xen prints a warning and ignores them). */
  readonly unknown: readonly string[];
}

/** parse_bool(): 1, 0, or -1 when `s` is not a boolean spelling. */
export function parseBool(s: string): number {
  switch (s) {
    case '1': case 'on': case 'yes': case 'true': case 'enable': return 1;
    case '0': case 'no': case 'off': case 'false': case 'disable': return 0;
    default: return -1;
  }
}

/**
 * parse_boolean(name, s) (common/kernel.c): 1/0 if `s` is `name`, `no-name` or `name=<bool>`; -2 if it
 * is `name=` with a value that is not a boolean; -1 if it is not about `name` (or is `no-name=...`).
 */
export function parseBoolean(name: string, s: string): number {
  const neg = s.startsWith('no-');
  const str = neg ? s.slice(3) : s;
  if (!str.startsWith(name)) return -1;
  if (str.length === name.length) return neg ? 0 : 1;
  if (neg) return -1;
  if (str[name.length] === '=') {
    const b = parseBool(str.slice(name.length + 1));
    return b >= 0 ? b : -2;
  }
  return -1;
}

export function parseXenCmdline(cmdline: string): XenCmdline {
  let intpost = false;
  let intremap = true;
  let iommu = true;
  let apicv = true;
  const unknown: string[] = [];
  for (const tok of cmdline.split(/\s+/).filter(Boolean)) {
    const eq = tok.indexOf('=');
    const key = eq < 0 ? tok : tok.slice(0, eq);
    const val = eq < 0 ? '' : tok.slice(eq + 1);
    if (key === 'iommu') {
      for (const item of val.split(',').filter(Boolean)) {
        const b = parseBool(item);
        if (b >= 0) {
          iommu = b === 1;
          continue;
        }
        let r: number;
        if ((r = parseBoolean('intpost', item)) >= 0) intpost = r === 1;
        else if ((r = parseBoolean('intremap', item)) >= 0) intremap = r === 1;
        else unknown.push(`iommu=${item}`);
      }
    } else if (key === 'apicv' || key === 'no-apicv') {
      const r = parseBoolean('apicv', tok);
      if (r >= 0) apicv = r === 1;
      else unknown.push(tok);
    } else {
      unknown.push(tok);
    }
  }
  return { intpost, intremap, iommu, apicv, unknown };
}
