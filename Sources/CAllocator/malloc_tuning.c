// glibc serves allocations above 128 KiB with a fresh mmap and returns them with
// munmap. OpenBLAS's threaded sgemm mallocs and frees about 0.5 MB per call (counted
// by `squeezenet-train bench`: 339 MB per v1.1 step at 224 px with 2 threads), so
// every call paid page faults and kernel zeroing of new pages. Keeping such blocks
// in the heap lets them be reused. Runs before main in this executable only.
#include <malloc.h>

__attribute__((constructor)) static void keep_large_blocks_in_the_heap(void) {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}
