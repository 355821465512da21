// FireCaffe's reduction tree with encoded values on the wire (fp16, bf16 or int8): each
// rank decodes its children's partial sums, adds them in float32 to its own values and
// sends the encoded sum up; the root encodes the total once and the same bytes travel
// down the tree, so every rank decodes the same bits.
import Codecs
import Topology

/// Binomial tree to rank 0 and back (`BinomialTree`, the additions in `TreeAllreduce`'s
/// order: the subtrees of r+1, r+2, r+4, ...), one encoded message of the whole bucket
/// per edge and direction (unsegmented: buckets already pipeline the exchange). Bytes:
/// `GradientCodec.traffic(.tree, ...)`. Error feedback as `CodecRingHook`: each rank's
/// one encoding (its send up, or the root's encoding of the total) leaves its loss in
/// that rank's residual.
public final class CodecTreeHook: BucketHook {
    public let codec: ElementCodec
    public let feedback: ErrorFeedback?
    private var codes: [UInt8] = [], fromChildren: [UInt8] = []
    private let transfers = Transfers()
    private let timing = CodecTiming()
    public var codecTiming: CodecTiming? { timing }
    static let upTag = 421, downTag = 422

    public init(codec: ElementCodec, feedbackCount: Int? = nil) {
        self.codec = codec
        feedback = feedbackCount.map { ErrorFeedback(count: $0) }
    }
    public var name: String { "\(codec.name)-tree" + (feedback == nil ? "" : "-ef") }
    public var state: [HookState] { feedback.map { [HookState(name: "residual", values: $0.residual)] } ?? [] }

    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        let values = bucket.values, n = values.count, p = comm.size
        guard p > 1, n > 0 else { return }
        let residual = feedback?.slice(offset: bucket.offset, count: n)
        if let residual { timing.measure(.encode) { ErrorFeedback.addResidual(residual, to: values) } }
        let tree = BinomialTree(rank: comm.rank, size: p)
        let bytes = codec.encodedBytes(n), stride = (bytes + 3) & ~3
        if codes.count < bytes { codes = Array(repeating: 0, count: bytes) }
        if fromChildren.count < stride * tree.childCount { fromChildren = Array(repeating: 0, count: stride * tree.childCount) }
        try codes.withUnsafeMutableBytes { mine in
            let message = UnsafeMutableRawBufferPointer(rebasing: mine[0..<bytes])
            try fromChildren.withUnsafeMutableBytes { staging in
                func slot(_ c: Int) -> UnsafeMutableRawBufferPointer {
                    UnsafeMutableRawBufferPointer(rebasing: staging[(c * stride)..<(c * stride + bytes)])
                }
                transfers.reset()
                let posted = try (0..<tree.childCount).map {
                    try comm.postReceive(into: slot($0).bindMemory(to: UInt8.self), from: tree.child($0), tag: Self.upTag, in: transfers)
                }
                for c in 0..<tree.childCount {
                    try comm.wait(posted[c], in: transfers)
                    timing.measure(.decode) { codec.decode(UnsafeRawBufferPointer(slot(c)), into: values, adding: true) }
                }
            }
            // This rank's one encoding: its partial sum going up, or (the root) the total.
            timing.measure(.encode) { codec.encode(UnsafeBufferPointer(values), into: message, residual: residual) }
            let wire = message.bindMemory(to: UInt8.self)
            transfers.reset()
            if let parent = tree.parent {
                try comm.postSend(UnsafeBufferPointer(wire), to: parent, tag: Self.upTag, in: transfers)
                try comm.waitAll(transfers)
                transfers.reset()
                try comm.postReceive(into: wire, from: parent, tag: Self.downTag, in: transfers)
                try comm.waitAll(transfers)
            }
            // Largest subtree first, one after another (they would share this rank's link).
            for c in Swift.stride(from: tree.childCount - 1, through: 0, by: -1) {
                transfers.reset()
                try comm.postSend(UnsafeBufferPointer(wire), to: tree.child(c), tag: Self.downTag, in: transfers)
                try comm.waitAll(transfers)
            }
            timing.measure(.decode) { codec.decode(UnsafeRawBufferPointer(message), into: values, adding: false) }
        }
    }
}
