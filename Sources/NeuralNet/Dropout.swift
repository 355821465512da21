import Basics

/// Inverted dropout (Caffe's): in training each value is zeroed with probability
/// `p` and the survivors scaled by 1/(1-p); in evaluation it is the identity.
/// Each image's mask is drawn from (`seed`, its position in the global batch,
/// `firstSample + n`), never from the rank or the local batch: the trainer sets the
/// seed per iteration and `firstSample` to the rank's offset, so any split of the
/// global batch over ranks draws the same masks, and a resumed run repeats them.
/// The layer's name is a key too, so two dropout layers of one network (AlexNet's
/// drop6 and drop7) draw independent masks.
public final class Dropout: Layer {
    public let name: String
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public var needsInputGradient = true
    public var probability: Float
    public var seed: UInt64 = 0
    /// Position in the global batch of this batch's first image.
    public var firstSample = 0
    let output: Tensor, inputGradient: Tensor, mask: Tensor
    let nameKey: UInt64
    var maskActive = false

    public init(_ name: String, input: Shape, probability: Float) {
        precondition(probability >= 0 && probability < 1, "\(name): dropout probability must be in [0, 1)")
        self.name = name
        self.probability = probability
        nameKey = fnv1a(Array(name.utf8))
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
        let scale = 1 / (1 - probability), perImage = input.shape.perImage
        for n in 0..<input.shape.n {
            var rng = SplitMix64(seed: seed, keys: nameKey, UInt64(firstSample + n))
            for i in n * perImage ..< (n + 1) * perImage {
                let keep: Float = rng.nextUnitFloat() >= probability ? scale : 0
                mask.data[i] = keep
                output.data[i] = input.data[i] * keep
            }
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
