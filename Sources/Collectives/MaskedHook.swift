// The exchange of masked retraining (Deep Compression's retraining after pruning): the
// masks agree on every rank (they are computed from the same weights, and checked), so
// the ranks send only the surviving entries, packed, and no index travels; pruned
// entries come back as exactly zero.

/// Packs each bucket's kept entries, allreduces them with the run's algorithm, and
/// unpacks; pruned entries are set to 0. Bytes: the algorithm's for the kept count.
public final class MaskedHook: BucketHook {
    /// 1 where the weight survives, 0 where it is pruned; set once the weights are known.
    public var keep: [UInt8]
    private var packed: [Float] = []

    /// false: send the whole bucket with the pruned entries zeroed (a test hook: the packed
    /// exchange must give the same bits with the tree, which sums each entry alike).
    public let packs: Bool

    public init(count: Int, packs: Bool = true) { keep = Array(repeating: 1, count: count); self.packs = packs }
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
        if packed.count < g.count { packed = Array(repeating: 0, count: g.count) }
        var n = 0
        for i in 0..<g.count where keep[lo + i] != 0 { packed[n] = g[i]; n += 1 }
        try packed.withUnsafeMutableBufferPointer { try allreduce.allreduce(UnsafeMutableBufferPointer(rebasing: $0[0..<n]), on: comm) }
        n = 0
        for i in 0..<g.count {
            if keep[lo + i] != 0 { g[i] = packed[n]; n += 1 } else { g[i] = 0 }
        }
    }
}
