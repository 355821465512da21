#ifndef CHALF_H
#define CHALF_H
#include <stddef.h>
#include <stdint.h>

/// IEEE half from single, round to nearest even (infinity above 65504 + half an ulp,
/// NaN stays NaN): F16C's VCVTPS2PH when the CPU has it, chosen once at run time,
/// else the same rounding in integer arithmetic. Swift's Float16(x) on x86-64 goes
/// through a soft-float call per element (about 11 ns); this is the codec's hot loop.
void chalf_encode(const float *src, uint16_t *dst, size_t count);
/// dst[i] = float(src[i]), or dst[i] += float(src[i]) when `add` is non-zero (one
/// rounded float32 addition per element).
void chalf_decode(const uint16_t *src, float *dst, size_t count, int add);

#endif
