// The collectives' reduction step. Swift compiles its loop for the baseline x86-64
// target (SSE, 4 floats); at 8 ranks on 2 shared cores every rank's additions come
// out of the same two cores, so the ring's reduce-scatter pays for that width.
// Open MPI's own MPI_SUM uses AVX(2) kernels (ompi/mca/op/avx); this does the same,
// with a run-time check so the binary still runs on CPUs without AVX2.
#include "CReduction.h"

static void add_portable(float *restrict dst, const float *restrict src, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] += src[i];
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2")))
static void add_avx2(float *restrict dst, const float *restrict src, size_t count) {
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m256 a0 = _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_loadu_ps(src + i));
        __m256 a1 = _mm256_add_ps(_mm256_loadu_ps(dst + i + 8), _mm256_loadu_ps(src + i + 8));
        __m256 a2 = _mm256_add_ps(_mm256_loadu_ps(dst + i + 16), _mm256_loadu_ps(src + i + 16));
        __m256 a3 = _mm256_add_ps(_mm256_loadu_ps(dst + i + 24), _mm256_loadu_ps(src + i + 24));
        _mm256_storeu_ps(dst + i, a0);
        _mm256_storeu_ps(dst + i + 8, a1);
        _mm256_storeu_ps(dst + i + 16, a2);
        _mm256_storeu_ps(dst + i + 24, a3);
    }
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_loadu_ps(src + i)));
    add_portable(dst + i, src + i, count - i);
}

void creduction_add_float(float *dst, const float *src, size_t count) {
    static int has_avx2 = -1;
    if (has_avx2 < 0) has_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
    if (has_avx2) add_avx2(dst, src, count);
    else add_portable(dst, src, count);
}
#else
void creduction_add_float(float *dst, const float *src, size_t count) { add_portable(dst, src, count); }
#endif
