// Bytes, messages and alpha-beta time of one gradient allreduce (DESIGN.md s.3).
// Tree: FireCaffe (Iandola et al., CVPR 2016); ring: Patarasuk & Yuan (JPDC 2009);
// MPI: Thakur, Rabenseifner & Gropp, "Optimization of collective communication
// operations in MPICH" (IJHPCA 2005) and Open MPI's coll/tuned fixed decision.
import Foundation

/// Closed-form and exact per-rank communication costs of the allreduce
/// algorithms. N = gradient bytes, p = workers; all algorithms cost nothing at p = 1.
public enum CommunicationModel {
    /// The algorithms the model knows; raw values match the CLI's `--allreduce`.
    public enum Algorithm: String, CaseIterable, Codable, Sendable {
        /// Binomial reduce to rank 0, then binomial broadcast (FireCaffe).
        case tree
        /// Reduce-scatter + allgather around a ring.
        case ring
        /// Parameter server: all send to rank 0, rank 0 sends the sum back.
        case ps
        /// Native MPI_Allreduce: traffic not observable, modelled (see `mpiAssumption`).
        case mpi
    }

    /// What one rank sends and receives in one allreduce.
    public struct RankTraffic: Equatable, Sendable {
        public var bytesSent: Int
        public var bytesReceived: Int
        public var messagesSent: Int
        public var messagesReceived: Int
        public init(bytesSent: Int, bytesReceived: Int, messagesSent: Int, messagesReceived: Int) {
            self.bytesSent = bytesSent
            self.bytesReceived = bytesReceived
            self.messagesSent = messagesSent
            self.messagesReceived = messagesReceived
        }
        static let zero = RankTraffic(bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0)
    }

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

    /// Messages of at most this many bytes go to recursive doubling in the
    /// `mpi` model; larger ones to the ring (Open MPI's tuned "intermediate
    /// message" threshold of 10,000 bytes).
    public static let mpiRecursiveDoublingThresholdBytes = 10_000

    /// How the native MPI_Allreduce is modelled; put this next to any `mpi` figure.
    public static let mpiAssumption =
        "modelled, not measured: assumed Open MPI's choice, recursive doubling below 10 KB and the ring above"

    /// The algorithm the `mpi` model stands in for at `gradientBytes`.
    public static func mpiModelledAlgorithm(gradientBytes: Int) -> String {
        gradientBytes < mpiRecursiveDoublingThresholdBytes ? "recursive-doubling" : "ring"
    }

    // MARK: Closed forms (DESIGN.md table)

    /// Bytes sent by all ranks together per allreduce: 2(p-1)N for tree, ring, ps
    /// (and for the `mpi` model, whose recursive doubling sends log2(p) N per rank).
    public static func totalBytesSent(_ algorithm: Algorithm, worldSize p: Int, gradientBytes n: Int) -> Double {
        if algorithm == .mpi && n < mpiRecursiveDoublingThresholdBytes {
            let perRank = (0..<p).map { recursiveDoublingTraffic(rank: $0, worldSize: p, bytes: n).bytesSent }
            return Double(p == 1 ? 0 : perRank.reduce(0, +))
        }
        return 2 * Double(p - 1) * Double(n)
    }

    /// What each rank must send (and receive) in any allreduce: 2((p-1)/p)N.
    public static func lowerBoundBytesPerRank(worldSize p: Int, gradientBytes n: Int) -> Double {
        2 * Double(p - 1) / Double(p) * Double(n)
    }

    /// Critical-path seconds of one allreduce of `n` bytes over `p` workers:
    /// - tree: 2 ceil(log2 p)(alpha + N beta)
    /// - ring: 2(p-1) alpha + 2((p-1)/p) N beta
    /// - ps:   2(p-1)(alpha + N beta), serialised at the server
    /// - mpi:  ring above 10 KB; below, recursive doubling over p' = 2^floor(log2 p):
    ///         (log2 p' + (p > p' ? 2 : 0))(alpha + N beta)
    public static func criticalPathSeconds(_ algorithm: Algorithm, worldSize p: Int,
                                           gradientBytes n: Int, network: NetworkPreset) -> Double {
        precondition(p >= 1, "worldSize must be positive")
        let a = network.alpha, b = network.beta, bytes = Double(n)
        switch algorithm {
        case .tree:
            return 2 * Double(BinomialTree.depth(worldSize: p)) * (a + bytes * b)
        case .ring:
            return 2 * Double(p - 1) * a + 2 * Double(p - 1) / Double(p) * bytes * b
        case .ps:
            return 2 * Double(p - 1) * (a + bytes * b)
        case .mpi:
            if n >= mpiRecursiveDoublingThresholdBytes {
                return criticalPathSeconds(.ring, worldSize: p, gradientBytes: n, network: network)
            }
            let lower = floorLog2(p), extra = p > (1 << lower) ? 2 : 0
            return Double(lower + extra) * (a + bytes * b)
        }
    }

    // MARK: Exact per-rank traffic

    /// Exact bytes and messages of rank `rank` for an allreduce of `count`
    /// elements of `elementSize` bytes (N = count x elementSize). Empty ring
    /// chunks (count < p) still count as messages.
    public static func rankTraffic(_ algorithm: Algorithm, rank: Int, worldSize p: Int,
                                   count: Int, elementSize: Int = 4) -> RankTraffic {
        precondition(p >= 1 && rank >= 0 && rank < p, "rank \(rank) of \(p)")
        if p == 1 { return .zero }
        let n = count * elementSize
        switch algorithm {
        case .ring:
            return ringTraffic(rank: rank, worldSize: p, count: count, elementSize: elementSize)
        case .tree:
            let down = BinomialTree.children(of: rank, worldSize: p).count
            let up = rank == 0 ? 0 : 1
            // Reduce: send N up once, receive N from each child; broadcast: the reverse.
            return RankTraffic(bytesSent: (up + down) * n, bytesReceived: (down + up) * n,
                               messagesSent: up + down, messagesReceived: down + up)
        case .ps:
            let peers = rank == 0 ? p - 1 : 1
            return RankTraffic(bytesSent: peers * n, bytesReceived: peers * n,
                               messagesSent: peers, messagesReceived: peers)
        case .mpi:
            if n >= mpiRecursiveDoublingThresholdBytes {
                return ringTraffic(rank: rank, worldSize: p, count: count, elementSize: elementSize)
            }
            return recursiveDoublingTraffic(rank: rank, worldSize: p, bytes: n)
        }
    }

    /// Exact traffic of every rank.
    public static func traffic(_ algorithm: Algorithm, worldSize p: Int,
                               count: Int, elementSize: Int = 4) -> Traffic {
        Traffic(perRank: (0..<p).map {
            rankTraffic(algorithm, rank: $0, worldSize: p, count: count, elementSize: elementSize)
        })
    }

    /// Ring: in each phase rank r sends every chunk but one. Reduce-scatter
    /// sends chunks (r - s) mod p, missing (r + 1) mod p; allgather sends
    /// (r + 1 - s) mod p, missing (r + 2) mod p. It receives what r - 1 sends:
    /// all but chunk r, then all but chunk (r + 1) mod p.
    static func ringTraffic(rank r: Int, worldSize p: Int, count: Int, elementSize: Int) -> RankTraffic {
        func chunk(_ i: Int) -> Int { RingPartition.chunkCount(RingPartition.mod(i, p), parts: p, count: count) }
        let sent = 2 * count - chunk(r + 1) - chunk(r + 2)
        let received = 2 * count - chunk(r) - chunk(r + 1)
        return RankTraffic(bytesSent: sent * elementSize, bytesReceived: received * elementSize,
                           messagesSent: 2 * (p - 1), messagesReceived: 2 * (p - 1))
    }

    /// Recursive doubling as Open MPI runs it for p not a power of two:
    /// with p' = 2^floor(log2 p) and rem = p - p', among the first 2 rem ranks each
    /// even rank hands its vector to the odd rank above it and gets the result
    /// back at the end; the p' remaining ranks exchange N in each of log2 p' rounds.
    static func recursiveDoublingTraffic(rank r: Int, worldSize p: Int, bytes n: Int) -> RankTraffic {
        let rounds = floorLog2(p), rem = p - (1 << rounds)
        let messages: Int
        if r < 2 * rem {
            messages = r % 2 == 0 ? 1 : rounds + 1
        } else {
            messages = rounds
        }
        return RankTraffic(bytesSent: messages * n, bytesReceived: messages * n,
                           messagesSent: messages, messagesReceived: messages)
    }

    static func floorLog2(_ p: Int) -> Int {
        precondition(p >= 1)
        return Int.bitWidth - 1 - p.leadingZeroBitCount
    }
}
