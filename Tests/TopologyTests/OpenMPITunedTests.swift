import Topology
import XCTest

/// The `mpi` model follows Open MPI 4.1.4's coll/tuned fixed decision for MPI_SUM on floats.
final class OpenMPITunedTests: XCTestCase {
    func testDecisionTableAtTheLabSizes() {
        func a(_ p: Int, _ bytes: Int) -> String { OpenMPITuned.algorithm(ranks: p, bytes: bytes).rawValue }
        // Two ranks: the bands of the source, the ring's count < p fallback, 5 -> plain ring.
        XCTAssertEqual(a(2, 4), "recursive-doubling")       // ring, but count 1 < 2
        XCTAssertEqual(a(2, 1000), "recursive-doubling")
        XCTAssertEqual(a(2, 5000), "ring")
        XCTAssertEqual(a(2, 10_000), "recursive-doubling")
        XCTAssertEqual(a(2, 100_000), "ring")               // "segmented ring" with segment size 0
        XCTAssertEqual(a(2, 262_144), "rabenseifner")
        XCTAssertEqual(a(4, 8), "recursive-doubling")       // ring, count 2 < 4
        XCTAssertEqual(a(4, 8191), "recursive-doubling")
        XCTAssertEqual(a(4, 8192), "rabenseifner")
        XCTAssertEqual(a(8, 8192), "rabenseifner")
        XCTAssertEqual(a(16, 32), "recursive-doubling")
        XCTAssertEqual(a(16, 4095), "recursive-doubling")
        XCTAssertEqual(a(16, 4096), "rabenseifner")
        // Every gradient bucket the lab sends (>= 1 MB) goes to Rabenseifner.
        for p in [2, 4, 8, 16] { XCTAssertEqual(a(p, 1 << 20), "rabenseifner") }
    }

    func testRabenseifnerTrafficAgainstAHalvingLoop() {
        // Direct: each of log2 p halving steps sends what the rank does not keep, the
        // allgather sends the same back; with p a power of two every rank moves 2 (p-1)/p N.
        for p in [2, 4, 8, 16] {
            let count = 1 << 20
            var held = count, sent = 0
            while held > 1 && sent < count - count / p { let keep = held / 2; sent += held - keep; held = keep }
            for r in 0..<p {
                let t = AllreduceAlgorithm.mpi.traffic(rank: r, ranks: p, count: count)
                XCTAssertEqual(t.bytesSent, 2 * sent * 4, "p \(p) rank \(r)")
                XCTAssertEqual(t.bytesSent, 2 * (p - 1) * count / p * 4)
                XCTAssertEqual(t.messagesSent, 2 * AllreduceAlgorithm.floorLog2(p))
            }
        }
        // p = 6: ranks 0, 2 fold into 1, 3 (send N, get N back); the 4 others run p' = 4.
        let t = (0..<6).map { AllreduceAlgorithm.mpi.traffic(rank: $0, ranks: 6, count: 1 << 20) }
        let n = 4 << 20
        XCTAssertEqual(t[0].bytesSent, n)
        XCTAssertEqual(t[1].bytesSent, 2 * 3 * n / 4 + n)
        XCTAssertEqual(t[4].bytesSent, 2 * 3 * n / 4)
    }

    func testSecondsFollowTheChosenAlgorithm() {
        let a = 1e-5, b = 1e-9
        XCTAssertEqual(OpenMPITuned.seconds(ranks: 8, bytes: 1 << 20, alpha: a, beta: b),
                       2 * 3 * a + 2 * 7.0 / 8 * Double(1 << 20) * b, accuracy: 1e-15)
        XCTAssertEqual(OpenMPITuned.seconds(ranks: 8, bytes: 4000, alpha: a, beta: b), 3 * (a + 4000 * b), accuracy: 1e-15)
        XCTAssertEqual(OpenMPITuned.seconds(ranks: 2, bytes: 100_000, alpha: a, beta: b), 2 * a + 100_000 * b, accuracy: 1e-15)
        XCTAssertEqual(OpenMPITuned.seconds(ranks: 1, bytes: 100_000, alpha: a, beta: b), 0)
    }

    /// Every round of Rabenseifner and recursive doubling is a pairwise exchange: its bytes
    /// cost the both-ways beta; the fold of extra ranks (one way at a time) and a ring of
    /// more than 2 (each rank sends to one and receives from another) the one-way beta.
    func testPairwiseRoundsUseThePairBeta() {
        let a = 1e-5, b = 1e-9, pair = 1.5e-9
        XCTAssertEqual(OpenMPITuned.seconds(ranks: 8, bytes: 1 << 20, alpha: a, beta: b, pairBeta: pair),
                       2 * 3 * a + 2 * 7.0 / 8 * Double(1 << 20) * pair, accuracy: 1e-15)
        XCTAssertEqual(OpenMPITuned.seconds(ranks: 8, bytes: 4000, alpha: a, beta: b, pairBeta: pair), 3 * (a + 4000 * pair), accuracy: 1e-15)
        // p = 6: the fold (2 one-way transfers of N) and Rabenseifner over 4.
        let n = 1 << 22
        XCTAssertEqual(OpenMPITuned.seconds(ranks: 6, bytes: n, alpha: a, beta: b, pairBeta: pair),
                       2 * (a + Double(n) * b) + 2 * 2 * a + 2 * 3.0 / 4 * Double(n) * pair, accuracy: 1e-15)
        XCTAssertEqual(OpenMPITuned.seconds(ranks: 8, bytes: 1 << 20, alpha: a, beta: b, pairBeta: nil),
                       OpenMPITuned.seconds(ranks: 8, bytes: 1 << 20, alpha: a, beta: b))
    }

    func testBucketsTileTheBufferFromTheEnd() {
        let counts = [100, 300_000, 50, 400_000, 10, 20]
        let cuts = GradientBuckets.cut(tensorCounts: counts, bucketBytes: 2 << 20, firstBucketBytes: 1 << 20)
        XCTAssertEqual(cuts.first?.upperBound, counts.reduce(0, +))
        XCTAssertEqual(cuts.last?.lowerBound, 0)
        for (a, b) in zip(cuts, cuts.dropFirst()) { XCTAssertEqual(a.lowerBound, b.upperBound) }
        // The first bucket closes with the tensor that takes it past 1 MB: 20 + 10 + 400,000 floats.
        XCTAssertEqual(cuts[0], 300_150..<(counts.reduce(0, +)))
    }
}
