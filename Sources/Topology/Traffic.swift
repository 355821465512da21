// What one allreduce puts on the wire, per rank: the one home of the byte
// formulas. The collectives' tests hold the counted bytes to them, the trainer
// uses them for `mpi` (whose bytes MPI hides), and the cost model sums them.
// MPI: Thakur, Rabenseifner & Gropp, "Optimization of collective communication
// operations in MPICH" (IJHPCA 2005) and Open MPI's coll/tuned fixed decision.

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

    public static let zero = RankTraffic(bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0)
}

extension AllreduceAlgorithm {
    /// How the native MPI_Allreduce is modelled; put this next to any `mpi` figure.
    public static let mpiAssumption =
        "modelled, not measured: Open MPI 4.1.4's tuned fixed decision (OpenMPITuned), recursive doubling for small messages and Rabenseifner's algorithm from 8 KB (256 KB at 2 ranks)"

    /// Bytes and messages of rank `rank` of `p` for one allreduce of `count` elements of
    /// `elementSize` bytes (N = count x elementSize), one message per chunk or edge.
    /// Exact for tree, ring and ps (the counters must report these bytes); modelled for
    /// `mpi` (see `mpiAssumption`). Empty ring chunks (count < p) still count as messages.
    public func traffic(rank: Int, ranks p: Int, count: Int, elementSize: Int = 4) -> RankTraffic {
        precondition(p >= 1 && rank >= 0 && rank < p, "rank \(rank) of \(p)")
        if p == 1 { return .zero }
        let n = count * elementSize
        switch self {
        case .ring:
            return Self.ringTraffic(rank: rank, ranks: p, count: count, elementSize: elementSize)
        case .tree:
            let links = BinomialTree(rank: rank, size: p).links
            return RankTraffic(bytesSent: links * n, bytesReceived: links * n, messagesSent: links, messagesReceived: links)
        case .ps:
            let peers = rank == 0 ? p - 1 : 1
            return RankTraffic(bytesSent: peers * n, bytesReceived: peers * n, messagesSent: peers, messagesReceived: peers)
        case .mpi:
            return OpenMPITuned.traffic(rank: rank, ranks: p, count: count, elementSize: elementSize)
        case .hierarchical:
            // One rank per host (what a bare rank count says): the leaders' ring is everything.
            return Self.ringTraffic(rank: rank, ranks: p, count: count, elementSize: elementSize)
        }
    }

    /// The hierarchical allreduce's bytes for rank `rank` when host h holds the next
    /// `hostSizes[h]` ranks (block placement, mpirun's --map-by slot): a binomial tree on
    /// each host (a rank with c children and a parent sends and receives (c + 1) N, the
    /// leader c N) plus, on the leaders, the ring over the H hosts.
    public static func hierarchicalTraffic(rank: Int, hostSizes: [Int], count: Int, elementSize: Int = 4) -> RankTraffic {
        precondition(hostSizes.allSatisfy { $0 > 0 } && rank >= 0 && rank < hostSizes.reduce(0, +))
        guard count > 0, hostSizes.reduce(0, +) > 1 else { return .zero }
        var first = 0, host = 0
        while rank >= first + hostSizes[host] { first += hostSizes[host]; host += 1 }
        let local = rank - first, n = count * elementSize
        let links = BinomialTree(rank: local, size: hostSizes[host]).links
        var t = RankTraffic(bytesSent: links * n, bytesReceived: links * n, messagesSent: links, messagesReceived: links)
        if local == 0 && hostSizes.count > 1 {
            let ring = ringTraffic(rank: host, ranks: hostSizes.count, count: count, elementSize: elementSize)
            t.bytesSent += ring.bytesSent; t.bytesReceived += ring.bytesReceived
            t.messagesSent += ring.messagesSent; t.messagesReceived += ring.messagesReceived
        }
        return t
    }

    /// The bytes the counters must report for rank `rank`; nil for `mpi`, whose bytes
    /// are not observable. Zero for one rank or an empty buffer (nothing is sent).
    public func countedBytes(rank: Int, ranks: Int, count: Int, elementSize: Int = 4) -> (sent: Int, received: Int)? {
        guard bytesAreCounted else { return nil }
        guard count > 0 else { return (0, 0) }
        let t = traffic(rank: rank, ranks: ranks, count: count, elementSize: elementSize)
        return (t.bytesSent, t.bytesReceived)
    }

    /// Bytes sent by all ranks together per allreduce: 2(p-1)N for tree, ring, ps;
    /// the `mpi` model's own sum (for whole elements: n is a multiple of 4).
    public func totalBytesSent(ranks p: Int, gradientBytes n: Int) -> Double {
        if self == .mpi {
            guard p > 1 else { return 0 }
            return Double((0..<p).map { traffic(rank: $0, ranks: p, count: n / 4).bytesSent }.reduce(0, +))
        }
        return 2 * Double(p - 1) * Double(n)
    }

    /// What each rank must send (and receive) in any allreduce: 2((p-1)/p)N.
    public static func lowerBoundBytesPerRank(ranks p: Int, gradientBytes n: Int) -> Double {
        2 * Double(p - 1) / Double(p) * Double(n)
    }

    /// Ring: in each phase rank r sends every chunk but one (`RingPartition.elementsMoved`).
    static func ringTraffic(rank r: Int, ranks p: Int, count: Int, elementSize: Int) -> RankTraffic {
        let moved = RingPartition(count: count, parts: p).elementsMoved(by: r)
        return RankTraffic(bytesSent: moved.sent * elementSize, bytesReceived: moved.received * elementSize,
                           messagesSent: 2 * (p - 1), messagesReceived: 2 * (p - 1))
    }

    /// Recursive doubling as Open MPI runs it for p not a power of two:
    /// with p' = 2^floor(log2 p) and rem = p - p', among the first 2 rem ranks each
    /// even rank hands its vector to the odd rank above it and gets the result
    /// back at the end; the p' remaining ranks exchange N in each of log2 p' rounds.
    static func recursiveDoublingTraffic(rank r: Int, ranks p: Int, bytes n: Int) -> RankTraffic {
        let rounds = floorLog2(p), rem = p - (1 << rounds)
        let messages = r < 2 * rem ? (r % 2 == 0 ? 1 : rounds + 1) : rounds
        return RankTraffic(bytesSent: messages * n, bytesReceived: messages * n,
                           messagesSent: messages, messagesReceived: messages)
    }

    /// floor(log2 p) for p >= 1.
    public static func floorLog2(_ p: Int) -> Int {
        precondition(p >= 1)
        return Int.bitWidth - 1 - p.leadingZeroBitCount
    }
}
