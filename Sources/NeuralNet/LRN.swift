#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Local response normalisation across channels (Krizhevsky, Sutskever and
/// Hinton, 2012, section 3.3; Caffe's LRN layer, norm_region ACROSS_CHANNELS).
/// With `n = localSize` (odd) and `h = (n - 1) / 2`, at every pixel:
///
///     scale_i = k + (alpha / n) * sum_{j = i-h ... i+h, 0 <= j < C} x_j^2
///     y_i     = x_i * scale_i^(-beta)
///
/// Backward is Caffe's closed form (the window is symmetric, so j's window
/// contains i exactly when i's contains j):
///
///     dx_i = dy_i * scale_i^(-beta)
///            - (2 alpha beta / n) * x_i * sum_{j = i-h ... i+h} dy_j * y_j / scale_j
///
/// Forward caches `scale` (N, C, H, W) for backward and keeps its output `y`.
/// No parameters.
public final class LRN: Layer {
    public let name: String
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public var needsInputGradient = true
    public let localSize: Int
    public let alpha: Float, beta: Float, k: Float

    let output: Tensor         // (N, C, H, W)
    let inputGradient: Tensor  // (N, C, H, W)
    let scale: Tensor          // (N, C, H, W): k + alpha/n * windowed sum of squares
    let ratio: UnsafeMutablePointer<Float>  // (C, H, W): dy * y / scale of one image

    public init(_ name: String, input: Shape, localSize: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        precondition(localSize > 0 && localSize % 2 == 1, "\(name): LRN local size must be odd (as in Caffe)")
        precondition(k > 0 || alpha > 0, "\(name): scale must stay positive")
        self.name = name
        self.localSize = localSize
        self.alpha = alpha; self.beta = beta; self.k = k
        inputShape = input
        output = Tensor(input); inputGradient = Tensor(input); scale = Tensor(input)
        let ratioCount = input.n == 0 ? 1 : max(input.perImage, 1)  // batch 0: a layout
        ratio = .allocate(capacity: ratioCount)
        ratio.initialize(repeating: 0, count: ratioCount)
    }

    deinit { ratio.deallocate() }

    /// Squares summed over the window, one multiply-add each, plus the scaling.
    public var forwardMACsPerImage: Int { inputShape.perImage * (localSize + 1) }

    var half: Int { (localSize - 1) / 2 }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let n = input.shape.n
        output.setBatch(n); scale.setBatch(n)
        let c = inputShape.c, hw = inputShape.h * inputShape.w, a = alpha / Float(localSize)
        for img in 0..<n {
            let x = input.image(img), s = scale.image(img), y = output.image(img)
            for ch in 0..<c {
                let sc = s + ch * hw
                sc.update(repeating: 0, count: hw)
                for j in max(ch - half, 0)...min(ch + half, c - 1) {
                    let xj = x + j * hw
                    for p in 0..<hw { sc[p] += xj[p] * xj[p] }
                }
                let xc = x + ch * hw, yc = y + ch * hw
                for p in 0..<hw {
                    sc[p] = k + a * sc[p]
                    yc[p] = xc[p] * powf(sc[p], -beta)
                }
            }
        }
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        let n = input.shape.n
        inputGradient.setBatch(n)
        let c = inputShape.c, hw = inputShape.h * inputShape.w, m = inputShape.perImage
        let factor = 2 * alpha * beta / Float(localSize)
        for img in 0..<n {
            let x = input.image(img), s = scale.image(img), y = output.image(img)
            let g = dy.image(img), dx = inputGradient.image(img)
            for p in 0..<m { ratio[p] = g[p] * y[p] / s[p] }
            for ch in 0..<c {
                let off = ch * hw
                for p in 0..<hw { dx[off + p] = g[off + p] * powf(s[off + p], -beta) }
                // accumulated ratio over the window, applied with x_i
                for j in max(ch - half, 0)...min(ch + half, c - 1) {
                    let rj = ratio + j * hw
                    for p in 0..<hw { dx[off + p] -= factor * x[off + p] * rj[p] }
                }
            }
        }
        return inputGradient
    }
}
