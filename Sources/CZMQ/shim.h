#include <zmq.h>

/* The shared-memory collective's mailbox: a sequence word per rank that peers wait on. Swift
   cannot call the variadic syscall(2), and a plain load in a spin loop may be hoisted. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/futex.h>
static inline uint32_t dlp_load_acquire_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void dlp_store_release_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint64_t dlp_load_acquire_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void dlp_store_release_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void dlp_shm_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}
/* Sleeps while *p == expected, at most timeout_ns (shared futex: the word lives in a MAP_SHARED
   segment other processes write). Returns 0, or -1 with errno (EAGAIN: it changed, ETIMEDOUT). */
static inline int dlp_futex_wait(const uint32_t *p, uint32_t expected, long timeout_ns) {
  struct timespec ts = { timeout_ns / 1000000000L, timeout_ns % 1000000000L };
  return (int)syscall(SYS_futex, p, FUTEX_WAIT, expected, &ts, NULL, 0);
}
static inline int dlp_futex_wake_all(uint32_t *p) {
  return (int)syscall(SYS_futex, p, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}
/* A pipe whose both ends are close-on-exec from the start (pipe2 is a GNU extension that Swift's
   Glibc module does not export), so no concurrently spawned child inherits it. */
#include <fcntl.h>
static inline int dlp_pipe_cloexec(int *fds) { return (int)syscall(SYS_pipe2, fds, O_CLOEXEC); }
/* mallopt: the ring keeps received frames' memory mapped between chunks (FrameMemory.swift). */
#include <malloc.h>
