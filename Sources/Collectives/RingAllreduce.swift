// Ring allreduce: P. Patarasuk and X. Yuan, "Bandwidth optimal all-reduce
// algorithms for clusters of workstations", J. Parallel Distrib. Comput. 69(2),
// 2009; popularised for deep learning by Baidu's ring-allreduce (A. Gibiansky,
// 2017) and Horovod. A reduce-scatter followed by an allgather, each p - 1 steps
// in which every rank sends one chunk to its right neighbour and receives one
// from its left. The schedules' measurements are in docs/performance.md.
import Topology

/// Reduce-scatter + allgather around the ring 0 -> 1 -> ... -> p-1 -> 0.
///
/// Step s of the reduce-scatter: rank r sends chunk (r - s) mod p to r + 1 and
/// adds chunk (r - s - 1) mod p received from r - 1; after p - 1 steps rank r
/// holds the full sum of chunk (r + 1) mod p. Step s of the allgather: rank r
/// sends chunk (r + 1 - s) mod p and receives chunk (r - s) mod p, copying it.
///
/// Pipelined across hosts: each chunk travels as segments of `segmentElements` floats, and a
/// segment goes on to the right neighbour as soon as it has been added (or, in the
/// allgather, received), so step s + 1 of a segment overlaps step s of the next.
/// A received segment is added while it is still in cache, and a few receives are
/// kept posted ahead (`window(segmented:)` staging slots).
///
/// Neighbours are not held in lockstep: sends are nonblocking and only waited for
/// at the end of each phase (no chunk sent in the reduce-scatter is written again in
/// it), because with blocking MPI_Sendrecv a rank waits for its right neighbour at
/// every step, which costs most on shared, loaded cores. On one host each receive is
/// posted just before it is waited for: with ranks sharing the cores, receives posted
/// ahead made the ring slower there. Across hosts the pipeline keeps four posted and
/// every allgather receive is posted up front into its final place.
///
/// Determinism: chunk k is summed in the order k, k+1, ..., k-1 (mod p), so
/// different chunks use different orders and the result can differ from the
/// tree's in the last bits; but each chunk's sum is computed once, by its owner,
/// and copied, so the result is bit-identical on every rank and the same for every
/// segment size.
public final class RingAllreduce: GradientAllreduce {
    public var algorithm: AllreduceAlgorithm { .ring }
    /// Floats per pipeline segment (`Int.max`: each chunk as one message); nil:
    /// `automaticSegmentElements(for:)` on each call.
    public var segmentElements: Int?
    private var scratch = StagingBuffer()
    private let transfers = Transfers()
    /// Request range of the receive in flight into each staging slot.
    private var slotReceives: [Range<Int>] = []
    static let reduceScatterTag = 201
    static let allgatherTag = 202
    /// Staging slots of the reduce-scatter (receives posted ahead of the one being added):
    /// four segments in a pipeline; one whole chunk otherwise.
    static func window(segmented: Bool) -> Int { segmented ? 4 : 1 }
    /// Segments across hosts: 256 KB, so a segment's forwarding overlaps the next one's transfer.
    public static let networkSegmentElements = 1 << 16

    /// On one host the transfers are memory copies by ranks that share the cores, and
    /// every segment is one more hand-off between them: whole chunks are faster there.
    public static func automaticSegmentElements(for comm: Communicator) -> Int {
        comm.hostCount > 1 ? networkSegmentElements : Int.max
    }

    public init(segmentElements: Int? = nil) {
        precondition((segmentElements ?? 1) > 0)
        self.segmentElements = segmentElements
    }
    deinit { scratch.release() }

    /// One call's view of the buffer: its chunks and their segments, and the ring's neighbours.
    private struct Layout {
        let buffer: UnsafeMutableBufferPointer<Float>
        let chunks: RingPartition
        let seg: Int
        let rank: Int, left: Int, right: Int
        var steps: Int { chunks.parts - 1 }
        /// Segments are shorter than a chunk: the pipelined schedules run.
        var pipelined: Bool { seg < chunks.length(0) }

        func segmentCount(ofChunk i: Int) -> Int { max(1, (chunks.length(chunks.wrap(i)) + seg - 1) / seg) }
        /// Segment j of chunk i (the last one shorter; an empty chunk is one empty segment).
        func segment(_ i: Int, _ j: Int) -> UnsafeMutableBufferPointer<Float> {
            let k = chunks.wrap(i)
            let start = chunks.offset(k) + min(j * seg, chunks.length(k))
            let end = chunks.offset(k) + min((j + 1) * seg, chunks.length(k))
            return UnsafeMutableBufferPointer(rebasing: buffer[start..<end])
        }
    }

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws {
        let p = comm.size
        guard p > 1, buffer.count > 0 else { return }
        let r = comm.rank
        let chunks = RingPartition(count: buffer.count, parts: p)
        let seg = min(segmentElements ?? Self.automaticSegmentElements(for: comm), chunks.length(0))  // chunk 0 is a largest
        let layout = Layout(buffer: buffer, chunks: chunks, seg: seg, rank: r, left: (r + p - 1) % p, right: (r + 1) % p)
        transfers.reset()
        try reduceScatter(layout, on: comm)
        try comm.waitAll(transfers)  // the allgather writes into chunks sent above
        if layout.pipelined {
            try allgatherPipelined(layout, on: comm)
        } else {
            try allgatherOneChunkAtATime(layout, on: comm)
        }
        try comm.waitAll(transfers)
    }

    /// Units are (step s, segment j of chunk r - s - 1) in order; both neighbours
    /// enumerate a chunk's segments alike, and MPI keeps one source's messages with one
    /// tag in order, so receives match sends unit by unit.
    private func reduceScatter(_ l: Layout, on comm: Communicator) throws {
        let window = Self.window(segmented: l.pipelined)
        let slots = scratch.region(window * max(l.seg, 1))
        func slot(_ u: Int, _ count: Int) -> UnsafeMutableBufferPointer<Float> {
            let base = (u % window) * l.seg
            return UnsafeMutableBufferPointer(rebasing: slots[base..<(base + count)])
        }
        if slotReceives.count < window { slotReceives = Array(repeating: 0..<0, count: window) }
        let t = transfers, r = l.rank, steps = l.steps
        struct Cursor { var step = 0, segment = 0, index = 0 }
        func advance(_ c: inout Cursor) {
            c.index += 1
            c.segment += 1
            if c.segment == l.segmentCount(ofChunk: r - c.step - 1) { c.step += 1; c.segment = 0 }
        }
        var posted = Cursor(), added = Cursor()
        func postNextReceive() throws {
            guard posted.step < steps else { return }
            let count = l.segment(r - posted.step - 1, posted.segment).count
            slotReceives[posted.index % window] = try comm.postReceive(
                into: slot(posted.index, count), from: l.left, tag: Self.reduceScatterTag, in: t)
            advance(&posted)
        }
        for _ in 0..<window { try postNextReceive() }
        for j in 0..<l.segmentCount(ofChunk: r) {
            try comm.postSend(l.segment(r, j).readOnly, to: l.right, tag: Self.reduceScatterTag, in: t)
        }
        while added.step < steps {
            let target = l.segment(r - added.step - 1, added.segment)
            try comm.wait(slotReceives[added.index % window], in: t)
            accumulate(slot(added.index, target.count), into: target)
            try postNextReceive()  // into the slot just consumed
            if added.step + 1 < steps {
                try comm.postSend(target.readOnly, to: l.right, tag: Self.reduceScatterTag, in: t)
            }
            advance(&added)
        }
    }

    /// Across hosts: every receive posted into its final place up front, in step order,
    /// and each segment forwarded as it lands.
    private func allgatherPipelined(_ l: Layout, on comm: Communicator) throws {
        let t = transfers, r = l.rank, steps = l.steps
        for s in 0..<steps {
            for j in 0..<l.segmentCount(ofChunk: r - s) {
                try comm.postReceive(into: l.segment(r - s, j), from: l.left, tag: Self.allgatherTag, in: t)
            }
        }
        for j in 0..<l.segmentCount(ofChunk: r + 1) {
            try comm.postSend(l.segment(r + 1, j).readOnly, to: l.right, tag: Self.allgatherTag, in: t)
        }
        var next = 0
        for s in 1..<max(1, steps) {
            // Chunk r + 1 - s is the one received at step s - 1: forward each segment as it lands.
            for j in 0..<l.segmentCount(ofChunk: r + 1 - s) {
                let piece = l.segment(r + 1 - s, j)
                let messages = comm.messageCount(forElements: piece.count, of: Float.self)
                try comm.wait(next..<(next + messages), in: t)
                next += messages
                try comm.postSend(piece.readOnly, to: l.right, tag: Self.allgatherTag, in: t)
            }
        }
    }

    /// One chunk per step, each receive posted just before it is waited for (as in the
    /// reduce-scatter), for ranks that share the cores.
    private func allgatherOneChunkAtATime(_ l: Layout, on comm: Communicator) throws {
        let t = transfers, r = l.rank, steps = l.steps
        for s in 0..<steps {
            let received = try comm.postReceive(into: l.segment(r - s, 0), from: l.left, tag: Self.allgatherTag, in: t)
            if s == 0 {
                try comm.postSend(l.segment(r + 1, 0).readOnly, to: l.right, tag: Self.allgatherTag, in: t)
            }
            try comm.wait(received, in: t)
            if s + 1 < steps {
                try comm.postSend(l.segment(r - s, 0).readOnly, to: l.right, tag: Self.allgatherTag, in: t)
            }
        }
    }
}
