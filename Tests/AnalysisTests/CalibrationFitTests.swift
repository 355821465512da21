import Analysis
import Metrics
import XCTest

final class CalibrationFitTests: XCTestCase {
    /// Exact points on t/2 = alpha + n beta give alpha and beta back.
    func testFitRecoversKnownAlphaBeta() throws {
        let alpha = 2.5e-6, beta = 1.0 / 3.2e9
        let points = PingPong4Sizes.map { n in
            PingPongPoint(bytes: n, repetitions: 10, medianRoundTripSeconds: 2 * (alpha + Double(n) * beta),
                          minRoundTripSeconds: 2 * (alpha + Double(n) * beta))
        }
        let c = try Calibration(points: points, transport: "synthetic")
        XCTAssertEqual(c.alpha, alpha, accuracy: alpha * 1e-9)
        XCTAssertEqual(c.beta, beta, accuracy: beta * 1e-9)
        XCTAssertEqual(c.network, .calibrated(alpha: c.alpha, beta: c.beta))
        XCTAssertEqual(c.modelledOneWaySeconds(bytes: 1 << 20), alpha + Double(1 << 20) * beta, accuracy: 1e-15)
    }

    /// With +-5% multiplicative noise, relative residuals keep both within a few percent:
    /// alpha from the small messages, beta from the large ones.
    func testFitWithNoiseStaysClose() throws {
        let alpha = 1.0e-6, beta = 1.0 / 5e9
        let noise = [1.05, 0.95, 1.02, 0.98, 1.04, 0.96, 1.0, 1.03, 0.97, 1.01, 0.99, 1.05, 0.95]
        let points = zip(PingPong4Sizes, noise).map { n, f in
            PingPongPoint(bytes: n, roundTrips: [2 * (alpha + Double(n) * beta) * f])
        }
        let c = try Calibration(points: points, transport: "synthetic")
        XCTAssertEqual(c.alpha / alpha, 1, accuracy: 0.06)
        XCTAssertEqual(c.beta / beta, 1, accuracy: 0.06)
    }

    func testMedianOfRoundTrips() {
        let p = PingPongPoint(bytes: 4, roundTrips: [3, 1, 2, 10])
        XCTAssertEqual(p.medianRoundTripSeconds, 2.5)
        XCTAssertEqual(p.minRoundTripSeconds, 1)
        XCTAssertEqual(p.oneWaySeconds, 1.25)
        XCTAssertEqual(p.repetitions, 4)
    }

    func testOneSizeCannotBeFitted() {
        XCTAssertThrowsError(try Calibration(points: [PingPongPoint(bytes: 4, roundTrips: [1e-6])], transport: "x"))
    }

    func testJSONRoundTripAndKeys() throws {
        let points = [PingPongPoint(bytes: 4, roundTrips: [2e-6]), PingPongPoint(bytes: 4096, roundTrips: [4e-6])]
        let c = try Calibration(points: points, transport: "shared memory")
        let data = try c.json()
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        XCTAssertNotNil(object["alpha"] as? Double)
        XCTAssertNotNil(object["beta"] as? Double)
        XCTAssertEqual(object["transport"] as? String, "shared memory")
        XCTAssertEqual((object["points"] as? [[String: Any]])?.first?["median_round_trip_seconds"] as? Double, 2e-6)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("calib-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try data.write(to: url)
        XCTAssertEqual(try Calibration.read(url.path), c)
        // one way 1 us at 4 B and 2 us at 4096 B: beta = 1 us / 4092 B, alpha = 1 us - 4 beta
        XCTAssertEqual(c.beta, 1e-6 / 4092, accuracy: 1e-18)
        XCTAssertEqual(c.alpha, 1e-6 - 4e-6 / 4092, accuracy: 1e-15)
        XCTAssertTrue(c.markdown().contains("one way (measured)"))
    }

    /// The per-row model check: measured / modelled - 1 against hand-computed critical paths.
    func testModelCheckError() throws {
        // ring, p = 2, N = 4,993,696 bytes on 10 GbE: 2 alpha + N beta = 40 us + 3.9949568 ms.
        let records = runRecords(model: "v1.0", parameters: 1_248_424, algorithm: "ring", bytesPerRank: 4_993_696,
                                 times: [[(0.008, 0.05, 0.1), (0.008, 0.05, 0.1)]])
        let analysis = CommunicationAnalysis(records: records, networks: [.tenGigabitEthernet])
        let row = try XCTUnwrap(analysis.modelCheck().first)
        let modelled: Double = 40e-6 + 4_993_696.0 * 8.0 / 10e9
        XCTAssertEqual(row.modelledCommSeconds!, modelled, accuracy: 1e-15)
        XCTAssertEqual(row.error!, 0.008 / modelled - 1, accuracy: 1e-12)
        XCTAssertEqual(analysis.largestError(network: .tenGigabitEthernet)?.error, row.error)
        XCTAssertTrue(analysis.modelCheckMarkdown().contains("+98.3%"), analysis.modelCheckMarkdown())
    }

    /// Scaling from a measured one-worker run: compute = iteration - comm; curve to 1024.
    func testScalingUsesMeasuredSingleWorkerCompute() throws {
        let one = runRecords(model: "v1.0", parameters: 1_248_424, algorithm: "none", bytesPerRank: 0,
                             times: [[(0, 0.2, 0.25)]])
        let two = runRecords(model: "v1.0", parameters: 1_248_424, algorithm: "tree", bytesPerRank: 4_993_696,
                             times: [[(0.01, 0.2, 0.26), (0.01, 0.2, 0.26)]])
        let analysis = CommunicationAnalysis(records: one + two, networks: [.infiniBandFDR])
        let tree = try XCTUnwrap(analysis.scaling().first { $0.algorithm == .tree })
        XCTAssertEqual(tree.compute.seconds, 0.25, accuracy: 1e-12)
        XCTAssertEqual(tree.compute.perWorkerBatch, 16)
        XCTAssertEqual(tree.points.map(\.modelled.workers), [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
        let p1024 = tree.points.last!.modelled
        // Pipelined tree, depth 10: d N beta to stream, 2 d (alpha + S beta) to fill and drain
        // (S = 2^15 floats per segment).
        let beta = 8.0 / 56e9, segment = 131_072.0
        let comm: Double = 10 * 4_993_696.0 * beta + 20 * (1.5e-6 + segment * beta)
        XCTAssertEqual(p1024.commSeconds, comm, accuracy: 1e-12)
        XCTAssertEqual(p1024.speedup, 1024 * 0.25 / (0.25 + comm), accuracy: 1e-9)
        let p2 = tree.points[1]
        XCTAssertEqual(p2.measuredIterationSeconds!, 0.26, accuracy: 1e-12)
        XCTAssertEqual(p2.measuredSpeedup!, 2 * 0.25 / 0.26, accuracy: 1e-12)
        let commAt2: Double = 4_993_696.0 * beta + 2 * (1.5e-6 + segment * beta)
        XCTAssertEqual(p2.commError!, 0.01 / commAt2 - 1, accuracy: 1e-9)
        XCTAssertTrue(analysis.scalingCSV().hasPrefix("model,algorithm,network,"))
        XCTAssertNotNil(analysis.plotFiles()["plots.gp"])
    }
}

/// 4 B .. 64 MiB by 4x, the sizes `calibrate` uses.
let PingPong4Sizes: [Int] = (0...12).map { 4 << (2 * $0) }
