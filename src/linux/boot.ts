// Kernel boot: brings up the subsystems in dependency order. A new subsystem is one entry here.

import type { Kernel } from './kernel.js';
import { initMemDevices } from './drivers/mem-init.js';
import { initProcfs } from './fs/procfs.js';
import { initPipeSysctls } from './pipe.js';
import { initEpoll } from './fs/eventpoll.js';
import { initIrq } from './irq/init.js';
import { initPci } from './pci/init.js';
import { initVfio } from './vfio/init.js';
import { initIommufd } from './iommu/iommufd/main.js';
import { initKvm } from './kvm/init.js';
import { initPrivcmd } from './xen/privcmd.js';

export interface Subsystem {
  readonly name: string;
  init(kernel: Kernel): void;
}

export const SUBSYSTEMS: readonly Subsystem[] = [
  { name: 'procfs', init: initProcfs },
  { name: 'pipe', init: initPipeSysctls },
  { name: 'epoll', init: initEpoll },
  { name: 'mem', init: initMemDevices },
  { name: 'irq', init: initIrq },
  { name: 'pci', init: initPci },
  { name: 'iommufd', init: initIommufd },
  { name: 'vfio', init: initVfio },
  { name: 'kvm', init: initKvm },
  { name: 'xen-privcmd', init: initPrivcmd },
];

export function bootKernel(kernel: Kernel): void {
  for (const s of SUBSYSTEMS) s.init(kernel);
}
