// FNV-1a, 64-bit (Fowler, Noll, Vo): the project's one hash, for option
// fingerprints, file checksums and signatures of a forward pass. Not
// cryptographic: it detects accidents (a corrupt file, ranks that disagree).

/// An incremental FNV-1a hash: feed bytes or whole values, read `value`.
public struct FNV1a {
    public static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    public static let prime: UInt64 = 0x0000_0100_0000_01B3

    public var value: UInt64

    @inlinable public init(seed: UInt64 = FNV1a.offsetBasis) { value = seed }

    /// One FNV-1a step on a whole value (not byte by byte): for long streams of
    /// small values, such as a ReLU's on/off pattern or a pool's winners.
    @inlinable @inline(__always)
    public mutating func combine(_ v: UInt64) { value = (value ^ v) &* FNV1a.prime }

    /// FNV-1a over bytes, one step per byte (the standard definition).
    @inlinable public mutating func combine<S: Sequence>(bytes: S) where S.Element == UInt8 {
        for b in bytes { combine(UInt64(b)) }
    }
}

extension FNV1a {
    /// One step per 64-bit little-endian word of `buffer`, then one per trailing byte:
    /// eight times fewer steps than `combine(bytes:)`, for tens of MB (a data set's
    /// content at startup). Not the standard byte-wise value.
    @inlinable public mutating func combine(words buffer: UnsafeRawBufferPointer) {
        let words = buffer.count / 8
        for i in 0..<words { combine(UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
        for i in 8 * words ..< buffer.count { combine(UInt64(buffer[i])) }
    }
}

/// FNV-1a of a byte sequence.
@inlinable public func fnv1a<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
    var h = FNV1a()
    h.combine(bytes: bytes)
    return h.value
}
