import CBLAS
import Dispatch

/// The layers' own loops (im2col, bias, ReLU, pooling, copies) run on as many
/// threads as OpenBLAS uses: with 2 BLAS threads the sgemm half of a step halves,
/// and a single-threaded rest would then be most of it. Work is split into fixed
/// contiguous ranges, each computed exactly as the serial loop would, so results
/// do not depend on the thread count.
///
/// `DispatchQueue.concurrentPerform` allocates a little per call; a pthread pool with
/// condition variables allocated less but trained slower (wake-up latency on every
/// hand-off), so it was dropped (docs/performance.md, the whole matrix, "Allocations").
enum Parallel {
    /// Threads for the layers' loops: OpenBLAS's count, read once per process and
    /// updated by `setBLASThreads`.
    nonisolated(unsafe) static var threads = max(1, Int(openblas_get_num_threads()))

    /// Runs `body` on contiguous parts of `0..<count`; serially when one thread is
    /// configured or when there are fewer than `grain` items per extra thread
    /// (dispatching costs microseconds: small layers at 32 px stay serial).
    @inline(__always)
    static func forRanges(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(threads, count / max(grain, 1))
        guard parts > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            body((count * p / parts)..<(count * (p + 1) / parts))
        }
    }

    /// `forRanges` for per-item work: `body(i)` for every i in 0..<count.
    @inline(__always)
    static func forEach(_ count: Int, grain: Int, _ body: (Int) -> Void) {
        forRanges(count, grain: grain) { range in for i in range { body(i) } }
    }
}
