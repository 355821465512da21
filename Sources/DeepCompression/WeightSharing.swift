// Magnitude pruning and trained weight sharing (Han, Mao, Dally, "Deep Compression",
// ICLR 2016; Han et al., "Learning both weights and connections", NIPS 2015).

/// Which weights of a layer survive pruning: `true` keeps the weight.
public enum Pruning {
    /// Keeps the largest (1 - sparsity) share of `weights` by magnitude (ties to the lower
    /// index), so exactly round(sparsity x n) weights are pruned.
    public static func mask(_ weights: [Float], sparsity: Double) -> [Bool] {
        precondition(sparsity >= 0 && sparsity <= 1)
        let pruned = Int((sparsity * Double(weights.count)).rounded())
        let order = weights.indices.sorted { (abs(weights[$0]), $1) < (abs(weights[$1]), $0) }  // smallest first; ties: higher index first
        var keep = [Bool](repeating: true, count: weights.count)
        for i in order.prefix(pruned) { keep[i] = false }
        return keep
    }

    /// Han et al. 2015's threshold: prune |w| < quality x std(w) of the layer.
    public static func mask(_ weights: [Float], quality: Double) -> [Bool] {
        let n = Double(max(weights.count, 1))
        let mean = weights.reduce(0.0) { $0 + Double($1) } / n
        let variance = weights.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let threshold = quality * variance.squareRoot()
        return weights.map { Double(abs($0)) >= threshold }
    }
}

/// One layer's shared weights: 2^bits centroids by k-means over the surviving weights,
/// initialised linearly over [min, max] (the paper's best initialisation); pruned
/// weights stay exactly zero and are not a centroid's members.
public struct WeightSharing: Equatable, Sendable {
    public var centroids: [Float]
    /// Per weight: its centroid, or -1 where pruned.
    public var assignment: [Int]

    public init(weights: [Float], mask: [Bool], bits: Int, iterations: Int = 30) {
        precondition(weights.count == mask.count && bits >= 1 && bits <= 16)
        let k = 1 << bits
        let alive = weights.indices.filter { mask[$0] }
        let lo = alive.map { weights[$0] }.min() ?? 0, hi = alive.map { weights[$0] }.max() ?? 0
        // Linear: k points evenly over [min, max], both ends included.
        centroids = (0..<k).map { k == 1 ? (lo + hi) / 2 : lo + (hi - lo) * Float($0) / Float(k - 1) }
        assignment = [Int](repeating: -1, count: weights.count)
        for _ in 0..<max(1, iterations) {
            var changed = false
            for i in alive {
                let c = Self.nearest(weights[i], centroids)
                if c != assignment[i] { assignment[i] = c; changed = true }
            }
            var sum = [Double](repeating: 0, count: k), members = [Int](repeating: 0, count: k)
            for i in alive { sum[assignment[i]] += Double(weights[i]); members[assignment[i]] += 1 }
            for c in 0..<k where members[c] > 0 { centroids[c] = Float(sum[c] / Double(members[c])) }
            if !changed { break }
        }
    }

    /// Given centroids and assignment (a decoded model).
    public init(centroids: [Float], assignment: [Int]) {
        precondition(assignment.allSatisfy { $0 < centroids.count })
        self.centroids = centroids
        self.assignment = assignment
    }

    /// The nearest centroid (ties to the lower index); centroids ascend from linear init.
    static func nearest(_ w: Float, _ centroids: [Float]) -> Int {
        var best = 0
        for c in 1..<centroids.count where abs(w - centroids[c]) < abs(w - centroids[best]) { best = c }
        return best
    }

    /// The layer's weights as shared: each its centroid, pruned ones exactly zero.
    public var weights: [Float] { assignment.map { $0 < 0 ? 0 : centroids[$0] } }

    /// Each centroid's gradient: the sum of its members' gradients (the paper's eq. 3).
    public func centroidGradients(_ gradients: [Float]) -> [Float] {
        gradients.withUnsafeBufferPointer { centroidGradients($0) }
    }

    public func centroidGradients(_ gradients: UnsafeBufferPointer<Float>) -> [Float] {
        precondition(gradients.count == assignment.count)
        var g = [Float](repeating: 0, count: centroids.count)
        for (i, c) in assignment.enumerated() where c >= 0 { g[c] += gradients[i] }
        return g
    }
}
