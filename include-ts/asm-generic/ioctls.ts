// <asm-generic/ioctls.h>: the file ioctls every fd accepts (fs/ioctl.c do_vfs_ioctl) and FIONREAD.
export const FIONREAD = 0x541b;
export const FIONBIO = 0x5421;
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;
export const FIOASYNC = 0x5452;
