#include <cblas.h>
/* OpenBLAS extras: thread count control, and the pool restart that lets threads inherit MXCSR. */
int openblas_get_num_threads(void);
int blas_thread_shutdown_(void);

/* Flush denormals to zero (FTZ) and treat denormal inputs as zero (DAZ) on this thread: the
   rmsprop state decays into denormals and x86 handles those ~100x slower. */
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
static inline void dlp_enable_flush_to_zero(void) { _mm_setcsr(_mm_getcsr() | 0x8040); }
#else
static inline void dlp_enable_flush_to_zero(void) {}
#endif
