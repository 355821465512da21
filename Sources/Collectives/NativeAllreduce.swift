// The library's own MPI_Allreduce, the baseline every hand-written algorithm is
// tested and benchmarked against. Open MPI 4.1 (coll/tuned) picks recursive
// doubling, a segmented ring or Rabenseifner's algorithm by message size and
// rank count; which one ran is not observable here, so its bytes are not counted.
import Topology


/// MPI_Allreduce(MPI_IN_PLACE, ..., MPI_SUM) over MPI_COMM_WORLD.
///
/// Determinism: the summation order is the library's. The result is exact
/// whenever the float sums are exact; otherwise it may differ from the tree's
/// or ring's in the last bits, and MPI does not promise identical bits on every
/// rank (Open MPI's algorithms give them in practice: allreduce-check reports it).
public final class NativeAllreduce: GradientAllreduce {
    public var algorithm: AllreduceAlgorithm { .mpi }

    public init() {}

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws {
        guard comm.size > 1, buffer.count > 0 else { return }
        try comm.nativeAllreduceSum(buffer)
    }
}
