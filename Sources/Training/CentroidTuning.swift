// Trained quantisation (Deep Compression, section 3.3): after weight sharing, only the
// centroids train. Each centroid's gradient is the sum of its weights' gradients
// (`WeightSharing.centroidGradients`); the centroids take the run's SGD step (momentum,
// weight decay over their members), and every weight is set back to its centroid,
// pruned weights to zero.
import DeepCompression
import NeuralNet

final class CentroidTuning {
    struct Shared {
        let offset: Int
        var sharing: WeightSharing
        var velocity: [Float]
        /// Members per centroid (weight decay acts on each member).
        let counts: [Float]
    }
    private(set) var tensors: [Shared] = []

    /// From weights that are already shared (a decoded .sqzc, broadcast to every rank):
    /// each weight tensor's distinct non-zero values are its centroids, so every rank
    /// derives the same assignment without reading the file.
    init(store: ParameterStore) {
        for ref in store.refs where ref.shape.count >= 2 {
            let w = UnsafeMutableBufferPointer(rebasing: store.values[ref.offset..<(ref.offset + ref.count)])
            let values = Set(w.filter { $0 != 0 }.map(\.bitPattern)).map { Float(bitPattern: $0) }.sorted()
            var index: [UInt32: Int] = [:]
            for (i, v) in values.enumerated() { index[v.bitPattern] = i }
            let assignment = w.map { $0 == 0 ? -1 : index[$0.bitPattern]! }
            var counts = [Float](repeating: 0, count: values.count)
            for c in assignment where c >= 0 { counts[c] += 1 }
            tensors.append(Shared(offset: ref.offset, sharing: WeightSharing(centroids: values, assignment: assignment),
                                  velocity: Array(repeating: 0, count: values.count), counts: counts))
        }
    }

    /// The largest number of centroids in any tensor (2^bits for a .sqzc).
    var largestCodebook: Int { tensors.map(\.sharing.centroids.count).max() ?? 0 }

    /// One step on the averaged (and clipped) gradients; overwrites the shared tensors'
    /// weights (whatever the plain SGD step wrote there).
    func step(weights w: UnsafeMutableBufferPointer<Float>, gradients g: UnsafeMutableBufferPointer<Float>,
              learningRate lr: Float, momentum m: Float, weightDecay wd: Float) {
        for t in tensors.indices {
            let o = tensors[t].offset, n = tensors[t].sharing.assignment.count
            let grad = tensors[t].sharing.centroidGradients(UnsafeBufferPointer(rebasing: g[o..<(o + n)]))
            for c in grad.indices {
                let decay = wd * tensors[t].counts[c] * tensors[t].sharing.centroids[c]
                tensors[t].velocity[c] = m * tensors[t].velocity[c] + lr * (grad[c] + decay)
                tensors[t].sharing.centroids[c] -= tensors[t].velocity[c]
            }
            let shared = tensors[t].sharing.weights
            for i in 0..<n { w[o + i] = shared[i] }
        }
    }
}
