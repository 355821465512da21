// The codecs a compressed ring or tree sends: each message is a run of float32 values
// encoded into bytes, decoded (and added in float32) where it arrives. One protocol for
// the 16-bit formats and int8, so the ring and the tree are written once for all of them.

/// A lossy encoding of a run of float32 values into exactly `encodedBytes(count)` bytes.
/// Deterministic: the same values give the same bytes on every rank.
public protocol ElementCodec: Sendable {
    /// Its name on the command line and in the metrics (`fp16`, `int8`, ...).
    var name: String { get }
    /// Bytes of one message of `count` values.
    func encodedBytes(_ count: Int) -> Int
    /// Worst relative error of one encoding of a value against the run's largest magnitude
    /// (the bound a check of the sum uses): 2^-11 for fp16, 2^-8 for bf16, 1/254 for int8.
    var unitError: Double { get }
    /// Encodes `values` into `bytes` (4-byte aligned, exactly `encodedBytes(values.count)`).
    /// With `residual`, stores there what the encoding lost: values - decoded, per element.
    func encode(_ values: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer,
                residual: UnsafeMutableBufferPointer<Float>?)
    /// Decodes `bytes` into `values`, or adds the decoded values to them in float32.
    func decode(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>, adding: Bool)
}

extension HalfFormat: ElementCodec {
    public var name: String { rawValue }
    public func encodedBytes(_ count: Int) -> Int { Self.elementBytes * count }
    public var unitError: Double { self == .fp16 ? 0x1p-11 : 0x1p-8 }

    public func encode(_ values: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer,
                       residual: UnsafeMutableBufferPointer<Float>?) {
        precondition(bytes.count == encodedBytes(values.count))
        let codes = bytes.bindMemory(to: UInt16.self)
        encode(values, into: codes)
        if let residual {
            precondition(residual.count == values.count)
            decode(UnsafeBufferPointer(codes), into: residual)
            for i in 0..<values.count { residual[i] = values[i] - residual[i] }
        }
    }

    public func decode(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>, adding: Bool) {
        precondition(bytes.count == encodedBytes(values.count))
        let codes = UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt16.self), count: values.count)
        if adding { decodeAdding(codes, into: values) } else { decode(codes, into: values) }
    }
}

extension Int8Quantizer: ElementCodec {
    public var name: String { "int8" }
    public var unitError: Double { 1.0 / 254 }

    /// Layout: the chunks' float32 scales first (so they stay 4-byte aligned), then one
    /// signed byte per value.
    public func encode(_ values: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer,
                       residual: UnsafeMutableBufferPointer<Float>?) {
        precondition(bytes.count == encodedBytes(values.count))
        let c = chunks(values.count)
        let scales = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<(4 * c)]).bindMemory(to: Float.self)
        let codes = UnsafeMutableRawBufferPointer(rebasing: bytes[(4 * c)...]).bindMemory(to: Int8.self)
        encode(values, codes: codes, scales: scales, residual: residual)
    }

    public func decode(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>, adding: Bool) {
        precondition(bytes.count == encodedBytes(values.count))
        let c = chunks(values.count)
        let scales = UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: Float.self), count: c)
        let codes = UnsafeBufferPointer(start: bytes.baseAddress.map { ($0 + 4 * c).assumingMemoryBound(to: Int8.self) },
                                        count: values.count)
        decode(codes: codes, scales: scales, into: values, adding: adding)
    }
}
