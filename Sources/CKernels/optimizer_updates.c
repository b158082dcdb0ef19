/* See dlp_kernels.h. The loops are written once (as macros) and compiled per target; the
   compiler vectorises each to its target's width. Contraction into FMA is off for the whole file:
   it would round differently from the reference. */
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include "dlp_kernels.h"

#define RMSPROP_BODY                                                                \
  for (long i = 0; i < n; i++) {                                                    \
    float gi = g[i];                                                                \
    float vi = rho * v[i] + one_minus_rho * gi * gi;                                \
    v[i] = vi;                                                                      \
    w[i] -= lr * gi / __builtin_sqrtf(vi + eps);                                    \
  }

#define ADAM_BODY                                                                   \
  for (long i = 0; i < n; i++) {                                                    \
    float gi = g[i];                                                                \
    float mi = m[i] + (gi - m[i]) * c1;                                             \
    float vi = v[i] + (gi * gi - v[i]) * c2;                                        \
    m[i] = mi;                                                                      \
    v[i] = vi;                                                                      \
    w[i] -= mi * alpha / (__builtin_sqrtf(vi) + eps);                               \
  }

#define RMSPROP_ARGS                                                                \
  float *restrict w, const float *restrict g, float *restrict v, long n, float rho, \
      float one_minus_rho, float lr, float eps
#define ADAM_ARGS                                                                   \
  float *restrict w, const float *restrict g, float *restrict m, float *restrict v, \
      long n, float c1, float c2, float alpha, float eps

static void rmsprop_base(RMSPROP_ARGS) { RMSPROP_BODY }
static void adam_base(ADAM_ARGS) { ADAM_BODY }

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void rmsprop_avx2(RMSPROP_ARGS) { RMSPROP_BODY }
__attribute__((target("avx2"))) static void adam_avx2(ADAM_ARGS) { ADAM_BODY }
__attribute__((target("avx512f"))) static void rmsprop_avx512(RMSPROP_ARGS) { RMSPROP_BODY }
__attribute__((target("avx512f"))) static void adam_avx512(ADAM_ARGS) { ADAM_BODY }
#endif

int dlp_kernels_max_level(void) {
#if defined(__x86_64__)
  return 2;
#else
  return 0;
#endif
}

void dlp_rmsprop_update(int level, float *w, const float *g, float *v, long n, float rho,
                        float one_minus_rho, float lr, float eps) {
#if defined(__x86_64__)
  if (level >= 2) { rmsprop_avx512(w, g, v, n, rho, one_minus_rho, lr, eps); return; }
  if (level == 1) { rmsprop_avx2(w, g, v, n, rho, one_minus_rho, lr, eps); return; }
#endif
  rmsprop_base(w, g, v, n, rho, one_minus_rho, lr, eps);
}

void dlp_adam_update(int level, float *w, const float *g, float *m, float *v, long n, float c1,
                     float c2, float alpha, float eps) {
#if defined(__x86_64__)
  if (level >= 2) { adam_avx512(w, g, m, v, n, c1, c2, alpha, eps); return; }
  if (level == 1) { adam_avx2(w, g, m, v, n, c1, c2, alpha, eps); return; }
#endif
  adam_base(w, g, m, v, n, c1, c2, alpha, eps);
}
