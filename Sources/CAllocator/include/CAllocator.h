// Counts heap allocations made while counting is on: the benchmark's proof that
// the steady-state training step allocates nothing. Defined in the executable, so
// these malloc/calloc/realloc/aligned variants take precedence over glibc's for
// the whole process (and forward to glibc's through its __libc_* entry points).
#ifndef CALLOCATOR_H
#define CALLOCATOR_H
#include <stdint.h>

void malloc_count_start(void);
/// Stops counting; returns the calls counted since start, and their bytes in *bytes.
int64_t malloc_count_stop(int64_t *bytes);

#endif
