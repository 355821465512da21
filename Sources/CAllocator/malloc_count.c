#define _GNU_SOURCE
#include "CAllocator.h"
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_int counting;
static atomic_llong calls, total_bytes;

static inline void note(size_t n) {
    if (atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&total_bytes, (long long)n, memory_order_relaxed);
    }
}

void *malloc(size_t n) { note(n); return __libc_malloc(n); }
void *calloc(size_t count, size_t size) { note(count * size); return __libc_calloc(count, size); }
void *realloc(void *p, size_t n) { note(n); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t n) { note(n); return __libc_memalign(alignment, n); }
void *aligned_alloc(size_t alignment, size_t n) { note(n); return __libc_memalign(alignment, n); }
int posix_memalign(void **out, size_t alignment, size_t n) {
    note(n);
    void *p = __libc_memalign(alignment, n);
    if (p == NULL && n != 0) return ENOMEM;
    *out = p;
    return 0;
}

void malloc_count_start(void) {
    atomic_store(&calls, 0);
    atomic_store(&total_bytes, 0);
    atomic_store(&counting, 1);
}

int64_t malloc_count_stop(int64_t *bytes) {
    atomic_store(&counting, 0);
    if (bytes) *bytes = atomic_load(&total_bytes);
    return atomic_load(&calls);
}
