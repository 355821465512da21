import Foundation
import TestSupport
import Training
import XCTest

/// Short runs of the real binary on real Fashion-MNIST images.
final class RealTrainingTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    /// SqueezeNet v1.1 on 3,000 training images for 240 iterations of 32 (2.5 epochs,
    /// base-lr 0.005, which v1.1 needs: docs/training.md) must reach at least 50% top-1 on
    /// 1,000 test images. Chance is 10%; a network whose gradients were wrong or whose
    /// outputs all died stays near 10%, while this run (seed 42, the default) reaches 57-63% (61.4%
    /// before the vectorized bias-gradient sums, 57.1% after: same gradients to rounding,
    /// another trajectory; 63.1% with conv10's bias at 0.5 and clipping at 5, 60.7% with conv10
    /// at 0.1 of the rate too: the defaults since; 60.7% in two runs of this build: deterministic).
    /// The floor of 50% leaves 7 points below the lowest of those for a trajectory moved by
    /// rounding, while a network that learns but 10 or more points worse fails (30% let a
    /// half-broken one pass). Whether single class outputs die behind conv10's ReLU in so
    /// short a run depends on the seed and on rounding (seeds 1-11 at this setting: some
    /// class died in 9 of 11 runs with the previous build and 10 of 11 with this one, all
    /// of them in 2 and 3), so the test pins the seed and does not assert that none dies.
    func testSqueezeNetLearnsFashionMNIST() throws {
        let r = try ProcessRunner.run(binary, ["--model", "v1.1", "--base-lr", "0.005", "--input-size", "32", "--train-limit", "3000",
                                               "--test-limit", "1000", "--batch-size", "32", "--iterations", "240",
                                               "--seed", "42", "--log-every", "40"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        print(r.stdout)
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("test top-1") }
        let accuracy = line.flatMap { Double($0.split(separator: " ")[2].dropLast()) }
        XCTAssertNotNil(accuracy, "no test accuracy in the output")
        XCTAssertGreaterThan(accuracy ?? 0, 50)
    }

    func testDivergenceStopsWithTheIteration() throws {
        let r = try ProcessRunner.run(binary, ["--model", "v1.1", "--train-limit", "640", "--test-limit", "64",
                                               "--batch-size", "32", "--iterations", "60", "--base-lr", "50",
                                               "--log-every", "5"], timeout: 120)
        XCTAssertEqual(r.status, 1)
        let error = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(error.count, 1, r.stderr)
        XCTAssertTrue(error.first?.contains("iteration") ?? false, r.stderr)
        XCTAssertTrue(error.first?.contains("lower --base-lr") ?? false, r.stderr)
    }

    func testSummaryPrintsThePaperCount() throws {
        let r = try ProcessRunner.run(binary, ["--model", "v1.0", "--classes", "1000", "--input-size", "224", "--summary"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("1,248,424"), r.stdout)
        XCTAssertTrue(r.stdout.contains("fire9"), r.stdout)
        XCTAssertTrue(r.stdout.contains("4,993,696"), r.stdout)
    }

    /// Every refused command line: non-zero, and exactly one line on stderr, `error: ...`
    /// naming the flag, before MPI starts (parse errors too). NaN and Inf for every real
    /// option, since a check written as `x < 0` lets NaN through.
    func testBadFlagsAreOneLineErrors() throws {
        for (args, message) in [(["--batch-size", "0"], "--batch-size must be positive"),
                                (["--model", "resnet"], "'resnet' is invalid for '--model <name>'. Please provide one of 'v1.0', 'v1.1', 'alexnet'"),
                                (["--allreduce", "butterfly"], "'butterfly' is invalid for '--allreduce <algorithm>'. Please provide one of 'tree', 'ring', 'mpi', 'ps' or 'hierarchical'"),
                                (["--iterations", "5", "--epochs", "1"], "give --iterations or --epochs, not both"),
                                (["--epochs=-1"], "--epochs must be positive"),
                                (["--epochs", "nan"], "--epochs must be positive"),
                                (["--model", "alexnet-payload", "--epochs", "1"], "--epochs needs a training set"),
                                (["--dataset", "synthetic", "--train-limit", "64", "--batch-size", "1", "--epochs", "1e12"],
                                 "is more than 2147483647 iterations"),
                                (["--base-lr=-1"], "--base-lr must be a positive number"),
                                (["--iterations=-5"], "--iterations must be positive"),
                                (["--input-size", "16"], "too small for SqueezeNet"),
                                (["--max-shift", "32"], "--max-shift must be in 0..<32"),
                                (["--clip-gradient-norm=-1"], "--clip-gradient-norm must be >= 0"),
                                (["--classifier-std=-0.1"], "--classifier-std must be >= 0"),
                                (["--classifier-lr-mult=-1"], "--classifier-lr-mult must be >= 0"),
                                (["--batch-size", "x"], "The value 'x' is invalid for '--batch-size"),
                                (["--no-such-flag"], "Unknown option '--no-such-flag'"),
                                (["--base-lr", "nan"], "--base-lr must be a positive number, got nan"),
                                (["--base-lr", "1e39"], "--base-lr must be at most"),
                                (["--base-lr", "1e30", "--classifier-lr-mult", "1e10"], "is beyond float32's range"),
                                (["--momentum", "nan"], "--momentum must be in [0, 1), got nan"),
                                (["--momentum", "1"], "--momentum must be in [0, 1)"),
                                (["--weight-decay", "nan"], "--weight-decay must be a finite number >= 0, got nan"),
                                (["--weight-decay", "inf"], "--weight-decay must be a finite number >= 0, got inf"),
                                (["--dropout", "nan"], "--dropout must be in [0, 1), got nan"),
                                (["--power", "nan"], "--power must be a finite number >= 0, got nan"),
                                (["--power", "inf"], "--power must be a finite number >= 0, got inf"),
                                (["--power=-1"], "--power must be a finite number >= 0"),
                                (["--step-size", "0"], "--step-size must be positive, got 0"),
                                (["--gamma", "nan"], "--gamma must be in (0, 1]"),
                                (["--gamma", "0"], "--gamma must be in (0, 1]"),
                                (["--gamma", "1.5"], "--gamma must be in (0, 1]"),
                                (["--warmup-iterations=-1"], "--warmup-iterations must be >= 0"),
                                (["--classifier-bias", "nan"], "--classifier-bias must be a finite number"),
                                (["--classifier-std", "nan"], "--classifier-std must be >= 0"),
                                (["--classifier-std", "inf"], "--classifier-std must be >= 0"),
                                (["--clip-gradient-norm", "nan"], "--clip-gradient-norm must be >= 0"),
                                (["--classifier-lr-mult", "inf"], "--classifier-lr-mult must be >= 0"),
                                (["--bucket-mb", "nan"], "--bucket-mb must be >= 0"),
                                (["--classes", "1"], "--classes must be at least 2"),
                                (["--iterations", "3000000000"], "--iterations must be at most 2147483647"),
                                (["--input-size", "5000"], "--input-size must be at most 4096, got 5000"),
                                (["--log-every", "0"], "--log-every must be positive"),
                                (["--eval-every=-1"], "--eval-every must be >= 0"),
                                (["--train-limit", "0"], "--train-limit must be positive"),
                                (["--test-limit", "0"], "--test-limit must be positive"),
                                (["--max-shift=-1"], "--max-shift must be in 0..<32"),
                                (["--output", ""], "--output must name a folder"),
                                (["--trace", ""], "--trace must name a file"),
                                (["--checkpoint-every=-1", "--output", "/tmp/x"], "--checkpoint-every must be >= 0"),
                                (["--checkpoint-every", "5"], "--checkpoint-every 5 needs --output"),
                                (["--keep-checkpoints", "1"], "--keep-checkpoints 1 needs --output"),
                                (["--keep-checkpoints=-1", "--output", "/tmp/x"], "--keep-checkpoints must be >= 0"),
                                (["--resume", "latest"], "--resume latest needs --output"),
                                (["--overwrite"], "--overwrite needs --output"),
                                (["--transform", "caffe"], "--transform applies to JPEG data sets: add --dataset folder or --dataset list"),
                                (["--train-list", "t.txt"], "--train-list applies to Caffe list files: add --dataset list"),
                                (["--dataset", "folder"], "--dataset folder needs --data-dir DIR"),
                                (["--dataset", "list"], "--dataset list needs --train-list FILE"),
                                (["--dataset", "folder", "--data-dir", "/tmp", "--decode-threads", "0"], "--decode-threads must be in 1...64, got 0"),
                                (["--dataset", "folder", "--data-dir", "/tmp", "--resize", "16"], "--resize must be in 32...8192"),
                                (["--dataset", "folder", "--data-dir", "/tmp", "--pixel-std", "0"], "--pixel-std must be finite and positive"),
                                (["--dataset", "folder", "--data-dir", "/tmp", "--pixel-mean", "1,2"], "--pixel-mean takes 1 or 3 comma-separated numbers, got 2"),
                                (["--dataset", "folder", "--data-dir", "/tmp", "--max-shift", "2"], "--max-shift is for in-memory data sets"),
                                (["--timeout", "nan"], "--timeout must be at least 1 second"),
                                (["--replay-compute", "t.json", "--worker-speedup", "nan"], "--worker-speedup must be a positive number"),
                                (["--replay-compute", "t.json", "--time-dilation", "nan"], "--time-dilation must be at least 1")] {
            let r = try ProcessRunner.run(binary, args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(args): one line, got \(r.stderr)")
            XCTAssertTrue(lines.first?.hasPrefix("error: ") ?? false, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stdout.isEmpty, "\(args): refused before any work: \(r.stdout)")
        }
    }

    /// A run that cannot fit is refused from the model's shapes in about a second, before its
    /// data or replica is allocated (the data would take minutes: 20,000 synthetic 224 px
    /// images). 1.3 TB exceeds any test machine; the figures are the estimate's.
    func testRunThatCannotFitIsRefusedBeforeAllocating() throws {
        for args in [["--dataset", "synthetic", "--train-limit", "20000", "--batch-size", "20000", "--input-size", "224"],
                     ["--train-limit", "512", "--batch-size", "10000", "--input-size", "224"]] {
            let r = try ProcessRunner.run(binary, args, timeout: 60)
            XCTAssertEqual(r.status, 1, "\(args): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("error: needs about "), r.stderr)
            XCTAssertTrue(r.stderr.contains("per rank (activations "), r.stderr)
            XCTAssertTrue(r.stderr.contains(" at batch \(args[args.count - 3]) of 224 px), "), r.stderr)
            XCTAssertTrue(r.stderr.contains(" available; lower --batch-size"), r.stderr)
            XCTAssertLessThan(r.seconds, 10, "refused before allocating")
        }
        // A batch larger than the synthetic set is refused before the set is made.
        let r = try ProcessRunner.run(binary, ["--dataset", "synthetic", "--train-limit", "512", "--batch-size", "1024",
                                               "--input-size", "224"], timeout: 60)
        XCTAssertEqual(r.stderr, "error: --batch-size 1024 is larger than the 512 training images\n")
        XCTAssertLessThan(r.seconds, 10)
    }

    /// The estimate's refusal, per rank and per host, from given figures.
    func testMemoryEstimateRefusesWithTheFigures() throws {
        var o = TrainingOptions()
        o.model = .v1_0; o.inputSize = 224; o.dataset = .synthetic; o.trainLimit = 64; o.testLimit = 16
        let estimate = MemoryEstimate(options: o, localBatch: 16)
        XCTAssertGreaterThan(estimate.activationBytes, 16 * 40e6, "v1.0 at 224 px holds over 40 MB per image")
        XCTAssertNoThrow(try estimate.check(ranksOnHost: 1, available: estimate.totalBytes * 1.01))
        XCTAssertNoThrow(try estimate.check(ranksOnHost: 4, available: nil), "unknown: never refused")
        XCTAssertThrowsError(try estimate.check(ranksOnHost: 4, available: estimate.totalBytes * 3.9)) {
            let text = "\($0)"
            XCTAssertTrue(text.hasPrefix("needs about \(MemoryEstimate.format(estimate.totalBytes)) per rank x 4 ranks on this host (activations "), text)
            XCTAssertTrue(text.contains("at batch 16 of 224 px), \(MemoryEstimate.format(estimate.totalBytes * 3.9)) available; lower --batch-size or run fewer ranks per host"), text)
        }
        var payload = TrainingOptions()
        payload.model = .alexnetPayload
        let p = MemoryEstimate(options: payload, localBatch: 64)
        XCTAssertEqual(p.parameterBytes, 4 * 4 * 60_965_224, "values, gradients, momentum, exchange scratch")
        XCTAssertThrowsError(try p.check(ranksOnHost: 1, available: 1e8)) { XCTAssertTrue("\($0)".hasSuffix("choose a smaller model or --classes"), "\($0)") }
    }

    /// conv10 starts from `--classifier-std` and `--classifier-bias`: read back after one
    /// step at a negligible rate (the last 10 values are the biases, the 5,120 before them
    /// v1.1's conv10 weights).
    func testClassifierInitialisationOptions() throws {
        func conv10(_ extra: [String]) throws -> (weights: ArraySlice<Float>, biases: ArraySlice<Float>) {
            let dir = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try ProcessRunner.run(binary, ["--model", "v1.1", "--train-limit", "64", "--test-limit", "16",
                                                   "--batch-size", "16", "--iterations", "1", "--base-lr", "1e-30",
                                                   "--output", dir.path] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let values = try WeightFile.read(from: dir.appendingPathComponent("weights.bin").path).values
            return (values[(values.count - 5130)..<(values.count - 10)], values[(values.count - 10)...])
        }
        let defaults = try conv10([])
        XCTAssertEqual(Array(defaults.biases), Array(repeating: 0.5, count: 10))
        let spread = (defaults.weights.map { Double($0 * $0) }.reduce(0, +) / 5120).squareRoot()
        XCTAssertEqual(spread, 0.01, accuracy: 0.001, "Gaussian filler, std 0.01")
        let zero = try conv10(["--classifier-std", "0", "--classifier-bias", "0.25"])
        XCTAssertLessThan(zero.weights.map { abs($0) }.max() ?? 1, 1e-20)
        XCTAssertEqual(Array(zero.biases), Array(repeating: 0.25, count: 10))
    }
}
