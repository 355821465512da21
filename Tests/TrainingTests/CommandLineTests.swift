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

    /// The keys of a metrics record that are measurements of time (docs/formats.md): they
    /// may differ between identical runs; every other key must not.
    static let timingKeys: Set<String> = ["comm_seconds", "compute_seconds", "update_seconds", "data_seconds",
                                          "iteration_seconds", "exposed_comm_seconds", "started_at"]

    /// Two identical runs (same options, same rank count: 1 and 2) write byte-identical
    /// weights.bin and checkpoints (every one of them), metrics.jsonl whose lines are
    /// identical but for the timing keys, and a trace with the same events but for their
    /// times; `report` of the same metrics prints the same bytes and writes the same CSV.
    func testIdenticalRunsWriteIdenticalFiles() throws {
        for ranks in [1, 2] {
            var runs: [URL] = []
            defer { for d in runs { try? FileManager.default.removeItem(at: d) } }
            for _ in 0..<2 {
                let dir = TestPaths.temporaryDirectory()
                runs.append(dir)
                let args = ["--model", "v1.1", "--dataset", "synthetic", "--train-limit", "64", "--test-limit", "16",
                            "--batch-size", "16", "--iterations", "4", "--checkpoint-every", "1", "--keep-checkpoints", "0",
                            "--log-every", "2", "--mirror", "--max-shift", "2", "--output", dir.path,
                            "--trace", dir.appendingPathComponent("trace.json").path]
                let launcher = TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path
                let r = ranks == 1 ? try ProcessRunner.run(binary, args)
                                   : try ProcessRunner.run("/bin/bash", [launcher, "2", binary] + args, timeout: 120)
                XCTAssertEqual(r.status, 0, r.stderr)
            }
            // `.lock` names the run that holds the folder (pid, host): not an artifact.
            let names = try runs.map { try FileManager.default.contentsOfDirectory(atPath: $0.path).filter { $0 != ".lock" }.sorted() }
            XCTAssertEqual(names[0], names[1])
            XCTAssertEqual(names[0], ["checkpoint-00000001.ckpt", "checkpoint-00000002.ckpt", "checkpoint-00000003.ckpt",
                                      "checkpoint-00000004.ckpt", "metrics.jsonl", "trace.json", "weights.bin"])
            func bytes(_ run: Int, _ name: String) throws -> Data { try Data(contentsOf: runs[run].appendingPathComponent(name)) }
            for name in names[0] where name.hasSuffix(".ckpt") || name == "weights.bin" {
                XCTAssertEqual(try bytes(0, name), try bytes(1, name), "np \(ranks): \(name) must be byte-identical")
            }
            func untimed(_ run: Int) throws -> [String] {
                try String(decoding: bytes(run, "metrics.jsonl"), as: UTF8.self).split(separator: "\n").map { line in
                    var record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    for key in Self.timingKeys { record.removeValue(forKey: key) }
                    return String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self)
                }
            }
            XCTAssertEqual(try untimed(0).count, 4 * ranks)
            XCTAssertEqual(try untimed(0), try untimed(1), "np \(ranks): metrics.jsonl but for its timing keys")
            XCTAssertNotEqual(try bytes(0, "metrics.jsonl"), try bytes(1, "metrics.jsonl"), "the times are measured, not fixed")
            func events(_ run: Int) throws -> [String] {
                let trace = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes(run, "trace.json")) as? [String: Any])
                return try XCTUnwrap(trace["traceEvents"] as? [[String: Any]]).map { event in
                    var e = event
                    e.removeValue(forKey: "ts"); e.removeValue(forKey: "dur")
                    return String(decoding: try JSONSerialization.data(withJSONObject: e, options: [.sortedKeys]), as: UTF8.self)
                }
            }
            XCTAssertEqual(try events(0), try events(1), "np \(ranks): trace events but for their times")
            var reports: [String] = []
            for k in 0..<2 {
                let csv = runs[0].appendingPathComponent("report-\(k).csv").path
                let r = try ProcessRunner.run(binary, ["report", runs[0].path, "--csv", csv])
                XCTAssertEqual(r.status, 0, r.stderr)
                reports.append(r.stdout + (try String(contentsOfFile: csv, encoding: .utf8)))
            }
            XCTAssertEqual(reports[0], reports[1], "report of the same metrics")
        }
    }
}
