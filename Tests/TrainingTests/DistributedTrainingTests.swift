import Foundation
import Metrics
import TestSupport
import Training
import XCTest

/// Real `mpirun` jobs of the trainer: p ranks against one process, startup
/// agreement, and errors that reach every rank.
final class DistributedTrainingTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    func common(_ out: URL, iterations: Int = 4, batch: Int = 24) -> [String] {
        ["--model", "v1.1", "--input-size", "32", "--train-limit", "480", "--test-limit", "96",
         "--batch-size", String(batch), "--iterations", String(iterations), "--dropout", "0",
         "--log-every", "2", "--output", out.path]
    }

    func weights(_ dir: URL) throws -> WeightFile { try WeightFile.read(from: dir.appendingPathComponent("weights.bin").path) }

    /// k steps on p ranks with per-rank batch b equal k steps in one process with
    /// batch p*b on the same samples. Summation order differs (per-rank means,
    /// chunked GEMMs), so the weights agree to float rounding, not bit for bit:
    /// tolerance 1e-4 of max|w| after 4 steps (observed ~1e-7).
    func testRanksMatchOneProcessForTreeAndRing() throws {
        let single = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: single) }
        let one = try ProcessRunner.run(binary, common(single), environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let reference = try weights(single)
        for algorithm in ["tree", "ring"] {
            for ranks in [3, 4] {
                let dir = TestPaths.temporaryDirectory()
                defer { try? FileManager.default.removeItem(at: dir) }
                let r = try ProcessRunner.mpirun(ranks, binary, common(dir) + ["--allreduce", algorithm])
                XCTAssertEqual(r.status, 0, "\(algorithm) np=\(ranks): \(r.stderr)")
                let w = try weights(dir)
                let diff = relativeMaxDifference(w.values, reference.values)
                print("np=\(ranks) \(algorithm) vs one process: max|a-b|/max|b| = \(diff)")
                XCTAssertLessThan(diff, 1e-4, "\(algorithm) np=\(ranks)")
                XCTAssertNotEqual(w.values, try initialWeights(), "training must have moved the weights")
                let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
                XCTAssertEqual(records.count, 4 * ranks, "one record per rank per iteration")
                XCTAssertEqual(Set(records.map(\.rank)), Set(0..<ranks))
                XCTAssertTrue(records.allSatisfy { $0.bytesCounted && $0.batchSize == 24 / ranks && $0.algorithm == algorithm })
            }
        }
    }

    /// Augmentation draws depend on (seed, step, image), not on the rank, so the
    /// property above holds with random mirrors and shifts too.
    func testAugmentedRanksMatchAugmentedOneProcess() throws {
        let augment = ["--mirror", "--max-shift", "3"]
        let single = TestPaths.temporaryDirectory(), plain = TestPaths.temporaryDirectory(), dir = TestPaths.temporaryDirectory()
        defer { for d in [single, plain, dir] { try? FileManager.default.removeItem(at: d) } }
        let one = try ProcessRunner.run(binary, common(single) + augment, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let unaugmented = try ProcessRunner.run(binary, common(plain), environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(unaugmented.status, 0, unaugmented.stderr)
        let r = try ProcessRunner.mpirun(4, binary, common(dir) + augment + ["--allreduce", "ring"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let reference = try weights(single).values
        let diff = relativeMaxDifference(try weights(dir).values, reference)
        print("np=4 ring augmented vs one process augmented: max|a-b|/max|b| = \(diff)")
        XCTAssertLessThan(diff, 1e-4)
        XCTAssertGreaterThan(relativeMaxDifference(try weights(plain).values, reference), 1e-3,
                             "augmentation must change what is trained on")
    }

    func initialWeights() throws -> [Float] {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var args = common(dir)
        args += ["--base-lr", "1e-30", "--momentum", "0", "--weight-decay", "0"]
        _ = try ProcessRunner.run(binary, args)
        return try weights(dir).values
    }

    func testRanksStartedWithDifferentOptionsStopWithAClearError() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = common(dir)
        let r = try ProcessRunner.mpirunMPMD([[binary] + base + ["--seed", "1"], [binary] + base + ["--seed", "2"],
                                              [binary] + base + ["--seed", "1"]], timeout: 60)
        XCTAssertFalse(r.timedOut, "ranks that disagree must not hang")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("rank 1 was started with options or data that differ from rank 0's (rank 1: --seed);"), r.stderr)
    }

    /// Ranks whose data has the same size but not the same content, or whose options
    /// differ, stop at startup with one line naming each rank and what differs; a rank
    /// reading the same content from another folder (`--data-dir` differs) agrees.
    func testRanksWithDifferentDataOrOptionsAreToldWhatDiffers() throws {
        let root = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func idx(_ words: [UInt32], _ body: [UInt8]) -> Data {
            var d = Data()
            for w in words { withUnsafeBytes(of: w.bigEndian) { d.append(contentsOf: $0) } }
            return d + Data(body)
        }
        /// Plain IDX files of 48 training and 24 test images; `change` edits one file's body.
        func folder(_ name: String, change: (file: String, at: Int)? = nil) throws -> String {
            let dir = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (prefix, n) in [("train", 48), ("t10k", 24)] {
                var pixels = (0..<(n * 784)).map { UInt8(truncatingIfNeeded: $0 * 7 % 251) }
                var labels = (0..<n).map { UInt8($0 % 10) }
                if let c = change, c.file == "\(prefix)-images" { pixels[c.at] ^= 1 }
                if let c = change, c.file == "\(prefix)-labels" { labels[c.at] = (labels[c.at] + 1) % 10 }
                try idx([2051, UInt32(n), 28, 28], pixels).write(to: dir.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
                try idx([2049, UInt32(n)], labels).write(to: dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
            }
            return dir.path
        }
        let same = try folder("a"), copy = try folder("a-copy")
        let trainChanged = try folder("b", change: ("train-images", 30_000)), testChanged = try folder("c", change: ("t10k-labels", 5))
        let base = ["--model", "v1.1", "--input-size", "32", "--batch-size", "24", "--iterations", "1", "--output", root.appendingPathComponent("out").path]
        let r = try ProcessRunner.mpirunMPMD([[binary] + base + ["--data-dir", same], [binary] + base + ["--data-dir", trainChanged],
                                              [binary] + base + ["--data-dir", testChanged],
                                              [binary] + base + ["--data-dir", copy, "--base-lr", "0.02"]], timeout: 90)
        XCTAssertFalse(r.timedOut, "ranks that disagree must not hang")
        XCTAssertNotEqual(r.status, 0)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors, ["error: ranks 1, 2, 3 were started with options or data that differ from rank 0's (rank 1: the training data; rank 2: the test data; rank 3: --base-lr); every rank must run the same command on the same data"], r.stderr)
    }

    /// A checkpoint written by 4 ranks resumes on 2 (same global batch) and ends where
    /// both uninterrupted runs end, to rounding: dropout, data order and augmentation
    /// are keyed by position in the global batch or image, never by rank. Dropout is on.
    func testCheckpointOfFourRanksResumesOnTwo() throws {
        let four = TestPaths.temporaryDirectory(), two = TestPaths.temporaryDirectory(), resumed = TestPaths.temporaryDirectory()
        let undropped = TestPaths.temporaryDirectory()
        defer { for d in [four, two, resumed, undropped] { try? FileManager.default.removeItem(at: d) } }
        let args = { (dir: URL) in self.common(dir, iterations: 10) + ["--dropout", "0.5", "--mirror", "--checkpoint-every", "5"] }
        let r4 = try ProcessRunner.mpirun(4, binary, args(four))
        XCTAssertEqual(r4.status, 0, r4.stderr)
        let r2 = try ProcessRunner.mpirun(2, binary, args(two))
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let name = "checkpoint-00000005.ckpt"
        XCTAssertEqual(try WeightFile.read(from: four.appendingPathComponent(name).path).header.ranks, 4)
        try FileManager.default.copyItem(at: four.appendingPathComponent(name), to: resumed.appendingPathComponent(name))
        let r = try ProcessRunner.mpirun(2, binary, args(resumed) + ["--resume", "latest"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming at iteration 5 from latest (written by 4 ranks, resuming on 2)"), r.stdout)
        let final = try weights(resumed).values, whole4 = try weights(four).values, whole2 = try weights(two).values
        for (label, reference) in [("np 4", whole4), ("np 2", whole2)] {
            let diff = relativeMaxDifference(final, reference)
            print("resumed 4 -> 2 vs uninterrupted \(label): max|a-b|/max|b| = \(diff)")
            XCTAssertLessThanOrEqual(diff, 1e-5, "resumed on 2 ranks against the uninterrupted \(label) run")
        }
        print("uninterrupted np 4 vs np 2: max|a-b|/max|b| = \(relativeMaxDifference(whole4, whole2))")
        let u = try ProcessRunner.mpirun(2, binary, common(undropped, iterations: 10) + ["--mirror"])
        XCTAssertEqual(u.status, 0, u.stderr)
        XCTAssertGreaterThan(relativeMaxDifference(try weights(undropped).values, whole2), 1e-3, "dropout must change the training")
    }

    func testMissingDataOnEveryRankIsOneLineAndNonZero() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ProcessRunner.mpirun(3, binary, common(dir) + ["--data-dir", "/nonexistent"], timeout: 60)
        XCTAssertFalse(r.timedOut)
        XCTAssertNotEqual(r.status, 0)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, r.stderr)
        XCTAssertTrue(errors.first?.contains("/nonexistent/train-images-idx3-ubyte") ?? false, r.stderr)
    }

    func testBatchThatDoesNotDivideAcrossRanksIsRejected() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ProcessRunner.mpirun(4, binary, common(dir, batch: 30), timeout: 60)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--batch-size 30 is the global batch and must divide evenly across 4 ranks"), r.stderr)
    }

    /// Caffe's AlexNet (grouped convolutions, LRN) trains under mpirun with every algorithm:
    /// 2 ranks against one process on the same global batch, weights within float rounding;
    /// and the run's closing lines give the bytes per rank and the AlexNet comparison.
    func testAlexNetTrainsUnderMPIWithEveryAlgorithm() throws {
        let args = ["--model", "alexnet", "--input-size", "67", "--dataset", "synthetic", "--train-limit", "16", "--test-limit", "4",
                    "--batch-size", "4", "--iterations", "2", "--dropout", "0", "--log-every", "1"]
        let single = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: single) }
        let one = try ProcessRunner.run(binary, args + ["--output", single.path], environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("exchange: one rank, nothing exchanged"), one.stdout)
        let reference = try weights(single)
        for algorithm in ["tree", "ring", "mpi", "ps"] {
            let dir = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try ProcessRunner.mpirun(2, binary, args + ["--allreduce", algorithm, "--output", dir.path])
            XCTAssertEqual(r.status, 0, "\(algorithm): \(r.stderr)")
            let diff = relativeMaxDifference(try weights(dir).values, reference.values)
            XCTAssertLessThan(diff, 1e-4, "alexnet \(algorithm) np=2 against one process")
            let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
            let n = records[0].gradientBytes
            XCTAssertTrue(r.stdout.contains(String(format: "exchange: each rank sent %.2f MB per iteration", Double(n) / 1e6)), r.stdout)
            XCTAssertTrue(r.stdout.contains("would send 243.86 MB per rank per iteration with \(algorithm) over 2 ranks (modelled)"), r.stdout)
            XCTAssertTrue(r.stdout.contains("waiting on communication: "), r.stdout)
        }
    }

    func testAlexNetPayloadBytesPerIteration() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ProcessRunner.mpirun(2, binary, ["--model", "alexnet-payload", "--iterations", "2", "--batch-size", "2",
                                                     "--allreduce", "ps", "--log-every", "1", "--output", dir.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(records.count, 4)
        for rec in records {
            XCTAssertEqual(rec.parameters, 60_965_224)
            XCTAssertEqual(rec.bytesSent, 243_860_896, "each of 2 ranks sends exactly one AlexNet gradient")
            XCTAssertEqual(rec.bytesReceived, 243_860_896)
        }
    }

    func testTraceHasEveryPhaseOfEveryIterationOnEveryRank() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("trace.json")
        let r = try ProcessRunner.mpirun(3, binary, common(dir, iterations: 3) + ["--trace", trace.path, "--allreduce", "ring"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: trace)) as! [String: Any]
        let events = (json["traceEvents"] as! [[String: Any]]).filter { $0["ph"] as? String == "X" }
        for phase in ["data", "forward", "backward", "allreduce", "sgd update"] {
            let mine = events.filter { $0["name"] as? String == phase }
            XCTAssertEqual(mine.count, 3 * 3, "\(phase): 3 iterations x 3 ranks")
            XCTAssertEqual(Set(mine.map { $0["pid"] as! Int }), [0, 1, 2])
        }
        // The run ends with one evaluation and one checkpoint (metrics flushed on every rank, written by rank 0).
        for phase in ["evaluate", "checkpoint"] {
            let mine = events.filter { $0["name"] as? String == phase }
            XCTAssertEqual(mine.map { $0["pid"] as! Int }.sorted(), [0, 1, 2], phase)
        }
        let sent = events.filter { $0["name"] as? String == "allreduce" }.map { ($0["args"] as! [String: Any])["bytes_sent"] as! Int }
        let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
        XCTAssertEqual(sent.reduce(0, +), records.reduce(0) { $0 + $1.bytesSent }, "the trace's bytes are the counted bytes")
    }

    /// Buckets exchanged during backward give the same weights as one exchange
    /// after it: bit for bit with `tree` (every element is summed in the same
    /// binomial order either way), to rounding with `ring` (bucket boundaries move
    /// the ring's chunks, so the order of the sums changes).
    func testBucketedOverlapGivesTheSameWeights() throws {
        for (algorithm, tolerance) in [("tree", 0.0), ("ring", 1e-5)] {
            var results: [WeightFile] = []
            for mb in ["0", "0.5"] {
                let dir = TestPaths.temporaryDirectory()
                defer { try? FileManager.default.removeItem(at: dir) }
                let r = try ProcessRunner.mpirun(3, binary, common(dir) + ["--allreduce", algorithm, "--bucket-mb", mb])
                XCTAssertEqual(r.status, 0, r.stderr)
                if mb != "0" { XCTAssertTrue(r.stdout.contains("buckets overlapping backward"), r.stdout) }
                let records = try MetricsReader.read(dir.appendingPathComponent("metrics.jsonl").path)
                XCTAssertTrue(records.allSatisfy { $0.exposedCommSeconds != nil })
                XCTAssertEqual(records.filter { $0.rank == 0 }.map(\.bytesSent).first,
                               records.filter { $0.rank == 0 }.map(\.bytesSent).last)
                results.append(try weights(dir))
            }
            let diff = relativeMaxDifference(results[1].values, results[0].values)
            print("\(algorithm): bucketed vs one exchange: \(diff)")
            XCTAssertLessThanOrEqual(diff, tolerance, algorithm)
        }
    }
}
