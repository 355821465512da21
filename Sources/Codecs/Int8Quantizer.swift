// 8-bit gradients with one float32 scale per chunk: q = round(x / s) in [-127, 127],
// s = max |x| / 127 over the chunk, decoded as q s. Rounding is to nearest (ties away
// from zero, Swift's .toNearestOrAwayFromZero), not stochastic: deterministic, so every
// rank that quantises the same values sends the same bytes, and the bias nearest rounding
// would add is taken back by error feedback (the residual x - q s goes into the next step).

import Topology

/// Per-chunk int8 quantisation.
public struct Int8Quantizer: Sendable {
    /// Elements sharing one scale.
    public let chunkElements: Int

    public init(chunkElements: Int = GradientCodec.int8ChunkElements) {
        precondition(chunkElements > 0)
        self.chunkElements = chunkElements
    }

    /// Chunks (so scales) for `count` elements.
    public func chunks(_ count: Int) -> Int { (count + chunkElements - 1) / chunkElements }

    /// Bytes on the wire for `count` elements: one byte each and a float32 scale per chunk.
    public func encodedBytes(_ count: Int) -> Int { count + 4 * chunks(count) }

    /// Quantises `values` into `codes` and `scales` (one per chunk). With `residual`
    /// (error feedback), stores `values - decoded` there.
    public func encode(_ values: UnsafeBufferPointer<Float>, codes: UnsafeMutableBufferPointer<Int8>,
                       scales: UnsafeMutableBufferPointer<Float>, residual: UnsafeMutableBufferPointer<Float>? = nil) {
        precondition(codes.count == values.count && scales.count == chunks(values.count))
        precondition(residual.map { $0.count == values.count } ?? true)
        for c in 0..<scales.count {
            let range = (c * chunkElements)..<min((c + 1) * chunkElements, values.count)
            var largest: Float = 0
            for i in range where values[i].isFinite { largest = max(largest, abs(values[i])) }
            let scale = largest / 127
            scales[c] = scale
            let inverse = scale > 0 ? 1 / scale : 0
            for i in range {
                let q = (values[i] * inverse).rounded(.toNearestOrAwayFromZero)
                let code = Int8(max(-127, min(127, q.isFinite ? q : 0)))
                codes[i] = code
                residual?[i] = values[i] - Float(code) * scale
            }
        }
    }

    /// Decodes `codes` with their chunk scales, adding to `destination` when `adding`.
    public func decode(codes: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>,
                       into destination: UnsafeMutableBufferPointer<Float>, adding: Bool = false) {
        precondition(codes.count == destination.count && scales.count == chunks(codes.count))
        for c in 0..<scales.count {
            let scale = scales[c]
            for i in (c * chunkElements)..<min((c + 1) * chunkElements, codes.count) {
                let v = Float(codes[i]) * scale
                destination[i] = adding ? destination[i] + v : v
            }
        }
    }
}
