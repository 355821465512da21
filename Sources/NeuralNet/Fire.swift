import Basics

/// SqueezeNet's Fire module (Iandola et al. 2016, Fig. 1): a 1x1 "squeeze"
/// convolution feeding 1x1 and 3x3 "expand" convolutions, each followed by ReLU,
/// concatenated on channels (expand1x1 first).
public final class Fire: Layer {
    public let name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public var needsInputGradient: Bool {
        get { squeeze.needsInputGradient }
        set { squeeze.needsInputGradient = newValue }
    }
    /// Each convolution applies its ReLU itself; the expand convolutions write their
    /// channels straight into `output` (expand1x1 first) and read dy from it, so the
    /// module has no separate ReLU or concat passes.
    public let squeeze: Conv2D, expand1x1: Conv2D, expand3x3: Conv2D
    let output: Tensor
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
        squeeze = Conv2D("\(name).squeeze1x1", input: input, outChannels: s, kernel: 1, weightInit: fill(input, 1),
                         fusedReLU: true, store: store)
        expand1x1 = Conv2D("\(name).expand1x1", input: squeeze.outputShape, outChannels: e1, kernel: 1,
                           weightInit: fill(squeeze.outputShape, 1), fusedReLU: true, store: store)
        expand3x3 = Conv2D("\(name).expand3x3", input: squeeze.outputShape, outChannels: e3, kernel: 3, pad: 1,
                           weightInit: fill(squeeze.outputShape, 3), fusedReLU: true, store: store)
        outputShape = Shape(n: input.n, c: e1 + e3, h: squeeze.outputShape.h, w: squeeze.outputShape.w)
        output = Tensor(outputShape)
        expand1x1.place(into: output, channelOffset: 0)
        expand3x3.place(into: output, channelOffset: e1)
        squeezeGradient = Tensor(squeeze.outputShape)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        output.setBatch(input.shape.n)
        let s = squeeze.forward(input, training: training)
        _ = expand1x1.forward(s, training: training)
        _ = expand3x3.forward(s, training: training)
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        let s = squeeze.output
        let ds1 = expand1x1.backward(s, dy)!
        let ds3 = expand3x3.backward(s, dy)!
        squeezeGradient.setBatch(input.shape.n)
        let (a, b, sum) = (ds1.data, ds3.data, squeezeGradient.data)
        Parallel.forRanges(ds1.count, grain: 1 << 16) { r in for i in r { sum[i] = a[i] + b[i] } }
        return squeeze.backward(input, squeezeGradient)
    }

    func signature(into h: inout FNV1a) {
        squeeze.signature(into: &h); expand1x1.signature(into: &h); expand3x3.signature(into: &h)
    }
}
