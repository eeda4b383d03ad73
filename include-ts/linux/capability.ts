// <linux/capability.h>: the capability bits the model checks (bit numbers in a process's effective set).
export const CAP_CHOWN = 0;
export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_FOWNER = 3;
export const CAP_FSETID = 4;
export const CAP_SETGID = 6;
export const CAP_IPC_LOCK = 14;
export const CAP_SYS_RAWIO = 17;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_RESOURCE = 24;
export const CAP_BLOCK_SUSPEND = 36;
export const CAP_LAST_CAP = 40;
