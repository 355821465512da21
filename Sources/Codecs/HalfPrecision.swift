// 16-bit floating-point wire formats for gradients: IEEE half (Horovod's
// Compression.fp16, DDP's fp16_compress_hook) and bfloat16 (float32's exponent, 7
// mantissa bits: no overflow where half would overflow). Both round to nearest, ties
// to even, so encoding is deterministic: every rank that encodes the same floats sends
// the same bits. Sums are never formed in 16 bits: the receiver decodes, adds in float32
// and re-encodes what it passes on.

import CHalf

/// A 16-bit format: encode float32 to 16 bits, decode back.
public enum HalfFormat: String, CaseIterable, Sendable {
    /// IEEE 754 binary16: 5 exponent bits, 10 mantissa bits, largest finite 65504.
    case fp16
    /// bfloat16: float32's upper 16 bits, rounded.
    case bf16

    /// Encodes `source` into `destination` (same count).
    public func encode(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(source.count == destination.count)
        switch self {
        case .fp16:
            guard let s = source.baseAddress, let d = destination.baseAddress else { return }
            chalf_encode(s, d, source.count)
        case .bf16:
            for i in 0..<source.count { destination[i] = BFloat16(source[i]).bitPattern }
        }
    }

    /// Decodes `source` into `destination` (same count).
    public func decode(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count == destination.count)
        switch self {
        case .fp16:
            guard let s = source.baseAddress, let d = destination.baseAddress else { return }
            chalf_decode(s, d, source.count, 0)
        case .bf16:
            for i in 0..<source.count { destination[i] = Float(bitPattern: UInt32(source[i]) << 16) }
        }
    }

    /// Decodes `source` and adds it to `destination` in float32: the reduction step of a
    /// compressed ring or tree.
    public func decodeAdding(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count == destination.count)
        switch self {
        case .fp16:
            guard let s = source.baseAddress, let d = destination.baseAddress else { return }
            chalf_decode(s, d, source.count, 1)
        case .bf16:
            for i in 0..<source.count { destination[i] += Float(bitPattern: UInt32(source[i]) << 16) }
        }
    }

    /// Bytes of one encoded element.
    public static let elementBytes = 2
}

/// bfloat16: the upper 16 bits of an IEEE single (8 exponent bits, 7 mantissa bits),
/// as Google Brain's TPUs and Horovod's compressors use it. Swift has no such type.
public struct BFloat16: Equatable, Sendable {
    public var bitPattern: UInt16

    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// Rounds to nearest, ties to even; NaN stays NaN (quiet).
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        } else {
            let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
            bitPattern = UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
        }
    }

    public var float: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
}
