import Metrics
import XCTest

final class CommunicationModelTests: XCTestCase {
    let squeezeN = 4_993_696, squeezeCount = 1_248_424
    let alexN = 243_860_896, alexCount = 60_965_224

    func testModelSizes() {
        XCTAssertEqual(ModelSizes.squeezeNetV10.gradientBytes, 4_993_696)
        XCTAssertEqual(ModelSizes.squeezeNetV11.parameters, 1_235_496)
        XCTAssertEqual(ModelSizes.alexNet.gradientBytes, 243_860_896)
        XCTAssertEqual(ModelSizes.alexNetToSqueezeNetRatio, 48.83, accuracy: 0.005)
        XCTAssertEqual(ModelSizes.named("alexnet-payload"), ModelSizes.alexNet)
        XCTAssertEqual(ModelSizes.named("v1.1"), ModelSizes.squeezeNetV11)
        XCTAssertNil(ModelSizes.named("resnet"))
    }

    /// DESIGN.md: at p = 8 the ring sends 8.74 MB per rank for SqueezeNet, 426.8 MB for AlexNet.
    func testRingPerRankAtEightWorkers() {
        // 2 * (7/8) * 4,993,696 = 8,738,968 exactly (1,248,424 divides by 8).
        XCTAssertEqual(CommunicationModel.lowerBoundBytesPerRank(worldSize: 8, gradientBytes: squeezeN), 8_738_968)
        let ring = CommunicationModel.traffic(.ring, worldSize: 8, count: squeezeCount)
        XCTAssertEqual(ring.perRank.map(\.bytesSent), Array(repeating: 8_738_968, count: 8))
        XCTAssertEqual(ring.perRank.map(\.bytesReceived), Array(repeating: 8_738_968, count: 8))
        XCTAssertEqual(ring.maxMessagesSentPerRank, 14)

        let alex = CommunicationModel.traffic(.ring, worldSize: 8, count: alexCount)
        XCTAssertEqual(alex.maxBytesSentPerRank, 426_756_568)  // 14 * 7,620,653 * 4
        XCTAssertEqual(Double(alex.maxBytesSentPerRank) / 1e6, 426.8, accuracy: 0.05)
    }

    func testTotalsAreTwoPMinusOneN() {
        for p in 1...9 {
            for algorithm in [CommunicationModel.Algorithm.tree, .ring, .ps] {
                let exact = CommunicationModel.traffic(algorithm, worldSize: p, count: 1001)
                XCTAssertEqual(exact.totalBytesSent, 2 * (p - 1) * 4004, "\(algorithm) p=\(p)")
                XCTAssertEqual(exact.perRank.reduce(0) { $0 + $1.bytesReceived }, 2 * (p - 1) * 4004)
                XCTAssertEqual(CommunicationModel.totalBytesSent(algorithm, worldSize: p, gradientBytes: squeezeN),
                               2 * Double(p - 1) * Double(squeezeN))
            }
        }
    }

    func testParameterServerLoadsRankZero() {
        let ps = CommunicationModel.traffic(.ps, worldSize: 8, count: squeezeCount)
        XCTAssertEqual(ps.perRank[0], .init(bytesSent: 7 * squeezeN, bytesReceived: 7 * squeezeN,
                                            messagesSent: 7, messagesReceived: 7))
        XCTAssertEqual(ps.perRank[5], .init(bytesSent: squeezeN, bytesReceived: squeezeN,
                                            messagesSent: 1, messagesReceived: 1))
        XCTAssertEqual(ps.maxBytesSentPerRank, 34_955_872)
        XCTAssertEqual(ps.meanBytesSentPerRank, 8_738_968)
    }

    /// 1001 elements over 3 ranks: chunks 334, 334, 333.
    func testRingExactBytesWhenCountDoesNotDivide() {
        XCTAssertEqual(RingPartition.chunkCounts(parts: 3, count: 1001), [334, 334, 333])
        XCTAssertEqual((0...3).map { RingPartition.chunkOffset($0, parts: 3, count: 1001) }, [0, 334, 668, 1001])
        let t = CommunicationModel.traffic(.ring, worldSize: 3, count: 1001)
        // Rank r sends all chunks but (r+1) mod 3, then all but (r+2) mod 3.
        // r=0: 2002 - 334 - 333 = 1335 elements; r=1: 2002 - 333 - 334; r=2: 2002 - 334 - 334 = 1334.
        XCTAssertEqual(t.perRank.map(\.bytesSent), [5340, 5340, 5336])
        // Rank r receives all but chunk r, then all but (r+1) mod 3.
        XCTAssertEqual(t.perRank.map(\.bytesReceived), [5336, 5340, 5340])
        XCTAssertEqual(t.perRank.map(\.messagesSent), [4, 4, 4])
    }

    /// Replays the schedule step by step and compares with the closed form.
    func testRingScheduleMatchesClosedForm() {
        for p in 1...9 {
            for count in [0, 1, 5, 7, 64, 1001] {
                var sent = Array(repeating: 0, count: p), received = Array(repeating: 0, count: p)
                for step in 0..<max(p - 1, 0) {
                    for r in 0..<p {
                        for chunk in [RingPartition.reduceScatterChunk(rank: r, step: step, parts: p),
                                      RingPartition.allgatherChunk(rank: r, step: step, parts: p)] {
                            let bytes = 4 * RingPartition.chunkCount(chunk, parts: p, count: count)
                            sent[r] += bytes
                            received[(r + 1) % p] += bytes
                        }
                    }
                }
                let model = CommunicationModel.traffic(.ring, worldSize: p, count: count)
                XCTAssertEqual(model.perRank.map(\.bytesSent), sent, "p=\(p) count=\(count)")
                XCTAssertEqual(model.perRank.map(\.bytesReceived), received, "p=\(p) count=\(count)")
            }
        }
    }

    func testBinomialTreeOfSix() {
        XCTAssertEqual((0..<6).map { BinomialTree.children(of: $0, worldSize: 6) }, [[1, 2, 4], [], [3], [], [5], []])
        XCTAssertEqual((0..<6).map { BinomialTree.parent(of: $0) }, [nil, 0, 0, 2, 0, 4])
        XCTAssertEqual([1, 2, 6, 8, 9].map { BinomialTree.depth(worldSize: $0) }, [0, 1, 3, 3, 4])
        let n = 400
        let tree = CommunicationModel.traffic(.tree, worldSize: 6, count: 100)
        XCTAssertEqual(tree.perRank.map(\.bytesSent), [3 * n, n, 2 * n, n, 2 * n, n])
        XCTAssertEqual(tree.perRank.map(\.messagesSent), [3, 1, 2, 1, 2, 1])
        XCTAssertEqual(tree.maxBytesSentPerRank, 3 * n)
    }

    func testEveryTreeEdgeAppearsOnce() {
        for p in 1...40 {
            var edges = 0
            for r in 0..<p {
                for c in BinomialTree.children(of: r, worldSize: p) {
                    XCTAssertEqual(BinomialTree.parent(of: c), r)
                    edges += 1
                }
            }
            XCTAssertEqual(edges, p - 1)
            // No rank sends more than the root's ceil(log2 p) N.
            let tree = CommunicationModel.traffic(.tree, worldSize: p, count: 1)
            XCTAssertEqual(tree.maxBytesSentPerRank, 4 * BinomialTree.depth(worldSize: p))
            XCTAssertEqual(tree.perRank[0].bytesSent, 4 * BinomialTree.depth(worldSize: p))
        }
    }

    func testCriticalPaths() {
        let net = NetworkPreset.calibrated(alpha: 1e-5, beta: 1e-9)
        let n = 1_000_000
        func t(_ a: CommunicationModel.Algorithm, _ p: Int, _ bytes: Int = 1_000_000) -> Double {
            CommunicationModel.criticalPathSeconds(a, worldSize: p, gradientBytes: bytes, network: net)
        }
        XCTAssertEqual(t(.tree, 8), 2 * 3 * (1e-5 + 1e-3), accuracy: 1e-12)   // 0.00606
        XCTAssertEqual(t(.ring, 8), 14e-5 + 1.75e-3, accuracy: 1e-12)         // 0.00189
        XCTAssertEqual(t(.ps, 8), 14 * (1e-5 + 1e-3), accuracy: 1e-12)        // 0.01414
        XCTAssertEqual(t(.tree, 5), 6 * 1.01e-3, accuracy: 1e-12)
        XCTAssertEqual(t(.mpi, 8), t(.ring, 8), "above 10 KB the MPI model is the ring")
        // Below 10 KB: recursive doubling over 4 ranks plus 2 steps to fold in 2 extra ranks.
        XCTAssertEqual(t(.mpi, 6, 4000), 4 * (1e-5 + 4e-6), accuracy: 1e-15)
        XCTAssertEqual(t(.mpi, 8, 4000), 3 * (1e-5 + 4e-6), accuracy: 1e-15)
        for a in CommunicationModel.Algorithm.allCases { XCTAssertEqual(t(a, 1), 0) }
        XCTAssertEqual(CommunicationModel.mpiModelledAlgorithm(gradientBytes: n), "ring")
        XCTAssertTrue(CommunicationModel.mpiAssumption.contains("modelled"))
    }

    func testMPISmallMessageTraffic() {
        // p = 6: p' = 4, ranks 0 and 2 hand off (1 message), 1 and 3 do 2 rounds + hand back (3), 4 and 5 do 2.
        let t = CommunicationModel.traffic(.mpi, worldSize: 6, count: 1000)
        XCTAssertEqual(t.perRank.map(\.messagesSent), [1, 3, 1, 3, 2, 2])
        XCTAssertEqual(t.totalBytesSent, 12 * 4000)
        XCTAssertEqual(CommunicationModel.totalBytesSent(.mpi, worldSize: 6, gradientBytes: 4000), 48_000)
    }

    func testNetworkPresets() {
        XCTAssertEqual(NetworkPreset.gigabitEthernet.beta, 8e-9, accuracy: 1e-21)
        XCTAssertEqual(NetworkPreset.gigabitEthernet.alpha, 50e-6)
        XCTAssertEqual(NetworkPreset.infiniBandFDR.bandwidthBytesPerSecond, 7e9, accuracy: 1)
        XCTAssertLessThan(NetworkPreset.infiniBandFDR.alpha, 2e-6)
        for preset in NetworkPreset.presets { XCTAssertEqual(NetworkPreset(name: preset.name), preset) }
        let calibrated = NetworkPreset.calibrated(alpha: 3e-6, beta: 2e-10)
        XCTAssertEqual(calibrated.alpha, 3e-6)
        XCTAssertEqual(calibrated.beta, 2e-10)
        XCTAssertNil(NetworkPreset(name: "carrier-pigeon"))
    }
}
