#include <cblas.h>
/* OpenBLAS extras: thread count control, and the pool restart that lets threads inherit MXCSR. */
int openblas_get_num_threads(void);
int blas_thread_shutdown_(void);
/* The kernel family OpenBLAS's DYNAMIC_ARCH picked at load time ("Haswell", "SkylakeX", ...). */
char *openblas_get_corename(void);

/* What the CPU can do and the OS has enabled, read from CPUID and XGETBV (not from a model
   table, which goes stale: OpenBLAS 0.3.21 takes a Xeon of family 6 model 207 for a Prescott).
   One bit each; BLASKernelChoice turns them into the OpenBLAS kernel families this CPU runs. */
enum dlp_cpu_feature {
  DLP_CPU_SSE3 = 1u << 0,
  DLP_CPU_SSSE3 = 1u << 1,
  DLP_CPU_SSE41 = 1u << 2,
  DLP_CPU_SSE42 = 1u << 3,
  DLP_CPU_AVX = 1u << 4,       /* CPUID.1:ECX.AVX */
  DLP_CPU_FMA = 1u << 5,       /* CPUID.1:ECX.FMA */
  DLP_CPU_AVX2 = 1u << 6,      /* CPUID.7.0:EBX.AVX2 */
  DLP_CPU_AVX512F = 1u << 7,   /* CPUID.7.0:EBX bit 16 */
  DLP_CPU_AVX512DQ = 1u << 8,  /* bit 17 */
  DLP_CPU_AVX512BW = 1u << 9,  /* bit 30 */
  DLP_CPU_AVX512VL = 1u << 10, /* bit 31 */
  DLP_CPU_AVX512BF16 = 1u << 11, /* CPUID.7.1:EAX bit 5 */
  DLP_CPU_OS_AVX = 1u << 12,   /* OSXSAVE and XCR0 bits 1-2: the OS saves SSE and YMM state */
  DLP_CPU_OS_AVX512 = 1u << 13, /* and XCR0 bits 5-7: opmask, ZMM_Hi256, Hi16_ZMM */
  DLP_CPU_AMD = 1u << 14,      /* vendor AuthenticAMD or HygonGenuine */
  DLP_CPU_X86_64 = 1u << 15,   /* built for x86-64: the bits above mean something */
};

#if defined(__x86_64__)
static inline void dlp_cpuid(unsigned leaf, unsigned subleaf, unsigned r[4]) {
  __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
}

static inline unsigned dlp_cpu_features(void) {
  unsigned r[4], f = DLP_CPU_X86_64;
  dlp_cpuid(0, 0, r);
  unsigned maxLeaf = r[0];
  /* Vendor string: EBX, EDX, ECX. */
  if ((r[1] == 0x68747541 && r[3] == 0x69746e65 && r[2] == 0x444d4163) || /* AuthenticAMD */
      (r[1] == 0x6f677948 && r[3] == 0x6e65476e && r[2] == 0x656e6975))   /* HygonGenuine */
    f |= DLP_CPU_AMD;
  if (maxLeaf < 1) return f;
  dlp_cpuid(1, 0, r);
  unsigned ecx1 = r[2];
  if (ecx1 & (1u << 0)) f |= DLP_CPU_SSE3;
  if (ecx1 & (1u << 9)) f |= DLP_CPU_SSSE3;
  if (ecx1 & (1u << 19)) f |= DLP_CPU_SSE41;
  if (ecx1 & (1u << 20)) f |= DLP_CPU_SSE42;
  if (ecx1 & (1u << 12)) f |= DLP_CPU_FMA;
  if (ecx1 & (1u << 28)) f |= DLP_CPU_AVX;
  if (ecx1 & (1u << 27)) { /* OSXSAVE: XGETBV is there */
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) == 0x6) f |= DLP_CPU_OS_AVX;
    if ((lo & 0xe6) == 0xe6) f |= DLP_CPU_OS_AVX512;
  }
  if (maxLeaf < 7) return f;
  dlp_cpuid(7, 0, r);
  unsigned ebx7 = r[1], maxSub7 = r[0];
  if (ebx7 & (1u << 5)) f |= DLP_CPU_AVX2;
  if (ebx7 & (1u << 16)) f |= DLP_CPU_AVX512F;
  if (ebx7 & (1u << 17)) f |= DLP_CPU_AVX512DQ;
  if (ebx7 & (1u << 30)) f |= DLP_CPU_AVX512BW;
  if (ebx7 & (1u << 31)) f |= DLP_CPU_AVX512VL;
  if (maxSub7 >= 1) {
    dlp_cpuid(7, 1, r);
    if (r[0] & (1u << 5)) f |= DLP_CPU_AVX512BF16;
  }
  return f;
}
#else
static inline unsigned dlp_cpu_features(void) { return 0; }
#endif

/* The OpenBLAS build ("OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake ..."). */
char *openblas_get_config(void);

/* While the kernels' self-test runs in a re-executed process: a crash (illegal instruction,
   bad access) re-executes the program once more with `envp`, the environment that restores the
   previous kernels (execve is async-signal-safe; the arrays live until the exec). */
#if defined(__linux__)
#include <signal.h>
#include <unistd.h>
/* Storage for the two arrays (a function's static: a header's global would not be emitted). */
static inline char *const **dlp_fallback_slot(int which) {
  static char *const *slots[2];
  return &slots[which];
}
static void dlp_fallback_on_crash(int sig) {
  execve("/proc/self/exe", *dlp_fallback_slot(0), *dlp_fallback_slot(1));
  _exit(128 + sig);
}
static inline void dlp_arm_crash_fallback(char *const *argv, char *const *envp) {
  *dlp_fallback_slot(0) = argv;
  *dlp_fallback_slot(1) = envp;
  struct sigaction sa;
  sa.sa_handler = dlp_fallback_on_crash;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  sigaction(SIGILL, &sa, 0);
  sigaction(SIGSEGV, &sa, 0);
  sigaction(SIGBUS, &sa, 0);
  sigaction(SIGFPE, &sa, 0);
}
static inline void dlp_disarm_crash_fallback(void) {
  signal(SIGILL, SIG_DFL);
  signal(SIGSEGV, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
  signal(SIGFPE, SIG_DFL);
}
#else
static inline void dlp_arm_crash_fallback(char *const *argv, char *const *envp) { (void)argv; (void)envp; }
static inline void dlp_disarm_crash_fallback(void) {}
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
