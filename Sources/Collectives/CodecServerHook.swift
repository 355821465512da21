// The parameter server with encoded values on the wire (fp16, bf16 or int8): FireCaffe's
// baseline, sending half (or a quarter) of its bytes. The server adds what arrives in
// float32; only what travels is encoded.
import Codecs
import Topology

/// Every worker encodes its bucket once and sends it to rank 0, which decodes and adds
/// the workers' values to its own in float32, in rank order (as `ParameterServerAllreduce`),
/// encodes the total once and sends the same bytes to every worker; every rank, the server
/// included, keeps the decoded total: the same bits everywhere. Bytes: `GradientCodec.traffic(.ps, ...)`.
/// Error feedback: a worker's residual keeps what its one encoding lost, the server's what
/// the total's encoding lost, so the residuals hold exactly what the result lacks.
public final class CodecServerHook: BucketHook {
    public let codec: ElementCodec
    public let feedback: ErrorFeedback?
    private var codes: [UInt8] = [], incoming: [UInt8] = []
    private let transfers = Transfers()
    private let timing = CodecTiming()
    public var codecTiming: CodecTiming? { timing }
    static let gatherTag = 431, scatterTag = 432

    public init(codec: ElementCodec, feedbackCount: Int? = nil) {
        self.codec = codec
        feedback = feedbackCount.map { ErrorFeedback(count: $0) }
    }
    public var name: String { "\(codec.name)-ps" + (feedback == nil ? "" : "-ef") }
    public var state: [HookState] { feedback.map { [HookState(name: "residual", values: $0.residual)] } ?? [] }

    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        let values = bucket.values, n = values.count, p = comm.size
        guard p > 1, n > 0 else { return }
        let residual = feedback?.slice(offset: bucket.offset, count: n)
        if let residual { timing.measure(.encode) { ErrorFeedback.addResidual(residual, to: values) } }
        let bytes = codec.encodedBytes(n)
        if codes.count < bytes { codes = Array(repeating: 0, count: bytes); incoming = codes }
        try codes.withUnsafeMutableBytes { mine in
            let message = UnsafeMutableRawBufferPointer(rebasing: mine[0..<bytes])
            let wire = message.bindMemory(to: UInt8.self)
            if comm.rank == 0 {
                try incoming.withUnsafeMutableBytes { other in
                    let arriving = UnsafeMutableRawBufferPointer(rebasing: other[0..<bytes])
                    for worker in 1..<p {
                        transfers.reset()
                        try comm.postReceive(into: arriving.bindMemory(to: UInt8.self), from: worker, tag: Self.gatherTag, in: transfers)
                        try comm.waitAll(transfers)
                        timing.measure(.decode) { codec.decode(UnsafeRawBufferPointer(arriving), into: values, adding: true) }
                    }
                }
                timing.measure(.encode) { codec.encode(UnsafeBufferPointer(values), into: message, residual: residual) }
                for worker in 1..<p {
                    transfers.reset()
                    try comm.postSend(UnsafeBufferPointer(wire), to: worker, tag: Self.scatterTag, in: transfers)
                    try comm.waitAll(transfers)
                }
            } else {
                timing.measure(.encode) { codec.encode(UnsafeBufferPointer(values), into: message, residual: residual) }
                transfers.reset()
                try comm.postSend(UnsafeBufferPointer(wire), to: 0, tag: Self.gatherTag, in: transfers)
                try comm.waitAll(transfers)
                transfers.reset()
                try comm.postReceive(into: wire, from: 0, tag: Self.scatterTag, in: transfers)
                try comm.waitAll(transfers)
            }
            timing.measure(.decode) { codec.decode(UnsafeRawBufferPointer(message), into: values, adding: false) }
        }
    }
}

/// The two-level allreduce with encoded values between the hosts: the ranks of a host sum
/// into their leader over shared memory in float32 (`HierarchicalAllreduce`'s binomial
/// reduce; shared memory is not the scarce resource), the leaders run the encoded ring
/// (`CodecRingHook`) over the network, and each leader hands the decoded total back to its
/// host. Only leaders encode, so only their residuals fill (error feedback). Bytes:
/// `GradientCodec.hierarchicalTraffic`.
public final class CodecHierarchicalHook: BucketHook {
    private let ring: CodecRingHook
    private let twoLevel = HierarchicalAllreduce()
    public init(codec: ElementCodec, feedbackCount: Int? = nil) {
        ring = CodecRingHook(codec: codec, feedbackCount: feedbackCount)
    }
    public var name: String { "\(ring.codec.name)-hierarchical" + (ring.feedback == nil ? "" : "-ef") }
    public var state: [HookState] { ring.state }
    public var codecTiming: CodecTiming? { ring.codecTiming }

    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        try twoLevel.allreduce(bucket.values, on: comm) { total, leaders in
            try ring.reduce(GradientBucket(index: bucket.index, offset: bucket.offset, values: total), with: allreduce, on: leaders)
        }
    }
}
