/// One step of a network with paired forward and backward passes.
///
/// Invariants: a layer is built for a fixed per-image input shape and a largest
/// batch (`inputShape.n`); it allocates its output and input-gradient tensors
/// once. `forward` may be called with any batch up to that size. `backward`
/// must follow the `forward` of the same input; it adds parameter gradients to
/// the store's gradient buffer (`+=`) and returns dLoss/dInput, or nil when
/// `needsInputGradient` is false (the first layer never needs one).
public protocol Layer: AnyObject {
    var name: String { get }
    var inputShape: Shape { get }
    var outputShape: Shape { get }
    var needsInputGradient: Bool { get set }
    /// Parameters this layer registered, in registration order.
    var parameters: [ParameterRef] { get }
    /// Multiply-adds per image in forward, for FLOP/s figures.
    var forwardMACsPerImage: Int { get }
    func forward(_ input: Tensor, training: Bool) -> Tensor
    func backward(_ input: Tensor, _ outputGradient: Tensor) -> Tensor?
}

extension Layer {
    public var parameters: [ParameterRef] { [] }
    public var forwardMACsPerImage: Int { 0 }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
}
