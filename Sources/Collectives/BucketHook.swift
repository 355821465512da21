// The seam between backward and the optimizer, one gradient bucket at a time:
// PyTorch DDP's `register_comm_hook` and Horovod's `Compression` sit here. A hook
// may encode what is sent and decode what arrives (transfers are generic over the
// element type, and bytes are counted from its real size); the default sends the
// Float32 values through the chosen allreduce unchanged.
import Topology


/// One contiguous piece of the flat gradient buffer, exchanged as a unit. Bucket
/// boundaries depend only on the model and the bucket size, so every rank sees the
/// same buckets in the same order.
public struct GradientBucket {
    /// Position in exchange order (0 first).
    public let index: Int
    /// First element of the bucket in the flat gradient buffer.
    public let offset: Int
    /// The bucket's gradients: this rank's on entry, the sum over ranks on return.
    public let values: UnsafeMutableBufferPointer<Float>

    public init(index: Int, offset: Int, values: UnsafeMutableBufferPointer<Float>) {
        self.index = index
        self.offset = offset
        self.values = values
    }
}

/// What happens to a bucket between backward and the optimizer.
///
/// Contract: on return `bucket.values` holds, on every rank, the same sum over all
/// ranks' values (or the codec's approximation of it: not the mean, the caller
/// divides); every rank calls the hook for the same buckets in the same order, from
/// one thread at a time. A hook that keeps state (error feedback) keys it by bucket.
public protocol BucketHook: AnyObject {
    /// Its name (`identity` for the default): ranks compare it at startup.
    var name: String { get }
    func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws
    /// What the hook carries from step to step (error-feedback residuals, PowerSGD's Q):
    /// checkpoints store it and a resume restores it, so a resumed run stays exact.
    var state: [HookState] { get }
    /// Called before each iteration's first bucket, with the iteration and its epoch
    /// (DGC's warm-up of the top-k fraction is per epoch).
    func beginIteration(_ iteration: Int, epoch: Int)
    /// A codec's arithmetic, timed apart from its waiting (nil: the hook does none);
    /// the exchange resets it before each iteration and reports it after.
    var codecTiming: CodecTiming? { get }
}

extension BucketHook {
    public var state: [HookState] { [] }
    public func beginIteration(_ iteration: Int, epoch: Int) {}
    public var codecTiming: CodecTiming? { nil }
}

/// One named float buffer of a hook's state, in a fixed layout (the same on every rank).
public struct HookState {
    public let name: String
    public let values: UnsafeMutableBufferPointer<Float>
    public init(name: String, values: UnsafeMutableBufferPointer<Float>) {
        self.name = name
        self.values = values
    }
}

/// The default hook: the Float32 values through the allreduce, unchanged.
public final class IdentityHook: BucketHook {
    public init() {}
    public var name: String { "identity" }
    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        try allreduce.allreduce(bucket.values, on: comm)
    }
}

/// A reference hook that exercises the seam: each rank's values rounded to IEEE half,
/// sent to every other rank (2 bytes an element: (p - 1) x 2 x count each way), and
/// every rank adds the p decoded buffers in rank order in Float32, so every rank holds
/// the same bits. It ignores the allreduce (an allgather, not a reduction). Selected
/// only by tests (`SQUEEZENET_TEST_HOOK=fp16-gather`).
public final class HalfGatherHook: BucketHook {
    private var outgoing: [Float16] = [], incoming: [Float16] = []
    private let transfers = Transfers()
    static let tag = 401

    public init() {}
    public var name: String { "fp16-gather" }

    public func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        let n = bucket.values.count, p = comm.size
        guard p > 1, n > 0 else { return }
        if outgoing.count < n { outgoing = Array(repeating: 0, count: n) }
        if incoming.count < n * p { incoming = Array(repeating: 0, count: n * p) }
        for i in 0..<n { outgoing[i] = Float16(bucket.values[i]) }
        try outgoing.withUnsafeBufferPointer { mine in
            try incoming.withUnsafeMutableBufferPointer { all in
                let own = UnsafeBufferPointer(rebasing: mine[0..<n])
                for peer in 0..<p where peer != comm.rank {
                    try comm.postReceive(into: UnsafeMutableBufferPointer(rebasing: all[(peer * n)..<(peer * n + n)]),
                                         from: peer, tag: Self.tag, in: transfers)
                }
                for peer in 0..<p where peer != comm.rank {
                    try comm.postSend(own, to: peer, tag: Self.tag, in: transfers)
                }
                try comm.waitAll(transfers)
                for i in 0..<n { all[comm.rank * n + i] = mine[i] }
                for i in 0..<n {
                    var sum: Float = 0
                    for r in 0..<p { sum += Float(all[r * n + i]) }
                    bucket.values[i] = sum
                }
            }
        }
    }
}
