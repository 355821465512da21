// SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
// OOPSLA 2014; Vigna's reference constants): the project's one random generator.
// Fully specified, so every rank and every platform draws the same numbers from
// the same seed: weights, data order, dropout masks, augmentation, test data.

/// A tiny seedable generator; `init(seed:keys:)` derives independent streams.
public struct SplitMix64: RandomNumberGenerator {
    /// The generator's whole state (public so the small methods below inline across modules).
    public var state: UInt64

    public static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inlinable public init(seed: UInt64) { state = seed }

    /// An independent stream from a seed and any number of keys (iteration, rank, ...).
    @inlinable public init(seed: UInt64, keys: UInt64...) {
        var s = seed
        for k in keys { s = SplitMix64.mix(s ^ (k &+ SplitMix64.golden)) }
        state = s
    }

    @inlinable public mutating func next() -> UInt64 {
        state &+= SplitMix64.golden
        return SplitMix64.mix(state)
    }

    /// SplitMix64's output function: a bijective mix of 64 bits. Also a stateless
    /// hash of a counter, for data any rank must evaluate for any other rank.
    @inlinable @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound without modulo bias (Lemire's multiply-shift with rejection).
    @inlinable public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform in [0, 1) with 24 bits of precision (exactly representable in Float).
    @inlinable public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Standard normal by Box-Muller (one value per call; simplicity over speed, used only at init).
    public mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
