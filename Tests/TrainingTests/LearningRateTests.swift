import Foundation
import Metrics
import TestSupport
import Training
import XCTest

/// The learning-rate schedule against Caffe's formulas (poly `base * (1 - iter/max_iter)^power`,
/// step `base * gamma^floor(iter/stepsize)`, fixed `base`) and the project's linear warm-up
/// (for iter < warmup: the policy's rate times (iter + 1) / warmup). The expected values are
/// written out by hand, not computed with the code under test, so an off-by-one in the
/// iteration passed to a policy or in the ramp shows up as a wrong number.
final class LearningRateTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    func options(policy: LRPolicyName, base: Double = 0.1, iterations: Int = 10, warmup: Int = 0,
                 power: Double = 1, stepSize: Int = 3, gamma: Double = 0.5) -> TrainingOptions {
        var o = TrainingOptions()
        o.lrPolicy = policy; o.baseLR = base; o.iterations = iterations; o.warmupIterations = warmup
        o.power = power; o.stepSize = stepSize; o.gamma = gamma
        return o
    }

    /// Poly at base 0.1 over 10 iterations: iteration 0 is the full rate (Caffe starts at
    /// base_lr), and the last iteration is 1/10 of it (power 1) or 1/100 (power 2), not 0.
    func testPolyPolicyAtExplicitIterations() {
        let linear = options(policy: .poly)
        for (iteration, expected) in [(0, 0.1), (1, 0.09), (3, 0.07), (5, 0.05), (9, 0.01)] {
            XCTAssertEqual(linear.learningRate(at: iteration), expected, accuracy: 1e-12, "poly power 1, iteration \(iteration)")
        }
        let squared = options(policy: .poly, power: 2)
        for (iteration, expected) in [(0, 0.1), (1, 0.081), (5, 0.025), (9, 0.001)] {
            XCTAssertEqual(squared.learningRate(at: iteration), expected, accuracy: 1e-12, "poly power 2, iteration \(iteration)")
        }
        XCTAssertEqual(LearningRatePolicy.poly(power: 1, maxIterations: 10).rate(base: 0.1, iteration: 4), 0.06, accuracy: 1e-12)
    }

    /// Step at base 0.1, gamma 0.5, every 3 iterations: constant within a step, halved at 3, 6, ...
    func testStepAndFixedPoliciesAtExplicitIterations() {
        let step = options(policy: .step)
        for (iteration, expected) in [(0, 0.1), (2, 0.1), (3, 0.05), (5, 0.05), (6, 0.025), (9, 0.0125)] {
            XCTAssertEqual(step.learningRate(at: iteration), expected, accuracy: 1e-12, "step, iteration \(iteration)")
        }
        XCTAssertEqual(LearningRatePolicy.step(gamma: 0.5, stepSize: 3).rate(base: 0.1, iteration: 7), 0.025, accuracy: 1e-12)
        let fixed = options(policy: .fixed)
        for iteration in [0, 1, 5, 9] {
            XCTAssertEqual(fixed.learningRate(at: iteration), 0.1, accuracy: 1e-15, "fixed, iteration \(iteration)")
        }
    }

    /// Warm-up of 4 over poly (base 0.1, 10 iterations): iteration 0 is 1/4 of the policy's
    /// rate (never 0: a first step at rate 0 would be wasted), iteration warmup-1 the full
    /// policy rate, and from iteration warmup on the policy alone.
    func testWarmupRampAtExplicitIterations() {
        let poly = options(policy: .poly, warmup: 4)
        for (iteration, expected) in [(0, 0.025),       // 0.1 * 1.0 * 1/4
                                      (1, 0.045),       // 0.1 * 0.9 * 2/4
                                      (3, 0.07),        // 0.1 * 0.7 * 4/4 (warmup - 1)
                                      (4, 0.06),        // 0.1 * 0.6 (warmup: the policy alone)
                                      (9, 0.01)] {      // last
            XCTAssertEqual(poly.learningRate(at: iteration), expected, accuracy: 1e-12, "poly + warm-up 4, iteration \(iteration)")
        }
        let fixed = options(policy: .fixed, warmup: 4)
        for (iteration, expected) in [(0, 0.025), (2, 0.075), (3, 0.1), (4, 0.1), (9, 0.1)] {
            XCTAssertEqual(fixed.learningRate(at: iteration), expected, accuracy: 1e-12, "fixed + warm-up 4, iteration \(iteration)")
        }
    }

    /// The rate the training loop really applies: every record of metrics.jsonl carries
    /// the `learning_rate` of its `iteration`, which must be the formula at that iteration
    /// (so a loop that asks for the rate of iteration + 1 fails here even though the
    /// schedule functions are right). Poly with power 2 and a warm-up, one process.
    func testEveryRecordedLearningRateFollowsTheFormula() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (base, iterations, warmup, power) = (0.02, 12, 5, 2.0)
        let r = try ProcessRunner.run(binary, ["--model", "v1.1", "--dataset", "synthetic", "--input-size", "32",
                                               "--train-limit", "48", "--test-limit", "8", "--batch-size", "8",
                                               "--iterations", String(iterations), "--base-lr", String(base),
                                               "--lr-policy", "poly", "--power", String(power),
                                               "--warmup-iterations", String(warmup), "--log-every", "4",
                                               "--output", dir.path],
                                      environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(records.map(\.iteration), Array(0..<iterations), "one record per iteration, in order")
        for record in records {
            let i = Double(record.iteration)
            var expected = base * pow(1 - i / Double(iterations), power)
            if record.iteration < warmup { expected *= (i + 1) / Double(warmup) }
            XCTAssertEqual(record.learningRate, expected, accuracy: 1e-12 * base,
                           "learning_rate of the record of iteration \(record.iteration)")
        }
    }
}
