// The PCI bus in sysfs (drivers/pci/pci-sysfs.c, drivers/pci/pci-driver.c, drivers/base/bus.c,
// drivers/base/driver.c driver_set_override):
//   /sys/devices/pci0000:00/.../<bdf>/{vendor,device,subsystem_vendor,subsystem_device,class,revision,irq,
//       enable,config,resource,modalias,numa_node,driver_override,reset,driver ->,iommu_group ->}
//   /sys/bus/pci/devices/<bdf> -> ../../../devices/pci0000:00/.../<bdf>
//   /sys/bus/pci/drivers/<drv>/{bind,unbind,new_id,remove_id,module ->,<bdf> ->}
//   /sys/bus/pci/{drivers_probe,drivers_autoprobe}
// with the kernel's errno for each failing write.

import { kerr } from '../errors.js';
import { CAP_SYS_ADMIN } from '../../../include-ts/linux/capability.js';
import type { FileContext } from '../fs/file.js';
import { attr, symlink, type StaticDir, type Inode } from '../fs/vfs.js';
import type { Kernel } from '../kernel.js';
import { parseBool } from '../moduleparam.js';
import type { PciCore } from './pci-core.js';
import type { PciDev } from './pci-dev.js';
import { PCI_ANY_ID, pciMatchDevice, type PciDeviceId, type PciDriver } from './pci-driver.js';

const PAGE_SIZE = 4096;
const hex = (v: number, w: number) => `0x${v.toString(16).padStart(w, '0')}`;

/** The device's directory under /sys/devices (parents' names form the path, as in the kernel). */
export function devicePath(dev: PciDev): string {
  const parts: string[] = [];
  for (let d: PciDev | null = dev; d; d = d.parent) parts.unshift(d.name);
  return `/sys/devices/pci0000:00/${parts.join('/')}`;
}

/** A relative symlink target from directory `from` to absolute `to` (sysfs links are relative). */
export function relative(from: string, to: string): string {
  const a = from.split('/').filter(Boolean);
  const b = to.split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}

/** sysfs_streq()-style device lookup: the written name with one trailing newline ignored. */
function trimNl(s: string): string {
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}

export function registerPciSysfs(kernel: Kernel, core: PciCore): void {
  const vfs = kernel.vfs;
  const busDevices = vfs.mkdirp('/sys/bus/pci/devices');
  for (const dev of core.devices) {
    const path = devicePath(dev);
    const dir = vfs.mkdirp(path);
    populateDevice(core, dev, dir, path);
    busDevices.set(dev.name, symlink(relative('/sys/bus/pci/devices', path)));
  }
  const bus = vfs.mkdirp('/sys/bus/pci');
  bus.set('drivers_probe', attr('sysfs', undefined, (_ctx, data) => {
    const dev = core.get(trimNl(data));
    if (!dev) throw kerr('ENODEV', `no PCI device named "${trimNl(data)}"`);
    if (!dev.driver) core.deviceAttach(dev);
  }, 0o200));
  bus.set('drivers_autoprobe', attr('sysfs', () => (core.autoprobe ? '1\n' : '0\n'), (_ctx, data) => {
    const b = parseBool(data);
    if (b === undefined) throw kerr('EINVAL', `"${trimNl(data)}" is not a boolean`);
    core.autoprobe = b;
  }, 0o644));
  bus.dir('drivers');
}

/** Adds /sys/bus/pci/drivers/<name> for a registered driver. */
export function registerDriverSysfs(kernel: Kernel, core: PciCore, drv: PciDriver): void {
  const base = `/sys/bus/pci/drivers/${drv.name}`;
  const dir = kernel.vfs.mkdirp(base);
  dir.set('bind', attr('sysfs', undefined, (ctx, data) => {
    const name = trimNl(data);
    const dev = core.get(name);
    if (!dev || !pciMatchDevice(drv, dev)) {
      throw kerr('ENODEV', dev ? `${drv.name} does not match ${name}${dev.driverOverride !== null ? ` (driver_override is "${dev.driverOverride}")` : ''}` : `no PCI device named "${name}"`);
    }
    core.probe(drv, dev, ctx);
  }, 0o200));
  dir.set('unbind', attr('sysfs', undefined, (ctx, data) => {
    const name = trimNl(data);
    const dev = core.get(name);
    if (!dev || dev.driver !== drv) throw kerr('ENODEV', dev ? `${name} is not bound to ${drv.name}` : `no PCI device named "${name}"`);
    core.release(dev, ctx);
  }, 0o200));
  dir.set('new_id', attr('sysfs', undefined, (_ctx, data) => {
    const f = data.trim().split(/\s+/).filter(Boolean).map((x) => parseInt(x, 16));
    if (f.length < 2 || f.some((x) => Number.isNaN(x))) throw kerr('EINVAL', 'new_id needs at least "vendor device" in hex');
    const id: PciDeviceId = {
      vendor: f[0]! >>> 0, device: f[1]! >>> 0, subvendor: (f[2] ?? PCI_ANY_ID) >>> 0, subdevice: (f[3] ?? PCI_ANY_ID) >>> 0,
      classCode: f[4] ?? 0, classMask: f[5] ?? 0,
    };
    if (f.length !== 7) {
      const probe = { vendor: id.vendor, device: id.device, driverOverride: null, classCode: id.classCode, hw: { id: { subVendor: id.subvendor, subDevice: id.subdevice } } } as unknown as PciDev;
      if (pciMatchDevice(drv, probe)) throw kerr('EEXIST', `${drv.name} already matches ${hex(id.vendor, 4)}:${hex(id.device, 4)}`);
    }
    drv.dynids.push(id);
    core.driverAttach(drv);
  }, 0o200));
  dir.set('remove_id', attr('sysfs', undefined, (_ctx, data) => {
    const f = data.trim().split(/\s+/).filter(Boolean).map((x) => parseInt(x, 16));
    if (f.length < 2) throw kerr('EINVAL', 'remove_id needs "vendor device" in hex');
    const i = drv.dynids.findIndex((id) => id.vendor === f[0] && id.device === f[1]);
    if (i < 0) throw kerr('ENODEV', `${drv.name} has no dynamic id ${data.trim()}`);
    drv.dynids.splice(i, 1);
  }, 0o200));
  dir.set('module', symlink(relative(base, `/sys/module/${drv.module}`)));
  kernel.vfs.mkdirp(`/sys/module/${drv.module}`);
  dir.dynamic = {
    list: () => core.devices.filter((d) => d.driver === drv).map((d) => d.name),
    lookup: (name) => {
      const d = core.get(name);
      return d && d.driver === drv ? symlink(relative(base, devicePath(d))) : undefined;
    },
  };
}

function populateDevice(core: PciCore, dev: PciDev, dir: StaticDir, path: string): void {
  const id = dev.hw.id;
  const ro = (show: (ctx: FileContext) => string | Uint8Array, mode = 0o444) => attr('sysfs', show, undefined, mode);
  dir.set('vendor', ro(() => `${hex(id.vendor, 4)}\n`));
  dir.set('device', ro(() => `${hex(id.device, 4)}\n`));
  dir.set('subsystem_vendor', ro(() => `${hex(id.subVendor ?? 0, 4)}\n`));
  dir.set('subsystem_device', ro(() => `${hex(id.subDevice ?? 0, 4)}\n`));
  dir.set('class', ro(() => `${hex(id.classCode, 6)}\n`));
  dir.set('revision', ro(() => `${hex(id.revision, 2)}\n`));
  dir.set('irq', ro(() => `${dev.irq}\n`));
  dir.set('enable', ro(() => `${dev.enableCnt > 0 ? 1 : 0}\n`));
  dir.set('numa_node', ro(() => '-1\n'));
  dir.set('modalias', ro(() => {
    const h = (v: number, w: number) => v.toString(16).toUpperCase().padStart(w, '0');
    const c = id.classCode;
    return `pci:v${h(id.vendor, 8)}d${h(id.device, 8)}sv${h(id.subVendor ?? 0, 8)}sd${h(id.subDevice ?? 0, 8)}bc${h(c >> 16, 2)}sc${h((c >> 8) & 0xff, 2)}i${h(c & 0xff, 2)}\n`;
  }));
  // pci_read_config(): readers without CAP_SYS_ADMIN see only the standard header.
  dir.set('config', attr('sysfs', (ctx) => {
    const n = ctx.proc.capable(CAP_SYS_ADMIN) ? dev.cfgSize : 64;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = dev.readConfig(i, 4);
      out[i] = v & 0xff;
      out[i + 1] = (v >>> 8) & 0xff;
      out[i + 2] = (v >>> 16) & 0xff;
      out[i + 3] = (v >>> 24) & 0xff;
    }
    return out;
  }, undefined, 0o444));
  dir.set('resource', ro(() => {
    const lines: string[] = [];
    const z = '0x0000000000000000';
    const q = (v: number) => `0x${v.toString(16).padStart(16, '0')}`;
    const nbars = dev.isBridge ? 2 : 6;
    for (let i = 0; i < 6; i++) {
      const b = i < nbars ? dev.hw.bars[i] : undefined;
      const a = b ? dev.hw.barAddress(i) : 0;
      if (!b || !a) lines.push(`${z} ${z} ${z}`);
      else lines.push(`${q(a)} ${q(a + b.size - 1)} ${q(b.kind === 'io' ? 0x40101 : 0x40200 | (b.kind === 'mem64' ? 0x100000 : 0) | (b.prefetch ? 0x2000 : 0))}`);
    }
    const rom = dev.hw.rom ? dev.hw.configRead(dev.isBridge ? 0x38 : 0x30, 4) & ~0x7ff : 0;
    lines.push(rom ? `${q(rom)} ${q(rom + dev.hw.romSize - 1)} ${q(0x46200)}` : `${z} ${z} ${z}`);
    return lines.join('\n') + '\n';
  }));
  dir.set('driver_override', attr('sysfs', () => `${dev.driverOverride ?? '(null)'}\n`, (_ctx, data) => {
    // driver_set_override(): PAGE_SIZE - 1 limit; "" or "\n" clears; text up to the first newline.
    if (data.length >= PAGE_SIZE - 1) throw kerr('EINVAL', `driver_override is limited to ${PAGE_SIZE - 2} bytes`);
    const nul = data.indexOf('\0');
    const s = nul >= 0 ? data.slice(0, nul) : data;
    if (s.length === 0) {
      dev.driverOverride = null;
      return;
    }
    const nl = s.indexOf('\n');
    dev.driverOverride = nl === 0 ? null : nl > 0 ? s.slice(0, nl) : s;
  }, 0o644));
  dir.set('reset', attr('sysfs', undefined, (_ctx, data) => {
    const v = Number(trimNl(data));
    if (v !== 1) throw kerr('EINVAL', 'write 1 to reset the function');
    if (!core.resetFunction(dev)) throw kerr('ENOTTY', `${dev.name} has no function reset method`);
  }, 0o200));
  dir.dynamic = {
    list: () => [...(dev.driver ? ['driver'] : []), ...(dev.group ? ['iommu_group'] : [])],
    lookup: (name): Inode | undefined => {
      if (name === 'driver' && dev.driver) return symlink(relative(path, `/sys/bus/pci/drivers/${dev.driver.name}`));
      if (name === 'iommu_group' && dev.group) return symlink(relative(path, `/sys/kernel/iommu_groups/${dev.group.id}`));
      return undefined;
    },
  };
}
