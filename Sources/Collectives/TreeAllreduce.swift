// FireCaffe reduction tree: F. Iandola, K. Ashraf, M. Moskewicz, K. Keutzer,
// "FireCaffe: near-linear acceleration of deep neural network training on
// compute clusters", CVPR 2016. Gradients are summed up a binomial tree to
// rank 0 and the sum is sent back down the same tree, using only point-to-point
// messages so every byte is counted. Works for any number of ranks.
import Topology

/// Binomial-tree reduce to rank 0, then binomial-tree broadcast of the sum,
/// pipelined in segments (see `Schedule`): a rank adds segment k+1 from its
/// children while its parent is already adding segment k, and forwards each
/// segment of the sum down as soon as it arrives; across hosts the sum of the
/// first segments travels down while later ones still travel up. The tree, the
/// bytes on every edge and the order of the additions are FireCaffe's; only the
/// messages are cut finer (unsegmented, the critical path is 2 log2(p) whole
/// buffers one after another; docs/performance.md has the measurements).
///
/// Traffic (N = buffer bytes): a rank with c children and a parent sends and
/// receives (c + 1) N; rank 0 sends and receives c N; all ranks together send
/// 2(p - 1) N, in ceil(count / segmentElements) messages per edge and direction
/// (each further split at `maxMessageBytes`).
///
/// Determinism: the summation order is fixed by the tree (every element adds the
/// subtrees of r+1, r+2, r+4, ... in that order, each summed the same way), and
/// every rank ends with rank 0's bits, so the result is bit-identical on every
/// rank and from run to run for the same p.
public final class TreeAllreduce: GradientAllreduce {
    public var algorithm: AllreduceAlgorithm { .tree }
    /// Pipeline schedule; nil: `Schedule.automatic(for:)` on each call.
    public var schedule: Schedule?
    private var scratch = StagingBuffer()
    private let transfers = Transfers()
    /// Request ranges of the receives in flight from each child (current, next segment).
    private var receiving: [Range<Int>] = [], next: [Range<Int>] = []
    /// Request range of each segment's send to the parent.
    private var upSent: [Range<Int>] = []
    static let upTag = 101
    static let downTag = 102

    public init(schedule: Schedule? = nil) { self.schedule = schedule }
    deinit { scratch.release() }

    /// One call's view of the buffer: its segments, the tree, and the children's staging slots.
    private struct Layout {
        let buffer: UnsafeMutableBufferPointer<Float>
        let seg: Int, segments: Int
        let tree: BinomialTree
        /// Two segments' worth (current and next) per child.
        let staging: UnsafeMutableBufferPointer<Float>

        func segment(_ k: Int) -> UnsafeMutableBufferPointer<Float> {
            UnsafeMutableBufferPointer(rebasing: buffer[(k * seg)..<min((k + 1) * seg, buffer.count)])
        }
        func slot(_ c: Int, _ k: Int) -> UnsafeMutableBufferPointer<Float> {
            let base = ((k % 2) * tree.childCount + c) * seg
            return UnsafeMutableBufferPointer(rebasing: staging[base..<(base + segment(k).count)])
        }
    }

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws {
        guard comm.size > 1, buffer.count > 0 else { return }
        let tree = BinomialTree(rank: comm.rank, size: comm.size)
        let childCount = tree.childCount
        let plan = schedule ?? .automatic(for: comm)
        let seg = min(plan.segmentElements, buffer.count), segments = (buffer.count + seg - 1) / seg
        let l = Layout(buffer: buffer, seg: seg, segments: segments, tree: tree,
                       staging: scratch.region(max(1, min(segments, 2) * childCount * seg)))
        if receiving.count != childCount {
            receiving = Array(repeating: 0..<0, count: childCount); next = receiving
        }
        if upSent.count < segments { upSent = Array(repeating: 0..<0, count: segments) }
        transfers.reset()
        for c in 0..<childCount {
            receiving[c] = try comm.postReceive(into: l.slot(c, 0), from: tree.child(c), tag: Self.upTag, in: transfers)
        }
        // Step s sends segment s up and segment s - lag down, so sums travel down while
        // later segments still travel up: a link carries both directions at once. Every
        // rank finishes up(s) before waiting in down(s - lag), and down(s - lag) needs
        // only up(s) of the ranks above it: no cycle, whatever the lag.
        let lag = plan.downLag ?? segments
        for step in 0..<(segments + lag) {
            if step < segments { try up(step, l, on: comm) }
            if step >= lag { try down(step - lag, l, on: comm) }
        }
        try comm.waitAll(transfers)
    }

    /// Up, segment k: add every child's partial sum (smallest subtree first), pass it on.
    private func up(_ k: Int, _ l: Layout, on comm: Communicator) throws {
        let t = transfers, childCount = l.tree.childCount
        if k + 1 < l.segments {
            for c in 0..<childCount {
                next[c] = try comm.postReceive(into: l.slot(c, k + 1), from: l.tree.child(c), tag: Self.upTag, in: t)
            }
        }
        let target = l.segment(k)
        for c in 0..<childCount {
            try comm.wait(receiving[c], in: t)
            accumulate(l.slot(c, k), into: target)
        }
        swap(&receiving, &next)
        if let parent = l.tree.parent {
            upSent[k] = try comm.postSend(target.readOnly, to: parent, tag: Self.upTag, in: t)
        }
    }

    /// Down, segment k: the total replaces our partial sum (once that has left for
    /// the parent) and goes on to the children, largest subtree first.
    ///
    /// An unsegmented buffer across hosts goes to one child after the other: sent to
    /// every child at once, the copies share this rank's link, so the largest subtree's
    /// root, which forwards it furthest, would have it only when every copy had arrived,
    /// and the down phase would take d(d+1)/2 buffer times instead of d (d = tree depth).
    private func down(_ k: Int, _ l: Layout, on comm: Communicator) throws {
        let t = transfers
        if let parent = l.tree.parent {
            try comm.wait(upSent[k], in: t)
            let arriving = try comm.postReceive(into: l.segment(k), from: parent, tag: Self.downTag, in: t)
            try comm.wait(arriving, in: t)
        }
        let oneAfterAnother = l.segments == 1 && comm.hostCount > 1
        for c in stride(from: l.tree.childCount - 1, through: 0, by: -1) {
            let sent = try comm.postSend(l.segment(k).readOnly, to: l.tree.child(c), tag: Self.downTag, in: t)
            if oneAfterAnother { try comm.wait(sent, in: t) }
        }
    }
}

extension TreeAllreduce {
    /// How the tree cuts and orders its messages. The tree, the bytes on every edge
    /// and the order of the additions (so the result's bits) are the same under every
    /// schedule; only the number of messages and their timing change.
    public struct Schedule: Equatable, Sendable {
        /// Floats per pipeline segment.
        public var segmentElements: Int
        /// Segments the down phase trails the up phase by; nil: the down phase starts
        /// once every segment has gone up.
        public var downLag: Int?

        public init(segmentElements: Int, downLag: Int?) {
            precondition(segmentElements > 0 && (downLag ?? 0) >= 0)
            self.segmentElements = segmentElements
            self.downLag = downLag
        }

        /// Every rank on one host: transfers are memory copies and the two cores are
        /// the bottleneck, so few large segments and one phase after the other.
        public static let sharedMemory = Schedule(segmentElements: 1 << 17, downLag: nil)
        /// Ranks on several hosts: the links are the bottleneck. Small segments, and
        /// the sum travelling down while partial sums still travel up, keep both
        /// directions of every link busy.
        public static let network = Schedule(segmentElements: BinomialTree.networkSegmentElements, downLag: 1)
        /// The whole buffer as one segment: for exchanges that are already pipelined
        /// some other way (gradient buckets), the fewest hand-offs between ranks.
        public static let unsegmented = Schedule(segmentElements: Int.max, downLag: nil)

        public static func automatic(for comm: Communicator) -> Schedule {
            return comm.hostCount > 1 ? .network : .sharedMemory
        }
    }
}
