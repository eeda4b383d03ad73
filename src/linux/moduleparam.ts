// Module parameters (kernel/params.c): set on the kernel command line as `module.param=value`
// (`-` and `_` are the same in module names), visible in /sys/module/<module>/parameters/<param>,
// and writable there when the parameter is declared writable (mode 0644), e.g.
// `vfio_iommu_type1.dma_entry_limit` or `vfio_pci.nointxmask`.

import { kerr } from './errors.js';
import { attr, type StaticDir, type Vfs } from './fs/vfs.js';

type ParamValue = boolean | number | string;

interface ParamDef {
  value: ParamValue;
  readonly writable: boolean;
  readonly kind: 'bool' | 'uint' | 'int' | 'charp';
}

const norm = (mod: string): string => mod.replace(/-/g, '_');

export function parseBool(s: string): boolean | undefined {
  // param_set_bool accepts y/Y/1 and n/N/0 (kstrtobool also on/off).
  const v = s.trim().toLowerCase();
  if (['y', '1', 'on', 'yes', 'true'].includes(v)) return true;
  if (['n', '0', 'off', 'no', 'false'].includes(v)) return false;
  return undefined;
}

export class ModuleParams {
  private readonly defs = new Map<string, ParamDef>();
  /** Values given on the command line before the module declared the parameter. */
  private readonly pending = new Map<string, string>();
  readonly cmdline: string;

  constructor(
    cmdline: string,
    private readonly vfs: Vfs,
  ) {
    this.cmdline = cmdline;
    for (const tok of cmdline.split(/\s+/).filter(Boolean)) {
      const eq = tok.indexOf('=');
      const key = eq < 0 ? tok : tok.slice(0, eq);
      const val = eq < 0 ? '1' : tok.slice(eq + 1);
      const dot = key.indexOf('.');
      if (dot > 0) this.pending.set(`${norm(key.slice(0, dot))}.${key.slice(dot + 1)}`, val);
    }
  }

  /**
   * module_param(): declares a parameter with its default; a command-line value overrides it. Returns the
   * parameter itself, whose `value` follows later writes: what a hot path reads instead of get().
   */
  declare(module: string, name: string, kind: ParamDef['kind'], dflt: ParamValue, writable = false): { readonly value: ParamValue } {
    const key = `${norm(module)}.${name}`;
    const def: ParamDef = { value: dflt, writable, kind };
    const given = this.pending.get(key);
    if (given !== undefined) def.value = this.parse(def, given, key);
    this.defs.set(key, def);
    const dir: StaticDir = this.vfs.mkdirp(`/sys/module/${norm(module)}/parameters`);
    dir.set(
      name,
      attr(
        'sysfs',
        () => this.show(def),
        writable
          ? (_ctx, data) => {
              def.value = this.parse(def, data.trim(), key);
            }
          : undefined,
        writable ? 0o644 : 0o444,
      ),
    );
    return def;
  }

  private parse(def: ParamDef, s: string, key: string): ParamValue {
    switch (def.kind) {
      case 'bool': {
        const b = parseBool(s);
        if (b === undefined) throw kerr('EINVAL', `${key}: "${s}" is not a boolean`);
        return b;
      }
      case 'uint': case 'int': {
        const n = Number(s);
        if (!Number.isInteger(n) || (def.kind === 'uint' && n < 0)) throw kerr('EINVAL', `${key}: "${s}" is not a${def.kind === 'uint' ? 'n unsigned' : 'n'} integer`);
        return n;
      }
      case 'charp': return s;
    }
  }

  private show(def: ParamDef): string {
    if (typeof def.value === 'boolean') return def.value ? 'Y\n' : 'N\n';
    return `${def.value}\n`;
  }

  get(module: string, name: string): ParamValue {
    const d = this.defs.get(`${norm(module)}.${name}`);
    if (!d) throw new Error(`module parameter ${module}.${name} is not declared`);
    return d.value;
  }

  bool(module: string, name: string): boolean {
    return this.get(module, name) === true;
  }

  num(module: string, name: string): number {
    return this.get(module, name) as number;
  }
}
