// The ring allreduce with 16-bit values on the wire (fp16 or bf16): Horovod's
// Compression.fp16 and DDP's fp16_compress_hook send the gradient as half and let the
// library sum in half; here every hop decodes what arrives and adds it in float32, and
// only what leaves is rounded, so the sum loses no more than one rounding per hop.
import Codecs
import Topology

/// Reduce-scatter and allgather around the ring 0 -> 1 -> ... -> p-1 -> 0 (the chunks and
/// order of `RingAllreduce`), each chunk sent as 16-bit values: 2 bytes an element, half
/// the float ring's bytes exactly. Step s of the reduce-scatter sends chunk (r - s) mod p,
/// encoded from its float32 partial sum, and adds the decoded chunk (r - s - 1) mod p from
/// the left. The owner of each finished chunk rounds it once and every rank, the owner
/// included, keeps the decoded bits: the result is bit-identical on every rank.
/// One message per chunk and step (no segments): a reference for the bytes and bits,
/// not yet tuned for time.
public final class HalfRingHook: BucketHook {
    public let format: HalfFormat
    private var outgoing: [UInt16] = [], incoming: [UInt16] = [], gathered: [UInt16] = []
    private let transfers = Transfers()
    static let reduceScatterTag = 411, allgatherTag = 412

    public init(format: HalfFormat) { self.format = format }
    public var name: String { "\(format.rawValue)-ring" }

    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        let values = bucket.values, n = values.count, p = comm.size, r = comm.rank
        guard p > 1, n > 0 else { return }
        let chunks = RingPartition(count: n, parts: p), largest = chunks.length(0)
        if outgoing.count < largest { outgoing = Array(repeating: 0, count: largest); incoming = outgoing }
        if gathered.count < n { gathered = Array(repeating: 0, count: n) }
        let left = (r + p - 1) % p, right = (r + 1) % p
        func chunk(_ i: Int) -> UnsafeMutableBufferPointer<Float> {
            let k = chunks.wrap(i)
            return UnsafeMutableBufferPointer(rebasing: values[chunks.offset(k)..<(chunks.offset(k) + chunks.length(k))])
        }
        try outgoing.withUnsafeMutableBufferPointer { out in
            try incoming.withUnsafeMutableBufferPointer { inc in
                for s in 0..<(p - 1) {
                    let send = chunk(r - s), add = chunk(r - s - 1)
                    let o = UnsafeMutableBufferPointer(rebasing: out[0..<send.count])
                    let i = UnsafeMutableBufferPointer(rebasing: inc[0..<add.count])
                    format.encode(UnsafeBufferPointer(send), into: o)
                    transfers.reset()
                    try comm.postReceive(into: i, from: left, tag: Self.reduceScatterTag, in: transfers)
                    try comm.postSend(UnsafeBufferPointer(o), to: right, tag: Self.reduceScatterTag, in: transfers)
                    try comm.waitAll(transfers)
                    format.decodeAdding(UnsafeBufferPointer(i), into: add)
                }
            }
        }
        // Chunk r + 1 is complete here: round it once, in the gathered codes, in place.
        try gathered.withUnsafeMutableBufferPointer { codes in
            func codesOf(_ i: Int) -> UnsafeMutableBufferPointer<UInt16> {
                let k = chunks.wrap(i)
                return UnsafeMutableBufferPointer(rebasing: codes[chunks.offset(k)..<(chunks.offset(k) + chunks.length(k))])
            }
            format.encode(UnsafeBufferPointer(chunk(r + 1)), into: codesOf(r + 1))
            for s in 0..<(p - 1) {
                transfers.reset()
                try comm.postReceive(into: codesOf(r - s), from: left, tag: Self.allgatherTag, in: transfers)
                try comm.postSend(UnsafeBufferPointer(codesOf(r + 1 - s)), to: right, tag: Self.allgatherTag, in: transfers)
                try comm.waitAll(transfers)
            }
            format.decode(UnsafeBufferPointer(rebasing: codes[0..<n]), into: values)  // every chunk, the owner's own included
        }
    }
}
