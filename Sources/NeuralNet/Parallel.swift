import CBLAS
import Foundation

/// The layers' own loops (im2col, bias, ReLU, pooling, copies) run on as many
/// threads as OpenBLAS uses: with 2 BLAS threads the sgemm half of a step halves,
/// and a single-threaded rest would then be most of it. Work is split into fixed
/// contiguous ranges, each computed exactly as the serial loop would, so results
/// do not depend on the thread count.
///
/// A small persistent pool rather than `DispatchQueue.concurrentPerform`, which
/// allocated more (measured with `squeezenet-train bench`, v1.1 224 px batch 16,
/// 2 threads: 2,194 heap allocations per step with Dispatch, 1,083 with this pool,
/// of which 647 come from OpenBLAS's threaded sgemm driver, about 0.5 MB each, and
/// 436 from this pool: 32 bytes each, the closure context that `withoutActuallyEscaping`
/// copies to the heap for the hand-off; at 1 thread the step allocates nothing).
enum Parallel {
    /// Threads for the layers' loops: OpenBLAS's count, read once per process and
    /// updated by `setBLASThreads`.
    nonisolated(unsafe) static var threads = max(1, Int(openblas_get_num_threads())) {
        didSet { pool = threads > 1 ? WorkerPool.shared(helpers: threads - 1) : nil }
    }
    nonisolated(unsafe) static var pool: WorkerPool? = {
        let n = max(1, Int(openblas_get_num_threads()))
        return n > 1 ? WorkerPool.shared(helpers: n - 1) : nil
    }()

    /// Runs `body` on contiguous parts of `0..<count`; serially when one thread is
    /// configured or when there are fewer than `grain` items per extra thread
    /// (a hand-off costs microseconds: small layers at 32 px stay serial).
    @inline(__always)
    static func forRanges(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(threads, count / max(grain, 1))
        guard parts > 1, let pool = pool else {
            if count > 0 { body(0..<count) }
            return
        }
        pool.run(parts: parts) { p in body((count * p / parts)..<(count * (p + 1) / parts)) }
    }

    /// `forRanges` for per-item work: `body(i)` for every i in 0..<count.
    @inline(__always)
    static func forEach(_ count: Int, grain: Int, _ body: (Int) -> Void) {
        forRanges(count, grain: grain) { range in for i in range { body(i) } }
    }
}

/// Helper threads that each run one part of a job while the caller runs part 0.
/// One job at a time (the layers call it from one thread); allocation-free per job.
final class WorkerPool: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t(), finished = pthread_cond_t()
    private var generation = 0, parts = 0, done = 0
    private var job: ((Int) -> Void)?
    let helpers: Int

    /// Pools live as long as the process (their threads wait on them): one per size.
    nonisolated(unsafe) private static var pools: [Int: WorkerPool] = [:]
    static func shared(helpers: Int) -> WorkerPool {
        if let p = pools[helpers] { return p }
        let p = WorkerPool(helpers: helpers)
        pools[helpers] = p
        return p
    }

    private init(helpers: Int) {
        self.helpers = helpers
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        pthread_cond_init(&finished, nil)
        for index in 1...helpers {
            let thread = Thread { self.loop(part: index) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private func loop(part: Int) {
        var seen = 0
        pthread_mutex_lock(&mutex)
        while true {
            while generation == seen { pthread_cond_wait(&wake, &mutex) }
            seen = generation
            let body = part < parts ? job : nil
            pthread_mutex_unlock(&mutex)
            body?(part)
            pthread_mutex_lock(&mutex)
            done += 1
            if done == helpers { pthread_cond_signal(&finished) }
        }
    }

    /// Runs `body(p)` for p in 0..<parts (parts <= helpers + 1), part 0 on the caller.
    func run(parts: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            pthread_mutex_lock(&mutex)
            job = body; self.parts = parts; done = 0; generation += 1
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            body(0)
            pthread_mutex_lock(&mutex)
            while done < helpers { pthread_cond_wait(&finished, &mutex) }
            job = nil
            pthread_mutex_unlock(&mutex)
        }
    }
}
