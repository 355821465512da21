// Top-k sparsification with Deep Gradient Compression's corrections (Lin, Han, Mao, Wang,
// Dally, "Deep Gradient Compression", ICLR 2018): each rank sends only the largest
// `fraction` of a bucket's entries by magnitude, as (index, value) pairs, and keeps the
// rest as a residual that later steps add to (error feedback). Momentum correction
// accumulates the velocity, not the gradient, and momentum factor masking clears the
// velocity where an entry was sent, so momentum does not push a sent entry twice.
import Topology

/// Which entries a rank sends: the `count(for:)` largest magnitudes, ties to the lower
/// index, reported in ascending index order. Deterministic for given values.
public struct TopKSelector: Sendable {
    /// Share of entries sent, in (0, 1].
    public let fraction: Double

    public init(fraction: Double) {
        precondition(fraction > 0 && fraction <= 1)
        self.fraction = fraction
    }

    /// Entries sent out of `n`: ceil(fraction n), at least 1 (none of none).
    public func count(for n: Int) -> Int { GradientCodec.topkEntries(n, fraction: fraction) }

    /// Bytes of one rank's message for `n` entries: a 4-byte index and a 4-byte value each.
    public func encodedBytes(_ n: Int) -> Int { 8 * count(for: n) }

    /// Indices of the entries to send, ascending. NaN counts as magnitude 0.
    public func select(_ values: UnsafeBufferPointer<Float>) -> [Int32] {
        var scratch: [Float] = [], out: [Int32] = []
        select(values, scratch: &scratch, into: &out)
        return out
    }

    /// The same, into `out`, with `scratch` for the magnitudes: both keep their capacity,
    /// so a hook that holds them allocates nothing once they have grown.
    public func select(_ values: UnsafeBufferPointer<Float>, scratch magnitudes: inout [Float], into out: inout [Int32]) {
        let n = values.count, k = count(for: n)
        out.removeAll(keepingCapacity: true)
        guard k > 0 else { return }
        if k == n { for i in 0..<n { out.append(Int32(i)) }; return }
        magnitudes.removeAll(keepingCapacity: true)
        for i in 0..<n { magnitudes.append(values[i].isNaN ? 0 : abs(values[i])) }
        let threshold = Self.kthLargest(&magnitudes, k)
        // Every magnitude above the threshold, then ties at it from the lowest index.
        var above = 0
        for i in 0..<n where !values[i].isNaN && abs(values[i]) > threshold { above += 1 }
        var ties = k - above
        for i in 0..<n {
            let m = values[i].isNaN ? 0 : abs(values[i])
            if m > threshold || (m == threshold && ties > 0) {
                if m == threshold { ties -= 1 }
                out.append(Int32(i))
            }
        }
    }

    /// The k-th largest element (1-based) by quickselect (median-of-three pivot); reorders `a`.
    static func kthLargest(_ a: inout [Float], _ k: Int) -> Float {
        var lo = 0, hi = a.count - 1
        let target = k - 1  // position in descending order
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            let pivot = max(min(a[lo], a[mid]), min(max(a[lo], a[mid]), a[hi]))
            var i = lo, j = hi
            while i <= j {
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }
}

/// One rank's DGC state for the whole gradient buffer: the accumulated velocity u and the
/// residual v (what has not been sent yet), both zero at the start.
public final class DGCState {
    public let momentum: Float
    public let velocity: ErrorFeedback
    public let residual: ErrorFeedback

    /// `momentum` 0: plain top-k with error feedback (v += g).
    public init(count: Int, momentum: Float) {
        self.momentum = momentum
        velocity = ErrorFeedback(count: count)
        residual = ErrorFeedback(count: count)
    }

    /// One bucket's step: u = m u + g, v += u (momentum correction), pick the top entries
    /// of v, return them as (indices, values), and clear them in v and u (masking).
    /// Afterwards sent + v equals the v before clearing, exactly.
    public func step(gradient: UnsafeBufferPointer<Float>, offset: Int, selector: TopKSelector) -> (indices: [Int32], values: [Float]) {
        var scratch: [Float] = [], indices: [Int32] = [], values: [Float] = []
        step(gradient: gradient, offset: offset, selector: selector, scratch: &scratch, indices: &indices, values: &values)
        return (indices, values)
    }

    /// The same into caller-held arrays (they keep their capacity).
    public func step(gradient: UnsafeBufferPointer<Float>, offset: Int, selector: TopKSelector,
                     scratch: inout [Float], indices: inout [Int32], values: inout [Float]) {
        let u = velocity.slice(offset: offset, count: gradient.count)
        let v = residual.slice(offset: offset, count: gradient.count)
        for i in 0..<gradient.count {
            if momentum != 0 {
                u[i] = momentum * u[i] + gradient[i]
                v[i] += u[i]
            } else {
                v[i] += gradient[i]
            }
        }
        selector.select(UnsafeBufferPointer(v), scratch: &scratch, into: &indices)
        values.removeAll(keepingCapacity: true)
        for i in indices {
            values.append(v[Int(i)])
            v[Int(i)] = 0
            u[Int(i)] = 0
        }
    }

    /// DGC's warm-up of the fraction: 25% in the first epoch, then a quarter of the
    /// previous each epoch (25%, 6.25%, 1.56%, 0.39%, ...) until `target`.
    public static func warmupFraction(epoch: Int, target: Double) -> Double {
        var f = 0.25
        for _ in 0..<max(0, epoch) { f /= 4 }
        return max(target, min(1, f))
    }
}
