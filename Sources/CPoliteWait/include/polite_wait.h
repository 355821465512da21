#pragma once
/// The sleep that replaces sched_yield() in this process, in nanoseconds (0: yield is a no-op).
long squeezenet_polite_wait_nanoseconds(void);
