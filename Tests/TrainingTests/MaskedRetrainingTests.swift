import DeepCompression
import Foundation
import Metrics
import NeuralNet
import TestSupport
import Topology
import Training
import XCTest

/// Deep Compression's masked retraining under mpirun: prune a trained model's weights by
/// magnitude, retrain, and the pruned weights stay exactly zero on every rank with tree,
/// ring and buckets; the exchange sends only the survivors (bytes: the kept count's).
final class MaskedRetrainingTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path
    var launcher: String { TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path }

    func job(_ out: URL, _ extra: [String]) -> [String] {
        [binary, "--model", "v1.1", "--input-size", "32", "--train-limit", "240", "--test-limit", "48", "--batch-size", "24",
         "--iterations", "4", "--log-every", "1", "--output", out.path] + extra
    }

    func testPrunedWeightsStayExactlyZeroAndOnlySurvivorsTravel() throws {
        let trained = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: trained) }
        let a = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(trained, []), timeout: 180)
        XCTAssertEqual(a.status, 0, a.stderr)
        let start = try WeightFile.read(from: trained.appendingPathComponent("weights.bin").path).values
        let store = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store
        // The mask a direct implementation expects: per weight tensor, the 50% smallest |w|.
        var keep = [Bool](repeating: true, count: start.count)
        for ref in store.refs where ref.shape.count >= 2 {
            let idx = (ref.offset..<(ref.offset + ref.count)).sorted { (abs(start[$0]), $1) < (abs(start[$1]), $0) }
            for i in idx.prefix(Int((0.5 * Double(ref.count)).rounded())) { keep[i] = false }
        }
        let kept = keep.filter { $0 }.count
        for (label, extra) in [("ring", ["--allreduce", "ring"]), ("tree", ["--allreduce", "tree"]),
                               ("ring, buckets", ["--allreduce", "ring", "--bucket-mb", "0.5"])] {
            let out = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: out) }
            let r = try ProcessRunner.run("/bin/bash", [launcher, "3"] + job(out, extra + ["--init-weights", trained.appendingPathComponent("weights.bin").path,
                                                                                         "--prune-sparsity", "0.5"]), timeout: 180)
            XCTAssertEqual(r.status, 0, "\(label): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("pruned weights are exactly zero on every rank; every rank holds the same weights"), r.stdout)
            let w = try WeightFile.read(from: out.appendingPathComponent("weights.bin").path).values
            XCTAssertEqual(w.indices.filter { !keep[$0] && w[$0].bitPattern != 0 }.count, 0, "\(label): pruned weights exactly +0")
            // The survivors trained (a few hundred see no gradient in 4 steps and a decay below their last bit).
            XCTAssertGreaterThan(w.indices.filter { keep[$0] && w[$0] != start[$0] }.count, kept * 99 / 100, "\(label): the survivors trained")
            let algorithm: AllreduceAlgorithm = label.hasPrefix("tree") ? .tree : .ring
            let buckets = label.contains("buckets")
                ? GradientBuckets.cut(tensorCounts: store.refs.map(\.count), bucketBytes: GradientBuckets.bytes(megabytes: 0.5)) : [0..<store.count]
            for rec in try MetricsReader.read(out.appendingPathComponent("metrics.jsonl").path) {
                let expected = buckets.map { b in algorithm.countedBytes(rank: rec.rank, ranks: 3, count: b.filter { keep[$0] }.count)!.sent }
                XCTAssertEqual(rec.bytesSent, expected.reduce(0, +), "\(label) rank \(rec.rank) iteration \(rec.iteration)")
                XCTAssertEqual(rec.codec, "masked:0.5")
            }
        }
        // Packing the survivors changes nothing but the bytes: with the tree (each entry summed
        // alike) the weights are the unpacked exchange's bit for bit; the ring cuts its chunks
        // elsewhere once packed, so there it agrees to rounding.
        for algorithm in ["tree", "ring"] {
            var weights: [[Float]] = [], bytes: [Int] = []
            for hook in ["", "masked-unpacked"] {
                let out = TestPaths.temporaryDirectory()
                defer { try? FileManager.default.removeItem(at: out) }
                let env = hook.isEmpty ? [] : ["/usr/bin/env", "SQUEEZENET_TEST_HOOK=\(hook)"]
                let r = try ProcessRunner.run("/bin/bash", [launcher, "3"] + env + job(out, ["--allreduce", algorithm, "--init-weights",
                                              trained.appendingPathComponent("weights.bin").path, "--prune-sparsity", "0.5"]), timeout: 180)
                XCTAssertEqual(r.status, 0, "\(algorithm) \(hook): \(r.stderr)")
                weights.append(try WeightFile.read(from: out.appendingPathComponent("weights.bin").path).values)
                bytes.append(try MetricsReader.read(out.appendingPathComponent("metrics.jsonl").path).filter { $0.rank == 0 }.map(\.bytesSent).reduce(0, +))
            }
            if algorithm == "tree" {
                XCTAssertEqual(zip(weights[0], weights[1]).filter { $0.bitPattern != $1.bitPattern }.count, 0, "tree: packed = unpacked, bit for bit")
            } else {
                XCTAssertLessThan(relativeMaxDifference(weights[0], weights[1]), 1e-5, "ring: packed = unpacked to rounding")
            }
            XCTAssertEqual(Double(bytes[0]) / Double(bytes[1]), Double(kept) / Double(start.count), accuracy: 0.01, "\(algorithm): bytes drop by the sparsity")
        }
        let refused = try ProcessRunner.run(binary, ["--prune-sparsity", "0.5"], timeout: 60)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("add --init-weights FILE"), refused.stderr)
    }
}

extension MaskedRetrainingTests {
    /// Han et al.'s threshold prunes exactly |w| < Q x std per tensor (a direct
    /// implementation), and a second round at a larger share keeps the first round's zeros.
    func testThresholdPruningAndASecondRound() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trained = dir.appendingPathComponent("dense"), first = dir.appendingPathComponent("q"), second = dir.appendingPathComponent("r2")
        XCTAssertEqual(try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(trained, [])).status, 0)
        let start = try WeightFile.read(from: trained.appendingPathComponent("weights.bin").path).values
        let store = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store
        var keep = [Bool](repeating: true, count: start.count)
        for ref in store.refs where ref.shape.count >= 2 {
            let w = start[ref.offset..<(ref.offset + ref.count)].map(Double.init)
            let mean = w.reduce(0, +) / Double(w.count)
            let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(w.count)).squareRoot()
            for (i, v) in w.enumerated() where abs(v) < 0.8 * std { keep[ref.offset + i] = false }
        }
        let a = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(first, ["--init-weights", trained.appendingPathComponent("weights.bin").path,
                                                                             "--prune-quality", "0.8"]), timeout: 180)
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("--prune-quality 0.8: |w| < 0.8 x std"), a.stdout)
        let w1 = try WeightFile.read(from: first.appendingPathComponent("weights.bin").path).values
        XCTAssertEqual(w1.indices.filter { !keep[$0] && w1[$0].bitPattern != 0 }.count, 0, "the threshold's prunes stay zero")
        XCTAssertGreaterThan(w1.indices.filter { keep[$0] && w1[$0] != 0 }.count, keep.filter { $0 }.count * 99 / 100, "the rest survive")
        XCTAssertEqual(try MetricsReader.read(first.appendingPathComponent("metrics.jsonl").path).first?.codec, "masked:q0.8")
        let pruned = keep.filter { !$0 }.count
        XCTAssertGreaterThan(pruned, start.count / 5)
        // Round two: 70% of every weight tensor; the first round's zeros are among them.
        let b = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(second, ["--init-weights", first.appendingPathComponent("weights.bin").path,
                                                                              "--prune-sparsity", "0.7"]), timeout: 180)
        XCTAssertEqual(b.status, 0, b.stderr)
        let w2 = try WeightFile.read(from: second.appendingPathComponent("weights.bin").path).values
        XCTAssertEqual(w2.indices.filter { !keep[$0] && w2[$0].bitPattern != 0 }.count, 0, "round one's zeros stay pruned")
        XCTAssertGreaterThan(w2.filter { $0 == 0 }.count, w1.filter { $0 == 0 }.count)
        // Round three, per layer: conv1 to 90% and fire9's tensors to 80% of their own weights;
        // every other tensor keeps exactly round two's zeros (no rule reaches it).
        let third = dir.appendingPathComponent("r3")
        let c = try ProcessRunner.run("/bin/bash", [launcher, "2"] + job(third, ["--init-weights", second.appendingPathComponent("weights.bin").path,
                                                                             "--prune-layer-sparsity", "conv1=0.9,fire9=0.8"]), timeout: 180)
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("--prune-layer-sparsity conv1=0.9,fire9=0.8, the other tensors' zeros"), c.stdout)
        let w3 = try WeightFile.read(from: third.appendingPathComponent("weights.bin").path).values
        var layered = 0
        for ref in store.refs where ref.shape.count >= 2 {
            let range = ref.offset..<(ref.offset + ref.count)
            let share = ref.name.hasPrefix("conv1.") ? 0.9 : ref.name.hasPrefix("fire9.") ? 0.8 : nil
            if let share {
                let order = range.sorted { (abs(w2[$0]), $1) < (abs(w2[$1]), $0) }
                let pruned = Set(order.prefix(Int((share * Double(ref.count)).rounded())))
                XCTAssertEqual(range.filter { pruned.contains($0) && w3[$0].bitPattern != 0 }.count, 0, "\(ref.name): its share pruned, exactly zero")
                XCTAssertEqual(range.filter { w3[$0] == 0 }.count, pruned.count, "\(ref.name): only its share")
                layered += 1
            } else {
                XCTAssertEqual(range.filter { (w2[$0] == 0) != (w3[$0] == 0) }.count, 0, "\(ref.name): round two's zeros, no more, no fewer")
            }
        }
        XCTAssertEqual(layered, 4, "conv1 and fire9's three weight tensors (conv1 does not name conv10)")
        XCTAssertEqual(try MetricsReader.read(third.appendingPathComponent("metrics.jsonl").path).first?.codec, "masked:layers")
        let typo = try ProcessRunner.run(binary, ["--prune-layer-sparsity", "fc6=0.9", "--init-weights", second.appendingPathComponent("weights.bin").path,
                                                  "--model", "v1.1", "--input-size", "32", "--train-limit", "24", "--test-limit", "8", "--batch-size", "8", "--iterations", "1"], timeout: 60)
        XCTAssertNotEqual(typo.status, 0)
        XCTAssertTrue(typo.stderr.contains("--prune-layer-sparsity fc6=0.9: no tensor is named 'fc6' or 'fc6.*'"), typo.stderr)
        let both = try ProcessRunner.run(binary, ["--prune-quality", "1", "--prune-sparsity", "0.5", "--init-weights", "x"], timeout: 60)
        XCTAssertTrue(both.stderr.contains("give --prune-sparsity or --prune-quality, not both"), both.stderr)
    }
}

/// `compress`, and the compressed file wherever a weight file goes.
final class CompressedWeightsTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    func testCompressDecodesBitForBitAndLoadsBack() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["--model", "v1.1", "--train-limit", "96", "--test-limit", "48", "--batch-size", "24"]
        let t = try ProcessRunner.run(binary, base + ["--iterations", "3", "--output", dir.appendingPathComponent("run").path])
        XCTAssertEqual(t.status, 0, t.stderr)
        let weights = dir.appendingPathComponent("run/weights.bin").path, packed = dir.appendingPathComponent("m.sqzc").path
        let c = try ProcessRunner.run(binary, ["compress", weights, "--sparsity", "0.5", "--bits", "6", "--output", packed])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("bytes (measured: the file's size)"), c.stdout)
        let expected = try ModelCompression.compress(WeightFile.read(from: weights), sparsity: 0.5, bits: 6, indexBits: nil)
        let decoded = try WeightFile.read(from: packed)
        XCTAssertEqual(decoded.values.map(\.bitPattern), expected.shared.values.map(\.bitPattern), "decodes to the shared weights bit for bit")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: packed)), Data(expected.bytes))
        // The default index width is, per tensor, the smallest of the eight fixed ones.
        let fixed = try (1...8).map { try ModelCompression.compress(WeightFile.read(from: weights), sparsity: 0.5, bits: 6, indexBits: $0) }
        for (i, layer) in expected.layers.enumerated() {
            XCTAssertEqual(layer.bytes, fixed.map { $0.layers[i].bytes }.min(), layer.name)
        }
        XCTAssertEqual(Set(fixed.map { $0.shared.values.map(\.bitPattern) }).count, 1, "the width changes the bytes, not the weights")
        XCTAssertLessThan(expected.bytes.count, fixed.map(\.bytes.count).min()!, "a width per tensor beats every single width")
        XCTAssertGreaterThan(decoded.values.filter { $0 == 0 }.count, decoded.values.count * 45 / 100)
        // Per-layer bits and Han's threshold: conv1 at 3 bits, the rest at 6; the file decodes
        // to what the library computes for the same request.
        let perLayer = dir.appendingPathComponent("layers.sqzc").path
        let l = try ProcessRunner.run(binary, ["compress", weights, "--quality", "0.7", "--bits", "6", "--layer-bits", "conv1=3", "--output", perLayer])
        XCTAssertEqual(l.status, 0, l.stderr)
        let direct = try ModelCompression.compress(WeightFile.read(from: weights), sparsity: nil, bits: 6, indexBits: 4,
                                                   layerBits: [LayerSetting(prefix: "conv1", value: 3)], quality: 0.7)
        XCTAssertEqual(direct.layers.first { $0.name.hasPrefix("conv1") }?.bits, 3)
        XCTAssertEqual(direct.layers.first { $0.name.hasPrefix("fire2") }?.bits, 6)
        let layered = try WeightFile.read(from: perLayer)
        XCTAssertEqual(layered.values.map(\.bitPattern), direct.shared.values.map(\.bitPattern))
        let conv1 = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store.refs.first { $0.shape.count >= 2 }!
        XCTAssertLessThanOrEqual(Set(layered.values[conv1.offset..<(conv1.offset + conv1.count)].filter { $0 != 0 }).count, 8, "conv1: 2^3 values")
        let e = try ProcessRunner.run(binary, base + ["--eval-only", "--init-weights", packed])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("test top-1"), e.stdout)
        // The Table-2 report: each file's own size and kept share, and the top-1 --eval-only gives.
        let table = try ProcessRunner.run(binary, ["compression-table", "--model", "v1.1", "--train-limit", "96", "--test-limit", "48", weights, packed])
        XCTAssertEqual(table.status, 0, table.stderr)
        let rows = table.stdout.split(separator: "\n").map(String.init)
        let packedRow = try XCTUnwrap(rows.first { $0.hasSuffix(packed) }, table.stdout)
        let denseRow = try XCTUnwrap(rows.first { $0.hasSuffix(weights) }, table.stdout)
        let size = try FileManager.default.attributesOfItem(atPath: packed)[.size] as! Int
        let top1 = try XCTUnwrap(e.stdout.firstMatch(of: #/test top-1 ([0-9.]+)%/#)?.1, e.stdout)
        for cell in ["pruning + sharing + Huffman", " 6 ", " \(size) ", String(format: "%.0fx", 243_860_896 / Double(size)), " \(top1)% "] {
            XCTAssertTrue(packedRow.contains(cell), "'\(cell)' in \(packedRow)")
        }
        let weightRefs = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store.refs.filter { $0.shape.count >= 2 }
        let keptWeights = Double(weightRefs.map { r in decoded.values[r.offset..<(r.offset + r.count)].filter { $0 != 0 }.count }.reduce(0, +))
        let weightCount = Double(weightRefs.map(\.count).reduce(0, +))
        XCTAssertTrue(packedRow.contains(String(format: " %.1f%% ", 100 * keptWeights / weightCount)), packedRow)
        XCTAssertTrue(denseRow.contains("none") && denseRow.contains(" 32 ") && denseRow.contains("100.0%"), denseRow)
        let sizes = try ProcessRunner.run(binary, ["compression-table", "--model", "v1.1", "--size-only", packed])
        XCTAssertTrue(sizes.stdout.contains("size only") && sizes.stdout.contains(" \(size) "), sizes.stdout)
        let more = try ProcessRunner.run(binary, base + ["--iterations", "2", "--init-weights", packed])
        XCTAssertEqual(more.status, 0, more.stderr)
        // Trained quantisation under mpirun: only the centroids move; the zeros stay.
        let tuned = dir.appendingPathComponent("tuned")
        let launcher = TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path
        let f = try ProcessRunner.run("/bin/bash", [launcher, "3", binary] + base + ["--iterations", "4", "--init-weights", packed,
                                                                                     "--fine-tune-centroids", "--output", tuned.path], timeout: 180)
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(f.stdout.contains("pruned weights are exactly zero on every rank; every rank holds the same weights"), f.stdout)
        let after = try WeightFile.read(from: tuned.appendingPathComponent("weights.bin").path)
        let store = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1).store
        var moved = 0
        for ref in store.refs where ref.shape.count >= 2 {  // biases train as plain float32
            let before = decoded.values[ref.offset..<(ref.offset + ref.count)], now = after.values[ref.offset..<(ref.offset + ref.count)]
            XCTAssertEqual(zip(before, now).filter { ($0 == 0) != ($1 == 0) }.count, 0, "\(ref.name): the same zeros")
            XCTAssertLessThanOrEqual(Set(now.filter { $0 != 0 }).count, 64, "\(ref.name): at most 2^6 shared values")
            // Weights that shared a centroid still share one.
            var map: [Float: Float] = [:]
            for (b, a) in zip(before, now) where b != 0 {
                if let seen = map[b] { XCTAssertEqual(seen, a, "\(ref.name): one centroid, one value") } else { map[b] = a }
            }
            moved += zip(before, now).filter { $0 != $1 }.count
        }
        XCTAssertGreaterThan(moved, 1000, "the centroids trained")
        // Compressing the fine-tuned model keeps its values exactly: the file decodes to it bit for bit.
        let final = dir.appendingPathComponent("tuned.sqzc").path
        let again = try ProcessRunner.run(binary, ["compress", tuned.appendingPathComponent("weights.bin").path, "--bits", "6", "--output", final])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try WeightFile.read(from: final).values.map(\.bitPattern), after.values.map(\.bitPattern))
        // A corrupt compressed file: one line, non-zero.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: packed)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: packed))
        let bad = try ProcessRunner.run(binary, base + ["--eval-only", "--init-weights", packed])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stderr.split(separator: "\n").filter { $0.contains("error") }.count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("checksum mismatch"), bad.stderr)
    }

    /// Trained quantisation resumes bit for bit: the centroids' momentum is in the checkpoint.
    func testCentroidFineTuningResumesBitExactly() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["--model", "v1.1", "--train-limit", "96", "--test-limit", "48", "--batch-size", "24"]
        XCTAssertEqual(try ProcessRunner.run(binary, base + ["--iterations", "3", "--output", dir.appendingPathComponent("run").path]).status, 0)
        let packed = dir.appendingPathComponent("m.sqzc").path
        XCTAssertEqual(try ProcessRunner.run(binary, ["compress", dir.appendingPathComponent("run/weights.bin").path, "--sparsity", "0.5",
                                                      "--bits", "6", "--output", packed]).status, 0)
        let launcher = TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path
        let straight = dir.appendingPathComponent("a"), split = dir.appendingPathComponent("b")
        let tune = base + ["--iterations", "6", "--init-weights", packed, "--fine-tune-centroids", "--checkpoint-every", "3"]
        let a = try ProcessRunner.run("/bin/bash", [launcher, "2", binary] + tune + ["--output", straight.path], timeout: 180)
        XCTAssertEqual(a.status, 0, a.stderr)
        let checkpoint = straight.appendingPathComponent("checkpoint-00000003.ckpt").path
        let saved = try WeightFile.read(from: checkpoint)
        XCTAssertEqual(saved.header.hookState?.first?.hasPrefix("centroid-velocity["), true, "\(saved.header.hookState ?? [])")
        XCTAssertTrue(saved.hookState.first?.contains { $0 != 0 && $0 != $0.rounded() } ?? false, "velocities are stored")
        let b = try ProcessRunner.run("/bin/bash", [launcher, "2", binary] + tune + ["--output", split.path, "--resume", checkpoint], timeout: 180)
        XCTAssertEqual(b.status, 0, b.stderr)
        let w0 = try WeightFile.read(from: straight.appendingPathComponent("weights.bin").path).values
        let w1 = try WeightFile.read(from: split.appendingPathComponent("weights.bin").path).values
        XCTAssertEqual(zip(w0, w1).filter { $0.bitPattern != $1.bitPattern }.count, 0, "resumed fine-tuning, bit for bit")
    }
}
