import Basics
import Collectives
import Foundation
import NeuralNet
import Topology

/// The gradient exchange of one iteration, in buckets, as PyTorch DDP's reducer does it
/// (Li et al., VLDB 2020): the gradient buffer is cut at parameter-tensor boundaries
/// into contiguous buckets of about `bucketBytes`, counted from the end of the buffer
/// (the last layers, whose gradients backward produces first), with a smaller first
/// bucket. Each bucket goes through the `BucketHook` (by default the allreduce, unchanged).
///
/// Overlapping (`overlapsBackward`): buckets start on a communication thread as soon as
/// backward has produced them; the thread makes every MPI call between `beginIteration`
/// and `finish` (MPI_THREAD_SERIALIZED), the main thread none. Otherwise the whole buffer
/// is one bucket, exchanged on the calling thread in `finish`, after backward.
///
/// Bucket boundaries depend only on the model and the size, so they are identical on
/// every rank, and buckets are exchanged in the same order everywhere. Buckets, the
/// queue and the semaphores are made once: an iteration allocates nothing.
public final class GradientExchange {
    let buckets: [Range<Int>]         // in exchange order: buffer end first
    let overlapsBackward: Bool
    let gradients: UnsafeMutableBufferPointer<Float>
    let allreduce: GradientAllreduce
    let hook: BucketHook
    let comm: Communicator
    /// For each layer: the lowest parameter offset of that layer and every later one.
    private let readyOffset: [Int]

    private let lock = NSLock()
    private let work = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
    private var queue: [Int]          // bucket indices handed to the thread (capacity = buckets.count + 1)
    private var launched = 0, taken = 0
    private var failure: Error?
    private var prefix: Int?
    /// Seconds spent exchanging in this iteration (the communication thread's, when overlapping).
    private(set) var commSeconds = 0.0

    /// `bucketBytes` 0: one bucket after backward. `layers`: the network's, for the
    /// moment each bucket is complete (nil for a model without layers).
    init(store: ParameterStore, layers: [Layer]?, bucketBytes: Int, algorithm: AllreduceAlgorithm,
         hook: BucketHook, comm: Communicator) {
        gradients = store.gradients
        overlapsBackward = bucketBytes > 0 && layers != nil
        allreduce = algorithm.make(overlappingBackward: overlapsBackward)
        self.hook = hook
        self.comm = comm
        buckets = overlapsBackward ? Self.buckets(of: store, bucketBytes: bucketBytes) : [0..<store.count]
        var lowest = store.count
        var ready = Array(repeating: store.count, count: layers?.count ?? 0)
        for (i, layer) in (layers ?? []).enumerated().reversed() {
            if let first = layer.parameters.first { lowest = min(lowest, first.offset) }
            ready[i] = lowest
        }
        readyOffset = ready
        queue = []
        queue.reserveCapacity(buckets.count + 1)
        guard overlapsBackward else { return }
        // The thread holds the exchange until `stop()` lets `serve` return, so the
        // object cannot be freed under a running thread.
        let t = Thread { self.serve() }
        t.name = "gradient-exchange"
        t.start()
    }

    /// Buckets of about `bucketBytes` from the end of the buffer, in exchange order
    /// (`GradientBuckets.cut` over the store's tensors).
    public static func buckets(of store: ParameterStore, bucketBytes: Int) -> [Range<Int>] {
        GradientBuckets.cut(tensorCounts: store.refs.map(\.count), bucketBytes: bucketBytes)
    }

    /// Starts an iteration. `prefix`: exchange only the first this many floats of each
    /// bucket (a warm-up that opens the same connections between the same ranks, in the
    /// same order, for a fraction of the bytes); nil: every float.
    func beginIteration(prefix: Int? = nil) {
        lock.lock(); queue.removeAll(keepingCapacity: true); launched = 0; taken = 0; failure = nil; commSeconds = 0
        self.prefix = prefix
        hook.codecTiming?.reset()
        lock.unlock()
    }

    /// Called after layer `index`'s backward: launches every bucket now complete.
    func layerDone(_ index: Int) {
        guard overlapsBackward else { return }
        let frontier = readyOffset[index]
        while launched < buckets.count && buckets[launched].lowerBound >= frontier { launch() }
    }

    /// Exchanges what is left, waits for every bucket, and rethrows the first error.
    func finish() throws {
        guard overlapsBackward else {
            let t0 = monotonicSeconds()
            try reduce(0)
            commSeconds = monotonicSeconds() - t0
            return
        }
        while launched < buckets.count { launch() }
        for _ in 0..<buckets.count { done.wait() }
        if let f = failure { throw f }
    }

    /// Ends the communication thread (call once, when the run is over).
    func stop() {
        guard overlapsBackward else { return }
        lock.lock(); queue.append(-1); lock.unlock()
        work.signal()
    }

    private func reduce(_ index: Int) throws {
        let whole = buckets[index]
        let range = whole.lowerBound..<min(whole.upperBound, whole.lowerBound + (prefix ?? whole.count))
        try hook.reduce(GradientBucket(index: index, offset: range.lowerBound,
                                       values: UnsafeMutableBufferPointer(rebasing: gradients[range])),
                        with: allreduce, on: comm)
    }

    private func launch() {
        lock.lock(); queue.append(launched); lock.unlock()
        launched += 1
        work.signal()
    }

    private func serve() {
        while true {
            work.wait()
            lock.lock()
            let index = queue[taken]
            taken += 1
            lock.unlock()
            if index < 0 { return }
            let t0 = monotonicSeconds()
            do {
                if failure == nil { try reduce(index) }
            } catch {
                failure = error
            }
            commSeconds += monotonicSeconds() - t0
            done.signal()
        }
    }
}
