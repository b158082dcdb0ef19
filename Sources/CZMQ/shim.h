#include <zmq.h>

/* Memory fences for the shared-memory collective, which publishes segment headers to other
   processes (Swift has no fence a plain system-library target can use without a package). */
static inline void dlp_fence_release(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
static inline void dlp_fence_acquire(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
