// Registers the memory character devices of drivers/char/mem.c in /dev.
import type { Kernel } from '../kernel.js';
import { chardev } from '../fs/vfs.js';
import { NullFile, ZeroFile } from './mem.js';
import { MEM_MAJOR, MKDEV, NULL_MINOR, ZERO_MINOR, addClassDevice } from '../fs/char-dev.js';

export function initMemDevices(kernel: Kernel): void {
  const dev = kernel.vfs.mkdirp('/dev');
  // chr_dev_init(): the "mem" class devices, /sys/class/mem/{null,zero}.
  addClassDevice(kernel, 'mem', 'null', '/sys/devices/virtual/mem', MKDEV(MEM_MAJOR, NULL_MINOR));
  addClassDevice(kernel, 'mem', 'zero', '/sys/devices/virtual/mem', MKDEV(MEM_MAJOR, ZERO_MINOR));
  dev.set('null', chardev(() => new NullFile(), 0o666, 0, 0, MKDEV(MEM_MAJOR, NULL_MINOR)));
  dev.set('zero', chardev(() => new ZeroFile(), 0o666, 0, 0, MKDEV(MEM_MAJOR, ZERO_MINOR)));
}
