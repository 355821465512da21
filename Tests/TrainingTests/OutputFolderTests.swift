import Foundation
import Metrics
import TestSupport
import Training
import XCTest

/// One folder, one run: another run's files are refused unless resumed or overwritten, a
/// second run cannot write a folder in use, and a resumed run reads as one run.
final class OutputFolderTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    func run(_ out: URL, iterations: Int, _ extra: [String] = []) throws -> ProcessResult {
        try ProcessRunner.run(binary, ["--model", "v1.1", "--train-limit", "240", "--test-limit", "24", "--batch-size", "12",
                                       "--iterations", String(iterations), "--log-every", "2", "--output", out.path] + extra)
    }

    func names(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
    }

    func oneError(_ r: ProcessResult, file: StaticString = #filePath, line: UInt = #line) -> String {
        let lines = r.stderr.split(separator: "\n")
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        return lines.first.map(String.init) ?? ""
    }

    /// A 40-iteration run, then a 10-iteration run with another rate into the same folder:
    /// refused; with --overwrite, the folder holds only the new run's files (before, the old
    /// run's checkpoints stayed and `--resume latest` picked them).
    func testReusedFolderIsRefusedUnlessOverwritten() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(try run(dir, iterations: 12, ["--checkpoint-every", "4"]).status, 0)
        let before = try names(dir)
        XCTAssertEqual(before, ["checkpoint-00000004.ckpt", "checkpoint-00000008.ckpt", "checkpoint-00000012.ckpt",
                                "metrics.jsonl", "weights.bin"])

        let refused = try run(dir, iterations: 6, ["--base-lr", "0.02", "--checkpoint-every", "3"])
        let message = oneError(refused)
        XCTAssertTrue(message.hasPrefix("error: \(dir.path): holds another run's files"), message)
        XCTAssertTrue(message.contains("--resume latest") && message.contains("--overwrite"), message)
        XCTAssertEqual(try names(dir), before, "a refused run must not touch the folder")

        let replaced = try run(dir, iterations: 6, ["--base-lr", "0.02", "--checkpoint-every", "3", "--overwrite"])
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertEqual(try names(dir), ["checkpoint-00000003.ckpt", "checkpoint-00000006.ckpt", "metrics.jsonl", "weights.bin"])
        let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(records.map(\.iteration), Array(0..<6))
    }

    /// A folder a running job holds (its lock) refuses a second run, which names the holder.
    func testSecondRunIntoAFolderInUseIsRefused() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = Process()
        first.executableURL = URL(fileURLWithPath: binary)
        first.arguments = ["--model", "v1.1", "--train-limit", "240", "--test-limit", "24", "--batch-size", "12",
                           "--iterations", "100000", "--log-every", "2", "--output", dir.path]
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { first.terminate(); first.waitUntilExit() }
        let metrics = dir.appendingPathComponent("metrics.jsonl")
        let start = Date()
        while (try? Data(contentsOf: metrics))?.isEmpty ?? true, Date().timeIntervalSince(start) < 60 { Thread.sleep(forTimeInterval: 0.05) }

        let second = try run(dir, iterations: 4, ["--overwrite"])
        let message = oneError(second)
        XCTAssertTrue(message.hasPrefix("error: \(dir.path): in use by another run (pid \(first.processIdentifier) "), message)
        XCTAssertTrue(first.isRunning, "the refused run must leave the running one alone")
        // Records still come only from the first run: one per iteration, in order.
        let records = try MetricsReader.readWrittenLines(metrics.path).records
        XCTAssertEqual(records.map(\.iteration), Array(0..<records.count))
    }

    /// The disk filled while metrics were appended: the last line is cut. Resuming drops it
    /// (it lies past the checkpoint) and the metrics past the checkpoint, so the folder reads
    /// as one run; before, `--resume latest` refused the "malformed metrics record".
    func testResumeDropsACutMetricsLineAndTheRecordsPastTheCheckpoint() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(try run(dir, iterations: 12, ["--checkpoint-every", "4", "--keep-checkpoints", "0"]).status, 0)
        // As a crash after iteration 10 with a full disk would leave it: no checkpoint 12, no
        // weights, records up to 9 and half of the next.
        for name in ["checkpoint-00000012.ckpt", "weights.bin"] { try FileManager.default.removeItem(at: dir.appendingPathComponent(name)) }
        let metrics = dir.appendingPathComponent("metrics.jsonl")
        let kept = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").prefix(10)
        let cut = kept.joined(separator: "\n") + "\n" + #"{"algorithm":"ring","bytes_counted":tr"#
        try Data(cut.utf8).write(to: metrics)

        let resumed = try run(dir, iterations: 12, ["--checkpoint-every", "4", "--keep-checkpoints", "0", "--resume", "latest"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming at iteration 8"), resumed.stdout)
        let records = try MetricsReader.read(metrics.path)
        XCTAssertEqual(records.map(\.iteration), Array(0..<12), "one record per iteration: 0-7 kept, 8-11 from the resumed run")
        XCTAssertEqual(try names(dir), ["checkpoint-00000004.ckpt", "checkpoint-00000008.ckpt", "checkpoint-00000012.ckpt",
                                        "metrics.jsonl", "weights.bin"])
    }

    /// Resuming from an older checkpoint deletes the checkpoints past it (a future the
    /// resumed run takes again): when the resumed run dies early, `--resume latest` must find
    /// the resumed run's newest, not the abandoned future's.
    func testResumeFromAnOlderCheckpointDropsTheLaterOnes() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(try run(dir, iterations: 12, ["--checkpoint-every", "4", "--keep-checkpoints", "2"]).status, 0)
        XCTAssertEqual(try names(dir), ["checkpoint-00000008.ckpt", "checkpoint-00000012.ckpt", "metrics.jsonl", "weights.bin"])
        let older = dir.appendingPathComponent("checkpoint-00000008.ckpt").path
        let args = ["--model", "v1.1", "--train-limit", "240", "--test-limit", "24", "--batch-size", "12", "--iterations", "12",
                    "--log-every", "2", "--output", dir.path, "--checkpoint-every", "2", "--keep-checkpoints", "2", "--resume", older]
        let killed = try ProcessRunner.run(binary, args, environment: ["SQUEEZENET_FAULT": "kill-rank:0:11"])
        XCTAssertNotEqual(killed.status, 0)
        XCTAssertEqual(try names(dir), ["checkpoint-00000008.ckpt", "checkpoint-00000010.ckpt", "metrics.jsonl"])
        XCTAssertEqual(try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path).map(\.iteration), Array(0..<10))
    }
}
