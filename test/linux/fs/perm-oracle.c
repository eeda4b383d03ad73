// The permission oracle (test/linux/fs/permission.test.ts): reads a script from stdin, one operation a
// line, `<who> <op> <path> [args]`, paths relative to the directory argv[1]. `root` runs in this
// process (root with this machine's capabilities, umask 0); a path starting with / is used as it is; `uid:gid:groups:caps` (groups a comma list
// or -, caps the effective set in hex) runs in a child that takes those credentials (setgroups,
// setresgid, setresuid with PR_SET_KEEPCAPS, capset). Prints one line an operation: OK, the errno
// number, `open:<errno>` when fchown/fchmod could not open the file, or for stat `<mode> <uid> <gid>`.
// efd-fchown/efd-fchmod and pipe-fchown/pipe-fchmod (path -) make an eventfd or a pipe and change it;
// `getgroups - [size]` prints `<n>: <gids>`; `setgroups <path> <gids|->` sets them and, unless the path
// is -, opens the path for reading (`OK open:<result>`).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char base[4096];

static int become(char *spec) {
  unsigned uid, gid;
  char groups[256];
  unsigned long long caps;
  if (sscanf(spec, "%u:%u:%255[^:]:%llx", &uid, &gid, groups, &caps) != 4) return -1;
  gid_t gl[32];
  int n = 0;
  if (strcmp(groups, "-") != 0)
    for (char *t = strtok(groups, ","); t && n < 32; t = strtok(0, ",")) gl[n++] = (gid_t)atoi(t);
  if (setgroups(n, gl) || prctl(PR_SET_KEEPCAPS, 1) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) return -1;
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  d[0].effective = d[0].permitted = (unsigned)caps;
  d[1].effective = d[1].permitted = (unsigned)(caps >> 32);
  if (syscall(SYS_capset, &h, d)) return -1;
  // Changing the euid made the task non-dumpable (commit_creds()), which gives its /proc/<pid> entries
  // to root (task_dump_owner()); a process started under these ids by exec is dumpable, as the model's are.
  return prctl(PR_SET_DUMPABLE, 1);
}

static int accflags(const char *f) {
  if (!strcmp(f, "r")) return O_RDONLY;
  if (!strcmp(f, "w")) return O_WRONLY;
  if (!strcmp(f, "rw")) return O_RDWR;
  if (!strcmp(f, "dir")) return O_RDONLY | O_DIRECTORY;
  return -1;
}

static void run(char *op, char *rel, char *a, char *b) {
  char p[8192];
  if (rel[0] == '/') snprintf(p, sizeof p, "%s", rel);
  else snprintf(p, sizeof p, "%s/%s", base, rel);
  long r = 0;
  if (!strncmp(op, "efd-", 4) || !strncmp(op, "pipe-", 5)) {
    int fds[2];
    if (op[0] == 'e') fds[0] = fds[1] = eventfd(0, 0);
    else if (pipe(fds)) { printf("pipe:%d\n", errno); return; }
    r = strstr(op, "fchown") ? fchown(fds[0], (uid_t)atol(a), (gid_t)atol(b)) : fchmod(fds[0], (mode_t)strtoul(a, 0, 8));
    int e = errno;
    close(fds[0]);
    if (fds[1] != fds[0]) close(fds[1]);
    errno = e;
  } else if (!strcmp(op, "getgroups")) {
    gid_t g[64];
    int n = getgroups(!strcmp(a, "") ? 64 : atoi(a), g);
    if (n < 0) { printf("%d\n", errno); return; }
    printf("%d:", n);
    for (int i = 0; i < n; i++) printf(" %u", g[i]);
    printf("\n");
    return;
  } else if (!strcmp(op, "setgroups")) {
    gid_t g[64];
    int n = 0;
    if (strcmp(a, "-") != 0)
      for (char *t = strtok(a, ","); t && n < 64; t = strtok(0, ",")) g[n++] = (gid_t)atoi(t);
    r = setgroups(n, g);
    // Then whether the new groups open the file named.
    if (!r && strcmp(rel, "-") != 0) {
      int fd = open(p, O_RDONLY);
      if (fd < 0) { printf("OK open:%d\n", errno); return; }
      close(fd);
      printf("OK open:OK\n");
      return;
    }
  } else if (!strcmp(op, "mkdir")) r = mkdir(p, 0700);
  else if (!strcmp(op, "stat")) {
    struct stat st;
    if (stat(p, &st)) { printf("%d\n", errno); return; }
    printf("%04o %u %u\n", st.st_mode & 07777, st.st_uid, st.st_gid);
    return;
  } else if (!strcmp(op, "open") || !strcmp(op, "creat")) {
    int fd = !strcmp(op, "open") ? open(p, accflags(a)) : open(p, O_WRONLY | O_CREAT, (mode_t)strtoul(a, 0, 8));
    if (fd >= 0) close(fd);
    r = fd < 0 ? -1 : 0;
  } else if (!strcmp(op, "chown")) r = chown(p, (uid_t)atol(a), (gid_t)atol(b));
  else if (!strcmp(op, "lchown")) r = lchown(p, (uid_t)atol(a), (gid_t)atol(b));
  else if (!strcmp(op, "chmod")) r = chmod(p, (mode_t)strtoul(a, 0, 8));
  else if (!strcmp(op, "fchown") || !strcmp(op, "fchmod")) {
    int fd = open(p, O_RDONLY);
    if (fd < 0) { printf("open:%d\n", errno); return; }
    r = !strcmp(op, "fchown") ? fchown(fd, (uid_t)atol(a), (gid_t)atol(b)) : fchmod(fd, (mode_t)strtoul(a, 0, 8));
    int e = errno;
    close(fd);
    errno = e;
  } else {
    printf("bad op %s\n", op);
    return;
  }
  if (r) printf("%d\n", errno);
  else printf("OK\n");
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  snprintf(base, sizeof base, "%s", argv[1]);
  umask(0);
  char line[1024];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char *who = strtok(line, " "), *op = strtok(0, " "), *rel = strtok(0, " "), *a = strtok(0, " "), *b = strtok(0, " ");
    if (!who || !op || !rel) continue;
    fflush(stdout);
    if (!strcmp(who, "root")) { run(op, rel, a ? a : "", b ? b : ""); continue; }
    pid_t pid = fork();
    if (pid == 0) {
      if (become(who)) { printf("become %s failed: %s\n", who, strerror(errno)); fflush(stdout); _exit(1); }
      run(op, rel, a ? a : "", b ? b : "");
      fflush(stdout);
      _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
  }
  return 0;
}
