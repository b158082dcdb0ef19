#ifndef DLP_KERNELS_H
#define DLP_KERNELS_H

/* Element-wise optimizer updates, compiled for three x86-64 instruction sets (the baseline's SSE2,
   AVX2 and AVX-512F) so that a process can run the widest one its CPU has: Swift compiles for the
   baseline only and has no per-function targets. Every variant does the same IEEE operations in
   the same order (no fused multiply-add, exact square root and division), so all give the same
   bits as each other and as the Swift reference loops they replace.

   level: 0 baseline, 1 AVX2, 2 AVX-512F (DLPTensor's `VectorKernels` picks it from CPUID). */

/* RMSprop (Keras 3): v = rho v + (1 - rho) g g; w -= lr g / sqrt(v + eps). */
void dlp_rmsprop_update(int level, float *w, const float *g, float *v, long n, float rho,
                        float one_minus_rho, float lr, float eps);

/* Adam (Keras 3): m += (g - m)(1 - beta1); v += (g g - v)(1 - beta2); w -= m alpha / (sqrt(v) + eps),
   alpha being the bias-corrected learning rate of this step. */
void dlp_adam_update(int level, float *w, const float *g, float *m, float *v, long n, float c1,
                     float c2, float alpha, float eps);

/* The widest level this build has (2 on x86-64, 0 elsewhere). */
int dlp_kernels_max_level(void);

#endif
