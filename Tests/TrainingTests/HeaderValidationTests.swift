import Foundation
import TestSupport
import Training
import XCTest

/// Every field of a weight file's header is checked before it is used (issue 16): in
/// the library (`WeightFile.decode`) on a small forged file, and in the real binary for
/// what needs a run (tensors against the model, the newest checkpoint corrupt, `--extend`).
final class HeaderValidationTests: XCTestCase {
    let binary = TestPaths.executable("squeezenet-train").path

    /// A small valid checkpoint: two tensors of 6 and 3 parameters, momentum, iteration 4.
    func small() throws -> Data {
        let header = WeightFile.Header(model: "tiny", count: 9, tensors: ["w[2, 3]", "b[3]"], iteration: 4,
                                       options: "{\"iterations\":8}", fingerprint: "0")
        return try WeightFile(header: header, values: (0..<9).map(Float.init), momentum: [Float](repeating: 1, count: 9)).encoded()
    }

    func decodeError(_ data: Data, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try WeightFile.decode(data, path: "F")
            XCTFail("decoded a bad file", file: file, line: line)
            return ""
        } catch {
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("F: "), text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
            return text
        }
    }

    func testTheForgedFileReadsBackWhenUnedited() throws {
        let data = try small()
        XCTAssertEqual(try WeightFile.decode(data, path: "F").header.iteration, 4)
        XCTAssertEqual(try WeightFile.decode(WeightFileEditing.editingHeader(data) { _ in }, path: "F").values.count, 9)
    }

    /// A negative iteration with a valid checksum crashed `--resume` (SIGSEGV) before the range check.
    func testIterationOutsideItsRangeIsRefused() throws {
        for bad in [-5, -1, Int(Int32.max) + 1, Int.max] {
            let text = decodeError(WeightFileEditing.editingHeader(try small()) { $0["iteration"] = bad })
            XCTAssertTrue(text.contains("corrupt header (iteration \(bad), outside 0...2147483647)"), text)
        }
    }

    func testCountMustBeNonNegativeAndMatchTheTensors() throws {
        for bad in [-1, 8, 10, 1 << 62, Int.max] {
            let text = decodeError(WeightFileEditing.editingHeader(try small()) { $0["count"] = bad })
            XCTAssertTrue(text.contains("corrupt header (parameter count -1)") || text.contains("its count says \(bad)"), text)
        }
    }

    func testEditedTensorListsAreRefused() throws {
        let cases: [([String], String)] = [
            (["w[2, 3]"], "its 1 tensors hold 6 parameters, its count says 9"),
            (["w[2, 3]", "b[4]"], "its 2 tensors hold 10 parameters"),
            (["w[2, 3]", "b"], "tensor 1, b, is not name[d0, d1, ...]"),
            (["w[2, 0, 3]", "b[3]"], "tensor 0"),
            (["w[2, -3]", "b[3]"], "tensor 0"),
            (["[9]"], "tensor 0"),
            (["w[4611686018427387904, 4]", "b[3]"], "tensor 0"),
            (["w[3037000500, 3037000500]", "b[3]"], "tensor 0"),
            (["w[9223372036854775807]", "b[3]"], "tensor sizes overflow"),
            (["w[2, 3]", "b\n[3"], "tensor 1, \"b\\n[3\", is not"),  // one line: control characters escaped
        ]
        for (tensors, message) in cases {
            let text = decodeError(WeightFileEditing.editingHeader(try small()) { $0["tensors"] = tensors })
            XCTAssertTrue(text.contains(message), "\(tensors): \(text)")
        }
    }

    /// Cut anywhere, the file says truncated; grown, it says padded.
    func testTruncatedSaysTruncatedAndPaddedSaysPadded() throws {
        let data = try small()
        for length in [0, 3, 8, 16, 23, 30, data.count - 40, data.count - 8, data.count - 1] {
            let text = decodeError(data.prefix(length))
            XCTAssertTrue(text.contains("truncated"), "\(length) of \(data.count) bytes: \(text)")
        }
        for extra in [1, 8, 100] {
            let text = decodeError(data + Data(count: extra))
            XCTAssertTrue(text.contains("(padded: \(extra) bytes too many)"), text)
        }
        XCTAssertTrue(decodeError(Data("SQZWGT02".utf8) + data.dropFirst(8)).contains("bad magic"))
    }

    func testHeaderLengthPastTheEndOrHugeIsRefused() throws {
        let data = try small()
        for length in [UInt64(data.count), UInt64(data.count - 23), UInt64(Int.max), UInt64.max, UInt64.max - 15] {
            let text = decodeError(WeightFileEditing.withHeaderLength(data, length))
            XCTAssertTrue(text.contains("truncated or corrupt: a header of \(length) bytes does not fit"), text)
        }
        // Shorter than the JSON: the rest of the JSON is taken for data, so the JSON is cut.
        XCTAssertTrue(decodeError(WeightFileEditing.withHeaderLength(data, 10)).contains("corrupt header (not the JSON"))
        var long = WeightFileEditing.header(data)
        long["padding"] = String(repeating: "x", count: 1 << 20)
        let json = try JSONSerialization.data(withJSONObject: long)
        XCTAssertTrue(decodeError(WeightFileEditing.replacingHeader(data, json: json)).contains("corrupt header (length"))
    }

    func testHeaderOfTheWrongTypesIsRefused() throws {
        for edit: (inout [String: Any]) -> Void in [{ $0["iteration"] = "4" }, { $0["count"] = 9.5 }, { $0["count"] = 1e30 },
                                                    { $0.removeValue(forKey: "tensors") }, { $0["tensors"] = [1, 2] }] {
            XCTAssertTrue(decodeError(WeightFileEditing.editingHeader(try small(), edit)).contains("corrupt header"))
        }
        XCTAssertTrue(decodeError(WeightFileEditing.replacingHeader(try small(), json: Data("[1]".utf8))).contains("corrupt header"))
        for r in [0, -3, 1 << 40] {
            XCTAssertTrue(decodeError(WeightFileEditing.editingHeader(try small()) { $0["ranks"] = r }).contains("corrupt header (ranks \(r))"))
        }
    }

    // MARK: what needs a run: the real binary, one rank

    func run(_ out: URL, _ extra: [String] = []) -> [String] {
        ["--model", "v1.1", "--dataset", "synthetic", "--train-limit", "48", "--test-limit", "24", "--batch-size", "24",
         "--iterations", "4", "--log-every", "2", "--checkpoint-every", "2", "--output", out.path] + extra
    }

    func oneErrorLine(_ r: ProcessResult, file: StaticString = #filePath, line: UInt = #line) -> String {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(lines.first?.hasPrefix("error: ") ?? false, r.stderr, file: file, line: line)
        return lines.first.map(String.init) ?? ""
    }

    /// A run of 4 iterations with checkpoints at 2 and 4, in a new folder.
    func trained() throws -> URL {
        let dir = TestPaths.temporaryDirectory()
        let r = try ProcessRunner.run(binary, run(dir))
        XCTAssertEqual(r.status, 0, r.stderr)
        return dir
    }

    /// Same count, other order or other names or shapes: refused naming the first tensor that differs.
    func testEditedTensorListIsRefusedOnResume() throws {
        let dir = try trained()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Data(contentsOf: dir.appendingPathComponent("checkpoint-00000002.ckpt"))
        let tensors = try XCTUnwrap(WeightFileEditing.header(good)["tensors"] as? [String])
        XCTAssertEqual(tensors[0], "conv1.weight[64, 3, 3, 3]")
        let edits: [([String], String)] = [
            ([tensors[1], tensors[0]] + tensors.dropFirst(2), "at tensor 0: conv1.bias[64], this run has conv1.weight[64, 3, 3, 3]"),
            (["conv1.weight[3, 64, 3, 3]"] + tensors.dropFirst(), "at tensor 0: conv1.weight[3, 64, 3, 3], this run has"),
            (tensors.dropLast(2) + ["conv10.weight[10, 512, 1, 1]", "conv11.bias[10]"], "at tensor 51: conv11.bias[10]"),
            (tensors.dropLast(2) + ["conv10.weight[5130]"], "at tensor 50: conv10.weight[5130], this run has conv10.weight[10, 512, 1, 1]"),
        ]
        for (edited, message) in edits {
            let path = dir.appendingPathComponent("edited.ckpt")
            try WeightFileEditing.editingHeader(good) { $0["tensors"] = edited }.write(to: path)
            let text = oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", path.path])))
            XCTAssertTrue(text.contains("edited.ckpt: its tensors differ from this run's squeezenet-v1.1 \(message)"), text)
        }
        // And a negative iteration: before the range check, SIGSEGV in the first step.
        let path = dir.appendingPathComponent("negative.ckpt")
        try WeightFileEditing.editingHeader(good) { $0["iteration"] = -5 }.write(to: path)
        XCTAssertTrue(oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", path.path]))).contains("corrupt header (iteration -5"))
        try WeightFileEditing.editingHeader(good) { $0["iteration"] = 3 }.write(to: path)  // in range: resumes
        XCTAssertEqual(try ProcessRunner.run(binary, run(dir, ["--resume", path.path])).status, 0)
        try WeightFileEditing.editingHeader(good) { $0["iteration"] = 5 }.write(to: path)
        XCTAssertTrue(oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", path.path, "--iterations", "9", "--extend"])))
            .contains("corrupt header (iteration 5 is past its run's 4 iterations)"))
    }

    /// The newest checkpoint corrupt or truncated: `latest` names the previous valid one in
    /// one line (and resumes nothing); `latest-valid` resumes from it.
    func testNewestCorruptNamesThePreviousValidCheckpoint() throws {
        let dir = try trained()
        defer { try? FileManager.default.removeItem(at: dir) }
        let newest = dir.appendingPathComponent("checkpoint-00000004.ckpt"), previous = dir.appendingPathComponent("checkpoint-00000002.ckpt")
        let intact = try Data(contentsOf: newest)
        var flipped = intact
        flipped[intact.count / 2] ^= 0x10
        for (broken, what) in [(flipped, "checksum mismatch (corrupt file)"), (intact.prefix(intact.count / 3), "(truncated)")] {
            try broken.write(to: newest)
            let text = oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", "latest"])))
            XCTAssertTrue(text.hasPrefix("error: \(newest.path): "), text)
            XCTAssertTrue(text.contains(what), text)
            XCTAssertTrue(text.hasSuffix("; the previous checkpoint \(previous.path) is valid: resume from it with --resume \(previous.path) (or --resume latest-valid)"), text)
            XCTAssertEqual(try Data(contentsOf: newest), broken, "a refused resume leaves the folder as it was")
        }
        let r = try ProcessRunner.run(binary, run(dir, ["--resume", "latest-valid"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming at iteration 2 from latest-valid (written by 1 rank, resuming on 1); checkpoint \(previous.path); passed over: \(newest.path): "), r.stdout)
        XCTAssertEqual(try WeightFile.read(from: newest.path).header.iteration, 4, "the run wrote iteration 4 again")

        // None valid: said so.
        try Data(count: 10).write(to: previous)
        try flipped.write(to: newest)
        let none = oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", "latest-valid"])))
        XCTAssertTrue(none.hasSuffix("no earlier checkpoint in \(dir.path) is valid to resume from"), none)
    }

    /// A finished run continues to more iterations only with --extend, and the resume line says
    /// the learning rate its first iteration gets (poly over 8 iterations at iteration 4: base / 2).
    func testExtendContinuesAFinishedRunAndStatesTheSchedule() throws {
        let dir = try trained()
        defer { try? FileManager.default.removeItem(at: dir) }
        let finished = oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", "latest"])))
        XCTAssertTrue(finished.contains("already at iteration 4 of 4; nothing to resume (to train further: a larger --iterations with --extend)"), finished)
        let refused = oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", "latest", "--iterations", "8"])))
        XCTAssertTrue(refused.contains("written for a run of 4 iterations, this one asks for 8; add --extend to continue it to 8"), refused)
        let mixed = oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", "latest", "--iterations", "8", "--base-lr", "0.02", "--extend"])))
        XCTAssertTrue(mixed.contains("written with different options (baseLR, iterations, warmupIterations); resume with the same options (--extend allows a larger --iterations, nothing else)"), mixed)
        let shorter = oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--resume", "latest", "--iterations", "3", "--extend"])))
        XCTAssertTrue(shorter.contains("written with different options (iterations"), shorter)
        XCTAssertTrue(oneErrorLine(try ProcessRunner.run(binary, run(dir, ["--extend"]))).contains("--extend needs --resume"))

        let r = try ProcessRunner.run(binary, run(dir, ["--resume", "latest", "--iterations", "8", "--extend"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming at iteration 4 from latest (written by 1 rank, resuming on 1); checkpoint \(dir.path)/checkpoint-00000004.ckpt; extended from 4 to 8 iterations: the poly schedule is recomputed over 8 iterations, learning rate 0.005 at iteration 4"), r.stdout)
        XCTAssertTrue(r.stdout.contains("done: 8 iterations"), r.stdout)
        XCTAssertEqual(try WeightFile.read(from: dir.appendingPathComponent("weights.bin").path).header.iteration, 8)
        XCTAssertEqual(try WeightFile.read(from: dir.appendingPathComponent("checkpoint-00000008.ckpt").path).header.iteration, 8)
    }
}
