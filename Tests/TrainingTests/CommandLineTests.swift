import Foundation
import Metrics
import NeuralNet
import TestSupport
import Training
import XCTest

/// What the command line promises beyond single flags: models through the registry
/// at their own sizes, and epochs over the run's real training set.
final class CommandLineTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    /// `--summary` without `--input-size` uses each model's native size.
    func testSummaryUsesTheModelsNativeSize() throws {
        for (model, count, size) in [("alexnet", "60,965,224", 227), ("v1.0", "1,248,424", 224), ("v1.1", "1,235,496", 224)] {
            let r = try ProcessRunner.run(binary, ["--model", model, "--classes", "1000", "--summary"])
            XCTAssertEqual(r.status, 0, "\(model): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("input 3x\(size)x\(size)"), r.stdout)
            XCTAssertTrue(r.stdout.contains(count), r.stdout)
        }
        let payload = try ProcessRunner.run(binary, ["--model", "alexnet-payload", "--summary"])
        XCTAssertEqual(payload.status, 0, payload.stderr)
        XCTAssertTrue(payload.stdout.contains("60,965,224 parameters"), payload.stdout)
    }

    func testHelpListsEveryRegisteredModel() throws {
        let r = try ProcessRunner.run(binary, ["train", "--help"])
        XCTAssertEqual(r.status, 0)
        let help = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")  // undo the wrapping
        for architecture in ModelRegistry.all {
            XCTAssertTrue(help.contains("\(architecture.name) (\(architecture.summary))"), "\(architecture.name): \(help)")
        }
    }

    /// The startup agreement names differing options by flag: every flag it can name
    /// is one `train --help` lists.
    func testAgreementNamesRealFlags() throws {
        let r = try ProcessRunner.run(binary, ["train", "--help"])
        XCTAssertEqual(r.status, 0)
        let flags = TrainingOptions.defaults.agreementFields.map(\.flag)
        XCTAssertEqual(Set(flags).count, flags.count, "one field per flag")
        for flag in flags { XCTAssertTrue(r.stdout.contains("\(flag) "), "\(flag) is not a flag of train --help") }
    }

    /// `--epochs` counts the images the run really has: 1.5 epochs of 200 images at a
    /// global batch of 32 are 9 iterations (6 full batches an epoch), not 60,000 / 32.
    func testEpochsUseTheRunsTrainingSet() throws {
        for (dataset, extra) in [("synthetic", ["--test-limit", "32"]), ("fashion-mnist", ["--test-limit", "32"])] {
            let dir = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try ProcessRunner.run(binary, ["--dataset", dataset, "--train-limit", "200", "--batch-size", "32",
                                                   "--epochs", "1.5", "--log-every", "1", "--output", dir.path] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("done: 9 iterations"), r.stdout)
            XCTAssertTrue(r.stdout.contains("after 2 warm-up iterations"), "a quarter of the resolved run: \(r.stdout)")
            let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
            XCTAssertEqual(records.map(\.iteration), Array(0..<9))
        }
    }

    /// Two identical runs write byte-identical weight files and checkpoints (the header's
    /// JSON keys in a fixed order), so artifacts can be compared by checksum.
    func testIdenticalRunsWriteIdenticalFiles() throws {
        var files: [[Data]] = []
        for _ in 0..<2 {
            let dir = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try ProcessRunner.run(binary, ["--dataset", "synthetic", "--train-limit", "64", "--test-limit", "16",
                                                   "--batch-size", "16", "--iterations", "2", "--output", dir.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            files.append(try ["weights.bin", "checkpoint-00000002.ckpt"].map { try Data(contentsOf: dir.appendingPathComponent($0)) })
        }
        XCTAssertEqual(files[0][0], files[1][0], "weights.bin")
        XCTAssertEqual(files[0][1], files[1][1], "checkpoint")
    }
}
