// The exchange of masked retraining (Deep Compression's retraining after pruning): the
// masks agree on every rank (they are computed from the same weights, and checked), so
// the ranks send only the surviving entries, packed, and no index travels; pruned
// entries come back as exactly zero.

/// Packs each bucket's kept entries, allreduces them with the run's algorithm, and
/// unpacks; pruned entries are set to 0. Bytes: the algorithm's for the kept count.
public final class MaskedHook: BucketHook {
    /// 1 where the weight survives, 0 where it is pruned; set once the weights are known.
    public var keep: [UInt8] { didSet { keptIndices = nil } }
    private var packed: [Float] = []
    /// The kept positions of the whole buffer, ascending (made once from `keep`): packing
    /// gathers through it instead of testing every entry, which with 8 ranks on 2 cores
    /// made masked retraining's steps slower than unmasked ones.
    private var keptIndices: [Int32]?
    private let timing = CodecTiming()
    /// Packing (encode) and unpacking with the zeros (decode): what the masked exchange
    /// adds to the allreduce it halves.
    public var codecTiming: CodecTiming? { timing }

    /// false: send the whole bucket with the pruned entries zeroed (a test hook: the packed
    /// exchange must give the same bits with the tree, which sums each entry alike).
    public let packs: Bool

    /// State that travels in checkpoints with the hook (trained quantisation's centroid
    /// momentum), in a layout fixed by the model; empty for plain masked retraining.
    public let carried: UnsafeMutableBufferPointer<Float>
    public var state: [HookState] { carried.isEmpty ? [] : [HookState(name: "centroid-velocity", values: carried)] }

    public init(count: Int, packs: Bool = true, carriedState: Int = 0) {
        keep = Array(repeating: 1, count: count); self.packs = packs
        carried = .allocate(capacity: carriedState)
        carried.initialize(repeating: 0)
    }
    deinit { carried.deallocate() }
    public var name: String { packs ? "masked" : "masked-unpacked" }

    /// Kept entries in `range` of the flat buffer.
    public func kept(in range: Range<Int>) -> Int { keep[range].reduce(0) { $0 + Int($1) } }

    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        let g = bucket.values, lo = bucket.offset
        guard packs else {
            for i in 0..<g.count where keep[lo + i] == 0 { g[i] = 0 }
            try allreduce.allreduce(g, on: comm)
            for i in 0..<g.count where keep[lo + i] == 0 { g[i] = 0 }
            return
        }
        if keptIndices == nil {
            keptIndices = keep.withUnsafeBufferPointer { k in (0..<k.count).compactMap { k[$0] != 0 ? Int32($0) : nil } }
        }
        if packed.count < g.count { packed = Array(repeating: 0, count: g.count) }
        try keptIndices!.withUnsafeBufferPointer { all in
            // This bucket's kept positions: [first index >= lo, first index >= lo + count).
            func lowerBound(_ v: Int) -> Int {
                var a = 0, b = all.count
                while a < b { let m = (a + b) / 2; if Int(all[m]) < v { a = m + 1 } else { b = m } }
                return a
            }
            let first = lowerBound(lo), end = lowerBound(lo + g.count), n = end - first
            let base = g.baseAddress! - lo
            try packed.withUnsafeMutableBufferPointer { p in
                let out = p.baseAddress!
                timing.measure(.encode) { for j in 0..<n { out[j] = base[Int(all[first + j])] } }
                try allreduce.allreduce(UnsafeMutableBufferPointer(start: out, count: n), on: comm)
                timing.measure(.decode) {
                    g.baseAddress!.update(repeating: 0, count: g.count)
                    for j in 0..<n { base[Int(all[first + j])] = out[j] }
                }
            }
        }
    }
}
