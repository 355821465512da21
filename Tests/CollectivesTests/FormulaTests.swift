// The pure parts of the public API, without MPI: the ring partition and the
// byte formulas the trainer's cost model and reports can rely on.
import Collectives
import XCTest

final class FormulaTests: XCTestCase {
    func testRingPartitionCoversTheBufferContiguously() {
        for (count, parts) in [(100_003, 8), (1001, 3), (5, 8), (0, 4), (1_248_424, 7), (12, 4)] {
            let partition = RingPartition(count: count, parts: parts)
            var next = 0
            for i in 0..<parts {
                XCTAssertEqual(partition.offset(i), next, "count \(count) parts \(parts) chunk \(i)")
                next += partition.length(i)
                XCTAssertLessThanOrEqual(partition.length(i), partition.length(0))
                XCTAssertGreaterThanOrEqual(partition.length(i), count / parts)
            }
            XCTAssertEqual(next, count)
        }
    }

    func testEveryCountedAlgorithmMovesTwicePMinusOneBuffers() {
        for p in [2, 3, 4, 5, 7, 8, 13] {
            for algorithm in [AllreduceAlgorithm.tree, .ring, .ps] {
                let count = 100_003
                let perRank = (0..<p).map { algorithm.expectedBytes(rank: $0, ranks: p, count: count)! }
                XCTAssertEqual(perRank.map(\.sent).reduce(0, +), 2 * (p - 1) * count * 4, "\(algorithm) p \(p)")
                XCTAssertEqual(perRank.map(\.received).reduce(0, +), 2 * (p - 1) * count * 4,
                               "\(algorithm) p \(p)")
            }
        }
    }

    func testNativeAllreduceIsNotCounted() {
        XCTAssertFalse(AllreduceAlgorithm.mpi.bytesAreCounted)
        XCTAssertNil(AllreduceAlgorithm.mpi.expectedBytes(rank: 0, ranks: 4, count: 10))
        for algorithm in [AllreduceAlgorithm.tree, .ring, .ps] {
            XCTAssertTrue(algorithm.bytesAreCounted)
            XCTAssertEqual(algorithm.make().algorithm, algorithm)
        }
        XCTAssertEqual(AllreduceAlgorithm.mpi.make().algorithm, .mpi)
    }

    func testSingleRankAndEmptyBuffersSendNothing() {
        for algorithm in [AllreduceAlgorithm.tree, .ring, .ps] {
            XCTAssertEqual(algorithm.expectedBytes(rank: 0, ranks: 1, count: 1000)?.sent, 0)
            XCTAssertEqual(algorithm.expectedBytes(rank: 2, ranks: 4, count: 0)?.received, 0)
        }
    }

    func testTrafficCountersAdd() {
        let a = TrafficCounters(bytesSent: 4, bytesReceived: 8, messagesSent: 1, messagesReceived: 2, seconds: 0.5)
        XCTAssertEqual(a + a, TrafficCounters(bytesSent: 8, bytesReceived: 16, messagesSent: 2,
                                              messagesReceived: 4, seconds: 1))
        XCTAssertEqual(a + .zero, a)
    }
}
