import Analysis
import Metrics
import Topology
import XCTest

final class CommunicationModelTests: XCTestCase {
    let squeezeN = 4_993_696, squeezeCount = 1_248_424
    let alexN = 243_860_896, alexCount = 60_965_224

    /// At p = 8 the ring sends 8.74 MB per rank for SqueezeNet, 426.8 MB for AlexNet.
    func testRingPerRankAtEightWorkers() {
        // 2 * (7/8) * 4,993,696 = 8,738,968 exactly (1,248,424 divides by 8).
        XCTAssertEqual(AllreduceAlgorithm.lowerBoundBytesPerRank(ranks: 8, gradientBytes: squeezeN), 8_738_968)
        let ring = CommunicationModel.traffic(.ring, worldSize: 8, count: squeezeCount)
        XCTAssertEqual(ring.perRank.map(\.bytesSent), Array(repeating: 8_738_968, count: 8))
        XCTAssertEqual(ring.perRank.map(\.bytesReceived), Array(repeating: 8_738_968, count: 8))
        XCTAssertEqual(ring.maxMessagesSentPerRank, 14)

        let alex = CommunicationModel.traffic(.ring, worldSize: 8, count: alexCount)
        XCTAssertEqual(alex.maxBytesSentPerRank, 426_756_568)  // 14 * 7,620,653 * 4
        XCTAssertEqual(Double(alex.maxBytesSentPerRank) / 1e6, 426.8, accuracy: 0.05)
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

    func testCriticalPaths() {
        let net = NetworkPreset.calibrated(alpha: 1e-5, beta: 1e-9)
        let n = 1_000_000
        func t(_ a: AllreduceAlgorithm, _ p: Int, _ bytes: Int = 1_000_000) -> Double {
            CommunicationModel.criticalPathSeconds(a, worldSize: p, gradientBytes: bytes, network: net)
        }
        // The tree pipelined in 128 KiB segments: d N beta + 2 d (alpha + S beta), d = ceil(log2 p).
        let pipelinedFill: Double = 2 * 3 * (1e-5 + 131_072e-9)
        XCTAssertEqual(t(.tree, 8), 3e-3 + pipelinedFill, accuracy: 1e-12)
        XCTAssertEqual(t(.ring, 8), 14e-5 + 1.75e-3, accuracy: 1e-12)         // 0.00189
        XCTAssertEqual(t(.ps, 8), 14 * (1e-5 + 1e-3), accuracy: 1e-12)        // 0.01414
        XCTAssertEqual(t(.tree, 5), 3e-3 + pipelinedFill, accuracy: 1e-12)
        // Open MPI 4.1.4 picks Rabenseifner for 1 MB at 8 ranks: 2 log2(p) alpha + 2 (p-1)/p N beta.
        XCTAssertEqual(t(.mpi, 8), 6e-5 + 1.75e-3, accuracy: 1e-12)
        // Below 10 KB: recursive doubling over 4 ranks plus 2 steps to fold in 2 extra ranks.
        XCTAssertEqual(t(.mpi, 6, 4000), 4 * (1e-5 + 4e-6), accuracy: 1e-15)
        XCTAssertEqual(t(.mpi, 8, 4000), 3 * (1e-5 + 4e-6), accuracy: 1e-15)
        for a in AllreduceAlgorithm.allCases { XCTAssertEqual(t(a, 1), 0) }
        XCTAssertEqual(CommunicationModel.mpiModelledAlgorithm(gradientBytes: n), "rabenseifner")
        XCTAssertEqual(CommunicationModel.mpiModelledAlgorithm(gradientBytes: 100_000, worldSize: 2), "ring")
        XCTAssertTrue(AllreduceAlgorithm.mpiAssumption.contains("modelled"))
    }

    func testMPISmallMessageTraffic() {
        // p = 6: p' = 4, ranks 0 and 2 hand off (1 message), 1 and 3 do 2 rounds + hand back (3), 4 and 5 do 2.
        let t = CommunicationModel.traffic(.mpi, worldSize: 6, count: 1000)
        XCTAssertEqual(t.perRank.map(\.messagesSent), [1, 3, 1, 3, 2, 2])
        XCTAssertEqual(t.totalBytesSent, 12 * 4000)
        XCTAssertEqual(AllreduceAlgorithm.mpi.totalBytesSent(ranks: 6, gradientBytes: 4000), 48_000)
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
