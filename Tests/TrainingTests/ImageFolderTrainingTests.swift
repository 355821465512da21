import Foundation
import Metrics
import TestSupport
import Training
import XCTest

/// `--dataset folder` and `list` under mpirun: a mid-epoch resume gives the bits of the run
/// in one go (random crops, mirror, prefetch and two decode threads included), ranks with
/// different file lists refuse, a bad image stops every rank naming it, and
/// `--skip-bad-images` trains on and counts it.
final class ImageFolderTrainingTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path
    var launcher: String { TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path }
    var work: URL!
    var folder: String { work.appendingPathComponent("fm").path }

    override func setUpWithError() throws {
        work = TestPaths.temporaryDirectory("folder-training")
        let r = try ProcessRunner.run(binary, ["make-image-folder", folder, "--limit", "200"], timeout: 60)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote 200 training and 200 validation JPEGs"), r.stdout)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: work) }

    func job(_ out: URL, data: String? = nil, _ extra: [String]) -> [String] {
        [binary, "--model", "v1.1", "--dataset", "folder", "--data-dir", data ?? folder, "--input-size", "32",
         "--batch-size", "16", "--iterations", "10", "--log-every", "1", "--output", out.path] + extra
    }

    func testMidEpochResumeIsBitExact() throws {
        let straight = work.appendingPathComponent("a"), split = work.appendingPathComponent("b")
        let recipe = ["--transform", "caffe", "--resize", "36", "--mirror", "--decode-threads", "2", "--checkpoint-every", "5"]
        let a = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(straight, recipe), timeout: 180)
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("on folder 32px"), a.stdout)
        XCTAssertTrue(a.stdout.contains("test top-1"), "the val folder is evaluated: \(a.stdout)")
        // 200 images at 16 a step: 12 steps an epoch, so iteration 5 is mid-epoch.
        let checkpoint = straight.appendingPathComponent("checkpoint-00000005.ckpt").path
        let b = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(split, recipe + ["--resume", checkpoint, "--prefetch-batches", "1"]), timeout: 180)
        XCTAssertEqual(b.status, 0, b.stderr)
        let w0 = try WeightFile.read(from: straight.appendingPathComponent("weights.bin").path).values
        let w1 = try WeightFile.read(from: split.appendingPathComponent("weights.bin").path).values
        XCTAssertEqual(zip(w0, w1).filter { $0.bitPattern != $1.bitPattern }.count, 0, "resumed mid-epoch bit for bit")
        let records = try MetricsReader.read(straight.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(records.count, 20)
        XCTAssertTrue(records.allSatisfy { $0.dataSeconds >= 0 && $0.badImages == nil })
        // The same images through the list files give the same run.
        let listed = work.appendingPathComponent("c")
        let lists = [binary, "--model", "v1.1", "--dataset", "list", "--train-list", folder + "/train.txt", "--val-list", folder + "/val.txt",
                     "--root", folder, "--input-size", "32", "--batch-size", "16", "--iterations", "3", "--output", listed.path, "--transform", "resize"]
        let c = try ProcessRunner.run("/bin/bash", [launcher, "2"] + lists, timeout: 180)
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("test top-1"), c.stdout)
    }

    func testRanksWithDifferentFileListsRefuse() throws {
        let other = work.appendingPathComponent("other").path
        try FileManager.default.copyItem(atPath: folder, toPath: other)
        let victim = other + "/train/1-trouser/" + (try FileManager.default.contentsOfDirectory(atPath: other + "/train/1-trouser")).sorted()[0]
        try FileManager.default.removeItem(atPath: victim)
        let out = work.appendingPathComponent("o")
        let args = Array(job(out, []).dropFirst())
        let theirs = Array(job(out, data: other, []).dropFirst())
        let r = try ProcessRunner.mpirunMPMD([[binary] + args, [binary] + theirs], timeout: 60)
        XCTAssertFalse(r.timedOut, "must not hang")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("(rank 1: the training data)"), r.stderr)
    }

    func testABadImageStopsEveryRankNamingItAndSkippingCountsIt() throws {
        let list = try String(contentsOfFile: folder + "/train.txt", encoding: .utf8).split(separator: "\n")
        let victim = folder + "/" + list[3].split(separator: " ")[0]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: victim))
        let start = Date()
        let r = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(work.appendingPathComponent("x"), ["--iterations", "30"]), timeout: 120)
        XCTAssertFalse(r.timedOut)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("\(victim): corrupt or truncated JPEG"), r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
        let out = work.appendingPathComponent("y")
        let s = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(out, ["--iterations", "30", "--skip-bad-images"]), timeout: 180)
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("--skip-bad-images: skipped 1 unreadable image (each replaced by the next readable one); the first: \(victim)"), s.stdout)
        let records = try MetricsReader.read(out.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(records.compactMap(\.badImages).reduce(0, max), 1)
    }
}
