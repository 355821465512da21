import Foundation
import TestSupport
import Training
import XCTest

/// What is checked before training starts (paths) and before a file is written (finite
/// weights): the real binary, one process and under mpirun, ending with one line on
/// every rank and no training or no file.
final class RunCheckTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    func small(_ extra: [String]) -> [String] {
        ["--model", "v1.1", "--dataset", "synthetic", "--train-limit", "96", "--test-limit", "16", "--batch-size", "16",
         "--iterations", "4", "--log-every", "1"] + extra
    }

    func mpirun(_ ranks: Int, _ args: [String], fault: String? = nil) throws -> ProcessResult {
        let launcher = TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path
        return try ProcessRunner.run("/bin/bash", [launcher, String(ranks), binary] + args,
                                     environment: fault.map { ["SQUEEZENET_FAULT": $0] } ?? [:], timeout: 120)
    }

    func assertOneError(_ r: ProcessResult, _ message: String, trained: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(r.timedOut, file: file, line: line)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(errors.first?.contains(message) ?? false, "expected '\(message)' in \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout.contains("iter "), trained, "trained: \(trained): \(r.stdout)", file: file, line: line)
    }

    /// A trace or output path that cannot be written is refused before the first
    /// iteration (it used to be found after training), on every rank.
    func testUnwritablePathsAreRefusedBeforeTraining() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let plainFile = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: plainFile)
        let cases: [([String], String)] = [
            (["--trace", "/nonexistent/folder/trace.json"], "--trace /nonexistent/folder/trace.json: cannot write there (No such file or directory)"),
            (["--trace", plainFile.path + "/trace.json"], "--trace \(plainFile.path)/trace.json: cannot write there (Not a directory)"),
            (["--trace", dir.path], "--trace \(dir.path): is a folder, not a file"),
            (["--output", plainFile.path + "/out"], "cannot write the output folder"),
        ]
        for (extra, message) in cases {
            assertOneError(try ProcessRunner.run(binary, small(extra)), message)
        }
        // Rank 0 alone writes, and every rank learns of it through the startup agreement.
        let r = try mpirun(2, small(["--trace", "/nonexistent/folder/trace.json"]))
        assertOneError(r, "--trace /nonexistent/folder/trace.json: cannot write there")
        // The trace beside the metrics in a new output folder is fine: the folder is made first.
        let ok = try ProcessRunner.run(binary, small(["--output", dir.appendingPathComponent("new").path,
                                                      "--trace", dir.appendingPathComponent("new/trace.json").path]))
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("new/trace.json").path))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.contains(".tmp-") }, "the probe is removed")
    }

    /// A weight that is not finite (injected after an update) stops the run before the
    /// checkpoint or weights.bin that would hold it is written; the metrics up to it stay.
    /// Under mpirun every rank decides alike, so none is left waiting.
    func testNonFiniteWeightsAreNeverWritten() throws {
        for (ranks, fault, files, message) in [
            (1, "inf-weight:1", ["metrics.jsonl"], "iteration 2: weight conv10.bias[9] is inf; not writing"),
            (1, "inf-weight:3", ["checkpoint-00000002.ckpt", "metrics.jsonl"], "iteration 4: weight conv10.bias[9] is inf; not writing"),
            (2, "inf-weight:3", ["checkpoint-00000002.ckpt", "metrics.jsonl"], "weights.bin; lower --base-lr"),
        ] {
            let dir = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let args = small(["--checkpoint-every", "2", "--output", dir.path])
            let r = ranks == 1 ? try ProcessRunner.run(binary, args, environment: ["SQUEEZENET_FAULT": fault])
                               : try mpirun(ranks, args, fault: fault)
            assertOneError(r, message, trained: true)
            XCTAssertLessThan(r.seconds, 60)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != ".lock" }.sorted(), files, "\(ranks) ranks, \(fault)")
            let lines = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.count, (fault == "inf-weight:1" ? 2 : 4) * ranks, "the records up to the refusal are kept")
        }
    }
}
