// Ring allreduce: P. Patarasuk and X. Yuan, "Bandwidth optimal all-reduce
// algorithms for clusters of workstations", J. Parallel Distrib. Comput. 69(2),
// 2009; popularised for deep learning by Baidu's ring-allreduce (A. Gibiansky,
// 2017) and Horovod. A reduce-scatter followed by an allgather, each p - 1 steps
// in which every rank sends one chunk to its right neighbour and receives one
// from its left.

/// The chunk partition of `count` elements into `parts` contiguous chunks:
/// chunk i has floor(count / parts) elements plus one if i < count % parts,
/// starting at i * floor(count / parts) + min(i, count % parts).
public struct RingPartition: Equatable, Sendable {
    public let count: Int
    public let parts: Int

    public init(count: Int, parts: Int) {
        precondition(parts > 0 && count >= 0)
        self.count = count
        self.parts = parts
    }

    public func length(_ i: Int) -> Int { count / parts + (i < count % parts ? 1 : 0) }
    public func offset(_ i: Int) -> Int { i * (count / parts) + min(i, count % parts) }

    /// Elements rank r sends and receives in one allreduce (p > 1). Reduce-scatter
    /// sends every chunk except (r+1) mod p and receives every chunk except r;
    /// allgather sends every chunk except (r+2) mod p and receives every chunk
    /// except (r+1) mod p. So sent = 2 count - c[(r+1)%p] - c[(r+2)%p] and
    /// received = 2 count - c[r] - c[(r+1)%p]: 2 (p-1)/p count up to rounding.
    public func elementsMoved(by r: Int) -> (sent: Int, received: Int) {
        let p = parts
        return (2 * count - length((r + 1) % p) - length((r + 2) % p),
                2 * count - length(r) - length((r + 1) % p))
    }
}

/// Reduce-scatter + allgather around the ring 0 -> 1 -> ... -> p-1 -> 0.
///
/// Step s of the reduce-scatter: rank r sends chunk (r - s) mod p to r + 1 and
/// adds chunk (r - s - 1) mod p received from r - 1; after p - 1 steps rank r
/// holds the full sum of chunk (r + 1) mod p. Step s of the allgather: rank r
/// sends chunk (r + 1 - s) mod p and receives chunk (r - s) mod p, copying it.
///
/// Neighbours are not held in lockstep: sends are nonblocking and only waited for
/// at the end of each phase (no chunk sent in the reduce-scatter is written again in
/// it), the next receive is posted before the current chunk is added (two staging
/// halves), and every allgather receive is posted up front into its final place.
/// With blocking MPI_Sendrecv a rank could not start step s + 1 until its right
/// neighbour had reached step s; on shared cores that coupling cost 2x (measured).
///
/// Determinism: chunk k is summed in the order k, k+1, ..., k-1 (mod p), so
/// different chunks use different orders and the result can differ from the
/// tree's in the last bits; but each chunk's sum is computed once, by its owner,
/// and copied, so the result is bit-identical on every rank.
public final class RingAllreduce: GradientAllreduce {
    public var algorithm: AllreduceAlgorithm { .ring }
    private var scratch = StagingBuffer()
    private let transfers = Transfers()
    static let reduceScatterTag = 201
    static let allgatherTag = 202

    public init() {}
    deinit { scratch.release() }

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws {
        let p = comm.size
        guard p > 1, buffer.count > 0 else { return }
        let r = comm.rank
        let right = (r + 1) % p
        let left = (r + p - 1) % p
        let chunks = RingPartition(count: buffer.count, parts: p)
        func chunk(_ i: Int) -> UnsafeMutableBufferPointer<Float> {
            let k = ((i % p) + p) % p
            return UnsafeMutableBufferPointer(rebasing: buffer[chunks.offset(k)..<(chunks.offset(k) + chunks.length(k))])
        }
        let largest = chunks.length(0)  // chunk 0 is a largest chunk
        let halves = scratch.region(2 * largest)
        func staging(_ s: Int, _ count: Int) -> UnsafeMutableBufferPointer<Float> {
            UnsafeMutableBufferPointer(rebasing: halves[(s % 2) * largest ..< (s % 2) * largest + count])
        }
        let t = transfers
        t.reset()

        // Reduce-scatter.
        var receiving = try comm.postReceive(into: staging(0, chunk(r - 1).count), from: left,
                                             tag: Self.reduceScatterTag, in: t)
        try comm.postSend(chunk(r).readOnly, to: right, tag: Self.reduceScatterTag, in: t)
        for s in 0..<(p - 1) {
            try comm.wait(receiving, in: t)
            let target = chunk(r - s - 1)
            let arrived = staging(s, target.count)
            if s + 1 < p - 1 {
                receiving = try comm.postReceive(into: staging(s + 1, chunk(r - s - 2).count), from: left,
                                                 tag: Self.reduceScatterTag, in: t)
            }
            accumulate(arrived, into: target)
            if s + 1 < p - 1 {
                try comm.postSend(target.readOnly, to: right, tag: Self.reduceScatterTag, in: t)
            }
        }
        try comm.waitAll(t)  // the allgather writes into chunks sent above

        // Allgather: every receive posted into its final place; MPI keeps one source's
        // messages with one tag in order, so they match in step order.
        let firstReceive = t.count
        for s in 0..<(p - 1) {
            try comm.postReceive(into: chunk(r - s), from: left, tag: Self.allgatherTag, in: t)
        }
        try comm.postSend(chunk(r + 1).readOnly, to: right, tag: Self.allgatherTag, in: t)
        var next = firstReceive
        for s in 1..<max(1, p - 1) {
            // Chunk (r + 1 - s) is the one received at step s - 1.
            let messages = comm.messageCount(forElements: chunk(r - s + 1).count)
            try comm.wait(next..<(next + messages), in: t)
            next += messages
            try comm.postSend(chunk(r + 1 - s).readOnly, to: right, tag: Self.allgatherTag, in: t)
        }
        try comm.waitAll(t)
    }
}
