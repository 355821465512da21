// The ring allreduce with encoded values on the wire (fp16, bf16 or int8): Horovod's
// Compression.fp16 and DDP's fp16_compress_hook send the gradient as half and let the
// library sum in half; here every hop decodes what arrives and adds it in float32, and
// only what leaves is encoded, so the sum loses no more than one encoding per hop.
// With error feedback (int8) what each encoding lost stays in the sender's residual and
// is added to its next gradient, so every part of the sum arrives eventually.
import Codecs
import Topology

/// Reduce-scatter and allgather around the ring 0 -> 1 -> ... -> p-1 -> 0 (the chunks and
/// order of `RingAllreduce`), each chunk one encoded message. Step s of the reduce-scatter
/// sends chunk (r - s) mod p, encoded from its float32 partial sum, and adds the decoded
/// chunk (r - s - 1) mod p from the left. The owner of each finished chunk encodes it once
/// and every rank, the owner included, keeps the decoded values: the result is
/// bit-identical on every rank. Bytes: `GradientCodec.traffic(.ring, ...)`.
///
/// Error feedback: each element of a rank's residual is written exactly once per call,
/// by the one encoding of that element this rank makes (its send in the reduce-scatter,
/// or the owner's final encoding), so sum over ranks of (residual) is exactly what the
/// result lacks of the sum of the inputs (to float32 rounding of the additions).
/// One message per chunk and step (no segments): a reference for the bytes and bits.
public final class CodecRingHook: BucketHook {
    public let codec: ElementCodec
    public let feedback: ErrorFeedback?
    private var outgoing: [UInt8] = [], incoming: [UInt8] = [], gathered: [UInt8] = []
    private let transfers = Transfers()
    private let timing = CodecTiming()
    public var codecTiming: CodecTiming? { timing }
    static let reduceScatterTag = 411, allgatherTag = 412

    /// `feedbackCount`: the gradient buffer's length, for a residual per element (nil: none).
    public init(codec: ElementCodec, feedbackCount: Int? = nil) {
        self.codec = codec
        feedback = feedbackCount.map { ErrorFeedback(count: $0) }
    }
    public var name: String { "\(codec.name)-ring" + (feedback == nil ? "" : "-ef") }
    public var state: [HookState] { feedback.map { [HookState(name: "residual", values: $0.residual)] } ?? [] }

    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        let values = bucket.values, n = values.count, p = comm.size, r = comm.rank
        guard p > 1, n > 0 else { return }
        let residual = feedback?.slice(offset: bucket.offset, count: n)
        if let residual { timing.measure(.encode) { ErrorFeedback.addResidual(residual, to: values) } }
        let chunks = RingPartition(count: n, parts: p)
        // Each chunk's encoded bytes start 4-aligned in `gathered`.
        var start = [Int](repeating: 0, count: p + 1)
        for k in 0..<p { start[k + 1] = start[k] + (codec.encodedBytes(chunks.length(k)) + 3) & ~3 }
        let largest = codec.encodedBytes(chunks.length(0))
        if outgoing.count < largest { outgoing = Array(repeating: 0, count: largest); incoming = outgoing }
        if gathered.count < start[p] { gathered = Array(repeating: 0, count: start[p]) }
        let left = (r + p - 1) % p, right = (r + 1) % p
        func range(_ i: Int) -> Range<Int> {
            let k = chunks.wrap(i)
            return chunks.offset(k)..<(chunks.offset(k) + chunks.length(k))
        }
        func chunk(_ i: Int) -> UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(rebasing: values[range(i)]) }
        func lost(_ i: Int) -> UnsafeMutableBufferPointer<Float>? { residual.map { UnsafeMutableBufferPointer(rebasing: $0[range(i)]) } }
        try outgoing.withUnsafeMutableBytes { out in
            try incoming.withUnsafeMutableBytes { inc in
                for s in 0..<(p - 1) {
                    let send = chunk(r - s), add = chunk(r - s - 1)
                    let o = UnsafeMutableRawBufferPointer(rebasing: out[0..<codec.encodedBytes(send.count)])
                    let i = UnsafeMutableRawBufferPointer(rebasing: inc[0..<codec.encodedBytes(add.count)])
                    timing.measure(.encode) { codec.encode(UnsafeBufferPointer(send), into: o, residual: lost(r - s)) }
                    transfers.reset()
                    try comm.postReceive(into: i.bindMemory(to: UInt8.self), from: left, tag: Self.reduceScatterTag, in: transfers)
                    try comm.postSend(UnsafeBufferPointer(o.bindMemory(to: UInt8.self)), to: right, tag: Self.reduceScatterTag, in: transfers)
                    try comm.waitAll(transfers)
                    timing.measure(.decode) { codec.decode(UnsafeRawBufferPointer(i), into: add, adding: true) }
                }
            }
        }
        // Chunk r + 1 is complete here: the owner encodes it once, into the gathered bytes.
        try gathered.withUnsafeMutableBytes { all in
            func bytes(_ i: Int) -> UnsafeMutableRawBufferPointer {
                let k = chunks.wrap(i)
                return UnsafeMutableRawBufferPointer(rebasing: all[start[k]..<(start[k] + codec.encodedBytes(chunks.length(k)))])
            }
            timing.measure(.encode) { codec.encode(UnsafeBufferPointer(chunk(r + 1)), into: bytes(r + 1), residual: lost(r + 1)) }
            for s in 0..<(p - 1) {
                transfers.reset()
                try comm.postReceive(into: bytes(r - s).bindMemory(to: UInt8.self), from: left, tag: Self.allgatherTag, in: transfers)
                try comm.postSend(UnsafeBufferPointer(bytes(r + 1 - s).bindMemory(to: UInt8.self)), to: right,
                                  tag: Self.allgatherTag, in: transfers)
                try comm.waitAll(transfers)
            }
            timing.measure(.decode) {  // every chunk, the owner's own included
                for k in 0..<p { codec.decode(UnsafeRawBufferPointer(bytes(k)), into: chunk(k), adding: false) }
            }
        }
    }
}
