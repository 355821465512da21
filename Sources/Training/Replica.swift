import Basics
import Datasets
import NeuralNet

/// One rank's copy of the model with its batch buffers: either a real network,
/// or (a model without layers, the AlexNet payload) just a parameter and gradient
/// buffer with no compute.
final class Replica {
    let kind: ModelKind
    let network: Network?
    let store: ParameterStore
    let input: Tensor?
    let labels: UnsafeMutablePointer<Int32>
    let loss: SoftmaxCrossEntropy?
    let localBatch: Int

    /// `layoutOnly`: the network's layers and buffers at batch 1 with zero parameters,
    /// for replayed compute, which uses the layout and the gradient buffer only.
    init(options: TrainingOptions, localBatch: Int, rank: Int, layoutOnly: Bool = false) {
        kind = options.model
        self.localBatch = localBatch
        labels = .allocate(capacity: max(localBatch, 1))
        labels.initialize(repeating: 0, count: max(localBatch, 1))
        var configuration = ModelConfiguration(classes: options.classes, inputSize: options.inputSize,
                                               batch: layoutOnly ? 1 : localBatch)
        configuration.dropout = Float(options.dropout)
        configuration.seed = layoutOnly ? nil : options.seed
        configuration.convInit = options.convInit
        configuration.classifierBias = Float(options.classifierBias)
        configuration.classifierStd = Float(options.classifierStd)
        if let net = kind.architecture.build(configuration) {
            network = net
            store = net.store
            input = Tensor(net.inputShape)
            loss = SoftmaxCrossEntropy(batch: localBatch, classes: options.classes)
        } else {
            store = ParameterStore()
            _ = store.register("\(kind.rawValue).gradients", shape: [kind.architecture.parameterCountAt1000Classes],
                               initializer: .constant(0))
            store.allocate()
            // Rank-dependent gradients so the reduction has real work; after the first
            // averaging every rank holds the same values, which averaging keeps.
            var rng = SplitMix64(seed: options.seed, keys: UInt64(rank))
            for i in 0..<store.count { store.gradients[i] = (rng.nextUnitFloat() - 0.5) * 1e-3 }
            network = nil; input = nil; loss = nil
        }
    }

    deinit { labels.deallocate() }

    var modelName: String { network?.name ?? kind.rawValue }

    /// The parameter range of the model's classifier layers (Caffe's lr_mult applies
    /// there), or nil when it has none. The layers' tensors are contiguous.
    var classifierRange: Range<Int>? {
        let prefixes = kind.architecture.classifierLayers.map { $0 + "." }
        let refs = store.refs.filter { ref in prefixes.contains { ref.name.hasPrefix($0) } }
        guard let low = refs.map(\.offset).min(), let high = refs.map({ $0.offset + $0.count }).max() else { return nil }
        return low..<high
    }

    struct StepResult { var lossSum: Double; var correct: Int; var deadOutputs: Bool; var forwardEnd: Double }

    /// Forward and backward on this rank's batch; leaves the local mean-loss gradient in the store.
    /// `firstSample`: the batch's position in the global batch (keys the dropout masks).
    func computeGradients(dataset: Dataset?, indices: ArraySlice<Int>, dropoutSeed: UInt64, firstSample: Int = 0,
                          augmentation: Augmentation = .none, augmentationSeed: UInt64 = 0) throws -> StepResult {
        if let dataset { try loadBatch(dataset: dataset, indices: indices, augmentation: augmentation, augmentationSeed: augmentationSeed) }
        return computeGradients(images: dataset == nil ? 0 : indices.count, dropoutSeed: dropoutSeed, firstSample: firstSample)
    }

    /// Fills the input and labels with the images at `indices` (decoding them, for a file data set).
    func loadBatch(dataset: Dataset, indices: ArraySlice<Int>, augmentation: Augmentation, augmentationSeed: UInt64) throws {
        guard let input else { return }
        input.setBatch(indices.count)
        try dataset.fillBatch(indices: indices, images: input.data, labels: labels,
                              augmentation: augmentation, augmentationSeed: augmentationSeed)
    }

    /// Takes iteration `iteration`'s batch from the prefetch queue into the input and labels.
    func loadBatch(from queue: BatchPrefetcher, iteration: Int) throws {
        guard let input else { return }
        input.setBatch(localBatch)
        let n = try queue.take(iteration: iteration, images: input.data, labels: labels)
        input.setBatch(n)
    }

    /// Forward and backward on the `images` already in the input (0: a model without compute).
    func computeGradients(images: Int, dropoutSeed: UInt64, firstSample: Int) -> StepResult {
        guard let net = network, let input = input, let loss = loss, images > 0 else {
            return StepResult(lossSum: 0, correct: 0, deadOutputs: false, forwardEnd: monotonicSeconds())
        }
        let indices = 0..<images
        precondition(input.shape.n == images)
        net.setDropoutSeed(dropoutSeed, firstSample: firstSample)
        let logits = net.forward(input, training: true)
        let r = loss.forwardBackward(logits: logits, labels: UnsafeBufferPointer(start: labels, count: indices.count))
        let forwardEnd = monotonicSeconds()
        store.zeroGradients()
        net.backward(loss.gradient)
        var allZero = true
        for i in 0..<logits.count where logits.data[i] != 0 { allZero = false; break }
        return StepResult(lossSum: r.loss * Double(indices.count), correct: r.correct, deadOutputs: allZero,
                          forwardEnd: forwardEnd)
    }

    /// Top-1 correct predictions on `indices` (evaluation mode: dropout off); adds to
    /// `active[c]` the images whose class-c output is positive (a class that is never
    /// positive behind the ReLU after conv10 can never be predicted: it is dead).
    func countCorrect(dataset: Dataset, indices: ArraySlice<Int>, active: inout [Double]) throws -> Int {
        guard let net = network, let input = input else { return 0 }
        input.setBatch(indices.count)
        try dataset.fillBatch(indices: indices, images: input.data, labels: labels)
        let logits = net.forward(input, training: false)
        var correct = 0
        let c = logits.shape.perImage
        for i in 0..<indices.count {
            let row = logits.data + i * c
            var best = 0
            for j in 0..<c {
                if row[j] > row[best] { best = j }
                if row[j] > 0 { active[j] += 1 }
            }
            if best == Int(labels[i]) { correct += 1 }
        }
        return correct
    }
}
