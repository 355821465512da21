import Basics
import Foundation
import TestSupport
import Training
import XCTest

/// Seeded fuzzing of every file the binary reads (issue 16, "nothing hangs, nothing lies"):
/// checkpoints given to `--resume`, weight files given to `diff`, and IDX files of a data
/// folder, each mutated by byte flips, truncations, padding and header edits (the JSON
/// edited and the checksum recomputed, so the edit passes the checksum and reaches the
/// header's checks). The real release binary runs on each; it must end with exit 0 (a
/// normal run) or exit 1 with exactly one `error: ...` line on stderr: never a signal (a
/// crash shows as another status and a backtrace), never a timeout. The seed is fixed,
/// so a failure repeats; the case's description is in the failure message.
final class FuzzTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path
    static let seed: UInt64 = 16
    /// Seconds a single run may take before it counts as a hang (a normal one takes under 1 s).
    static let runTimeout = 30.0
    /// Each test's bound on its whole time: 17 s, 10 s and 9 s on an idle machine; 31 s,
    /// 15-16 s and 13 s while other builds shared the two cores (main raised the diff bound
    /// to 40 s after 15.9 s in a loaded full suite). A slow regression still fails.
    static let bounds = (checkpoints: 40.0, diff: 40.0, idx: 20.0)

    /// How the runs ended, for the summary line (and to see that the fuzz reaches both ends).
    struct Tally { var ran = 0, refused = 0; var messages: Set<String> = [] }

    @discardableResult
    func assertEndsCleanly(_ r: ProcessResult, _ what: String, _ tally: inout Tally,
                           file: StaticString = #filePath, line: UInt = #line) -> Bool {
        XCTAssertFalse(r.timedOut, "\(what): timed out", file: file, line: line)
        let lines = r.stderr.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        if r.status == 0 && !r.timedOut {
            XCTAssertFalse(lines.contains { $0.hasPrefix("error:") }, "\(what): exit 0 with \(r.stderr)", file: file, line: line)
            tally.ran += 1
            return true
        }
        XCTAssertEqual(r.status, 1, "\(what): status \(r.status), stderr \(r.stderr.prefix(2000))", file: file, line: line)
        XCTAssertEqual(lines.count, 1, "\(what): \(r.stderr.prefix(2000))", file: file, line: line)
        XCTAssertTrue(lines.first?.hasPrefix("error: ") ?? false, "\(what): \(r.stderr.prefix(2000))", file: file, line: line)
        tally.refused += 1
        // The kind of message, without paths and numbers: "corrupt header (iteration N, outside N...N)".
        if let l = lines.first {
            let text = l.split(separator: ":", maxSplits: 2).dropFirst(2).joined(separator: ":")
            tally.messages.insert(String(text.map { $0.isNumber ? "N" : $0 }.prefix(60)))
        }
        return false
    }

    // MARK: mutations of weight files and checkpoints

    /// Header edits a forger could make, each resealed with a valid checksum.
    static func headerEdits(_ data: Data) -> [(String, Data)] {
        let header = WeightFileEditing.header(data)
        let tensors = header["tensors"] as? [String] ?? []
        let count = header["count"] as? Int ?? 0
        func edit(_ name: String, _ f: @escaping (inout [String: Any]) -> Void) -> (String, Data) {
            (name, WeightFileEditing.editingHeader(data, f))
        }
        var edits: [(String, Data)] = []
        for i in [-5, -1, 0, 1, 3, 5, 6, 7, Int(Int32.max), Int(Int32.max) + 1, Int.max, Int.min] {
            edits.append(edit("iteration \(i)") { $0["iteration"] = i })
        }
        for c in [-1, 0, count - 1, count + 1, 1 << 40, 1 << 62, Int.max] {
            edits.append(edit("count \(c)") { $0["count"] = c })
        }
        edits += [
            edit("iteration as a string") { $0["iteration"] = "4" },
            edit("iteration 1e30") { $0["iteration"] = 1e30 },
            edit("count 1.5") { $0["count"] = 1.5 },
            edit("no tensors") { $0.removeValue(forKey: "tensors") },
            edit("tensors empty") { $0["tensors"] = [String]() },
            edit("first tensor dropped") { $0["tensors"] = Array(tensors.dropFirst()) },
            edit("two tensors swapped") { var t = tensors; if t.count > 3 { t.swapAt(2, 3) }; $0["tensors"] = t },
            edit("a tensor renamed") { var t = tensors; if !t.isEmpty { t[0] = "x" + t[0] }; $0["tensors"] = t },
            edit("a shape permuted (same count)") { var t = tensors; if !t.isEmpty { t[0] = "conv1.weight[3, 64, 3, 3]" }; $0["tensors"] = t },
            edit("a shape grown") { var t = tensors; if !t.isEmpty { t[1] = "conv1.bias[65]" }; $0["tensors"] = t },
            edit("a tensor added") { $0["tensors"] = tensors + ["extra[1]"] },
            edit("a tensor added, count raised") { $0["tensors"] = tensors + ["extra[1]"]; $0["count"] = count + 1 },
            edit("malformed tensor") { var t = tensors; if !t.isEmpty { t[0] = "conv1.weight(64, 3)" }; $0["tensors"] = t },
            edit("overflowing shape") { var t = tensors; if !t.isEmpty { t[0] = "w[9223372036854775807, 2]" }; $0["tensors"] = t },
            edit("shapes summing past Int.max") { $0["tensors"] = ["a[9223372036854775807]", "b[9223372036854775807]"] },
            edit("ranks 0") { $0["ranks"] = 0 },
            edit("ranks -3") { $0["ranks"] = -3 },
            edit("ranks 2^40") { $0["ranks"] = 1 << 40 },
            edit("ranks 3") { $0["ranks"] = 3 },
            edit("other model") { $0["model"] = "squeezenet-v1.0" },
            edit("model with a newline") { $0["model"] = "squeezenet\nv1.1" },
            edit("momentum flag off") { $0["hasMomentum"] = false },
            edit("momentum flag on") { $0["hasMomentum"] = true },
            edit("no options") { $0.removeValue(forKey: "options") },
            edit("options not JSON") { $0["options"] = "{not json" },
            edit("options empty") { $0["options"] = "{}" },
            edit("no header fields") { $0 = [:] },
        ]
        if let options = header["options"] as? String {
            for (name, value) in [("options iterations -1", "-1"), ("options iterations 1e30", "1e30"), ("options iterations 2", "2"),
                                  ("options iterations 100", "100"), ("options iterations a string", "\"6\"")] {
                let edited = options.replacingOccurrences(of: #""iterations":6"#, with: "\"iterations\":\(value)")
                edits.append(edit(name) { $0["options"] = edited })
            }
        }
        edits.append(("header length 0", WeightFileEditing.withHeaderLength(data, 0)))
        edits.append(("header length past the end", WeightFileEditing.withHeaderLength(data, UInt64(data.count))))
        edits.append(("header length 2^64-1", WeightFileEditing.withHeaderLength(data, .max)))
        edits.append(("header length 2^63", WeightFileEditing.withHeaderLength(data, 1 << 63)))
        return edits
    }

    /// One random mutation: bit flips anywhere or in the header, a cut, padding, a digit of the
    /// header changed (and resealed), or one of `headerEdits`.
    static func mutate(_ data: Data, _ rng: inout SplitMix64, edits: [(String, Data)]) -> (String, Data) {
        let headerLength = Int(data.subdata(in: 8..<16).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        var d = data
        switch rng.next(below: 7) {
        case 0:
            let flips = 1 + rng.next(below: 8)
            for _ in 0..<flips { d[rng.next(below: d.count)] ^= UInt8(1 << rng.next(below: 8)) }
            return ("\(flips) bits flipped", d)
        case 1:
            let at = rng.next(below: 16 + headerLength)
            d[at] ^= UInt8(1 + rng.next(below: 255))
            return ("header byte \(at) changed", d)
        case 2:
            let length = rng.next(below: 2) == 0 ? rng.next(below: 24 + headerLength) : rng.next(below: d.count)
            return ("cut to \(length) bytes", d.prefix(length))
        case 3:
            let extra = 1 + rng.next(below: 64)
            return ("\(extra) bytes appended", d + Data((0..<extra).map { _ in UInt8(rng.next(below: 256)) }))
        case 4:
            let digits = (16..<(16 + headerLength)).filter { (48...57).contains(d[$0]) }
            guard let at = digits.isEmpty ? nil : digits[rng.next(below: digits.count)] else { return ("unchanged", d) }
            d[at] = UInt8(48 + rng.next(below: 10))
            return ("header digit \(at) set, resealed", WeightFileEditing.resealed(d))
        default:
            return edits[rng.next(below: edits.count)]
        }
    }

    /// The run every checkpoint case resumes: checkpoints at 2, 4 and 6 of 6 iterations.
    func trainArgs(_ out: URL) -> [String] {
        ["--model", "v1.1", "--dataset", "synthetic", "--train-limit", "48", "--test-limit", "24", "--batch-size", "24",
         "--iterations", "6", "--log-every", "2", "--checkpoint-every", "2", "--output", out.path]
    }

    /// `train --resume FILE` on 24 mutated checkpoints of iteration 4, and `--resume latest`
    /// with a mutated newest checkpoint beside a valid older one on 6 more.
    func testFuzzedCheckpointsOnResume() throws {
        let start = Date()
        let base = TestPaths.temporaryDirectory("fuzz-base")
        defer { try? FileManager.default.removeItem(at: base) }
        XCTAssertEqual(try ProcessRunner.run(binary, trainArgs(base)).status, 0)
        let good = try Data(contentsOf: base.appendingPathComponent("checkpoint-00000004.ckpt"))
        let older = try Data(contentsOf: base.appendingPathComponent("checkpoint-00000002.ckpt"))
        let edits = Self.headerEdits(good)
        var rng = SplitMix64(seed: Self.seed)
        var tally = Tally()
        for i in 0..<30 {
            // The first 12 cases are header edits, so every run covers some; then anything.
            let (what, mutated) = i < 12 ? edits[rng.next(below: edits.count)] : Self.mutate(good, &rng, edits: edits)
            let out = TestPaths.temporaryDirectory("fuzz-case")
            defer { try? FileManager.default.removeItem(at: out) }
            var args = trainArgs(out)
            if i < 24 {
                let file = out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + ".ckpt")
                defer { try? FileManager.default.removeItem(at: file) }
                try mutated.write(to: file)
                args += ["--resume", file.path]
                assertEndsCleanly(try ProcessRunner.run(binary, args, timeout: Self.runTimeout), "case \(i) (resume FILE): \(what)", &tally)
            } else {
                try older.write(to: out.appendingPathComponent("checkpoint-00000002.ckpt"))
                try mutated.write(to: out.appendingPathComponent("checkpoint-00000004.ckpt"))
                args += ["--resume", i % 2 == 0 ? "latest" : "latest-valid"]
                assertEndsCleanly(try ProcessRunner.run(binary, args, timeout: Self.runTimeout), "case \(i) (resume \(args.last!)): \(what)", &tally)
            }
        }
        print("fuzzed checkpoints: \(tally.ran) resumed, \(tally.refused) refused in one line; \(tally.messages.count) kinds of message:\n  "
              + tally.messages.sorted().joined(separator: "\n  "))
        XCTAssertGreaterThan(tally.refused, 15)
        XCTAssertLessThan(Date().timeIntervalSince(start), Self.bounds.checkpoints, "the checkpoint fuzz must stay bounded")
    }

    /// `diff FUZZED GOOD` (and the other way round) on every header edit of a weight file and
    /// 25 random mutations of it, and 15 random mutations of a checkpoint (about 0.1 s a run).
    func testFuzzedWeightFilesInDiff() throws {
        let start = Date()
        let base = TestPaths.temporaryDirectory("fuzz-base")
        defer { try? FileManager.default.removeItem(at: base) }
        var args = trainArgs(base)
        args[args.firstIndex(of: "--iterations")! + 1] = "2"
        XCTAssertEqual(try ProcessRunner.run(binary, args).status, 0)
        var tally = Tally()
        var rng = SplitMix64(seed: Self.seed &+ 1)
        for name in ["weights.bin", "checkpoint-00000002.ckpt"] {
            let goodURL = base.appendingPathComponent(name)
            let good = try Data(contentsOf: goodURL)
            let edits = Self.headerEdits(good)
            var cases = name == "weights.bin" ? edits : []
            for _ in 0..<(name == "weights.bin" ? 25 : 15) { cases.append(Self.mutate(good, &rng, edits: edits)) }
            let file = base.appendingPathComponent("fuzzed-" + name)
            for (i, (what, mutated)) in cases.enumerated() {
                try mutated.write(to: file)
                let pair = i % 2 == 0 ? [file.path, goodURL.path] : [goodURL.path, file.path]
                assertEndsCleanly(try ProcessRunner.run(binary, ["diff"] + pair, timeout: Self.runTimeout), "\(name) case \(i): \(what)", &tally)
            }
        }
        print("fuzzed weight files: diff compared \(tally.ran), refused \(tally.refused) in one line; \(tally.messages.count) kinds of message:\n  "
              + tally.messages.sorted().joined(separator: "\n  "))
        XCTAssertGreaterThan(tally.refused, 50)
        XCTAssertLessThan(Date().timeIntervalSince(start), Self.bounds.diff, "the diff fuzz must stay bounded (about 10 s on an idle machine)")
    }

    // MARK: IDX

    static func idx(_ words: [UInt32], _ body: [UInt8]) -> Data {
        var d = Data()
        for w in words { d.append(contentsOf: [UInt8(w >> 24), UInt8(w >> 16 & 255), UInt8(w >> 8 & 255), UInt8(w & 255)]) }
        return d + Data(body)
    }

    /// A small Fashion-MNIST-shaped folder (plain IDX files): 64 training and 32 test images of 28x28.
    static func dataFolder(_ rng: inout SplitMix64) -> [String: Data] {
        var files: [String: Data] = [:]
        for (split, n) in [("train", 64), ("t10k", 32)] {
            files["\(split)-images-idx3-ubyte"] = idx([2051, UInt32(n), 28, 28], (0..<(n * 784)).map { _ in UInt8(rng.next(below: 256)) })
            files["\(split)-labels-idx1-ubyte"] = idx([2049, UInt32(n)], (0..<n).map { _ in UInt8(rng.next(below: 10)) })
        }
        return files
    }

    /// Training on a data folder with one IDX file mutated: a header forged to overflow, bits flipped in the header or the
    /// body (a label out of range), a cut, padding, a header word set to an edge value
    /// (0, one off, huge, 2^32 - 1: products that overflow), or the file gzipped whole, cut
    /// or flipped (zlib's errors).
    func testFuzzedIDXFilesInTraining() throws {
        let start = Date()
        var rng = SplitMix64(seed: Self.seed &+ 2)
        let files = Self.dataFolder(&rng)
        let names = files.keys.sorted()
        let folder = TestPaths.temporaryDirectory("fuzz-idx")
        defer { try? FileManager.default.removeItem(at: folder) }
        let args = ["--model", "v1.1", "--dataset", "fashion-mnist", "--data-dir", folder.path, "--train-limit", "48",
                    "--test-limit", "24", "--batch-size", "24", "--iterations", "2", "--log-every", "1"]
        var tally = Tally()
        for i in 0..<20 {
            for name in names { try files[name]!.write(to: folder.appendingPathComponent(name)) }
            for name in names { try? FileManager.default.removeItem(at: folder.appendingPathComponent(name + ".gz")) }
            // Case 0: the folder as made; case 1: forged; then random.
            let kind = i < 2 ? i - 2 : rng.next(below: 7)
            let name = kind == -1 ? "train-images-idx3-ubyte" : names[rng.next(below: names.count)]
            var d = files[name]!
            let words = name.contains("images") ? 4 : 2
            var what: String
            var gzip = false
            switch kind {
            case -2: what = "unchanged"
            case -1:
                // 64 x 629455912 x 457903994 wraps (mod 2^64) to 50176, the real body: before the
                // checked product this read "fine" and the first batch indexed far outside the pixels.
                d.replaceSubrange(8..<16, with: Self.idx([629_455_912, 457_903_994], []))
                what = "rows and columns forged so that count x rows x columns wraps to the body's length"
            case 0:
                let at = rng.next(below: 4 * words)
                d[at] ^= UInt8(1 << rng.next(below: 8))
                what = "header bit flipped at \(at)"
            case 1:
                for _ in 0..<8 { d[4 * words + rng.next(below: d.count - 4 * words)] = UInt8(rng.next(below: 256)) }
                what = "8 body bytes set"
            case 2:
                let length = rng.next(below: 2) == 0 ? rng.next(below: 4 * words + 1) : rng.next(below: d.count)
                d = d.prefix(length)
                what = "cut to \(length) bytes"
            case 3:
                d += Data(count: 1 + rng.next(below: 100))
                what = "padded"
            case 4, 5:
                let word = 1 + rng.next(below: words - 1)
                let original = d.subdata(in: (4 * word)..<(4 * word + 4)).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let values: [UInt32] = [0, original &- 1, original + 1, 4096, 4097, 1 << 30, 1 << 31, .max]
                let value = values[rng.next(below: values.count)]
                d.replaceSubrange((4 * word)..<(4 * word + 4), with: Self.idx([value], []))
                what = "header word \(word) set to \(value)"
            default:
                gzip = true
                what = "gzipped"
            }
            var path = folder.appendingPathComponent(name)
            try d.write(to: path)
            if gzip {
                let g = try ProcessRunner.run("/bin/gzip", ["-f", "-n", path.path], timeout: Self.runTimeout)
                XCTAssertEqual(g.status, 0, g.stderr)
                path = folder.appendingPathComponent(name + ".gz")
                var z = try Data(contentsOf: path)
                switch rng.next(below: 3) {
                case 0: z = z.prefix(rng.next(below: z.count)); what += ", cut"
                case 1: z[10 + rng.next(below: z.count - 10)] ^= 0x55; what += ", a byte flipped"
                default: what += " whole"
                }
                try z.write(to: path)
            }
            assertEndsCleanly(try ProcessRunner.run(binary, args, timeout: Self.runTimeout), "case \(i): \(name) \(what)", &tally)
        }
        print("fuzzed IDX files: \(tally.ran) trained, \(tally.refused) refused in one line; \(tally.messages.count) kinds of message:\n  "
              + tally.messages.sorted().joined(separator: "\n  "))
        XCTAssertGreaterThan(tally.ran, 0, "the unchanged folder trains")
        XCTAssertGreaterThan(tally.refused, 8)
        XCTAssertLessThan(Date().timeIntervalSince(start), Self.bounds.idx, "the IDX fuzz must stay bounded")
    }
}
