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

    @discardableResult
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.shape.perImage == inputShape.perImage, "input \(input.shape) does not match \(inputShape)")
        var x = input
        for (i, layer) in layers.enumerated() {
            inputs[i] = x
            x = layer.forward(x, training: training)
        }
        return x
    }

    /// Accumulates parameter gradients into `store.gradients` (call `store.zeroGradients()` first).
    public func backward(_ outputGradient: Tensor) {
        var dy = outputGradient
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            if let dx = layers[i].backward(inputs[i]!, dy) { dy = dx }
            onLayerBackwardDone?(i)
        }
    }

    /// The output of the named layer from the last forward pass.
    public func activation(named name: String) -> Tensor? {
        guard let i = layers.firstIndex(where: { $0.name == name }) else { return nil }
        return i + 1 < layers.count ? inputs[i + 1] : nil
    }

    /// Sets the seed of every dropout layer (per iteration and rank).
    public func setDropoutSeed(_ seed: UInt64) {
        for case let d as Dropout in layers { d.seed = seed }
    }

    public var forwardMACsPerImage: Int { layers.reduce(0) { $0 + $1.forwardMACsPerImage } }
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
                              weightInit: Initializer? = nil, relu: Bool = true) {
        let fallback = defaultConvInit
        add { s, store in
            let fanIn = s.c / groups * kernel * kernel
            return Conv2D(name, input: s, outChannels: out, kernel: kernel, stride: stride, pad: pad, groups: groups,
                          weightInit: weightInit ?? fallback.initializer(fanIn: fanIn), store: store)
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

    /// Allocates the flat buffers and initialises them from `seed`.
    public func build(name: String, seed: UInt64) -> Network {
        store.allocate()
        store.initialize(seed: seed)
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
