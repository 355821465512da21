import Basics

/// Inverted dropout (Caffe's): in training each value is zeroed with probability
/// `p` and the survivors scaled by 1/(1-p); in evaluation it is the identity.
/// The mask comes from `seed`, which the trainer sets per iteration (and rank),
/// so a run is reproducible and a resumed run draws the same masks.
public final class Dropout: Layer {
    public let name: String
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public var needsInputGradient = true
    public var probability: Float
    public var seed: UInt64 = 0
    let output: Tensor, inputGradient: Tensor, mask: Tensor
    var maskActive = false

    public init(_ name: String, input: Shape, probability: Float) {
        precondition(probability >= 0 && probability < 1, "\(name): dropout probability must be in [0, 1)")
        self.name = name
        self.probability = probability
        inputShape = input
        output = Tensor(input); inputGradient = Tensor(input); mask = Tensor(input)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        output.setBatch(input.shape.n)
        maskActive = training && probability > 0
        guard maskActive else {
            output.data.update(from: input.data, count: input.count)
            return output
        }
        mask.setBatch(input.shape.n)
        var rng = SplitMix64(seed: seed)
        let scale = 1 / (1 - probability)
        for i in 0..<input.count {
            let keep: Float = rng.nextUnitFloat() >= probability ? scale : 0
            mask.data[i] = keep
            output.data[i] = input.data[i] * keep
        }
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.setBatch(input.shape.n)
        if maskActive {
            for i in 0..<input.count { inputGradient.data[i] = dy.data[i] * mask.data[i] }
        } else {
            inputGradient.data.update(from: dy.data, count: input.count)
        }
        return inputGradient
    }
}
