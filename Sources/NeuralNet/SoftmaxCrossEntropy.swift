#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Softmax cross-entropy over logits (N, C), mean over the batch
/// (Caffe SoftmaxWithLoss, normalization VALID). Computed in Double for a
/// stable log-sum-exp; the gradient `(softmax - onehot) / N` is written once.
public final class SoftmaxCrossEntropy {
    public let classes: Int
    public let gradient: Tensor  // (N, C, 1, 1)

    public init(batch: Int, classes: Int) {
        self.classes = classes
        gradient = Tensor(Shape(n: batch, c: classes, h: 1, w: 1))
    }

    /// Returns the mean loss and the number of correct top-1 predictions; fills `gradient`.
    @discardableResult
    public func forwardBackward(logits: Tensor, labels: UnsafeBufferPointer<Int32>) -> (loss: Double, correct: Int) {
        let n = logits.shape.n, c = classes
        precondition(logits.shape.perImage == c && labels.count >= n, "logits \(logits.shape) do not match \(c) classes")
        gradient.setBatch(n)
        var total = 0.0, correct = 0
        for i in 0..<n {
            let z = logits.data + i * c, g = gradient.data + i * c
            let label = Int(labels[i])
            precondition(label >= 0 && label < c, "label \(label) outside 0..<\(c)")
            var maxZ = -Double.infinity, argmax = 0
            for j in 0..<c where Double(z[j]) > maxZ { maxZ = Double(z[j]); argmax = j }
            var sum = 0.0
            for j in 0..<c { sum += exp(Double(z[j]) - maxZ) }
            total += log(sum) + maxZ - Double(z[label])
            if argmax == label { correct += 1 }
            for j in 0..<c {
                let p = exp(Double(z[j]) - maxZ) / sum
                g[j] = Float((p - (j == label ? 1 : 0)) / Double(n))
            }
        }
        return (n > 0 ? total / Double(n) : 0, correct)
    }
}
