import Foundation
import Metrics
import NeuralNet
import TestSupport
import Topology
import Training
import XCTest

/// The gradient-exchange seam: buckets tile the gradient buffer, the default hook
/// gives the same bits as no hook, and a hook that changes the payload is seen on
/// every rank (its bytes in every rank's records, its values in the weights).
final class BucketHookTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    func run(_ out: URL, bucketMB: String) -> [String] {
        ["--model", "v1.1", "--input-size", "32", "--train-limit", "240", "--test-limit", "48",
         "--batch-size", "24", "--iterations", "3", "--log-every", "1", "--allreduce", "tree",
         "--bucket-mb", bucketMB, "--output", out.path]
    }

    /// `mpirun -np 3` of the trainer with `hook` in SQUEEZENET_TEST_HOOK (none: unset).
    func train(_ out: URL, bucketMB: String, hook: String? = nil) throws -> ProcessResult {
        let launcher = TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path
        return try ProcessRunner.run("/bin/bash", [launcher, "3", binary] + run(out, bucketMB: bucketMB),
                                     environment: hook.map { ["SQUEEZENET_TEST_HOOK": $0] } ?? [:], timeout: 180)
    }

    func weights(_ dir: URL) throws -> [Float] {
        try WeightFile.read(from: dir.appendingPathComponent("weights.bin").path).values
    }

    /// Every bucket boundary is a tensor boundary, and the buckets, last tensors first,
    /// tile the whole buffer: no element is left out of the exchange or sent twice.
    func testBucketsTileTheGradientBufferAtTensorBoundaries() {
        for (model, inputSize) in [(SqueezeNet.Version.v1_0, 32), (.v1_1, 64)] {
            let store = SqueezeNet.make(model, classes: 10, inputSize: inputSize, batch: 1).store
            let starts = Set(store.refs.map(\.offset))
            for bucketBytes in [4, 100_000, 1 << 20, 3 << 20, 1 << 30] {
                let buckets = GradientExchange.buckets(of: store, bucketBytes: bucketBytes)
                var end = store.count
                for b in buckets {
                    XCTAssertEqual(b.upperBound, end, "\(model) \(bucketBytes): buckets must be contiguous")
                    XCTAssertTrue(starts.contains(b.lowerBound), "\(model) \(bucketBytes): \(b) starts inside a tensor")
                    XCTAssertFalse(b.isEmpty)
                    end = b.lowerBound
                }
                XCTAssertEqual(end, 0, "\(model) \(bucketBytes): the first elements are never exchanged")
                XCTAssertLessThanOrEqual(buckets.count, store.refs.count)
            }
            // The first bucket (the classifier's end) is cut small so the exchange starts early:
            // it closes with the tensor that takes it to `firstBucketBytes`.
            let first = GradientExchange.buckets(of: store, bucketBytes: 4 << 20)[0]
            let lowest = store.refs.first { $0.offset == first.lowerBound }!
            XCTAssertLessThan((first.count - lowest.count) * 4, GradientBuckets.firstBucketBytes)
            XCTAssertGreaterThanOrEqual(first.count * 4, GradientBuckets.firstBucketBytes)
        }
    }

    /// The identity hook, named explicitly, is what runs without one: the same bits.
    func testIdentityHookGivesTheSameBits() throws {
        let plain = TestPaths.temporaryDirectory(), named = TestPaths.temporaryDirectory()
        defer { for d in [plain, named] { try? FileManager.default.removeItem(at: d) } }
        XCTAssertEqual(try train(plain, bucketMB: "0.5").status, 0)
        let r = try train(named, bucketMB: "0.5", hook: "identity")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try weights(named), try weights(plain))
    }

    /// fp16-gather sends each bucket as IEEE halves to every other rank: every rank's
    /// records show (p - 1) x 2 bytes per gradient each way, half of what fp32 would
    /// need, and the weights move by the rounding of the halves, not more.
    func testAHookThatChangesThePayloadIsSeenOnEveryRank() throws {
        let plain = TestPaths.temporaryDirectory(), half = TestPaths.temporaryDirectory()
        defer { for d in [plain, half] { try? FileManager.default.removeItem(at: d) } }
        XCTAssertEqual(try train(plain, bucketMB: "0").status, 0)
        let r = try train(half, bucketMB: "0.5", hook: "fp16-gather")
        XCTAssertEqual(r.status, 0, r.stderr)
        let records = try MetricsReader.read(half.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(Set(records.map(\.rank)), [0, 1, 2])
        XCTAssertEqual(records.count, 9)
        for record in records {
            XCTAssertEqual(record.bytesSent, 2 * 2 * record.parameters, "rank \(record.rank): 2 peers x 2 bytes")
            XCTAssertEqual(record.bytesReceived, 2 * 2 * record.parameters, "rank \(record.rank)")
        }
        let a = try weights(half), b = try weights(plain)
        XCTAssertNotEqual(a, b, "the halves' rounding must reach the weights")
        let diff = relativeMaxDifference(a, b)
        print("fp16-gather vs fp32 tree after 3 steps: max|a-b|/max|b| = \(diff)")
        XCTAssertLessThan(diff, 1e-3)
    }

    func testAnUnknownTestHookIsAnError() throws {
        let r = try ProcessRunner.run(binary, ["--iterations", "1"], environment: ["SQUEEZENET_TEST_HOOK": "zip"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("SQUEEZENET_TEST_HOOK=zip is not a test hook (identity, fp16-gather, powersgd-full, masked-unpacked)"), r.stderr)
    }

    /// Ranks started with different hooks would exchange different messages and wait
    /// for each other forever: the startup agreement stops them with the usual error.
    func testRanksWithDifferentHooksRefuseToStart() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = run(dir, bucketMB: "0")
        let r = try ProcessRunner.mpirunMPMD([["/usr/bin/env", "SQUEEZENET_TEST_HOOK=fp16-gather", binary] + args,
                                              [binary] + args], timeout: 60)
        XCTAssertFalse(r.timedOut, "must not hang")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("rank 1 was started with options or data that differ from rank 0's (rank 1: the bucket hook);"), r.stderr)
    }
}
