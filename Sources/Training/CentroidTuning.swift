// Trained quantisation (Deep Compression, section 3.3): after weight sharing, only the
// centroids train. Each centroid's gradient is the sum of its weights' gradients
// (`WeightSharing.centroidGradients`); the centroids take the run's SGD step (momentum,
// weight decay over their members), and every weight is set back to its centroid,
// pruned weights to zero.
import DeepCompression
import NeuralNet

final class CentroidTuning {
    /// Slots per weight tensor in the state buffer: its centroid count, the centroids (in
    /// training order: they may cross, so sorting the weights' values again on resume would
    /// misplace the velocities), then a velocity per centroid; at most 2^8 centroids, the
    /// widest code `compress` writes.
    static let maxCentroids = 256
    static let slotsPerTensor = 1 + 2 * maxCentroids

    /// The momentum buffer's length for `store`'s layout: fixed before any weight is read,
    /// so checkpoints can hold it as hook state.
    static func stateCount(_ store: ParameterStore) -> Int { store.refs.filter { $0.shape.count >= 2 }.count * slotsPerTensor }

    struct Shared {
        let offset: Int
        var sharing: WeightSharing
        /// This tensor's centroids and their velocities, in the checkpointed state buffer.
        let centroids: UnsafeMutableBufferPointer<Float>
        let velocity: UnsafeMutableBufferPointer<Float>
        /// Members per centroid (weight decay acts on each member).
        let counts: [Float]
    }
    private(set) var tensors: [Shared] = []

    /// From weights that are already shared (a decoded .sqzc, broadcast to every rank):
    /// each weight tensor's distinct non-zero values are its centroids, so every rank
    /// derives the same assignment without reading the file.
    /// `momentum`: `stateCount(store)` floats, zero for a new run or a checkpoint's copy on
    /// resume; it holds each tensor's centroid count and velocities from then on. Throws when
    /// a resumed buffer's counts are not the weights' (two centroids that became equal).
    init(store: ParameterStore, momentum: UnsafeMutableBufferPointer<Float>) throws {
        for (k, ref) in store.refs.filter({ $0.shape.count >= 2 }).enumerated() {
            let w = UnsafeMutableBufferPointer(rebasing: store.values[ref.offset..<(ref.offset + ref.count)])
            let slots = UnsafeMutableBufferPointer(rebasing: momentum[(k * Self.slotsPerTensor)..<((k + 1) * Self.slotsPerTensor)])
            var values = Set(w.filter { $0 != 0 }.map(\.bitPattern)).map { Float(bitPattern: $0) }.sorted()
            if slots[0] != 0 {
                // Resuming: the checkpoint's centroids, in their order; every weight must be one of them.
                let n = Int(slots[0])
                let stored = Array(slots[1...n])
                guard n <= Self.maxCentroids, Set(stored.map(\.bitPattern)).count == n, Set(values.map(\.bitPattern)).isSubset(of: Set(stored.map(\.bitPattern))) else {
                    throw TrainingError.badInput("\(ref.name): the checkpoint's centroids do not match its weights (or two became equal); resume is not possible, start a new fine-tuning from the checkpoint's weights")
                }
                values = stored
            }
            var index: [UInt32: Int] = [:]
            for (i, v) in values.enumerated() { index[v.bitPattern] = i }
            let assignment = w.map { $0 == 0 ? -1 : index[$0.bitPattern]! }
            var counts = [Float](repeating: 0, count: values.count)
            for c in assignment where c >= 0 { counts[c] += 1 }
            guard values.count <= Self.maxCentroids else {
                throw TrainingError.badInput("\(ref.name) holds \(values.count) distinct weights: more than a compressed model's \(Self.maxCentroids) centroids")
            }
            slots[0] = Float(values.count)
            for (i, v) in values.enumerated() { slots[1 + i] = v }
            tensors.append(Shared(offset: ref.offset, sharing: WeightSharing(centroids: values, assignment: assignment),
                                  centroids: UnsafeMutableBufferPointer(rebasing: slots[1...Self.maxCentroids]),
                                  velocity: UnsafeMutableBufferPointer(rebasing: slots[(1 + Self.maxCentroids)...]), counts: counts))
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
                tensors[t].centroids[c] = tensors[t].sharing.centroids[c]
            }
            let shared = tensors[t].sharing.weights
            for i in 0..<n { w[o + i] = shared[i] }
        }
    }
}
