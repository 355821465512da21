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

    /// The algorithm the `mpi` model stands in for at `gradientBytes` over `p` ranks.
    public static func mpiModelledAlgorithm(gradientBytes: Int, worldSize p: Int = 8) -> String {
        OpenMPITuned.algorithm(ranks: max(p, 2), bytes: gradientBytes).rawValue
    }

    /// Critical-path seconds of one allreduce of `n` bytes over `p` workers, exchanged
    /// whole after backward (`AllreduceTime`, the tree pipelined as across hosts).
    public static func criticalPathSeconds(_ algorithm: AllreduceAlgorithm, worldSize p: Int,
                                           gradientBytes n: Int, network: NetworkPreset) -> Double {
        precondition(p >= 1, "worldSize must be positive")
        return AllreduceTime.seconds(algorithm, workers: p, bytes: n, alpha: network.alpha, beta: network.beta,
                                     pipelinedTree: true)
    }
}
