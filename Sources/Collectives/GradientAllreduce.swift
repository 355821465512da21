// One protocol, one file per algorithm (Horovod common/ops): the trainer holds a
// `GradientAllreduce` chosen by `AllreduceAlgorithm` and never knows which it is.
// Byte formulas and determinism guarantees are in docs/collectives.md.
import CReduction

/// Sums a Float buffer in place across all ranks of a communicator.
///
/// Contract for every implementation: on return every rank's `buffer` holds the
/// element-wise sum of all ranks' inputs (not the mean: the caller divides by
/// `comm.size`); every rank passes a buffer of the same length and calls in the
/// same order; size 1 and empty buffers are no-ops that send nothing.
public protocol GradientAllreduce: AnyObject {
    /// Which algorithm this is.
    var algorithm: AllreduceAlgorithm { get }
    func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws
}

/// The gradient allreduce algorithms, by their command-line names.
public enum AllreduceAlgorithm: String, CaseIterable, Sendable {
    /// FireCaffe reduction tree: binomial reduce to rank 0, binomial broadcast back.
    case tree
    /// Reduce-scatter then allgather around a ring (Patarasuk & Yuan; Baidu).
    case ring
    /// Native MPI_Allreduce, in place.
    case mpi
    /// Parameter server: everything to rank 0 and back.
    case ps

    /// A new instance; it keeps its staging buffers between calls, so make one and reuse it.
    public func make() -> GradientAllreduce {
        switch self {
        case .tree: return TreeAllreduce()
        case .ring: return RingAllreduce()
        case .mpi: return NativeAllreduce()
        case .ps: return ParameterServerAllreduce()
        }
    }

    /// Whether `TrafficCounters` see this algorithm's bytes. False for `mpi`:
    /// MPI_Allreduce moves data inside the library, invisible to the counters.
    public var bytesAreCounted: Bool { self != .mpi }

    /// Whether the result is bit-identical on every rank by construction (one
    /// rank's reduced values are copied to the others). `mpi` depends on the
    /// library's algorithm: Open MPI's are in practice, but MPI does not promise it.
    public var resultIsIdenticalByConstruction: Bool { self != .mpi }

    /// Exact bytes rank `rank` of `ranks` sends and receives for one call on
    /// `count` floats, as the counters must report them; nil for `mpi`.
    public func expectedBytes(rank: Int, ranks: Int, count: Int) -> (sent: Int, received: Int)? {
        guard ranks > 1, count > 0 else { return self == .mpi ? nil : (0, 0) }
        let n = count * MemoryLayout<Float>.stride
        switch self {
        case .tree:
            let links = BinomialTree(rank: rank, size: ranks).links * n
            return (links, links)
        case .ring:
            let chunks = RingPartition(count: count, parts: ranks)
            let (sent, received) = chunks.elementsMoved(by: rank)
            return (sent * MemoryLayout<Float>.stride, received * MemoryLayout<Float>.stride)
        case .ps:
            return rank == 0 ? ((ranks - 1) * n, (ranks - 1) * n) : (n, n)
        case .mpi:
            return nil
        }
    }
}

/// Receive scratch owned by an algorithm object: allocated on first use and
/// grown only when a larger buffer arrives, so steady-state calls never allocate.
struct StagingBuffer {
    private var storage: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0)

    /// A scratch region of exactly `count` floats (contents unspecified).
    mutating func region(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        if storage.count < count {
            storage.deallocate()
            storage = .allocate(capacity: count)
        }
        return UnsafeMutableBufferPointer(rebasing: storage[0..<count])
    }

    func release() { storage.deallocate() }
}

/// `into[i] += from[i]` for every i: the one reduction step all algorithms use,
/// so every algorithm adds in the same IEEE single precision.
@inline(__always)
func accumulate(_ from: UnsafeMutableBufferPointer<Float>, into: UnsafeMutableBufferPointer<Float>) {
    precondition(from.count == into.count)
    guard let src = from.baseAddress, let dst = into.baseAddress else { return }
    creduction_add_float(dst, src, from.count)
}

extension UnsafeMutableBufferPointer {
    /// The same memory, read-only, for the send wrappers.
    var readOnly: UnsafeBufferPointer<Element> { UnsafeBufferPointer(self) }
}
