// One protocol, one file per algorithm (Horovod common/ops): the trainer holds a
// `GradientAllreduce` chosen by `AllreduceAlgorithm` and never knows which it is.
// Byte formulas and determinism guarantees are in docs/collectives.md.
import CReduction
import Topology

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

extension AllreduceAlgorithm {
    /// A new instance; it keeps its staging buffers between calls, so make one and reuse it.
    /// `overlappingBackward`: the caller already pipelines the exchange in gradient buckets
    /// while backward runs, so inside a bucket the tree moves it whole, with the fewest
    /// hand-offs between the ranks' threads, which compete with backward for the cores.
    public func make(overlappingBackward: Bool = false) -> GradientAllreduce {
        switch self {
        case .tree: return TreeAllreduce(schedule: overlappingBackward ? .unsegmented : nil)
        case .ring: return RingAllreduce()
        case .mpi: return NativeAllreduce()
        case .ps: return ParameterServerAllreduce()
        case .hierarchical: return HierarchicalAllreduce()
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
