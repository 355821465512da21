/// Joins inputs along the channel axis, in the order given (Fire: expand1x1 then expand3x3).
/// Not a `Layer` because it has several inputs; backward splits the gradient back.
public final class Concat {
    public let name: String
    public let inputShapes: [Shape]
    public let outputShape: Shape
    let output: Tensor
    let inputGradients: [Tensor]

    public init(_ name: String, inputs: [Shape]) {
        precondition(!inputs.isEmpty && inputs.allSatisfy {
            $0.n == inputs[0].n && $0.h == inputs[0].h && $0.w == inputs[0].w
        }, "\(name): inputs must agree in batch and spatial size")
        self.name = name
        inputShapes = inputs
        outputShape = Shape(n: inputs[0].n, c: inputs.reduce(0) { $0 + $1.c }, h: inputs[0].h, w: inputs[0].w)
        output = Tensor(outputShape)
        inputGradients = inputs.map { Tensor($0) }
    }

    public func forward(_ inputs: [Tensor]) -> Tensor {
        let n = inputs[0].shape.n
        output.setBatch(n)
        let output = output
        Parallel.forEach(n, grain: max(1, (1 << 15) / max(outputShape.perImage, 1))) { i in
            var dst = output.image(i)
            for x in inputs {
                dst.update(from: x.image(i), count: x.shape.perImage)
                dst += x.shape.perImage
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) -> [Tensor] {
        let n = dy.shape.n
        for dx in inputGradients { dx.setBatch(n) }
        let inputGradients = inputGradients
        Parallel.forEach(n, grain: max(1, (1 << 15) / max(outputShape.perImage, 1))) { i in
            var src = dy.image(i)
            for dx in inputGradients {
                dx.image(i).update(from: src, count: dx.shape.perImage)
                src += dx.shape.perImage
            }
        }
        return inputGradients
    }
}
