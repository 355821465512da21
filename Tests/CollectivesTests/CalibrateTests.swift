import Foundation
import XCTest

/// `squeezenet-train calibrate` under a real `mpirun -np 2`: a ping-pong over the
/// counted point-to-point calls, fitted to alpha + n beta.
final class CalibrateTests: XCTestCase {
    func testCalibrateWritesPositiveAlphaAndBeta() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("calibration.json")
        let run = try MPIRunner.run(ranks: 2, program: "squeezenet-train",
                                    arguments: ["calibrate", "--max-bytes", String(4 << 20), "--repetitions", "20",
                                                "--output", output.path], timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("round trip (measured, median)"), run.stdout)
        XCTAssertTrue(run.stdout.contains("Fitted (modelled): alpha ="), run.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: Any]
        let alpha = try XCTUnwrap(json?["alpha"] as? Double), beta = try XCTUnwrap(json?["beta"] as? Double)
        XCTAssertGreaterThan(alpha, 0)
        XCTAssertLessThan(alpha, 1e-2)         // latency below 10 ms even on a loaded machine
        XCTAssertGreaterThan(beta, 0)
        XCTAssertLessThan(1 / beta, 1e12)      // below 1 TB/s
        let points = try XCTUnwrap(json?["points"] as? [[String: Any]])
        XCTAssertEqual(points.map { $0["bytes"] as? Int }, [4, 16, 64, 256, 1024, 4096, 16384, 65536, 262_144,
                                                             1_048_576, 4_194_304])
        XCTAssertTrue((json?["transport"] as? String ?? "").contains("same host"), "\(json ?? [:])")
    }

    func testCalibrateNeedsTwoRanks() throws {
        let run = try MPIRunner.run(ranks: 1, program: "squeezenet-train", arguments: ["calibrate"], timeout: 60)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("calibrate needs 2 ranks"), run.stderr)
    }
}
