// Deterministic per-rank inputs whose sum over ranks every rank can recompute
// on its own, independently of any allreduce.
import Basics


/// How the inputs are chosen.
enum DataMode: String, CaseIterable {
    /// Integers in [-1000, 1000] times 2^-10: every partial sum of up to 16,384
    /// ranks is exactly representable in Float, so every summation order must
    /// give the exact sum, bit for bit.
    case exact
    /// Full-mantissa values spread over 2^-4...2^4 in magnitude with both signs:
    /// sums round, so the result depends on the summation order and is compared
    /// with a Double reference summed in rank order.
    case random
}

/// SplitMix64 of (rank, index): the generator every rank can evaluate for every other rank.
@inline(__always)
func mix(_ rank: Int, _ index: Int, _ salt: UInt64) -> UInt64 {
    SplitMix64.mix(UInt64(truncatingIfNeeded: rank) &* SplitMix64.golden
                   &+ UInt64(truncatingIfNeeded: index) &* 0xBF58_476D_1CE4_E5B9 &+ salt)
}

/// The exact-mode integer numerator in [-1000, 1000].
@inline(__always)
func exactNumerator(_ rank: Int, _ index: Int) -> Int {
    Int(mix(rank, index, 1) % 2001) - 1000
}

let exactScale: Float = 1.0 / 1024.0

/// Rank `rank`'s value at `index`.
@inline(__always)
func inputValue(_ mode: DataMode, rank: Int, index: Int) -> Float {
    switch mode {
    case .exact:
        return Float(exactNumerator(rank, index)) * exactScale
    case .random:
        let h = mix(rank, index, 2)
        let unit = Float(h >> 40) * (1.0 / 16_777_216.0)  // 24 random bits in [0, 1)
        let exponent = Int((h >> 8) & 7) - 4
        return (2 * unit - 1) * Float(sign: .plus, exponent: exponent, significand: 1)
    }
}

func fillInput(_ buffer: UnsafeMutableBufferPointer<Float>, mode: DataMode, rank: Int) {
    for i in 0..<buffer.count { buffer[i] = inputValue(mode, rank: rank, index: i) }
}

/// Largest absolute and relative (to the sum of magnitudes) error of `result`
/// against the sum over `ranks` ranks, recomputed here in rank order: in Int for
/// exact mode (so the reference is the exact sum), in Double for random mode.
/// `extra`: added to the result before comparing (the residuals of error feedback).
func referenceErrors(_ result: UnsafeMutableBufferPointer<Float>, mode: DataMode,
                     ranks: Int, adding extra: UnsafeBufferPointer<Float>? = nil) -> (abs: Double, rel: Double, magnitude: Double) {
    var maxAbs = 0.0
    var maxRel = 0.0
    var maxMagnitude = 0.0
    for i in 0..<result.count {
        var reference = 0.0
        var magnitude = 0.0
        switch mode {
        case .exact:
            var sum = 0
            for q in 0..<ranks { sum += exactNumerator(q, i) }
            reference = Double(sum) * Double(exactScale)
            magnitude = abs(reference)
        case .random:
            for q in 0..<ranks {
                let x = Double(inputValue(.random, rank: q, index: i))
                reference += x
                magnitude += abs(x)
            }
        }
        let error = abs(Double(result[i]) + Double(extra?[i] ?? 0) - reference)
        maxAbs = max(maxAbs, error)
        maxMagnitude = max(maxMagnitude, magnitude)
        if magnitude > 0 { maxRel = max(maxRel, error / magnitude) }
    }
    return (maxAbs, maxRel, maxMagnitude)
}

/// FNV-1a over the bit patterns: equal hashes on all ranks = identical results.
func bitHash(_ buffer: UnsafeMutableBufferPointer<Float>) -> UInt64 {
    var h = FNV1a()
    for x in buffer { h.combine(UInt64(x.bitPattern)) }
    return h.value
}

func maxAbsDifference(_ a: UnsafeMutableBufferPointer<Float>, _ b: UnsafeMutableBufferPointer<Float>) -> Double {
    var worst = 0.0
    for i in 0..<a.count { worst = max(worst, abs(Double(a[i]) - Double(b[i]))) }
    return worst
}
