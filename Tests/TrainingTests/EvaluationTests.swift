import Foundation
import TestSupport
import Training
import XCTest

/// Test-set evaluation split across ranks (rank r takes images r, r+p, ...): the same
/// weights must give the same "test top-1 X% on N images" under any rank count.
final class EvaluationTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    /// One step at a rate of 1e-45 (the smallest float; rate times any gradient below 0.7
    /// rounds to 0), no momentum, decay or clipping leaves the weights exactly as
    /// initialised, so 1, 2 and 3 ranks evaluate bit-identical weights (checked with
    /// `squeezenet-train diff`). 100 test images do not divide by 3: a rank split that
    /// skips, repeats or double-counts images changes N or the accuracy.
    func testEvaluationIsTheSameOnOneTwoAndThreeRanks() throws {
        let limit = 100
        var outputs: [(ranks: Int, line: String, weights: String)] = []
        var dirs: [URL] = []
        defer { for d in dirs { try? FileManager.default.removeItem(at: d) } }
        for ranks in [1, 2, 3] {
            let dir = TestPaths.temporaryDirectory()
            dirs.append(dir)
            let args = ["--model", "v1.1", "--dataset", "synthetic", "--input-size", "32", "--train-limit", "24",
                        "--test-limit", String(limit), "--batch-size", "12", "--iterations", "1", "--dropout", "0",
                        "--base-lr", "1e-45", "--lr-policy", "fixed", "--warmup-iterations", "0", "--momentum", "0",
                        "--weight-decay", "0", "--clip-gradient-norm", "0", "--log-every", "1", "--output", dir.path]
            let r = ranks == 1 ? try ProcessRunner.run(binary, args, environment: ["OPENBLAS_NUM_THREADS": "1"])
                               : try ProcessRunner.mpirun(ranks, binary, args + ["--allreduce", "ring"])
            XCTAssertEqual(r.status, 0, "np=\(ranks): \(r.stderr)")
            let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("test top-1") }.map(String.init)
            XCTAssertNotNil(line, "np=\(ranks): no test accuracy in the output: \(r.stdout)")
            outputs.append((ranks, line ?? "", dir.appendingPathComponent("weights.bin").path))
        }
        for o in outputs {
            print("np=\(o.ranks): \(o.line)")
            XCTAssertTrue(o.line.hasPrefix("test top-1 ") && o.line.contains(" on \(limit) images"),
                          "np=\(o.ranks) must evaluate each of the \(limit) test images once: \(o.line)")
        }
        // The weights did not move, so the runs evaluated the same network.
        for o in outputs.dropFirst() {
            let d = try ProcessRunner.run(binary, ["diff", o.weights, outputs[0].weights])
            XCTAssertEqual(d.status, 0, d.stderr)
            XCTAssertTrue(d.stdout.contains(" 0 differ bitwise"), "np=\(o.ranks) vs np=1 weights: \(d.stdout)")
        }
        XCTAssertEqual(outputs[1].line, outputs[0].line, "np=2 vs np=1")
        XCTAssertEqual(outputs[2].line, outputs[0].line, "np=3 vs np=1")
    }
}
