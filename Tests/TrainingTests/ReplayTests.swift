import Foundation
import Metrics
import NeuralNet
import TestSupport
import Topology
import Training
import XCTest

/// Replayed compute (the scaling lab): a real single-worker step measured layer by layer,
/// then replayed as waits while the exchange stays real.
final class ReplayTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    func testReplayOptionsAreChecked() throws {
        var o = TrainingOptions()
        o.replay = ReplaySettings(timelinePath: "t.json")
        XCTAssertNoThrow(try o.validate())
        func refused(_ edit: (inout TrainingOptions) -> Void, _ expected: String) {
            var bad = o
            edit(&bad)
            XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
        }
        refused({ $0.resume = "x.ckpt" }, "--resume cannot be used with --replay-compute")
        refused({ $0.checkpointEvery = 5 }, "--checkpoint-every cannot")
        refused({ $0.epochs = 1 }, "--epochs")
        refused({ $0.evalEvery = 5 }, "--eval-every cannot")
        refused({ $0.model = .alexnetPayload }, "needs a model with layers")
        refused({ $0.replay!.workerSpeedup = 0 }, "--worker-speedup must be a positive number")
        refused({ $0.replay!.timeDilation = 0.5 }, "--time-dilation must be at least 1")
        refused({ $0.linkCounters = "no-such-interface0" }, "--link-counters no-such-interface0")
        refused({ $0.iterations = 3; $0.replay!.warmupIterations = 3 }, "--replay-warmup must be at least 0 and less than --iterations (3)")
        refused({ $0.replay!.warmupIterations = -1 }, "--replay-warmup must be at least 0")
        let r = try ProcessRunner.run(binary, ["--worker-speedup", "2", "--iterations", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--worker-speedup, --time-dilation and --replay-warmup need --replay-compute"), r.stderr)
    }

    func testTimelineIsTheTrainersStepLayerByLayer() throws {
        var o = TrainingOptions()
        o.model = .v1_1; o.inputSize = 32; o.classes = 10
        let t = try ComputeTimeline.measure(options: o, batch: 4, threads: 1, iterations: 2, warmup: 1)
        let network = try XCTUnwrap(o.model.architecture.build(ModelConfiguration(classes: 10, inputSize: 32, batch: 1)))
        XCTAssertEqual(t.layers.map(\.name), network.layers.map(\.name))
        XCTAssertEqual(t.parameters, network.store.count)
        XCTAssertEqual(t.tensorCounts, network.store.refs.map(\.count))
        XCTAssertGreaterThan(t.forwardSeconds, 0)
        XCTAssertGreaterThan(t.backwardSeconds, 0)
        XCTAssertTrue(t.layers.allSatisfy { $0.backwardSeconds >= 0 })
        // The parts are medians of the same steps the whole-step median is over.
        XCTAssertEqual(t.replayedStepSeconds / t.stepSeconds, 1, accuracy: 0.5)
        XCTAssertNoThrow(try t.check(source: "measured"))
    }

    func timeline(_ dir: URL, model: String = "v1.1") throws -> String {
        let path = dir.appendingPathComponent("timeline-\(model).json").path
        let r = try ProcessRunner.run(binary, ["timeline", "--model", model, "--classes", "10", "--input-size", "32", "--batch", "4",
                                               "--iterations", "2", "--warmup", "1", "--output", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("measured"), r.stdout)
        return path
    }

    /// Two ranks replay the timeline scaled 40 / 2 = 20x: every iteration after the warm-up
    /// lasts at least 20 times the measured step, the warm-up waits no compute, the exchange
    /// sends the ring's real bytes in every iteration, nothing is trained or written.
    func testReplayedRunWaitsTheTimelineAndExchangesRealBytes() throws {
        let dir = TestPaths.temporaryDirectory("replay")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try timeline(dir)
        let t = try ComputeTimeline.load(path)
        let out = dir.appendingPathComponent("run")
        let r = try ProcessRunner.mpirun(2, binary, [
            "--model", "v1.1", "--classes", "10", "--input-size", "32", "--batch-size", "8", "--iterations", "3",
            "--allreduce", "ring", "--bucket-mb", "0.1", "--replay-compute", path, "--worker-speedup", "2",
            "--time-dilation", "40", "--replay-warmup", "1", "--link-counters", "lo", "--output", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("compute replayed from"), r.stdout)
        let records = try MetricsReader.read(out.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(records.count, 6)
        // The warm-up exchanges the first 1024 x ranks floats of each bucket, the others all of it.
        let buckets = GradientBuckets.cut(tensorCounts: t.tensorCounts, bucketBytes: GradientBuckets.bytes(megabytes: 0.1))
        XCTAssertGreaterThan(buckets.count, 2)
        for rec in records {
            if rec.iteration == 0 {
                let warm = buckets.map { AllreduceAlgorithm.ring.traffic(rank: rec.rank, ranks: 2, count: min($0.count, 2048)).bytesSent }
                XCTAssertEqual(rec.bytesSent, warm.reduce(0, +), "the warm-up sends the start of each bucket")
            } else {
                XCTAssertEqual(rec.bytesSent, AllreduceAlgorithm.ring.traffic(rank: rec.rank, ranks: 2, count: t.parameters).bytesSent)
            }
            if rec.iteration == 0 {
                XCTAssertEqual(rec.replay, IterationRecord.Replay(workerSpeedup: 2, timeDilation: 40, warmup: true))
                XCTAssertLessThan(rec.computeSeconds, 5 * (t.forwardSeconds + t.backwardSeconds), "a warm-up waits no compute (a quarter of the replayed step)")
                continue
            }
            XCTAssertEqual(rec.replay, IterationRecord.Replay(workerSpeedup: 2, timeDilation: 40))
            XCTAssertNil(rec.loss)
            XCTAssertNil(rec.gradientNorm)
            XCTAssertEqual(rec.batchSize, 4)
            XCTAssertGreaterThanOrEqual(rec.computeSeconds, 20 * (t.forwardSeconds + t.backwardSeconds) * 0.999)
            XCTAssertGreaterThanOrEqual(rec.iterationSeconds, 20 * t.replayedStepSeconds * 0.999)
            XCTAssertNotNil(rec.linkTxCounter)
            XCTAssertNotNil(rec.linkRetransmitCounter, "the namespace's TCP retransmits, read with the interface")
            XCTAssertNotNil(rec.startedAt)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("weights.bin").path),
                       "replayed compute trains nothing: no weights are written")
    }

    /// PowerSGD under replay: its arithmetic comes from a timeline measured with the codec,
    /// waited around two real allreduces per bucket of the timeline's sizes (the counted
    /// bytes say so), booked as the codec's time; a timeline without it, or timed on other
    /// buckets, is refused.
    func testPowerSGDArithmeticIsReplayedFromItsTimeline() throws {
        let dir = TestPaths.temporaryDirectory("replay-psgd")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("psgd.json").path
        let m = try ProcessRunner.run(binary, ["timeline", "--model", "v1.1", "--classes", "10", "--input-size", "32", "--batch", "4",
                                               "--iterations", "2", "--warmup", "1", "--compression", "powersgd:2", "--bucket-mb", "0.1",
                                               "--output", path])
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertTrue(m.stdout.contains("powersgd:2 arithmetic over"), m.stdout)
        let codec = try XCTUnwrap(try ComputeTimeline.load(path).codec)
        XCTAssertGreaterThan(codec.buckets.count, 2)
        let out = dir.appendingPathComponent("run")
        let run = ["--model", "v1.1", "--classes", "10", "--input-size", "32", "--batch-size", "8", "--iterations", "3",
                   "--allreduce", "ring", "--replay-compute", path, "--time-dilation", "20", "--replay-warmup", "1", "--compression", "powersgd:2"]
        let r = try ProcessRunner.mpirun(2, binary, run + ["--bucket-mb", "0.1", "--output", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        for rec in try MetricsReader.read(out.appendingPathComponent("metrics.jsonl").path) where rec.iteration > 0 {
            let expected = codec.buckets.reduce(0) {
                $0 + AllreduceAlgorithm.ring.traffic(rank: rec.rank, ranks: 2, count: $1.firstCount).bytesSent
                   + AllreduceAlgorithm.ring.traffic(rank: rec.rank, ranks: 2, count: $1.secondCount).bytesSent
            }
            XCTAssertEqual(rec.bytesSent, expected, "rank \(rec.rank) iteration \(rec.iteration)")
            let waited = try XCTUnwrap(rec.codecEncodeSeconds) + XCTUnwrap(rec.codecDecodeSeconds)
            XCTAssertGreaterThanOrEqual(waited, 20 * codec.buckets.reduce(0) { $0 + $1.arithmeticSeconds } * 0.999, "the arithmetic, dilated 20x")
        }
        for (args, expected) in [(["--bucket-mb", "0.2"], "gradient buckets of 0.1 MB, this run has 0.2 MB"),
                                 (["--bucket-mb", "0.1", "--compression", "powersgd:4"], "codec powersgd:2, this run has powersgd:4")] {
            let bad = try ProcessRunner.mpirun(2, binary, run + args + ["--output", dir.appendingPathComponent("bad").path])
            XCTAssertNotEqual(bad.status, 0)
            XCTAssertTrue(bad.stderr.contains(expected), "\(args): \(bad.stderr)")
        }
        let plain = try timeline(dir)
        let bad = try ProcessRunner.mpirun(2, binary, ["--model", "v1.1", "--classes", "10", "--input-size", "32", "--batch-size", "8",
                                                       "--iterations", "2", "--replay-compute", plain, "--compression", "powersgd:2"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("no PowerSGD arithmetic in the timeline"), bad.stderr)
    }

    func testTimelineOfAnotherRunIsRefusedOnEveryRank() throws {
        let dir = TestPaths.temporaryDirectory("replay-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try timeline(dir)
        let base = ["--classes", "10", "--iterations", "2", "--replay-compute", path]
        for (args, expected) in [(["--model", "v1.0", "--input-size", "32", "--batch-size", "8"], "measured for model v1.1, this run has v1.0"),
                                 (["--model", "v1.1", "--input-size", "32", "--batch-size", "16"], "images per worker 4, this run has 8"),
                                 (["--model", "v1.1", "--input-size", "48", "--batch-size", "8"], "input size 32, this run has 48")] {
            let full = base + args
            let r = try ProcessRunner.mpirun(2, binary, full)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains(expected), "\(args): \(r.stderr)")
            XCTAssertFalse(r.timedOut)
        }
    }
}
