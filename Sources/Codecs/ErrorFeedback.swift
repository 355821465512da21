// Error feedback (Seide et al., "1-bit stochastic gradient descent", Interspeech 2014;
// Karimireddy et al., ICML 2019): what a lossy codec did not send this step is kept per
// rank and added to the next step's gradient, so over steps every part of the gradient
// is sent. One residual per gradient element, in the flat buffer's layout, so a bucket's
// residual is the same slice of it every step and a checkpoint can store it whole.

/// The residuals of one rank: one float per gradient element, zero at the start.
public final class ErrorFeedback {
    public let residual: UnsafeMutableBufferPointer<Float>

    public init(count: Int) {
        residual = .allocate(capacity: count)
        residual.initialize(repeating: 0)
    }
    deinit { residual.deallocate() }

    /// The residual of the bucket starting at `offset` with `count` elements.
    public func slice(offset: Int, count: Int) -> UnsafeMutableBufferPointer<Float> {
        precondition(offset >= 0 && count >= 0 && offset + count <= residual.count)
        return UnsafeMutableBufferPointer(rebasing: residual[offset..<(offset + count)])
    }

    /// gradient += residual, element by element (the start of every compressed step).
    public static func addResidual(_ residual: UnsafeMutableBufferPointer<Float>, to gradient: UnsafeMutableBufferPointer<Float>) {
        precondition(residual.count == gradient.count)
        for i in 0..<gradient.count { gradient[i] += residual[i] }
    }
}
