// <linux/stat.h> (include/uapi/linux/stat.h): the file type and mode bits of st_mode. The same values
// as glibc's <sys/stat.h>, against which the conformance test checks them (the uapi header hides them
// from programs built with glibc).
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o004000;
export const S_ISGID = 0o002000;
export const S_ISVTX = 0o001000;
