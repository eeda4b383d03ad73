// <sys/eventfd.h> (include/uapi/linux/eventfd.h in newer kernels): eventfd2() flags.
export const EFD_SEMAPHORE = 0o1;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
