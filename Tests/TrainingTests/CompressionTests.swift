import Foundation
import Metrics
import NeuralNet
import TestSupport
import Topology
import Training
import XCTest

/// `--compression`: the trainer's exchange with 16-bit values on the ring, under mpirun.
final class CompressionTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path
    var launcher: String { TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path }

    func job(_ out: URL, _ extra: [String]) -> [String] {
        [binary, "--model", "v1.1", "--input-size", "32", "--train-limit", "240", "--test-limit", "48", "--batch-size", "24",
         "--iterations", "3", "--log-every", "1", "--allreduce", "ring", "--output", out.path] + extra
    }

    /// fp16 at np 3: every rank's counted bytes are half the float ring's, and the weights
    /// differ from float32's only by the rounding (the codec ran, and ran right).
    func testHalfPrecisionHalvesTheBytesAndKeepsTheWeightsClose() throws {
        let plain = TestPaths.temporaryDirectory(), half = TestPaths.temporaryDirectory()
        defer { for d in [plain, half] { try? FileManager.default.removeItem(at: d) } }
        let a = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(plain, []), timeout: 180)
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(half, ["--compression", "fp16"]), timeout: 180)
        XCTAssertEqual(b.status, 0, b.stderr)
        let records = try MetricsReader.read(half.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(records.count, 9)
        for r in records {
            let float = try XCTUnwrap(AllreduceAlgorithm.ring.countedBytes(rank: r.rank, ranks: 3, count: r.parameters))
            XCTAssertEqual(r.bytesSent * 2, float.sent, "rank \(r.rank) iteration \(r.iteration)")
        }
        let w0 = try WeightFile.read(from: plain.appendingPathComponent("weights.bin").path).values
        let w1 = try WeightFile.read(from: half.appendingPathComponent("weights.bin").path).values
        XCTAssertNotEqual(w0.map(\.bitPattern), w1.map(\.bitPattern), "fp16 on the wire changes the last bits")
        let largest = zip(w0, w1).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(largest, 1e-3, "3 iterations of fp16 gradients stay within rounding of float32's")
    }

    /// With buckets the hook runs per bucket, on the exchange thread: each bucket's ring at
    /// 2 bytes an element.
    func testHalfPrecisionPerBucket() throws {
        let out = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(out, ["--compression", "bf16", "--bucket-mb", "0.5"]), timeout: 180)
        XCTAssertEqual(r.status, 0, r.stderr)
        let store = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store
        let buckets = GradientBuckets.cut(tensorCounts: store.refs.map(\.count), bucketBytes: GradientBuckets.bytes(megabytes: 0.5))
        XCTAssertGreaterThan(buckets.count, 2)
        for rec in try MetricsReader.read(out.appendingPathComponent("metrics.jsonl").path) {
            let expected = buckets.map { AllreduceAlgorithm.ring.countedBytes(rank: rec.rank, ranks: 3, count: $0.count, elementSize: 2)!.sent }
            XCTAssertEqual(rec.bytesSent, expected.reduce(0, +), "rank \(rec.rank) iteration \(rec.iteration)")
        }
    }

    func testCompressionOffTheRingIsRefused() throws {
        let out = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        for (algorithm, reason) in [("tree", "not implemented yet"), ("mpi", "MPI_Allreduce cannot add 16-bit floats")] {
            let r = try ProcessRunner.run(binary, Array(job(out, ["--compression", "bf16", "--allreduce", algorithm]).dropFirst()), timeout: 60)
            XCTAssertNotEqual(r.status, 0)
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error") }
            XCTAssertEqual(errors.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("--compression bf16 runs on --allreduce ring only (\(algorithm): \(reason))"), r.stderr)
        }
    }
}
