// Names for the ioctls do_vfs_ioctl() handles on every file (fs/ioctl.c).
import { FIOASYNC, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD } from '../../../../include-ts/asm-generic/ioctls.js';
import { ioctlTable, type IoctlTable } from '../ioctl-desc.js';

export const GENERIC_IOCTLS: IoctlTable = ioctlTable([
  [FIONREAD, { name: 'FIONREAD', arg: 'int-ptr', out: true }],
  [FIONBIO, { name: 'FIONBIO', arg: 'int-ptr' }],
  [FIONCLEX, { name: 'FIONCLEX', arg: 'omitted' }],
  [FIOCLEX, { name: 'FIOCLEX', arg: 'omitted' }],
  [FIOASYNC, { name: 'FIOASYNC', arg: 'int-ptr' }],
]);
