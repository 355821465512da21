// Deep Gradient Compression's exchange (Lin et al., ICLR 2018): each rank sends only the
// largest entries of its accumulated gradient, as (index, value) pairs, and keeps the
// rest for later steps. Ranks pick different entries, so the pairs cannot be added on
// the way as a ring or tree adds dense chunks: they are gathered, as DGC does, by an
// allgather around the ring (every rank's pairs pass p - 1 hops), and every rank adds the
// p sparse vectors in rank order. A sparse reduction tree would merge pairs on the way,
// but its messages grow up the tree unpredictably; the allgather's bytes are exact and
// known in advance: (p - 1) x 8k per rank, growing with the ranks.
import Basics
import Codecs
import Topology

/// Top-k with DGC's momentum correction, momentum factor masking and warm-up of the
/// fraction (25%, 6.25%, ... per epoch down to the target). With momentum correction the
/// hook holds the momentum, so the optimizer must run without (the trainer does that).
public final class TopKHook: BucketHook {
    public let target: Double
    /// Epochs of DGC's warm-up before the target fraction (0: none).
    public let warmupEpochs: Int
    public let dgc: DGCState
    /// The fraction of this iteration (set by `beginIteration`).
    public private(set) var fraction: Double
    private var scratch: [Float] = [], indices: [Int32] = [], picked: [Float] = []
    private var blocks: [UInt32] = []
    private let transfers = Transfers()
    private let timing = CodecTiming()
    public var codecTiming: CodecTiming? { timing }
    static let tag = 431

    /// `count`: the gradient buffer's length; `momentum`: the optimizer's (0: plain top-k
    /// with error feedback); `warmupEpochs`: epochs of DGC's fraction schedule (4 in DGC).
    /// DGC's local gradient clipping: this rank's gradient is scaled down to this L2 norm
    /// (per bucket, in proportion to the square root of its share of the buffer) before it
    /// is accumulated; 0: none. The trainer sets the run's --clip-gradient-norm x sqrt(p)
    /// (the average of p such gradients has about 1/sqrt(p) of their norm) and clips no
    /// more after the exchange: what arrives is accumulated velocity, not a gradient.
    public let localClipNorm: Float
    private let count: Int

    public init(fraction: Double, count: Int, momentum: Float, warmupEpochs: Int = 4, localClipNorm: Float = 0) {
        target = fraction
        self.warmupEpochs = warmupEpochs
        self.localClipNorm = localClipNorm
        self.count = count
        dgc = DGCState(count: count, momentum: momentum)
        self.fraction = fraction
        beginIteration(0, epoch: 0)
    }

    public var name: String { "topk-\(target)-m\(dgc.momentum)-warmup\(warmupEpochs)-clip\(localClipNorm)" }
    public var state: [HookState] {
        [HookState(name: "residual", values: dgc.residual.residual), HookState(name: "velocity", values: dgc.velocity.residual)]
    }

    public func beginIteration(_ iteration: Int, epoch: Int) {
        fraction = epoch < warmupEpochs ? DGCState.warmupFraction(epoch: epoch, target: target) : target
    }

    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        let values = bucket.values, n = values.count, p = comm.size, r = comm.rank
        guard n > 0 else { return }
        // Encoding: local clipping, DGC's accumulation and selection, packing the pairs.
        let encodeStart = monotonicSeconds()
        if localClipNorm > 0 {
            var sum = 0.0
            for i in 0..<n { sum += Double(values[i]) * Double(values[i]) }
            let limit = Double(localClipNorm) * (Double(n) / Double(max(count, 1))).squareRoot(), norm = sum.squareRoot()
            if norm > limit { let shrink = Float(limit / norm); for i in 0..<n { values[i] *= shrink } }
        }
        let selector = TopKSelector(fraction: fraction)
        dgc.step(gradient: UnsafeBufferPointer(values), offset: bucket.offset, selector: selector,
                 scratch: &scratch, indices: &indices, values: &picked)
        let k = indices.count, block = 2 * k  // k indices, then k values' bits
        if blocks.count < block * p { blocks = Array(repeating: 0, count: block * p) }
        for j in 0..<k {
            blocks[r * block + j] = UInt32(bitPattern: indices[j])
            blocks[r * block + k + j] = picked[j].bitPattern
        }
        timing.book(.encode, from: encodeStart, to: monotonicSeconds())
        let left = (r + p - 1) % p, right = (r + 1) % p
        try blocks.withUnsafeMutableBufferPointer { all in
            func rankBlock(_ i: Int) -> UnsafeMutableBufferPointer<UInt32> {
                let q = ((i % p) + p) % p
                return UnsafeMutableBufferPointer(rebasing: all[(q * block)..<((q + 1) * block)])
            }
            for s in 0..<(p - 1) {
                transfers.reset()
                try comm.postReceive(into: rankBlock(r - s - 1), from: left, tag: Self.tag, in: transfers)
                try comm.postSend(UnsafeBufferPointer(rankBlock(r - s)), to: right, tag: Self.tag, in: transfers)
                try comm.waitAll(transfers)
            }
            // Decoding: the sum of the p sparse vectors, added in rank order: the same bits everywhere.
            let decodeStart = monotonicSeconds()
            defer { timing.book(.decode, from: decodeStart, to: monotonicSeconds()) }
            for i in 0..<n { values[i] = 0 }
            for q in 0..<p {
                let b = rankBlock(q)
                for j in 0..<k {
                    let index = Int(Int32(bitPattern: b[j]))
                    guard index >= 0 && index < n else { throw usageError("top-k allgather", "index \(index) from rank \(q) is outside a bucket of \(n)") }
                    values[index] += Float(bitPattern: b[k + j])
                }
            }
        }
    }
}
