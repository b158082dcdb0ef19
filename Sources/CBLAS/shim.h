#include <cblas.h>
/* OpenBLAS extras: thread count control, and the pool restart that lets threads inherit MXCSR. */
int openblas_get_num_threads(void);
int blas_thread_shutdown_(void);
/* The kernel family OpenBLAS's DYNAMIC_ARCH picked at load time ("Haswell", "SkylakeX", ...). */
char *openblas_get_corename(void);

/* Whether this CPU and OS run OpenBLAS's SkylakeX (AVX-512 F/BW/DQ/VL) kernels. */
#if defined(__x86_64__)
static inline int dlp_cpu_runs_skylakex_kernels(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#else
static inline int dlp_cpu_runs_skylakex_kernels(void) { return 0; }
#endif

/* Flush denormals to zero (FTZ) and treat denormal inputs as zero (DAZ) on this thread: the
   rmsprop state decays into denormals and x86 handles those ~100x slower. */
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
static inline void dlp_enable_flush_to_zero(void) { _mm_setcsr(_mm_getcsr() | 0x8040); }
#else
static inline void dlp_enable_flush_to_zero(void) {}
#endif

/* A spin-wait hint for DLP's thread team (PAUSE on x86: lets the sibling hyperthread run and
   saves power while a worker waits for the next parallel region). */
#if defined(__x86_64__) || defined(__i386__)
static inline void dlp_cpu_relax(void) { __builtin_ia32_pause(); }
/* The caller's floating-point mode (MXCSR), which the team's workers copy so that they flush
   denormals exactly as the thread that created them does. */
static inline unsigned dlp_get_fp_mode(void) { return _mm_getcsr(); }
static inline void dlp_set_fp_mode(unsigned mode) { _mm_setcsr(mode); }
#else
static inline void dlp_cpu_relax(void) {}
static inline unsigned dlp_get_fp_mode(void) { return 0; }
static inline void dlp_set_fp_mode(unsigned mode) { (void)mode; }
#endif
