import Basics

/// A chain of layers over one parameter store: forward keeps each layer's
/// input for backward; backward runs the chain in reverse.
public final class Network {
    public let name: String
    public let store: ParameterStore
    public let layers: [Layer]
    public let inputShape: Shape
    public var classes: Int { layers.last!.outputShape.perImage }
    public var maxBatch: Int { inputShape.n }
    var inputs: [Tensor?]

    /// Called after each layer's backward with the index of the layer; lets a
    /// communicator start reducing gradients that are complete (DDP-style buckets).
    public var onLayerBackwardDone: ((Int) -> Void)?

    public init(name: String, store: ParameterStore, inputShape: Shape, layers: [Layer]) {
        self.name = name
        self.store = store
        self.inputShape = inputShape
        self.layers = layers
        inputs = Array(repeating: nil, count: layers.count)
        layers.first?.needsInputGradient = false
    }

    public var parameterCount: Int { store.count }

    /// When set, forward and backward add each layer's seconds here (benchmarks only).
    public var layerSeconds: (forward: [Double], backward: [Double])?

    public func startProfilingLayers() { layerSeconds = (Array(repeating: 0, count: layers.count), Array(repeating: 0, count: layers.count)) }

    @discardableResult
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.shape.perImage == inputShape.perImage, "input \(input.shape) does not match \(inputShape)")
        var x = input
        for (i, layer) in layers.enumerated() {
            inputs[i] = x
            let t0 = layerSeconds == nil ? 0 : monotonicSeconds()
            x = layer.forward(x, training: training)
            if layerSeconds != nil { layerSeconds!.forward[i] += monotonicSeconds() - t0 }
        }
        return x
    }

    /// Accumulates parameter gradients into `store.gradients` (call `store.zeroGradients()` first).
    public func backward(_ outputGradient: Tensor) {
        var dy = outputGradient
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let t0 = layerSeconds == nil ? 0 : monotonicSeconds()
            if let dx = layers[i].backward(inputs[i]!, dy) { dy = dx }
            if layerSeconds != nil { layerSeconds!.backward[i] += monotonicSeconds() - t0 }
            onLayerBackwardDone?(i)
        }
    }

    /// The output of the named layer from the last forward pass.
    public func activation(named name: String) -> Tensor? {
        guard let i = layers.firstIndex(where: { $0.name == name }) else { return nil }
        return i + 1 < layers.count ? inputs[i + 1] : nil
    }

    /// Sets the seed of every dropout layer (per iteration) and the position in the
    /// global batch of this batch's first image (the rank's offset; see `Dropout`).
    public func setDropoutSeed(_ seed: UInt64, firstSample: Int = 0) {
        for case let d as Dropout in layers { d.seed = seed; d.firstSample = firstSample }
    }

    public var forwardMACsPerImage: Int { layers.reduce(0) { $0 + $1.forwardMACsPerImage } }

    /// A hash of every ReLU's on/off pattern and every max pool's winners in the last
    /// forward. Two forwards with the same signature took the same linear piece of
    /// the network, so a finite difference between them is free of kinks.
    public func kinkSignature() -> UInt64 {
        var h = FNV1a()
        for layer in layers {
            if let r = layer as? ReLU { r.signature(into: &h) }
            if let p = layer as? MaxPool2D { p.signature(into: &h) }
            if let f = layer as? Fire { f.signature(into: &h) }
        }
        return h.value
    }
}

/// Builds a chain whose every layer takes its input shape from the previous one.
public struct NetworkBuilder {
    public let store = ParameterStore()
    public private(set) var shape: Shape
    public private(set) var layers: [Layer] = []
    let inputShape: Shape

    /// The filler for convolutions that do not name their own.
    public var defaultConvInit: ConvInit = .xavier

    public init(input: Shape, convInit: ConvInit = .xavier) { shape = input; inputShape = input; defaultConvInit = convInit }

    public mutating func add(_ make: (Shape, ParameterStore) -> Layer) {
        let layer = make(shape, store)
        layers.append(layer)
        shape = layer.outputShape
    }

    public mutating func conv(_ name: String, _ out: Int, kernel: Int, stride: Int = 1, pad: Int = 0, groups: Int = 1,
                              weightInit: Initializer? = nil, biasInit: Initializer = .constant(0), relu: Bool = true) {
        let fallback = defaultConvInit
        add { s, store in
            let fanIn = s.c / groups * kernel * kernel
            return Conv2D(name, input: s, outChannels: out, kernel: kernel, stride: stride, pad: pad, groups: groups,
                          weightInit: weightInit ?? fallback.initializer(fanIn: fanIn), biasInit: biasInit, store: store)
        }
        if relu { add { s, _ in ReLU("\(name).relu", input: s) } }
    }

    public mutating func maxPool(_ name: String, kernel: Int = 3, stride: Int = 2) {
        add { s, _ in MaxPool2D(name, input: s, kernel: kernel, stride: stride) }
    }

    public mutating func fire(_ name: String, squeeze: Int, expand: Int) {
        let fill = defaultConvInit
        add { Fire(name, input: $0, squeeze: squeeze, expand1x1: expand, expand3x3: expand, convInit: fill, store: $1) }
    }

    public mutating func dropout(_ name: String, _ p: Float) { add { s, _ in Dropout(name, input: s, probability: p) } }

    /// A fully connected layer over the flattened current shape (K = C*H*W), with
    /// ReLU "<name>.relu" unless `relu` is false.
    public mutating func fullyConnected(_ name: String, _ out: Int, weightInit: Initializer? = nil,
                                        biasInit: Initializer = .constant(0), relu: Bool = true) {
        add { FullyConnected(name, input: $0, outputs: out, weightInit: weightInit, biasInit: biasInit, store: $1) }
        if relu { add { s, _ in ReLU("\(name).relu", input: s) } }
    }

    /// Local response normalisation across channels (Caffe's LRN defaults).
    public mutating func lrn(_ name: String, localSize: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        add { s, _ in LRN(name, input: s, localSize: localSize, alpha: alpha, beta: beta, k: k) }
    }

    /// Allocates the flat buffers and initialises them from `seed` (nil: left at zero,
    /// for a network whose layout is all that is used, as replayed compute does).
    /// At batch 0 nothing is allocated: the network is its shapes and parameter counts
    /// only (`storageBytes(batch:)` estimates a run from it) and must not be run.
    public func build(name: String, seed: UInt64?) -> Network {
        guard inputShape.n > 0 else { return Network(name: name, store: store, inputShape: inputShape, layers: layers) }
        store.allocate()
        if let seed { store.initialize(seed: seed) }
        return Network(name: name, store: store, inputShape: inputShape, layers: layers)
    }
}

/// Weight filler for convolutions: Caffe's prototxt uses Xavier; torchvision uses Kaiming.
public enum ConvInit: String, CaseIterable, Codable {
    case xavier, kaiming
    public func initializer(fanIn: Int) -> Initializer {
        self == .xavier ? .xavier(fanIn: fanIn) : .kaiming(fanIn: fanIn)
    }
}
