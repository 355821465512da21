import Foundation
import Metrics
import NeuralNet
import TestSupport
import Topology
import Training
import XCTest

/// `--compression`: the trainer's exchange with each codec under mpirun: bytes against the
/// formulas, state through checkpoints, refusals.
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

    func testCodecsWhereTheyCannotRunAreRefused() throws {
        let out = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        for (codec, algorithm, reason) in [("bf16", "mpi", "MPI_Allreduce adds float32 only"),
                                           ("topk:0.01", "ps", "top-k gathers (index, value) pairs around the ring"),
                                           ("topk:0.01", "tree", "top-k gathers (index, value) pairs around the ring")] {
            let r = try ProcessRunner.run(binary, Array(job(out, ["--compression", codec, "--allreduce", algorithm]).dropFirst()), timeout: 60)
            XCTAssertNotEqual(r.status, 0)
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error") }
            XCTAssertEqual(errors.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("--compression \(codec) with --allreduce \(algorithm): \(reason)"), r.stderr)
        }
        let bad = try ProcessRunner.run(binary, ["--compression", "topk:0"], timeout: 60)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("FRACTION must be a number in (0, 1]"), bad.stderr)
    }

    func records(_ dir: URL) throws -> [IterationRecord] {
        try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
    }

    /// int8 with buckets on the ring and the tree at np 3: per bucket, a byte an element and
    /// a scale per 4096 of each message (`GradientCodec.traffic`), and the metrics say so.
    func testInt8BytesPerBucketOnRingAndTree() throws {
        let store = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store
        let buckets = GradientBuckets.cut(tensorCounts: store.refs.map(\.count), bucketBytes: GradientBuckets.bytes(megabytes: 0.5))
        for algorithm in [AllreduceAlgorithm.ring, .tree] {
            let out = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: out) }
            let r = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(out, ["--compression", "int8", "--bucket-mb", "0.5",
                                                                                   "--allreduce", algorithm.rawValue]), timeout: 180)
            XCTAssertEqual(r.status, 0, r.stderr)
            for rec in try records(out) {
                let expected = buckets.map { GradientCodec.int8.traffic(algorithm, rank: rec.rank, ranks: 3, count: $0.count)!.bytesSent }
                let float = buckets.map { algorithm.countedBytes(rank: rec.rank, ranks: 3, count: $0.count)!.sent }
                XCTAssertEqual(rec.bytesSent, expected.reduce(0, +), "\(algorithm) rank \(rec.rank) iteration \(rec.iteration)")
                XCTAssertEqual(rec.bytesUncompressed, float.reduce(0, +))
                XCTAssertEqual(rec.codec, "int8")
            }
        }
    }

    /// The codec's arithmetic is timed apart from its waiting: int8 on the ring with buckets
    /// at np 3, every record has encode and decode seconds inside its comm seconds, and the
    /// trace holds each encoding and decoding on row 1 (per bucket p + 1 encodings: the
    /// residual added, p - 1 sends, the owner's; p decodings), summing to the records'
    /// figures. float32 has neither.
    func testCodecArithmeticIsTimedInTheMetricsAndOnTheTrace() throws {
        let store = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store
        let buckets = GradientBuckets.cut(tensorCounts: store.refs.map(\.count), bucketBytes: GradientBuckets.bytes(megabytes: 0.5)).count
        for codec in ["int8", "none"] {
            let out = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: out) }
            let trace = out.appendingPathComponent("trace.json")
            let r = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(out, ["--compression", codec, "--bucket-mb", "0.5",
                                                                                   "--trace", trace.path]), timeout: 180)
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: trace)) as! [String: Any]
            let events = (json["traceEvents"] as! [[String: Any]]).filter { $0["ph"] as? String == "X" && $0["tid"] as? Int == 1 }
            let recs = try records(out)
            XCTAssertEqual(recs.count, 9)
            guard codec == "int8" else {
                XCTAssertTrue(events.isEmpty)
                XCTAssertTrue(recs.allSatisfy { $0.codecEncodeSeconds == nil && $0.codecDecodeSeconds == nil })
                continue
            }
            for rec in recs {
                let encode = try XCTUnwrap(rec.codecEncodeSeconds), decode = try XCTUnwrap(rec.codecDecodeSeconds)
                XCTAssertGreaterThan(encode, 0); XCTAssertGreaterThan(decode, 0)
                XCTAssertLessThan(encode + decode, rec.commSeconds, "part of the exchange's time")
                let mine = events.filter { $0["pid"] as? Int == rec.rank && ($0["args"] as? [String: Any])?["iteration"] as? Int == rec.iteration }
                func total(_ name: String) -> (count: Int, seconds: Double) {
                    let e = mine.filter { $0["name"] as? String == name }
                    return (e.count, e.reduce(0) { $0 + ($1["dur"] as! Double) } * 1e-6)
                }
                let (encodings, encoded) = total("codec encode"), (decodings, decoded) = total("codec decode")
                XCTAssertEqual(encodings, buckets * 4, "rank \(rec.rank) iteration \(rec.iteration)")
                XCTAssertEqual(decodings, buckets * 3)
                XCTAssertEqual(encoded, encode, accuracy: 1e-7 * Double(encodings) + 1e-9)
                XCTAssertEqual(decoded, decode, accuracy: 1e-7 * Double(decodings) + 1e-9)
            }
        }
    }

    /// Top-k at np 2, 3, 4 and 8: each rank sends (p - 1) x 8k bytes, k following DGC's
    /// warm-up (25% in epoch 0, 6.25% in epoch 1, ... down to the target 1%): the bytes
    /// grow with the ranks, unlike an allreduce's.
    func testTopKBytesFollowTheWarmupAndGrowWithTheRanks() throws {
        let count = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store.count
        for p in [2, 3, 4, 8] {
            let out = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: out) }
            // 240 images at batch 24: 10 iterations an epoch, so epochs 0 to 3.
            let r = try ProcessRunner.run("/bin/bash", [launcher, String(p)]
                                          + job(out, ["--compression", "topk:0.01", "--iterations", "32", "--log-every", "8"]), timeout: 300)
            XCTAssertEqual(r.status, 0, r.stderr)
            let all = try records(out)
            XCTAssertEqual(all.count, 32 * p)
            var seen = Set<Int>()
            for rec in all {
                let epoch = rec.iteration / 10
                let fraction = max(0.01, 0.25 / pow(4, Double(epoch)))
                let expected = GradientCodec.topkTraffic(ranks: p, count: count, fraction: fraction)
                XCTAssertEqual(rec.bytesSent, expected.bytesSent, "np \(p) rank \(rec.rank) iteration \(rec.iteration)")
                XCTAssertEqual(rec.bytesReceived, expected.bytesReceived)
                seen.insert(rec.bytesSent)
            }
            XCTAssertEqual(seen.count, 4, "np \(p): four epochs, four fractions (25%, 6.25%, 1.56%, 1%)")
        }
    }

    /// Top-k clips each rank's gradient before accumulating it (DGC's local clipping, at
    /// --clip-gradient-norm x sqrt(p)), not the exchanged sum: a tiny norm keeps the
    /// weights where they were, no norm lets them move; and the run reports no clipping.
    func testTopKClipsLocallyBeforeAccumulating() throws {
        var moved: [Float] = []
        for clip in ["1e-7", "0"] {
            // Iterations 2 to 4: the weights after 4 against those after 1, same run otherwise.
            var weights: [[Float]] = []
            for iterations in ["1", "4"] {
                let out = TestPaths.temporaryDirectory()
                defer { try? FileManager.default.removeItem(at: out) }
                let r = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(out, ["--compression", "topk:0.01", "--clip-gradient-norm", clip,
                                                                                       "--iterations", iterations]), timeout: 180)
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertFalse(r.stdout.contains("clipped") && !r.stdout.contains("clipped 0"), "no clipping after the exchange: \(r.stdout)")
                weights.append(try WeightFile.read(from: out.appendingPathComponent("weights.bin").path).values)
            }
            moved.append(zip(weights[0], weights[1]).map { abs($0 - $1) }.max()!)
        }
        XCTAssertLessThan(moved[0], 1e-5, "clipped to 1e-7 x sqrt(2) per step, the weights barely move (weight decay only)")
        XCTAssertGreaterThan(moved[1], 100 * moved[0], "unclipped, they move (\(moved[1]) against \(moved[0]))")
    }

    /// PowerSGD at np 2, 3, 4, 8 on the ring, and at np 3 on the tree and the parameter
    /// server: plain allreduces for the first 10% of iterations, then per bucket one
    /// allreduce of the vectors and every P and one of every Q (`PowerSGDPlan.traffic`).
    func testPowerSGDBytesAreTheTwoAllreducesOfThePlan() throws {
        let store = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store
        let matrices = PowerSGDPlan.matrices(tensors: store.refs.map { ($0.offset, $0.shape, $0.count) }, rank: 2, minCompressionRate: 2)
        XCTAssertGreaterThan(matrices.count, 10)
        for (p, algorithm) in [(2, AllreduceAlgorithm.ring), (3, .ring), (4, .ring), (8, .ring), (3, .tree), (3, .ps)] {
            let out = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: out) }
            let r = try ProcessRunner.run("/bin/bash", [launcher, String(p)]
                                          + job(out, ["--compression", "powersgd:2", "--iterations", "10", "--allreduce", algorithm.rawValue]),
                                          timeout: 300)
            XCTAssertEqual(r.status, 0, r.stderr)
            for rec in try records(out) {
                let expected = rec.iteration < 1
                    ? algorithm.countedBytes(rank: rec.rank, ranks: p, count: store.count)!.sent
                    : PowerSGDPlan.traffic(algorithm, rank: rec.rank, ranks: p, bucket: 0..<store.count, matrices: matrices).bytesSent
                XCTAssertEqual(rec.bytesSent, expected, "\(algorithm) np \(p) rank \(rec.rank) iteration \(rec.iteration)")
            }
            let late = try XCTUnwrap(try records(out).last)
            XCTAssertGreaterThan(Double(late.bytesUncompressed!) / Double(late.bytesSent), 10, "\(algorithm) np \(p)")
        }
    }

    /// PowerSGD at full rank on every matrix (a test hook) sums exactly what float32 sums,
    /// to rounding: the algorithm, not only its bytes.
    func testPowerSGDAtFullRankEqualsTheFloatAllreduce() throws {
        let plain = TestPaths.temporaryDirectory(), full = TestPaths.temporaryDirectory()
        defer { for d in [plain, full] { try? FileManager.default.removeItem(at: d) } }
        let a = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(plain, []), timeout: 180)
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(full, []), environment: ["SQUEEZENET_TEST_HOOK": "powersgd-full"],
                                      timeout: 180)
        XCTAssertEqual(b.status, 0, b.stderr)
        let w0 = try WeightFile.read(from: plain.appendingPathComponent("weights.bin").path).values
        let w1 = try WeightFile.read(from: full.appendingPathComponent("weights.bin").path).values
        XCTAssertNotEqual(w0.map(\.bitPattern), w1.map(\.bitPattern), "the factors' products round differently")
        let scale = w0.map { abs($0) }.max()!
        let largest = zip(w0, w1).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(largest / scale, 1e-5, "full-rank P Q^T is the sum itself")
    }

    /// A compressed run's residuals (and DGC's velocity, PowerSGD's Q) travel in the
    /// checkpoint, one copy per rank: a run resumed from its checkpoint gives the bits of
    /// the run in one go. Resuming on another rank count is refused with one line.
    func testResumeWithCodecStateIsExact() throws {
        // Top-k from epoch 1 (iteration 10): in epoch 0 its 25% covers every non-zero
        // entry of these early gradients, and its residual is all zero.
        for (codec, length, at) in [("int8", 6, 3), ("topk:0.05", 14, 12), ("powersgd:2", 6, 3)] {
            let straight = TestPaths.temporaryDirectory(), split = TestPaths.temporaryDirectory()
            defer { for d in [straight, split] { try? FileManager.default.removeItem(at: d) } }
            let six = ["--compression", codec, "--iterations", String(length), "--checkpoint-every", String(at)]
            let a = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(straight, six), timeout: 180)
            XCTAssertEqual(a.status, 0, a.stderr)
            let checkpoint = straight.appendingPathComponent(String(format: "checkpoint-%08d.ckpt", at)).path
            let saved = try WeightFile.read(from: checkpoint)
            XCTAssertEqual(saved.header.hookState?.isEmpty, false, codec)
            XCTAssertTrue(saved.hookState.allSatisfy { $0.contains { $0 != 0 } }, "\(codec): the state is not all zero")
            let b = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(split, six + ["--resume", checkpoint]), timeout: 180)
            XCTAssertEqual(b.status, 0, b.stderr)
            let w0 = try WeightFile.read(from: straight.appendingPathComponent("weights.bin").path).values
            let w1 = try WeightFile.read(from: split.appendingPathComponent("weights.bin").path).values
            XCTAssertEqual(w0.count, w1.count)
            XCTAssertEqual(zip(w0, w1).filter { $0.bitPattern != $1.bitPattern }.count, 0, "\(codec): resumed bit for bit")
            if codec == "int8" {
                let c = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(split, six + ["--resume", checkpoint, "--overwrite"]), timeout: 180)
                XCTAssertNotEqual(c.status, 0)
                XCTAssertTrue(c.stderr.contains("holds the error-feedback state of 3 ranks"), c.stderr)
            }
        }
    }
}
