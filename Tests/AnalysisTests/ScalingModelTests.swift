import Analysis
import Metrics
import XCTest

final class ScalingModelTests: XCTestCase {
    /// compute 0.1 s, 32 images per worker, N = 1000 bytes, alpha 1 ms, beta 1 us/byte, ring.
    let model = ScalingModel(computeSeconds: 0.1, perWorkerBatch: 32, gradientBytes: 1000,
                             algorithm: .ring, network: .calibrated(alpha: 1e-3, beta: 1e-6))

    func testHandComputedPoints() {
        let one = model.point(workers: 1)
        XCTAssertEqual(one.commSeconds, 0)
        XCTAssertEqual(one.throughput, 320, accuracy: 1e-9)
        XCTAssertEqual(one.speedup, 1, accuracy: 1e-12)

        // comm(2) = 2*1*1e-3 + 2*(1/2)*1000*1e-6 = 0.003; time 0.103; 64 / 0.103 images/s.
        let two = model.point(workers: 2)
        XCTAssertEqual(two.commSeconds, 0.003, accuracy: 1e-12)
        XCTAssertEqual(two.iterationSeconds, 0.103, accuracy: 1e-12)
        XCTAssertEqual(two.throughput, 621.359223, accuracy: 1e-5)
        XCTAssertEqual(two.speedup, 1.941748, accuracy: 1e-6)
        XCTAssertEqual(two.efficiency, 0.970874, accuracy: 1e-6)

        // comm(4) = 6e-3 + 1.5e-3 = 0.0075; 128 / 0.1075.
        let four = model.point(workers: 4)
        XCTAssertEqual(four.commSeconds, 0.0075, accuracy: 1e-12)
        XCTAssertEqual(four.throughput, 1190.697674, accuracy: 1e-5)
        XCTAssertEqual(four.efficiency, 0.930233, accuracy: 1e-6)
    }

    func testCurveAndRendering() {
        let curve = model.curve()
        XCTAssertEqual(curve.map(\.workers), [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
        XCTAssertTrue(zip(curve, curve.dropFirst()).allSatisfy { $0.efficiency >= $1.efficiency })

        let markdown = model.markdown(workers: [1, 2])
        XCTAssertTrue(markdown.contains("| 2 | 3.000 ms | 103.000 ms | 621.4 | 1.94 | 97.1% |"), markdown)
        XCTAssertTrue(markdown.contains("calibrated"), markdown)
        let csv = model.csv(workers: [1, 2]).split(separator: "\n")
        XCTAssertEqual(csv.first, "workers,comm_seconds,iteration_seconds,images_per_second,speedup,efficiency")
        XCTAssertEqual(csv.count, 3)
    }

    func testTreeBeatsParameterServerAtScale() {
        var tree = model, ps = model
        tree.algorithm = .tree
        ps.algorithm = .ps
        // Pipelined tree, one segment (N < 128 KiB): d N beta + 2 d (alpha + N beta), d = 2.
        let expected: Double = 2e-3 + 4 * 2e-3
        XCTAssertEqual(tree.commSeconds(workers: 4), expected, accuracy: 1e-12)
        XCTAssertGreaterThan(tree.point(workers: 128).speedup, ps.point(workers: 128).speedup)
    }
}
