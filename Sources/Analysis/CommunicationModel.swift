// Alpha-beta time of one gradient allreduce, and the traffic of every rank summed
// over the job. The bytes themselves come from Topology's formulas (the ones the
// counters are checked against); this file adds only time and totals.
// Tree: FireCaffe (Iandola et al., CVPR 2016); ring: Patarasuk & Yuan (JPDC 2009);
// MPI: Thakur, Rabenseifner & Gropp (IJHPCA 2005) and Open MPI's coll/tuned decision.
import Foundation
import Topology

/// Closed-form per-rank communication cost of the allreduce algorithms.
/// N = gradient bytes, p = workers; all algorithms cost nothing at p = 1.
public enum CommunicationModel {
    /// Traffic of one allreduce summed and summarised over all ranks.
    public struct Traffic: Equatable, Sendable {
        public var perRank: [RankTraffic]
        public var totalBytesSent: Int { perRank.reduce(0) { $0 + $1.bytesSent } }
        public var totalMessagesSent: Int { perRank.reduce(0) { $0 + $1.messagesSent } }
        public var meanBytesSentPerRank: Double { Double(totalBytesSent) / Double(perRank.count) }
        public var maxBytesSentPerRank: Int { perRank.map(\.bytesSent).max() ?? 0 }
        public var maxBytesReceivedPerRank: Int { perRank.map(\.bytesReceived).max() ?? 0 }
        public var maxMessagesSentPerRank: Int { perRank.map(\.messagesSent).max() ?? 0 }
    }

    /// Exact traffic of every rank (modelled for `mpi`).
    public static func traffic(_ algorithm: AllreduceAlgorithm, worldSize p: Int,
                               count: Int, elementSize: Int = 4) -> Traffic {
        Traffic(perRank: (0..<p).map { algorithm.traffic(rank: $0, ranks: p, count: count, elementSize: elementSize) })
    }

    /// The algorithm the `mpi` model stands in for at `gradientBytes`.
    public static func mpiModelledAlgorithm(gradientBytes: Int) -> String {
        gradientBytes < AllreduceAlgorithm.mpiRecursiveDoublingThresholdBytes ? "recursive-doubling" : "ring"
    }

    /// Critical-path seconds of one allreduce of `n` bytes over `p` workers:
    /// - tree: 2 ceil(log2 p)(alpha + N beta)
    /// - ring: 2(p-1) alpha + 2((p-1)/p) N beta
    /// - ps:   2(p-1)(alpha + N beta), serialised at the server
    /// - mpi:  ring above 10 KB; below, recursive doubling over p' = 2^floor(log2 p):
    ///         (log2 p' + (p > p' ? 2 : 0))(alpha + N beta)
    public static func criticalPathSeconds(_ algorithm: AllreduceAlgorithm, worldSize p: Int,
                                           gradientBytes n: Int, network: NetworkPreset) -> Double {
        precondition(p >= 1, "worldSize must be positive")
        let a = network.alpha, b = network.beta, bytes = Double(n)
        switch algorithm {
        case .tree:
            return 2 * Double(BinomialTree.depth(size: p)) * (a + bytes * b)
        case .ring:
            return 2 * Double(p - 1) * a + 2 * Double(p - 1) / Double(p) * bytes * b
        case .ps:
            return 2 * Double(p - 1) * (a + bytes * b)
        case .mpi:
            if n >= AllreduceAlgorithm.mpiRecursiveDoublingThresholdBytes {
                return criticalPathSeconds(.ring, worldSize: p, gradientBytes: n, network: network)
            }
            let lower = AllreduceAlgorithm.floorLog2(p), extra = p > (1 << lower) ? 2 : 0
            return Double(lower + extra) * (a + bytes * b)
        }
    }
}
