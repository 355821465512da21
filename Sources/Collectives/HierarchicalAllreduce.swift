// A two-level allreduce, as Horovod's hierarchical allreduce and NCCL's tree/ring split
// do it: the ranks on one host first sum into the host's lowest rank over shared memory,
// only those leaders (one per host) run the ring across the network, and each leader
// hands the total back to its host. The links then carry one ring of H hosts instead of
// a ring of all p ranks: per host link 2(H-1)/H N instead of 2(p-1)/p N (block placement).
import Topology

/// Binomial reduce to the host leader (the additions in `TreeAllreduce`'s order: the
/// subtrees of r+1, r+2, r+4, ...), the leaders' `RingAllreduce`, then a binomial
/// broadcast on each host. Host membership from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED),
/// made on the first call. Every byte goes through the counted point-to-point calls and
/// is reported as this rank's (`Traffic.hierarchicalTraffic`). The total is the leaders'
/// ring result, broadcast unchanged: the same bits on every rank.
public final class HierarchicalAllreduce: GradientAllreduce {
    public var algorithm: AllreduceAlgorithm { .hierarchical }
    private var groups: (host: Communicator, leaders: Communicator?)?
    private let ring = RingAllreduce()
    private var scratch = StagingBuffer()
    private let transfers = Transfers()
    static let upTag = 441, downTag = 442

    public init() {}
    deinit { scratch.release() }

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws {
        try allreduce(buffer, on: comm) { total, leaders in try ring.allreduce(total, on: leaders) }
    }

    /// The two levels with another exchange between the leaders (`CodecHierarchicalHook`
    /// sends encoded values there): `acrossHosts` gets each leader's host total and the
    /// leaders' communicator, and leaves the sum over hosts in the buffer.
    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator,
                          acrossHosts: (UnsafeMutableBufferPointer<Float>, Communicator) throws -> Void) throws {
        guard comm.size > 1, buffer.count > 0 else { return }
        let (host, leaders) = try groups ?? comm.splitByHost()
        groups = (host, leaders)
        defer {
            comm.absorbCounters(of: host)
            if let leaders { comm.absorbCounters(of: leaders) }
        }
        let tree = BinomialTree(rank: host.rank, size: host.size)
        // Up: children's partial sums, smallest subtree first, then on to the parent.
        let staging = scratch.region(buffer.count)
        for c in 0..<tree.childCount {
            try host.receive(into: staging, from: tree.child(c), tag: Self.upTag)
            accumulate(staging, into: buffer)
        }
        if let parent = tree.parent { try host.send(buffer.readOnly, to: parent, tag: Self.upTag) }
        if let leaders { try acrossHosts(buffer, leaders) }
        // Down: the total from the parent, then to the children, largest subtree first.
        if let parent = tree.parent { try host.receive(into: buffer, from: parent, tag: Self.downTag) }
        for c in stride(from: tree.childCount - 1, through: 0, by: -1) {
            try host.send(buffer.readOnly, to: tree.child(c), tag: Self.downTag)
        }
    }
}
