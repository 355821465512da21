/// Mean over each channel's HxW plane: (N, C, H, W) -> (N, C, 1, 1).
public final class GlobalAvgPool: Layer {
    public let name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public var needsInputGradient = true
    let output: Tensor, inputGradient: Tensor

    public init(_ name: String, input: Shape) {
        self.name = name
        inputShape = input
        outputShape = Shape(n: input.n, c: input.c, h: 1, w: 1)
        output = Tensor(outputShape)
        inputGradient = Tensor(input)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        output.setBatch(input.shape.n)
        let area = inputShape.h * inputShape.w, scale = 1 / Float(area)
        for plane in 0..<(input.shape.n * inputShape.c) {
            let x = input.data + plane * area
            var s: Float = 0
            for j in 0..<area { s += x[j] }
            output.data[plane] = s * scale
        }
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.setBatch(input.shape.n)
        let area = inputShape.h * inputShape.w, scale = 1 / Float(area)
        for plane in 0..<(input.shape.n * inputShape.c) {
            let g = dy.data[plane] * scale
            (inputGradient.data + plane * area).update(repeating: g, count: area)
        }
        return inputGradient
    }
}
