/// SqueezeNet's Fire module (Iandola et al. 2016, Fig. 1): a 1x1 "squeeze"
/// convolution feeding 1x1 and 3x3 "expand" convolutions, each followed by ReLU,
/// concatenated on channels (expand1x1 first).
public final class Fire: Layer {
    public let name: String
    public let inputShape: Shape
    public var outputShape: Shape { concat.outputShape }
    public var needsInputGradient: Bool {
        get { squeeze.needsInputGradient }
        set { squeeze.needsInputGradient = newValue }
    }
    public let squeeze: Conv2D, expand1x1: Conv2D, expand3x3: Conv2D
    let squeezeReLU: ReLU, expand1x1ReLU: ReLU, expand3x3ReLU: ReLU
    let concat: Concat
    let squeezeGradient: Tensor  // dLoss/d(squeeze ReLU output), summed over both expand branches

    public var parameters: [ParameterRef] { squeeze.parameters + expand1x1.parameters + expand3x3.parameters }
    public var forwardMACsPerImage: Int {
        squeeze.forwardMACsPerImage + expand1x1.forwardMACsPerImage + expand3x3.forwardMACsPerImage
    }

    public init(_ name: String, input: Shape, squeeze s: Int, expand1x1 e1: Int, expand3x3 e3: Int,
                convInit: ConvInit = .xavier, store: ParameterStore) {
        func fill(_ s: Shape, _ k: Int) -> Initializer { convInit.initializer(fanIn: s.c * k * k) }
        self.name = name
        inputShape = input
        squeeze = Conv2D("\(name).squeeze1x1", input: input, outChannels: s, kernel: 1, weightInit: fill(input, 1), store: store)
        squeezeReLU = ReLU("\(name).squeeze1x1.relu", input: squeeze.outputShape)
        expand1x1 = Conv2D("\(name).expand1x1", input: squeeze.outputShape, outChannels: e1, kernel: 1,
                           weightInit: fill(squeeze.outputShape, 1), store: store)
        expand1x1ReLU = ReLU("\(name).expand1x1.relu", input: expand1x1.outputShape)
        expand3x3 = Conv2D("\(name).expand3x3", input: squeeze.outputShape, outChannels: e3, kernel: 3, pad: 1,
                           weightInit: fill(squeeze.outputShape, 3), store: store)
        expand3x3ReLU = ReLU("\(name).expand3x3.relu", input: expand3x3.outputShape)
        concat = Concat("\(name).concat", inputs: [expand1x1.outputShape, expand3x3.outputShape])
        squeezeGradient = Tensor(squeeze.outputShape)
    }

    // Cached for backward: each sub-layer's input (the tensors the sub-layers own).
    var squeezeOut: Tensor?, squeezeAct: Tensor?, e1Out: Tensor?, e3Out: Tensor?

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let s = squeeze.forward(input, training: training)
        let sa = squeezeReLU.forward(s, training: training)
        let e1 = expand1x1.forward(sa, training: training)
        let e3 = expand3x3.forward(sa, training: training)
        squeezeOut = s; squeezeAct = sa; e1Out = e1; e3Out = e3
        return concat.forward([expand1x1ReLU.forward(e1, training: training),
                               expand3x3ReLU.forward(e3, training: training)])
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        let parts = concat.backward(dy)
        let d1 = expand1x1ReLU.backward(e1Out!, parts[0])!
        let d3 = expand3x3ReLU.backward(e3Out!, parts[1])!
        let ds1 = expand1x1.backward(squeezeAct!, d1)!
        let ds3 = expand3x3.backward(squeezeAct!, d3)!
        squeezeGradient.setBatch(input.shape.n)
        let (a, b, sum) = (ds1.data, ds3.data, squeezeGradient.data)
        Parallel.forRanges(ds1.count, grain: 1 << 16) { r in for i in r { sum[i] = a[i] + b[i] } }
        let dsq = squeezeReLU.backward(squeezeOut!, squeezeGradient)!
        return squeeze.backward(input, dsq)
    }

    func signature(into h: inout UInt64) {
        squeezeReLU.signature(into: &h); expand1x1ReLU.signature(into: &h); expand3x3ReLU.signature(into: &h)
    }
}
