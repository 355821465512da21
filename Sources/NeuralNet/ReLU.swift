import Basics

/// max(0, x). Backward passes the gradient where the forward output was positive
/// (the subgradient at 0 is 0, as in Caffe and PyTorch).
public final class ReLU: Layer {
    public let name: String
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public var needsInputGradient = true
    let output: Tensor, inputGradient: Tensor

    public init(_ name: String, input: Shape) {
        self.name = name
        inputShape = input
        output = Tensor(input)
        inputGradient = Tensor(input)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        output.setBatch(input.shape.n)
        let x = input.data, y = output.data
        Parallel.forRanges(input.count, grain: 1 << 16) { r in for i in r { y[i] = max(x[i], 0) } }
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.setBatch(input.shape.n)
        let x = input.data, g = dy.data, dx = inputGradient.data
        // Both operands loaded unconditionally: a select the compiler vectorises,
        // instead of a conditional load that it must branch on (7x slower measured).
        Parallel.forRanges(input.count, grain: 1 << 16) { r in for i in r { let gi = g[i]; dx[i] = x[i] > 0 ? gi : 0 } }
        return inputGradient
    }

    /// A hash of which outputs of the last forward were positive: gradient checks
    /// use it to tell a finite step that crossed a kink from one that did not.
    func signature(into h: inout FNV1a) {
        for i in 0..<output.count { h.combine(output.data[i] > 0 ? 1 : 0) }
    }
}
