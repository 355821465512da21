// What Open MPI 4.1.4 (Debian bookworm's) runs for MPI_Allreduce of MPI_FLOAT with
// MPI_SUM: coll/tuned's fixed decision (ompi/mca/coll/tuned/coll_tuned_decision_fixed.c,
// ompi_coll_tuned_allreduce_intra_dec_fixed, tag v4.1.4), with the redirections inside
// the algorithms (ompi/mca/coll/base/coll_base_allreduce.c): the ring falls back to
// recursive doubling when count < p, and the "segmented ring" is called with segment
// size 0, so it always runs as the plain ring. coll/tuned (priority 30) is the component
// that answers on a TCP job: han, adapt and sm are at priority 0 by default.

/// The algorithm behind `--allreduce mpi`, by communicator size and message size.
public enum OpenMPITuned {
    public enum Algorithm: String, Sendable {
        case recursiveDoubling = "recursive-doubling"
        case ring
        /// Recursive-halving reduce-scatter, then recursive-doubling allgather.
        case rabenseifner
    }

    /// The fixed rule's choice (commutative operation) for `bytes` over `p` ranks.
    public static func algorithm(ranks p: Int, bytes: Int) -> Algorithm {
        precondition(p >= 2)
        let ring: Algorithm = bytes / 4 < p ? .recursiveDoubling : .ring
        switch p {
        case ..<4:
            if bytes < 8 { return ring }
            if bytes < 4096 { return .recursiveDoubling }
            if bytes < 8192 { return ring }
            if bytes < 16384 { return .recursiveDoubling }
            if bytes < 262_144 { return ring }
            return .rabenseifner
        case ..<8: return bytes < 16 ? ring : bytes < 8192 ? .recursiveDoubling : .rabenseifner
        case ..<16: return bytes < 8192 ? .recursiveDoubling : .rabenseifner
        case ..<32: return bytes < 64 ? ring : bytes < 4096 ? .recursiveDoubling : .rabenseifner
        case ..<64: return bytes < 128 ? ring : .rabenseifner
        case ..<128: return bytes < 262_144 ? .recursiveDoubling : .rabenseifner
        default: return bytes < 16384 ? .recursiveDoubling : .rabenseifner
        }
    }

    /// Critical-path seconds on links of latency `alpha` and `beta` seconds per byte,
    /// with p' = 2^floor(log2 p): a p other than p' first folds the extra ranks in and
    /// hands them the result at the end (2 (alpha + N beta) more).
    /// - recursive doubling: log2(p') (alpha + N beta)
    /// - ring: 2(p-1) alpha + 2((p-1)/p) N beta
    /// - Rabenseifner: 2 log2(p') alpha + 2((p'-1)/p') N beta
    ///
    /// `pairBeta`: seconds per byte while the same bytes cross the other way on the same
    /// connection; recursive doubling and Rabenseifner exchange pairwise in every round (and
    /// so does a ring of 2). nil: `beta` (a link whose two directions do not slow each other).
    public static func seconds(ranks p: Int, bytes n: Int, alpha: Double, beta: Double, pairBeta: Double? = nil) -> Double {
        guard p > 1, n > 0 else { return 0 }
        let bytes = Double(n), rounds = Double(AllreduceAlgorithm.floorLog2(p)), pow2 = Double(1 << Int(rounds))
        let pair = pairBeta ?? beta
        let fold = Double(p) > pow2 ? 2 * (alpha + bytes * beta) : 0
        switch algorithm(ranks: p, bytes: n) {
        case .recursiveDoubling: return fold + rounds * (alpha + bytes * pair)
        case .ring: return 2 * Double(p - 1) * alpha + 2 * Double(p - 1) / Double(p) * bytes * (p == 2 ? pair : beta)
        case .rabenseifner: return fold + 2 * rounds * alpha + 2 * (pow2 - 1) / pow2 * bytes * pair
        }
    }

    /// Bytes and messages of rank `r`. Rabenseifner, p' a power of two: in each of log2 p'
    /// halving steps a rank sends half of what it still holds, then the allgather sends the
    /// same amounts back: 2 ((p'-1)/p') N in 2 log2 p' messages; folded ranks as recursive doubling.
    static func traffic(rank r: Int, ranks p: Int, count: Int, elementSize: Int) -> RankTraffic {
        let n = count * elementSize
        switch algorithm(ranks: p, bytes: n) {
        case .recursiveDoubling:
            return AllreduceAlgorithm.recursiveDoublingTraffic(rank: r, ranks: p, bytes: n)
        case .ring:
            return AllreduceAlgorithm.ringTraffic(rank: r, ranks: p, count: count, elementSize: elementSize)
        case .rabenseifner:
            let rounds = AllreduceAlgorithm.floorLog2(p), pow2 = 1 << rounds, rem = p - pow2
            if r < 2 * rem && r % 2 == 0 {  // folded into its odd neighbour: sends N, gets the result back
                return RankTraffic(bytesSent: n, bytesReceived: n, messagesSent: 1, messagesReceived: 1)
            }
            var held = count, moved = 0
            for _ in 0..<rounds { let half = held / 2; moved += held - half; held = half }
            let bytes = 2 * moved * elementSize + (r < 2 * rem ? n : 0)
            let messages = 2 * rounds + (r < 2 * rem ? 1 : 0)
            return RankTraffic(bytesSent: bytes, bytesReceived: bytes, messagesSent: messages, messagesReceived: messages)
        }
    }
}
