#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock (CLOCK_MONOTONIC), for bracketing phases: layers,
/// iterations, codec arithmetic, the watchdog's deadlines (MPI_Wtime may not be called
/// from the watchdog's thread).
@inline(__always) public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
