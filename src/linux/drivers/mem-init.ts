// Registers the memory character devices of drivers/char/mem.c in /dev.
import type { Kernel } from '../kernel.js';
import { chardev } from '../fs/vfs.js';
import { NullFile, ZeroFile } from './mem.js';

export function initMemDevices(kernel: Kernel): void {
  const dev = kernel.vfs.mkdirp('/dev');
  dev.set('null', chardev(() => new NullFile(), 0o666));
  dev.set('zero', chardev(() => new ZeroFile(), 0o666));
}
