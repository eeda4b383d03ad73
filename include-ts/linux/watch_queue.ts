// include/uapi/linux/watch_queue.h: the pipe2() flag that asks for a notification pipe.

import { O_EXCL } from './fcntl.js';

/** Parameter to pipe2() selecting a notification pipe (CONFIG_WATCH_QUEUE). */
export const O_NOTIFICATION_PIPE = O_EXCL;
