import Foundation
import TestSupport
import Training
import XCTest

/// How a job ends when something goes wrong mid-run, with the real binary under real
/// mpirun: a stopped rank (the watchdog), one rank's failed write (MPI_Abort), a full
/// disk, a stop signal (graceful, with a checkpoint that resumes bit-exactly).
final class JobEndingTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path
    var launcher: String { TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path }

    func job(_ out: URL, iterations: Int, _ extra: [String] = []) -> [String] {
        [binary, "--model", "v1.1", "--train-limit", "480", "--test-limit", "48", "--batch-size", "24",
         "--iterations", String(iterations), "--log-every", "5", "--output", out.path] + extra
    }

    func interfere(_ command: [String], when file: URL, has lines: Int, action: String, dir: URL,
                   timeout: Double = 60) throws -> (result: ProcessResult, seconds: Double) {
        try Interference.run(command, when: file, has: lines, action: action,
                             environment: ["BIN": binary, "DIR": dir.path], timeout: timeout)
    }

    func errorLines(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
    }

    /// A rank stopped (SIGSTOP) mid-run: the ranks waiting for it warn at a fifth of
    /// --timeout, and past it end the job with a line naming the rank they wait for.
    func testStoppedRankEndsTheJobAtTheTimeout() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let timeout = 6.0
        let (r, after) = try interfere([launcher, "3"] + job(dir, iterations: 100_000, ["--timeout", "6"]),
                                       when: dir.appendingPathComponent("metrics.jsonl"), has: 3 * 5,
                                       action: #"kill -STOP $(pgrep -f "^$BIN .*$DIR" | head -n 1)"#, dir: dir)
        XCTAssertFalse(r.timedOut, "the job outlived a stopped rank\n\(r.stderr)")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(after, timeout + 10, "ended \(after) s after the stop; bound: --timeout + 10 s\n\(r.stderr)")
        XCTAssertGreaterThan(after, timeout - 1, "ended before the timeout: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("warning: rank "), r.stderr)
        let errors = errorLines(r.stderr)
        XCTAssertFalse(errors.isEmpty, r.stderr)
        for line in errors {
            XCTAssertTrue(line.range(of: #"^error: rank \d: iteration \d+: waited \d+ s in MPI_\w+(\(tag \d+\))? for ranks? [\d, ]+ \(--timeout 6 s\); ending the job$"#,
                                     options: .regularExpression) != nil, String(line))
        }
    }

    /// Rank 0 cannot write (a full 3 MB disk under --checkpoint-every, every algorithm, np 2
    /// and 3): its one line names the file and the reason, and every rank ends (MPI_Abort)
    /// at once. Before, rank 0 waited in MPI_Finalize and the others in MPI_Waitall for ever.
    func testFullDiskEndsEveryRankWithOneLine() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a small tmpfs needs root") }
        let mount = TestPaths.temporaryDirectory("tmpfs")
        defer { try? FileManager.default.removeItem(at: mount) }
        for ranks in [2, 3] {
            for algorithm in ["tree", "ring", "mpi", "ps"] {
                let m = try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mount.path], timeout: 10)
                XCTAssertEqual(m.status, 0, m.stderr)
                defer { _ = try? ProcessRunner.run("/bin/umount", [mount.path], timeout: 10) }
                let out = mount.appendingPathComponent("run")
                let r = try ProcessRunner.run("/bin/bash", [launcher, String(ranks)]
                                              + job(out, iterations: 12, ["--checkpoint-every", "4", "--allreduce", algorithm]),
                                              timeout: 60)
                XCTAssertFalse(r.timedOut, "np \(ranks) \(algorithm): hung on a full disk")
                XCTAssertNotEqual(r.status, 0, "np \(ranks) \(algorithm)")
                XCTAssertLessThan(r.seconds, 30, "np \(ranks) \(algorithm)")
                let errors = errorLines(r.stderr)
                XCTAssertEqual(errors.count, 1, "np \(ranks) \(algorithm): \(r.stderr)")
                XCTAssertTrue(errors.first?.hasSuffix("checkpoint-00000004.ckpt: write failed: No space left on device") == true,
                              "np \(ranks) \(algorithm): \(errors)")
                let names = try FileManager.default.contentsOfDirectory(atPath: out.path)
                XCTAssertFalse(names.contains { $0.hasSuffix(".ckpt") || $0.contains(".tmp-") }, "half-written files left: \(names)")
            }
        }
    }

    /// The output folder removed under a running job: rank 0's next write fails and the job ends.
    func testOutputFolderRemovedMidRunEndsTheJob() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (r, after) = try interfere([launcher, "2"] + job(dir, iterations: 100_000, ["--checkpoint-every", "50"]),
                                       when: dir.appendingPathComponent("metrics.jsonl"), has: 2 * 5,
                                       action: #"rm -rf "$DIR""#, dir: dir)
        XCTAssertFalse(r.timedOut, r.stderr)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(after, 30, r.stderr)
        let errors = errorLines(r.stderr)
        XCTAssertEqual(errors.count, 1, r.stderr)
        XCTAssertTrue(errors.first?.hasPrefix("error: rank 0: ") == true, r.stderr)
    }

    /// SIGTERM to the launcher (what Slurm and a user send): every rank stops at one
    /// iteration boundary, rank 0 writes its checkpoint, the exit code says interrupted,
    /// and `--resume latest` ends with exactly the weights of an uninterrupted run.
    /// SIGTERM to one rank alone stops the whole job the same way.
    func testStopSignalLeavesACheckpointThatResumesBitExactly() throws {
        let whole = TestPaths.temporaryDirectory(), stopped = TestPaths.temporaryDirectory(), rank = TestPaths.temporaryDirectory()
        defer { for d in [whole, stopped, rank] { try? FileManager.default.removeItem(at: d) } }
        let iterations = 400
        XCTAssertEqual(try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(whole, iterations: iterations)).status, 0)

        let (r, after) = try interfere([launcher, "2"] + job(stopped, iterations: iterations),
                                       when: stopped.appendingPathComponent("metrics.jsonl"), has: 2 * 5,
                                       action: #"kill -TERM $job"#, dir: stopped)
        XCTAssertFalse(r.timedOut, r.stderr)
        XCTAssertEqual(r.status, 128 + SIGUSR1, "the launcher passes SIGTERM on as SIGUSR1: \(r.stdout)\n\(r.stderr)")
        XCTAssertLessThan(after, 10, r.stderr)
        XCTAssertTrue(errorLines(r.stderr).isEmpty, r.stderr)
        guard let line = r.stdout.split(separator: "\n").first(where: { $0.hasPrefix("stopped on ") }),
              let n = line.firstMatch(of: #/after iteration (\d+) of/#).flatMap({ Int($0.1) }) else {
            return XCTFail("no stop line: \(r.stdout)")
        }
        XCTAssertLessThan(n, iterations, "stopped at the end is no stop")
        XCTAssertTrue(line.contains("--resume latest"), String(line))
        let checkpoint = try WeightFile.read(from: stopped.appendingPathComponent(String(format: "checkpoint-%08d.ckpt", n)).path)
        XCTAssertEqual(checkpoint.header.iteration, n)
        let records = try String(contentsOf: stopped.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertEqual(records.split(separator: "\n").count, 2 * n, "metrics of every iteration up to the stop, from 2 ranks")

        let resumed = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(stopped, iterations: iterations, ["--resume", "latest"]))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming at iteration \(n)"), resumed.stdout)
        let a = try WeightFile.read(from: whole.appendingPathComponent("weights.bin").path)
        let b = try WeightFile.read(from: stopped.appendingPathComponent("weights.bin").path)
        XCTAssertEqual(a.values.map(\.bitPattern), b.values.map(\.bitPattern), "resume after a stop must be bit-exact")

        // SIGTERM straight to a bare mpirun: Open MPI gives the ranks SIGTERM and a second
        // before SIGKILL (odls_base_sigkill_timeout); this job's stop and checkpoint fit in it.
        let bare = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: bare) }
        let mpirun = ["mpirun", "-np", "2", "--bind-to", "none", "--mca", "btl", "self,vader,tcp", "--mca", "btl_tcp_if_include", "lo",
                      "--mca", "oob_tcp_if_include", "lo", "-x", "OPENBLAS_NUM_THREADS=1"] + (getuid() == 0 ? ["--allow-run-as-root"] : [])
        let (m, _) = try interfere(["/usr/bin/env"] + mpirun + job(bare, iterations: iterations),
                                   when: bare.appendingPathComponent("metrics.jsonl"), has: 2 * 5, action: #"kill -TERM $job"#, dir: bare)
        XCTAssertFalse(m.timedOut, m.stderr)
        XCTAssertNotEqual(m.status, 0, "a stopped run is not a finished one")
        XCTAssertTrue(m.stdout.contains("stopped on SIGTERM after iteration "), m.stdout + m.stderr)
        let again = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(bare, iterations: iterations, ["--resume", "latest"]))
        XCTAssertEqual(again.status, 0, again.stderr)
        let c = try WeightFile.read(from: bare.appendingPathComponent("weights.bin").path)
        XCTAssertEqual(a.values.map(\.bitPattern), c.values.map(\.bitPattern), "resume after SIGTERM to mpirun must be bit-exact")

        let (one, _) = try interfere([launcher, "3"] + job(rank, iterations: 100_000),
                                     when: rank.appendingPathComponent("metrics.jsonl"), has: 3 * 5,
                                     action: #"kill -TERM $(pgrep -f "^$BIN .*$DIR" | tail -n 1)"#, dir: rank)
        XCTAssertFalse(one.timedOut, one.stderr)
        XCTAssertEqual(one.status, 128 + SIGTERM, one.stdout + one.stderr)
        XCTAssertTrue(one.stdout.contains("stopped on SIGTERM after iteration "), one.stdout)
        let written = try FileManager.default.contentsOfDirectory(atPath: rank.path).filter { $0.hasSuffix(".ckpt") }
        XCTAssertEqual(written.count, 1, "\(written)")
    }
}
