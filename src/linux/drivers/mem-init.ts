// Registers the memory character devices of drivers/char/mem.c in /dev.
import type { Kernel } from '../kernel.js';
import { chardev } from '../fs/vfs.js';
import { NullFile, ZeroFile } from './mem.js';
import { MEM_MAJOR, MKDEV, NULL_MINOR, ZERO_MINOR } from '../fs/char-dev.js';

export function initMemDevices(kernel: Kernel): void {
  const dev = kernel.vfs.mkdirp('/dev');
  dev.set('null', chardev(() => new NullFile(), MKDEV(MEM_MAJOR, NULL_MINOR), 0o666));
  dev.set('zero', chardev(() => new ZeroFile(), MKDEV(MEM_MAJOR, ZERO_MINOR), 0o666));
}
