// CPU affinity for DLP's processes. sched_setaffinity and the CPU_SET macros need _GNU_SOURCE,
// which Swift's Glibc module does not expose, hence this file.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/types.h>

#include "include/dlp_process.h"

int dlp_allowed_cpus(int *cpus, int max) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
  int n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < max; c++) {
    if (CPU_ISSET(c, &set)) cpus[n++] = c;
  }
  return n;
}

int dlp_bind_process(const int *cpus, int count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < count; i++) {
    if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) {
      errno = EINVAL;
      return -1;
    }
    CPU_SET(cpus[i], &set);
  }
  // Threads already running (ZeroMQ's I/O threads, OpenBLAS's pool) keep their own masks
  // unless set one by one; threads started later inherit their creator's.
  DIR *tasks = opendir("/proc/self/task");
  if (tasks == NULL) return sched_setaffinity(0, sizeof(set), &set);
  int result = 0;
  struct dirent *entry;
  while ((entry = readdir(tasks)) != NULL) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    pid_t tid = (pid_t)atoi(entry->d_name);
    if (sched_setaffinity(tid, sizeof(set), &set) != 0 && result == 0) {
      // A thread that exited meanwhile is no failure.
      if (errno != ESRCH) result = -1;
    }
  }
  int saved = errno;
  closedir(tasks);
  errno = saved;
  return result;
}
