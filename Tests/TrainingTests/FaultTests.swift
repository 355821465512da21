import Foundation
import TestSupport
import Training
import XCTest

/// Checkpoints, exact resume, and faults injected into the real binary under real
/// mpirun (SQUEEZENET_FAULT, see Sources/Training/FaultInjection.swift).
final class FaultTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path
    /// A rank killed mid-exchange must end the whole job within this many seconds.
    static let killBound = 30.0

    func run(_ out: URL, _ extra: [String] = []) -> [String] {
        ["--model", "v1.1", "--train-limit", "480", "--test-limit", "96", "--batch-size", "24", "--iterations", "12",
         "--log-every", "2", "--checkpoint-every", "4", "--output", out.path] + extra
    }

    func mpirun(_ ranks: Int, _ args: [String], fault: String? = nil) throws -> ProcessResult {
        let launcher = TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path
        return try ProcessRunner.run("/bin/bash", [launcher, String(ranks), binary] + args,
                                     environment: fault.map { ["SQUEEZENET_FAULT": $0] } ?? [:], timeout: 120)
    }

    /// Rank 1 is SIGKILLed before the allreduce of iteration 9 (rank 0 is then
    /// blocked in the exchange): the job must end within the bound, the folder must
    /// hold the checkpoint of iteration 8 and the metrics of iterations 0-7, and a
    /// resumed run must end with exactly the weights of an uninterrupted run.
    func testKilledRankEndsTheJobAndResumeIsBitExact() throws {
        for algorithm in ["tree", "ring"] {
            let whole = TestPaths.temporaryDirectory(), broken = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: whole); try? FileManager.default.removeItem(at: broken) }
            XCTAssertEqual(try mpirun(3, run(whole, ["--allreduce", algorithm])).status, 0)

            let killed = try mpirun(3, run(broken, ["--allreduce", algorithm]), fault: "kill-rank:1:9")
            XCTAssertFalse(killed.timedOut)
            XCTAssertNotEqual(killed.status, 0)
            XCTAssertLessThan(killed.seconds, Self.killBound, "\(algorithm): the job outlived a dead rank")
            let names = try FileManager.default.contentsOfDirectory(atPath: broken.path).filter { !$0.hasPrefix(".") }.sorted()
            XCTAssertEqual(names, ["checkpoint-00000004.ckpt", "checkpoint-00000008.ckpt", "metrics.jsonl"])
            let metrics = try String(contentsOf: broken.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            XCTAssertEqual(metrics.split(separator: "\n").count, 8 * 3, "metrics of iterations 0-7 from 3 ranks")
            XCTAssertEqual(try WeightFile.read(from: broken.appendingPathComponent("checkpoint-00000008.ckpt").path).header.iteration, 8)

            let resumed = try mpirun(3, run(broken, ["--allreduce", algorithm, "--resume", "latest"]))
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertTrue(resumed.stdout.contains("resuming at iteration 8"), resumed.stdout)
            let a = try WeightFile.read(from: whole.appendingPathComponent("weights.bin").path)
            let b = try WeightFile.read(from: broken.appendingPathComponent("weights.bin").path)
            XCTAssertEqual(a.values.map(\.bitPattern), b.values.map(\.bitPattern), "\(algorithm): resume must be bit-exact")
            let m = try String(contentsOf: broken.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            XCTAssertEqual(m.split(separator: "\n").count, 12 * 3)
        }
    }

    func testCrashWhileWritingACheckpointLeavesThePreviousOne() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let crashed = try ProcessRunner.run(binary, run(dir), environment: ["SQUEEZENET_FAULT": "crash-checkpoint:8"])
        XCTAssertNotEqual(crashed.status, 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertTrue(names.contains("checkpoint-00000004.ckpt"))
        XCTAssertFalse(names.contains("checkpoint-00000008.ckpt"), "a half-written checkpoint must not carry the final name")
        XCTAssertTrue(names.contains { $0.contains(".tmp-") }, "the crash happened half-way through a write: \(names)")
        XCTAssertNoThrow(try WeightFile.read(from: dir.appendingPathComponent("checkpoint-00000004.ckpt").path))
        let resumed = try ProcessRunner.run(binary, run(dir, ["--resume", "latest"]))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming at iteration 4"), resumed.stdout)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.contains(".tmp-") })
    }

    func testBadCheckpointsAreOneLineErrorsOnEveryRank() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(try ProcessRunner.run(binary, run(dir, ["--iterations", "4"])).status, 0)
        let good = dir.appendingPathComponent("checkpoint-00000004.ckpt")
        let data = try Data(contentsOf: good)
        let truncated = dir.appendingPathComponent("truncated.ckpt"), corrupt = dir.appendingPathComponent("corrupt.ckpt")
        try data.prefix(data.count - 100).write(to: truncated)
        var flipped = data
        flipped[data.count / 2] ^= 0x40
        try flipped.write(to: corrupt)
        let cases: [([String], String)] = [
            (["--resume", truncated.path], "truncated"),
            (["--resume", corrupt.path], "checksum mismatch"),
            (["--resume", good.path, "--model", "v1.0"], "holds squeezenet-v1.1"),
            (["--resume", good.path, "--base-lr", "0.02"], "written with different options (baseLR, iterations, warmupIterations);"),
            (["--resume", dir.appendingPathComponent("weights.bin").path], "a weight file, not a checkpoint"),
            (["--resume", "/nonexistent.ckpt"], "/nonexistent.ckpt: cannot read"),
            (["--output", "/proc/version/x"], "cannot write the output folder"),
        ]
        for (extra, message) in cases {
            var args = run(dir, ["--iterations", "8"])
            // Later flags win: the case's own --output/--model/--base-lr replace the defaults.
            args += extra
            let r = try mpirun(2, args)
            XCTAssertFalse(r.timedOut, "\(extra)")
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            XCTAssertEqual(errors.count, 1, "\(extra): \(r.stderr)")
            XCTAssertTrue(errors.first?.contains(message) ?? false, "\(extra): expected '\(message)' in \(r.stderr)")
        }
    }

    /// A checkpoint written before `--classifier-std`, `--clip-gradient-norm` and
    /// `--classifier-lr-mult` existed has no such keys in its options: it resumes, bit for
    /// bit, when the run asks for the values every older run used (0.01, no clipping, 1),
    /// and is refused otherwise.
    func testCheckpointsFromBeforeNewOptionsResumeWithTheirValues() throws {
        let whole = TestPaths.temporaryDirectory(), resumed = TestPaths.temporaryDirectory()
        defer { for d in [whole, resumed] { try? FileManager.default.removeItem(at: d) } }
        let old = ["--iterations", "8", "--clip-gradient-norm", "0", "--classifier-lr-mult", "1"]
        XCTAssertEqual(try ProcessRunner.run(binary, run(whole, old)).status, 0)
        XCTAssertEqual(try ProcessRunner.run(binary, run(resumed, old)).status, 0)
        // Make checkpoint 4 look like an older build's: drop the three keys from its options.
        let path = resumed.appendingPathComponent("checkpoint-00000004.ckpt").path
        var file = try WeightFile.read(from: path)
        var options = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(file.header.options).utf8)) as? [String: Any])
        XCTAssertNotNil(options.removeValue(forKey: "classifierStd"))
        XCTAssertNotNil(options.removeValue(forKey: "clipGradientNorm"))
        XCTAssertNotNil(options.removeValue(forKey: "classifierLRMult"))
        file.header.options = String(decoding: try JSONSerialization.data(withJSONObject: options, options: [.sortedKeys]), as: UTF8.self)
        try file.write(to: path)
        try FileManager.default.removeItem(at: resumed.appendingPathComponent("checkpoint-00000008.ckpt"))
        try FileManager.default.removeItem(at: resumed.appendingPathComponent("weights.bin"))

        let refused = try ProcessRunner.run(binary, run(resumed, ["--iterations", "8", "--resume", path]))
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("written with different options (classifierLRMult, clipGradientNorm)"), refused.stderr)
        let r = try ProcessRunner.run(binary, run(resumed, old + ["--resume", path]))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try WeightFile.read(from: resumed.appendingPathComponent("weights.bin").path).values,
                       try WeightFile.read(from: whole.appendingPathComponent("weights.bin").path).values)
    }

    func testWeightFileOfTheWrongSizeIsRejectedByDiff() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(try ProcessRunner.run(binary, run(dir, ["--iterations", "2"])).status, 0)
        let weights = dir.appendingPathComponent("weights.bin")
        let short = dir.appendingPathComponent("short.bin")
        try (try Data(contentsOf: weights)).dropLast(12).write(to: short)
        let r = try ProcessRunner.run(binary, ["diff", weights.path, short.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("short.bin") && r.stderr.contains("truncated"), r.stderr)
        let same = try ProcessRunner.run(binary, ["diff", weights.path, weights.path, "--tolerance", "0"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("0 differ bitwise"), same.stdout)
    }
}
