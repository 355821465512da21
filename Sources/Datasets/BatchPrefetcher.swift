// The background half of the input pipeline: one thread fills the batches of the next
// iterations (each fill split over the data set's decode threads) into a bounded queue
// of `depth` ready batches, while the current iteration trains. The step takes its
// batch from the queue and waits only when it is not ready yet: that wait is the
// step's data time. Batches depend only on (iteration, indices, seed), so what is
// prefetched equals what a synchronous fill gives, and a resume is unchanged.
import Foundation

public final class BatchPrefetcher {
    /// What iteration i trains on: this rank's indices and the augmentation seed.
    public typealias Request = (Int) -> (indices: [Int], seed: UInt64)

    private final class Slot {
        var iteration = -1
        var ready = false
        var error: Error?
        var count = 0
        let images: UnsafeMutablePointer<Float>
        let labels: UnsafeMutablePointer<Int32>
        init(images: Int, labels: Int) {
            self.images = .allocate(capacity: images); self.labels = .allocate(capacity: labels)
        }
        deinit { images.deallocate(); labels.deallocate() }
    }

    private let dataset: Dataset
    private let augmentation: Augmentation
    private let request: Request
    private let end: Int
    private let perImage: Int
    private let slots: [Slot]
    private let condition = NSCondition()
    /// The next iteration the producer fills, and the one it is filling (nil: none).
    private var next: Int
    private var filling: Int?
    private var stopped = false
    private var producerDone = false
    private let capacity: Int
    /// How much lower the filling thread runs than the training threads.
    public static let niceIncrement: Int32 = 10

    /// `batch`: the most images a request holds; `depth`: ready batches kept ahead;
    /// iterations `start..<end` are filled in order.
    public init(dataset: Dataset, batch: Int, depth: Int, augmentation: Augmentation, start: Int, end: Int,
                request: @escaping Request) {
        precondition(depth >= 1 && batch >= 1)
        self.dataset = dataset
        self.augmentation = augmentation
        self.request = request
        self.end = end
        let shape = dataset.imageShape
        perImage = shape.channels * shape.height * shape.width
        slots = (0..<depth).map { _ in Slot(images: batch * shape.channels * shape.height * shape.width, labels: batch) }
        next = start
        capacity = batch
        let t = Thread { [unowned self] in self.produce() }
        t.name = "batch-prefetch"
        t.start()
    }

    deinit { stop() }

    /// Ends the producer after the batch it is filling (idempotent).
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while !producerDone { condition.wait() }
        condition.unlock()
    }

    /// Copies iteration `i`'s batch into `images`/`labels`, waiting while it is being
    /// filled; returns its image count. Asking for an iteration out of order restarts
    /// the queue there. Rethrows the fill's error (a bad image) for that iteration.
    public func take(iteration i: Int, images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        if !slots.contains(where: { $0.iteration == i }) && filling != i && next != i {
            while filling != nil { condition.wait() }
            for s in slots { s.iteration = -1; s.ready = false; s.error = nil }
            next = i
            condition.broadcast()
        }
        while !(slots.contains { $0.iteration == i && $0.ready }) {
            if producerDone { break }
            condition.wait()
        }
        guard let slot = slots.first(where: { $0.iteration == i && $0.ready }) else {
            fatalError("batch prefetch ended before iteration \(i)")
        }
        defer { slot.iteration = -1; slot.ready = false; slot.error = nil; condition.broadcast() }
        if let e = slot.error { throw e }
        images.update(from: slot.images, count: slot.count * perImage)
        labels.update(from: slot.labels, count: slot.count)
        return slot.count
    }

    private func produce() {
        // Below the training threads (Linux's nice is per thread: who 0 is this one), so the
        // step is not preempted by decoding in the short while it takes its batch (at nice 0
        // that was the cause of the occasional long data waits; docs/performance.md).
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        if errno == 0 { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, min(current + Self.niceIncrement, 19)) }
        condition.lock()
        while true {
            while !stopped && (next >= end || !slots.contains { $0.iteration == -1 }) { condition.wait() }
            if stopped { break }
            let i = next, slot = slots.first { $0.iteration == -1 }!
            slot.iteration = i; slot.ready = false
            filling = i
            next += 1
            condition.unlock()
            let (indices, seed) = request(i)
            precondition(indices.count <= capacity, "iteration \(i) asks for \(indices.count) images, the queue holds \(capacity)")
            var error: Error?
            do {
                try indices.withUnsafeBufferPointer {
                    try dataset.fillBatch(indices: $0, images: slot.images, labels: slot.labels,
                                          augmentation: augmentation, augmentationSeed: seed)
                }
            } catch let e { error = e }
            condition.lock()
            filling = nil
            // A restart while filling cleared the slot: this batch is no longer wanted.
            if slot.iteration == i {
                slot.count = indices.count; slot.error = error; slot.ready = true
            }
            condition.broadcast()
        }
        producerDone = true
        condition.broadcast()
        condition.unlock()
    }
}
