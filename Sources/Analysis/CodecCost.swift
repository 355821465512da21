// The cost model for a compressed exchange: the codec's bytes (Topology's formulas, the
// ones the counters are held to), the alpha-beta time of its messages, and the
// encode/decode arithmetic measured per element (`CodecSpeed`) on the critical path.
import Topology

public enum CodecCost {
    /// Modelled seconds of one exchange of `count` floats over `p` ranks (one per host)
    /// with `codec` on `algorithm` (ring, tree, ps or hierarchical for the value-by-value codecs; top-k's
    /// ring allgather; PowerSGD's two allreduces, its GEMMs not included): nil where the
    /// codec does not run. `encode`, `decode`: nanoseconds per element.
    public static func seconds(_ codec: GradientCodec, _ algorithm: AllreduceAlgorithm, ranks p: Int, count: Int,
                               network: NetworkPreset, encode: Double = 0, decode: Double = 0,
                               matrices: [PowerSGDPlan.Matrix] = []) -> Double? {
        guard p > 1, count > 0 else { return 0 }
        let a = network.alpha, b = network.beta, n = Double(count), ranks = Double(p)
        switch codec {
        case .none:
            return AllreduceTime.seconds(algorithm, workers: p, bytes: 4 * count, alpha: a, beta: b, pipelinedTree: false)
        case .fp16, .bf16, .int8:
            // One rank per host: the two-level exchange is the leaders' ring.
            let algorithm = algorithm == .hierarchical ? .ring : algorithm
            guard let t = codec.traffic(algorithm, rank: p - 1, ranks: p, count: count) else { return nil }
            switch algorithm {
            case .ring:
                // p - 1 hops of a chunk each way; each hop encodes and decodes n/p, then all n decoded.
                return 2 * (ranks - 1) * a + Double(t.bytesSent) * b + n * ((ranks - 1) / ranks * (encode + decode) + encode / ranks + decode) * 1e-9
            case .tree:
                // Unsegmented: 2 d whole-bucket hops, each encoded once and decoded once.
                let d = Double(BinomialTree.depth(size: p)), message = Double(codec.messageBytes(count)!)
                return 2 * d * (a + message * b) + 2 * d * n * (encode + decode) * 1e-9
            case .ps:
                // The server's link, serialised: p - 1 messages in (each decoded and added), the
                // total encoded once, p - 1 out; a worker encodes before and decodes after.
                let message = Double(codec.messageBytes(count)!)
                return 2 * (ranks - 1) * (a + message * b) + n * (2 * encode + ranks * decode) * 1e-9
            default: return nil
            }
        case let .topk(fraction):
            guard algorithm == .ring else { return nil }
            let t = GradientCodec.topkTraffic(ranks: p, count: count, fraction: fraction)
            return (ranks - 1) * a + Double(t.bytesSent) * b + n * (encode + decode) * 1e-9
        case .powersgd:
            let c = PowerSGDPlan.allreduceCounts(bucket: 0..<count, matrices: matrices)
            return AllreduceTime.seconds(algorithm, workers: p, bytes: 4 * c.first, alpha: a, beta: b, pipelinedTree: false)
                + AllreduceTime.seconds(algorithm, workers: p, bytes: 4 * c.second, alpha: a, beta: b, pipelinedTree: false)
        }
    }
}
