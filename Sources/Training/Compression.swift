// From `--compression` to the bucket hook that runs it, and what the optimizer must do
// differently (top-k with DGC's momentum correction holds the momentum itself).
import Codecs
import Collectives
import DeepCompression
import NeuralNet
import Topology

enum Compression {
    /// The hook for `codec` (nil or `none`: the allreduce unchanged). `count`: the gradient
    /// buffer's length, for the per-element residuals.
    static func hook(_ codec: GradientCodec?, algorithm: AllreduceAlgorithm, store: ParameterStore,
                     momentum: Double, iterations: Int, topkWarmupEpochs: Int?, prunes: Bool = false,
                     fineTuneCentroids: Bool = false, localClipNorm: Double = 0) -> BucketHook {
        let count = store.count
        if prunes || fineTuneCentroids {
            return MaskedHook(count: count, carriedState: fineTuneCentroids ? CentroidTuning.stateCount(store) : 0)
        }
        switch codec ?? .none {
        case .none: return IdentityHook()
        case .fp16: return elementwise(HalfFormat.fp16, algorithm, feedbackCount: nil)
        case .bf16: return elementwise(HalfFormat.bf16, algorithm, feedbackCount: nil)
        case .int8: return elementwise(Int8Quantizer(), algorithm, feedbackCount: count)
        case let .topk(fraction):
            return TopKHook(fraction: fraction, count: count, momentum: Float(momentum), warmupEpochs: topkWarmupEpochs ?? 4,
                            localClipNorm: Float(localClipNorm))
        case let .powersgd(rank): return PowerSGDHook(rank: rank, store: store, startIteration: iterations / 10)
        }
    }

    private static func elementwise(_ codec: ElementCodec, _ algorithm: AllreduceAlgorithm, feedbackCount: Int?) -> BucketHook {
        switch algorithm {
        case .tree: return CodecTreeHook(codec: codec, feedbackCount: feedbackCount)
        case .ps: return CodecServerHook(codec: codec, feedbackCount: feedbackCount)
        case .hierarchical: return CodecHierarchicalHook(codec: codec, feedbackCount: feedbackCount)
        default: return CodecRingHook(codec: codec, feedbackCount: feedbackCount)
        }
    }

    /// The clipping after the exchange: none for top-k, which clips each rank's gradient
    /// before accumulating it (DGC's local clipping).
    static func globalClipNorm(_ codec: GradientCodec?, clipNorm: Double) -> Double {
        if case .topk = codec ?? .none { return 0 }
        return clipNorm
    }

    /// The optimizer's momentum: none when top-k's momentum correction holds it (DGC's
    /// update is w -= lr x (sum of the sent accumulated velocities) / p).
    static func optimizerMomentum(_ codec: GradientCodec?, momentum: Double) -> Double {
        if case .topk = codec ?? .none { return 0 }
        return momentum
    }

    /// The bytes float32 would have put on the wire for the same buckets (the
    /// uncompressed size the metrics report beside bytes_sent), for this rank.
    static func uncompressedBytes(algorithm: AllreduceAlgorithm, rank: Int, ranks: Int, buckets: [Range<Int>]) -> Int? {
        var total = 0
        for b in buckets {
            guard let t = algorithm.countedBytes(rank: rank, ranks: ranks, count: b.count) else { return nil }
            total += t.sent
        }
        return total
    }

    /// Prunes every weight tensor (two or more dimensions) of `store` in place and returns
    /// the flat keep mask (biases and vectors kept). A tensor takes the share of the first
    /// `layers` prefix its name starts with, else Han et al.'s threshold |w| < quality x std,
    /// else the `sparsity` share of smallest magnitudes; with none of them it keeps its own
    /// zeros pruned. Weights already zero go first, so a later round at a larger share keeps
    /// the earlier one's zeros (rounds of pruning).
    static func prune(_ store: ParameterStore, sparsity: Double?, quality: Double? = nil, layers: [LayerSetting] = []) -> [UInt8] {
        var keep = [UInt8](repeating: 1, count: store.count)
        for ref in store.refs where ref.shape.count >= 2 {
            let w = Array(store.values[ref.offset..<(ref.offset + ref.count)])
            let mask = LayerSetting.value(for: ref.name, in: layers).map { Pruning.mask(w, sparsity: $0) }
                ?? quality.map { Pruning.mask(w, quality: $0) } ?? sparsity.map { Pruning.mask(w, sparsity: $0) } ?? w.map { $0 != 0 }
            for (i, k) in mask.enumerated() where !k {
                keep[ref.offset + i] = 0
                store.values[ref.offset + i] = 0
            }
        }
        return keep
    }
}
