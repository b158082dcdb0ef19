#ifndef DLP_PROCESS_H
#define DLP_PROCESS_H

/// The CPUs this process may run on (sched_getaffinity), ascending, at most `max` of them;
/// returns how many, or -1 with errno set.
int dlp_allowed_cpus(int *cpus, int max);

/// Restricts every thread of this process (each task in /proc/self/task, and so the threads
/// they start later) to `cpus[0..<count]`; returns 0, or -1 with errno set by the first failure.
int dlp_bind_process(const int *cpus, int count);

#endif
