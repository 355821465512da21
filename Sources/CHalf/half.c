// Half-precision conversion for the fp16 gradient codec (see CHalf.h).
#include "CHalf.h"
#include <string.h>

// Round to nearest even in integer arithmetic (F. Giesen, "float_to_half_fast3_rtne").
static uint16_t encode_one(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t infinity = 255u << 23, half_overflow = (127u + 16u) << 23;
    const uint32_t denormal_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    uint32_t sign = x & 0x80000000u;
    x ^= sign;
    uint16_t out;
    if (x >= half_overflow) {
        out = x > infinity ? (uint16_t)(0x7e00 | ((x >> 13) & 0x3ff)) : 0x7c00;
    } else if (x < (113u << 23)) {
        // Below half's smallest normal: the float addition rounds the subnormal (to even).
        float v, magic;
        memcpy(&v, &x, 4);
        memcpy(&magic, &denormal_magic, 4);
        v += magic;
        uint32_t bits;
        memcpy(&bits, &v, 4);
        out = (uint16_t)(bits - denormal_magic);
    } else {
        uint32_t odd = (x >> 13) & 1u;
        x += ((uint32_t)(15 - 127) << 23) + 0xfffu + odd;
        out = (uint16_t)(x >> 13);
    }
    return out | (uint16_t)(sign >> 16);
}

static float decode_one(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0x1f) {
        bits = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        float v = (float)m * 5.9604644775390625e-08f;  // m x 2^-24, exact
        memcpy(&bits, &v, 4);
        bits |= sign;
    } else {
        bits = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void encode_portable(const float *src, uint16_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = encode_one(src[i]);
}
static void decode_portable(const uint16_t *src, float *dst, size_t count, int add) {
    if (add) for (size_t i = 0; i < count; i++) dst[i] += decode_one(src[i]);
    else for (size_t i = 0; i < count; i++) dst[i] = decode_one(src[i]);
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx,f16c")))
static void encode_f16c(const float *src, uint16_t *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    encode_portable(src + i, dst + i, count - i);
}

__attribute__((target("avx,f16c")))
static void decode_f16c(const uint16_t *src, float *dst, size_t count, int add) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, add ? _mm256_add_ps(_mm256_loadu_ps(dst + i), v) : v);
    }
    decode_portable(src + i, dst + i, count - i, add);
}

static int has_f16c(void) {
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx") ? 1 : 0;
    return known;
}

void chalf_encode(const float *src, uint16_t *dst, size_t count) {
    if (has_f16c()) encode_f16c(src, dst, count); else encode_portable(src, dst, count);
}
void chalf_decode(const uint16_t *src, float *dst, size_t count, int add) {
    if (has_f16c()) decode_f16c(src, dst, count, add); else decode_portable(src, dst, count, add);
}
#else
void chalf_encode(const float *src, uint16_t *dst, size_t count) { encode_portable(src, dst, count); }
void chalf_decode(const uint16_t *src, float *dst, size_t count, int add) { decode_portable(src, dst, count, add); }
#endif
