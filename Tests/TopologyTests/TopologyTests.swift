// The ring partition, the binomial tree and the byte formulas: the definitions the
// collectives move data by and the counters and the cost model are held to.
import Topology
import XCTest

final class TopologyTests: XCTestCase {
    func traffic(_ a: AllreduceAlgorithm, _ p: Int, count: Int) -> [RankTraffic] {
        (0..<p).map { a.traffic(rank: $0, ranks: p, count: count) }
    }

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
                let perRank = (0..<p).map { algorithm.countedBytes(rank: $0, ranks: p, count: count)! }
                XCTAssertEqual(perRank.map(\.sent).reduce(0, +), 2 * (p - 1) * count * 4, "\(algorithm) p \(p)")
                XCTAssertEqual(perRank.map(\.received).reduce(0, +), 2 * (p - 1) * count * 4,
                               "\(algorithm) p \(p)")
            }
        }
    }

    func testNativeAllreduceIsNotCounted() {
        XCTAssertFalse(AllreduceAlgorithm.mpi.bytesAreCounted)
        XCTAssertNil(AllreduceAlgorithm.mpi.countedBytes(rank: 0, ranks: 4, count: 10))
        for algorithm in [AllreduceAlgorithm.tree, .ring, .ps] {
            XCTAssertTrue(algorithm.bytesAreCounted)
        }
    }

    func testSingleRankAndEmptyBuffersSendNothing() {
        for algorithm in [AllreduceAlgorithm.tree, .ring, .ps] {
            XCTAssertEqual(algorithm.countedBytes(rank: 0, ranks: 1, count: 1000)?.sent, 0)
            XCTAssertEqual(algorithm.countedBytes(rank: 2, ranks: 4, count: 0)?.received, 0)
        }
    }

    func testTotalsAreTwoPMinusOneN() {
        for p in 1...9 {
            for algorithm in [AllreduceAlgorithm.tree, .ring, .ps] {
                let exact = traffic(algorithm, p, count: 1001)
                XCTAssertEqual(exact.map(\.bytesSent).reduce(0, +), 2 * (p - 1) * 4004, "\(algorithm) p=\(p)")
                XCTAssertEqual(exact.reduce(0) { $0 + $1.bytesReceived }, 2 * (p - 1) * 4004)
                XCTAssertEqual(algorithm.totalBytesSent(ranks: p, gradientBytes: 4_993_696),
                               2 * Double(p - 1) * 4_993_696)
            }
        }
    }

    /// 1001 elements over 3 ranks: chunks 334, 334, 333.
    func testRingExactBytesWhenCountDoesNotDivide() {
        XCTAssertEqual(RingPartition(count: 1001, parts: 3).lengths, [334, 334, 333])
        XCTAssertEqual((0...3).map { RingPartition(count: 1001, parts: 3).offset($0) }, [0, 334, 668, 1001])
        let t = traffic(.ring, 3, count: 1001)
        // Rank r sends all chunks but (r+1) mod 3, then all but (r+2) mod 3.
        // r=0: 2002 - 334 - 333 = 1335 elements; r=1: 2002 - 333 - 334; r=2: 2002 - 334 - 334 = 1334.
        XCTAssertEqual(t.map(\.bytesSent), [5340, 5340, 5336])
        // Rank r receives all but chunk r, then all but (r+1) mod 3.
        XCTAssertEqual(t.map(\.bytesReceived), [5336, 5340, 5340])
        XCTAssertEqual(t.map(\.messagesSent), [4, 4, 4])
    }

    /// Replays the schedule step by step and compares with the closed form.
    func testRingScheduleMatchesClosedForm() {
        for p in 1...9 {
            for count in [0, 1, 5, 7, 64, 1001] {
                var sent = Array(repeating: 0, count: p), received = Array(repeating: 0, count: p)
                for step in 0..<max(p - 1, 0) {
                    for r in 0..<p {
                        let partition = RingPartition(count: count, parts: p)
                        for chunk in [partition.reduceScatterChunk(rank: r, step: step),
                                      partition.allgatherChunk(rank: r, step: step)] {
                            let bytes = 4 * partition.length(chunk)
                            sent[r] += bytes
                            received[(r + 1) % p] += bytes
                        }
                    }
                }
                let model = traffic(.ring, p, count: count)
                XCTAssertEqual(model.map(\.bytesSent), sent, "p=\(p) count=\(count)")
                XCTAssertEqual(model.map(\.bytesReceived), received, "p=\(p) count=\(count)")
            }
        }
    }

    func testBinomialTreeOfSix() {
        XCTAssertEqual((0..<6).map { BinomialTree(rank: $0, size: 6).children }, [[1, 2, 4], [], [3], [], [5], []])
        XCTAssertEqual((0..<6).map { BinomialTree(rank: $0, size: 6).parent }, [nil, 0, 0, 2, 0, 4])
        XCTAssertEqual([1, 2, 6, 8, 9].map { BinomialTree.depth(size: $0) }, [0, 1, 3, 3, 4])
        let n = 400
        let tree = traffic(.tree, 6, count: 100)
        XCTAssertEqual(tree.map(\.bytesSent), [3 * n, n, 2 * n, n, 2 * n, n])
        XCTAssertEqual(tree.map(\.messagesSent), [3, 1, 2, 1, 2, 1])
        XCTAssertEqual(tree.map(\.bytesSent).max()!, 3 * n)
    }

    func testEveryTreeEdgeAppearsOnce() {
        for p in 1...40 {
            var edges = 0
            for r in 0..<p {
                for c in BinomialTree(rank: r, size: p).children {
                    XCTAssertEqual(BinomialTree(rank: c, size: p).parent, r)
                    edges += 1
                }
            }
            XCTAssertEqual(edges, p - 1)
            // No rank sends more than the root's ceil(log2 p) N.
            let tree = traffic(.tree, p, count: 1)
            XCTAssertEqual(tree.map(\.bytesSent).max()!, 4 * BinomialTree.depth(size: p))
            XCTAssertEqual(tree[0].bytesSent, 4 * BinomialTree.depth(size: p))
        }
    }
}
