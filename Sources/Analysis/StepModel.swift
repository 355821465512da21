// One modelled training step with the exchange in buckets: the compute comes from a
// measured single-worker timeline, each bucket leaves when the timeline says backward
// has produced it (the same bucket cut and the same hand-off rule as GradientExchange),
// and the buckets are exchanged one after another, each costing the alpha-beta time of
// its algorithm. This is what the scaling lab holds its measured points to.
import Metrics
import Topology

/// Seconds of one allreduce of `bytes` over `p` workers, as this project's
/// implementations move them (alpha: seconds per message hop, beta: seconds per byte).
public enum AllreduceTime {
    /// - ring: 2(p-1) alpha + 2((p-1)/p) N beta (reduce-scatter, allgather).
    /// - tree, pipelined (one exchange across hosts): segments of
    ///   `BinomialTree.networkSegmentElements` floats with the sum travelling down one segment
    ///   behind, so the busiest links (rank 0's, and the last child of each level) carry
    ///   ceil(log2 p) N in each direction at once: d N beta + 2 d (alpha + S beta) to fill and drain.
    /// - tree, whole buffer (inside gradient buckets): 2 ceil(log2 p)(alpha + N beta).
    /// - ps: 2(p-1)(alpha + N beta), serialised on the server's link.
    /// - mpi: the algorithm Open MPI's tuned component picks (`OpenMPITuned`).
    ///
    /// `pairBeta`: seconds per byte while the same bytes cross the other way on the same
    /// connection at once, for the pairwise exchanges of a 2-rank ring and of Open MPI's
    /// recursive doubling and Rabenseifner (nil: `beta`).
    public static func seconds(_ algorithm: AllreduceAlgorithm, workers p: Int, bytes n: Int,
                               alpha: Double, beta: Double, pairBeta: Double? = nil, pipelinedTree: Bool) -> Double {
        guard p > 1, n > 0 else { return 0 }
        let bytes = Double(n), ranks = Double(p), d = Double(BinomialTree.depth(size: p))
        switch algorithm {
        case .ring, .hierarchical:  // hierarchical, one rank per host: the leaders' ring
            return 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * bytes * (p == 2 ? pairBeta ?? beta : beta)
        case .tree:
            guard pipelinedTree else { return 2 * d * (alpha + bytes * beta) }
            let segment = min(bytes, Double(BinomialTree.networkSegmentElements * 4))
            return d * bytes * beta + 2 * d * (alpha + segment * beta)
        case .ps:
            return 2 * (ranks - 1) * (alpha + bytes * beta)
        case .mpi:
            return OpenMPITuned.seconds(ranks: p, bytes: n, alpha: alpha, beta: beta, pairBeta: pairBeta)
        }
    }
}

/// A modelled step: compute from a timeline, the exchange bucket by bucket.
public struct StepModel: Sendable {
    public struct Step: Codable, Equatable, Sendable {
        /// Forward, backward and update (the timeline divided by the worker speed-up).
        public var computeSeconds: Double
        /// Seconds the exchange adds after backward: what overlap did not hide.
        public var exposedSeconds: Double
        /// Seconds the exchange runs in all, hidden or not.
        public var exchangeSeconds: Double
        public var buckets: Int
        public var iterationSeconds: Double { computeSeconds + exposedSeconds }
        enum CodingKeys: String, CodingKey {
            case computeSeconds = "compute_seconds"
            case exposedSeconds = "exposed_seconds"
            case exchangeSeconds = "exchange_seconds"
            case buckets
        }
    }

    public let timeline: ComputeTimeline
    public let workerSpeedup: Double
    /// 0: one exchange of the whole gradient after backward (the tree pipelined).
    public let bucketBytes: Int

    public init(timeline: ComputeTimeline, workerSpeedup: Double = 1, bucketBytes: Int) {
        self.timeline = timeline; self.workerSpeedup = workerSpeedup; self.bucketBytes = bucketBytes
    }

    /// The buckets in exchange order with the modelled second, from the start of the
    /// step, at which backward has produced each one.
    public func readyTimes() -> [(bytes: Int, ready: Double)] {
        let f = workerSpeedup
        let backwardEnd = (timeline.forwardSeconds + timeline.backwardSeconds) / f
        let counts = timeline.tensorCounts
        guard bucketBytes > 0 else { return [(counts.reduce(0, +) * 4, backwardEnd)] }
        let buckets = GradientBuckets.cut(tensorCounts: counts, bucketBytes: bucketBytes)
        // The lowest parameter offset of each layer (nil: no parameters), in network order.
        var offsets: [Int?] = [], next = 0
        for layer in timeline.layers {
            offsets.append(layer.tensorCounts.isEmpty ? nil : next)
            next += layer.tensorCounts.reduce(0, +)
        }
        var ready = [Double](repeating: backwardEnd, count: buckets.count)
        var t = timeline.forwardSeconds / f, frontier = next, launched = 0
        for i in stride(from: timeline.layers.count - 1, through: 0, by: -1) {
            t += timeline.layers[i].backwardSeconds / f
            if let o = offsets[i] { frontier = min(frontier, o) }
            while launched < buckets.count && buckets[launched].lowerBound >= frontier {
                ready[launched] = t; launched += 1
            }
        }
        return zip(buckets, ready).map { ($0.0.count * 4, $0.1) }
    }

    /// The step with each bucket costing `exchange(bytes)` seconds, one bucket at a time.
    public func step(exchange: (Int) -> Double) -> Step { step { exchange($1) } }

    /// The same, with the bucket's position in exchange order: `exchange(index, bytes)`.
    public func step(bucketExchange exchange: (Int, Int) -> Double) -> Step {
        let f = workerSpeedup
        let backwardEnd = (timeline.forwardSeconds + timeline.backwardSeconds) / f
        var end = 0.0, busy = 0.0
        let buckets = readyTimes()
        for (i, b) in buckets.enumerated() {
            let t = exchange(i, b.bytes)
            end = max(end, b.ready) + t
            busy += t
        }
        return Step(computeSeconds: timeline.replayedStepSeconds / f, exposedSeconds: max(0, end - backwardEnd),
                    exchangeSeconds: busy, buckets: buckets.count)
    }

    /// PowerSGD's step (a timeline measured with `--compression powersgd:R`): each bucket
    /// costs its measured arithmetic (divided by the worker speed-up, as the compute) and
    /// its two float32 allreduces (the uncompressed entries and every P, then every Q).
    /// Nil without the codec's arithmetic in the timeline or when the buckets differ.
    public func powerSGDStep(_ algorithm: AllreduceAlgorithm, workers p: Int, alpha: Double, beta: Double, pairBeta: Double? = nil) -> Step? {
        guard let c = timeline.codec, c.buckets.count == readyTimes().count else { return nil }
        return step { i, _ in
            guard p > 1 else { return 0 }  // one worker: the hook exchanges nothing
            let b = c.buckets[i]
            func allreduce(_ floats: Int) -> Double {
                AllreduceTime.seconds(algorithm, workers: p, bytes: 4 * floats, alpha: alpha, beta: beta, pairBeta: pairBeta, pipelinedTree: false)
            }
            return b.arithmeticSeconds / workerSpeedup + allreduce(b.firstCount) + allreduce(b.secondCount)
        }
    }

    /// The step of `algorithm` over `p` workers on a link of `alpha` and `beta` (`pairBeta`
    /// for bytes crossing while as many come the other way, see `AllreduceTime`).
    public func step(_ algorithm: AllreduceAlgorithm, workers p: Int, alpha: Double, beta: Double, pairBeta: Double? = nil) -> Step {
        step { AllreduceTime.seconds(algorithm, workers: p, bytes: $0, alpha: alpha, beta: beta, pairBeta: pairBeta,
                                     pipelinedTree: bucketBytes == 0) }
    }
}
