import Foundation
import Metrics
import TestSupport
import Training
import XCTest

/// `--clip-gradient-norm` and `--classifier-lr-mult`: one plain SGD step (rate 1, no
/// momentum, no decay) moves the weights by exactly the averaged gradient (times the
/// rate multiplier), so the step's length is the gradient's norm.
final class UpdateRuleTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    /// The weights after one step.
    func oneStep(_ extra: [String], rate: String = "1", ranks: Int = 1) throws -> [Float] {
        try step(extra, rate: rate, ranks: ranks).weights
    }

    /// The weights after one step, and the gradient norm the metrics recorded for it.
    func step(_ extra: [String], rate: String = "1", ranks: Int = 1) throws -> (weights: [Float], recordedNorm: Double?) {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["--model", "v1.1", "--input-size", "32", "--train-limit", "96", "--test-limit", "16",
                    "--batch-size", "24", "--iterations", "1", "--dropout", "0", "--base-lr", rate,
                    "--lr-policy", "fixed", "--warmup-iterations", "0", "--momentum", "0", "--weight-decay", "0",
                    "--output", dir.path] + extra
        let r = ranks == 1 ? try ProcessRunner.run(binary, args, environment: ["OPENBLAS_NUM_THREADS": "1"])
                           : try ProcessRunner.mpirun(ranks, binary, args + ["--allreduce", "ring"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
        return (try WeightFile.read(from: dir.appendingPathComponent("weights.bin").path).values, records.first?.gradientNorm)
    }

    func norm(_ a: [Float], minus b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
    }

    func testAGradientLongerThanTheLimitIsScaledDownToIt() throws {
        let initial = try oneStep([], rate: "1e-30")
        let (free, recorded) = try step(["--clip-gradient-norm", "0", "--classifier-lr-mult", "1"])
        let gradientNorm = norm(free, minus: initial)
        XCTAssertGreaterThan(gradientNorm, 1e-3, "the step must move the weights")
        XCTAssertEqual(try XCTUnwrap(recorded) / gradientNorm, 1, accuracy: 1e-3, "metrics.jsonl gradient_norm")

        // Limit above the norm: nothing changes, bit for bit.
        XCTAssertEqual(try oneStep(["--clip-gradient-norm", String(2 * gradientNorm), "--classifier-lr-mult", "1"]), free)

        // Limit at a quarter: the step is that long and points the same way.
        let limit = gradientNorm / 4
        let (clipped, recordedBeforeClipping) = try step(["--clip-gradient-norm", String(limit), "--classifier-lr-mult", "1"])
        XCTAssertEqual(try XCTUnwrap(recordedBeforeClipping) / gradientNorm, 1, accuracy: 1e-3,
                       "gradient_norm is recorded before clipping")
        XCTAssertEqual(norm(clipped, minus: initial) / limit, 1, accuracy: 1e-3)
        var worst = 0.0
        for i in initial.indices {
            let expected = Double(free[i] - initial[i]) / 4
            worst = max(worst, abs(Double(clipped[i] - initial[i]) - expected))
        }
        XCTAssertLessThan(worst / (gradientNorm / 4), 1e-4, "clipping must only shorten the step")

        // Ranks clip the same averaged gradient alike: 3 ranks match one process.
        let distributed = try oneStep(["--clip-gradient-norm", String(limit), "--classifier-lr-mult", "1"], ranks: 3)
        XCTAssertLessThan(relativeMaxDifference(distributed, clipped), 1e-4)
    }

    /// conv10 (the last 5,130 values of v1.1 with 10 classes) steps at the multiplier times
    /// the rate; every other parameter takes exactly the step it takes without it.
    func testClassifierStepsAtItsRateMultiplier() throws {
        let initial = try oneStep([], rate: "1e-30")
        let plain = ["--clip-gradient-norm", "0"]
        let full = try oneStep(plain + ["--classifier-lr-mult", "1"])
        let quarter = try oneStep(plain + ["--classifier-lr-mult", "0.25"])
        let classifier = (initial.count - 5130)..<initial.count
        XCTAssertEqual(Array(quarter[..<classifier.lowerBound]), Array(full[..<classifier.lowerBound]))
        var worst = 0.0, largest = 0.0
        for i in classifier {
            let step = Double(full[i] - initial[i])
            largest = max(largest, abs(step))
            worst = max(worst, abs(Double(quarter[i] - initial[i]) - step / 4))
        }
        XCTAssertGreaterThan(largest, 1e-4, "conv10 must move")
        XCTAssertLessThan(worst / largest, 1e-4)
        XCTAssertNotEqual(Array(full[..<classifier.lowerBound]), Array(initial[..<classifier.lowerBound]))
    }
}
