#ifndef CREDUCTION_H
#define CREDUCTION_H
#include <stddef.h>

/// dst[i] += src[i] for i < count, in IEEE single precision (one rounded addition
/// per element, so the result is the same bits as a scalar loop). Uses AVX2 when
/// the CPU has it, chosen once at run time.
void creduction_add_float(float *dst, const float *src, size_t count);

#endif
