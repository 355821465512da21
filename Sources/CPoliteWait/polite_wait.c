// A polite wait for MPI ranks that share too few cores (the scaling lab, docs/scaling.md).
//
// With mpi_yield_when_idle 1, Open MPI's progress loop calls sched_yield() each time a
// poll finds nothing to do. sched_yield() keeps a waiting rank runnable, so sixteen
// ranks waiting in MPI_Wait (or inside MPI_Allreduce) hold two cores at 100% and starve
// the kernel's network stack, which is what moves the bytes. Loaded with LD_PRELOAD,
// this library replaces sched_yield() by a sleep of SQUEEZENET_POLITE_WAIT_US
// microseconds (default 50): the rank polls at most about 20,000 times a second and
// leaves the core free in between. Every MPI call and every algorithm (ours and the
// library's own) waits the same way. The cost is up to one sleep of extra latency per
// message, measured by the lab's ping-pong with and without it.
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "polite_wait.h"

static long polite_wait_ns = 50000;

__attribute__((constructor)) static void polite_wait_init(void) {
    const char *text = getenv("SQUEEZENET_POLITE_WAIT_US");
    if (text == NULL || *text == 0) return;
    char *end = NULL;
    long us = strtol(text, &end, 10);
    if (end != NULL && *end == 0 && us >= 0 && us <= 100000) polite_wait_ns = us * 1000;
}

int sched_yield(void) {
    if (polite_wait_ns == 0) return 0;
    struct timespec ts = {polite_wait_ns / 1000000000L, polite_wait_ns % 1000000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    return 0;
}

long squeezenet_polite_wait_nanoseconds(void) { return polite_wait_ns; }
