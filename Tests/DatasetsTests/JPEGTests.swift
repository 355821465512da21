import Datasets
import Foundation
import TestSupport
import XCTest

/// The TurboJPEG decoder against libjpeg-turbo's own `djpeg` (the libjpeg API, another
/// code path) bit for bit, DCT scaling included; CMYK against the formula on the source;
/// and every bad file a one-line error, fuzzed.
final class JPEGTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = TestPaths.temporaryDirectory("jpeg-test") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = dir.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// `djpeg -pnm [-scale s]`'s pixels as RGB (a PGM's grey replicated).
    func djpeg(_ path: String, scale: String? = nil) throws -> (width: Int, height: Int, rgb: [UInt8]) {
        let out = path + ".pnm"
        let r = try ProcessRunner.run("/usr/bin/djpeg", ["-pnm"] + (scale.map { ["-scale", $0] } ?? []) + ["-outfile", out, path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        // "P6\nW H\n255\n" (or P5 for grey).
        var fields: [String] = [], i = 0, current = ""
        while fields.count < 4 {
            let c = Character(UnicodeScalar(data[i])); i += 1
            if c.isWhitespace { if !current.isEmpty { fields.append(current); current = "" } } else { current.append(c) }
        }
        let w = Int(fields[1])!, h = Int(fields[2])!, body = Array(data[i...])
        if fields[0] == "P5" { return (w, h, body.flatMap { [$0, $0, $0] }) }
        return (w, h, body)
    }

    /// Bytes of `image` that differ from `rgb` (all of them when the sizes differ).
    func differing(_ image: DecodedImage, _ rgb: [UInt8]) -> Int {
        let n = image.width * image.height * 3
        guard n == rgb.count else { return max(n, rgb.count) }
        return (0..<n).filter { image.pixels[$0] != rgb[$0] }.count
    }

    func testDecodeEqualsDjpegBitForBit() throws {
        let rgb = SyntheticPhoto.rgb(width: 97, height: 61, seed: 7)
        let grey = stride(from: 0, to: rgb.count, by: 3).map { rgb[$0] }
        let decoder = JPEGDecoder()
        for (name, layout, progressive, sub420) in [("baseline-420", JPEGEncoder.Layout.rgb, false, true), ("progressive-420", .rgb, true, true),
                                                   ("baseline-444", .rgb, false, false), ("grey", .gray, false, false),
                                                   ("grey-progressive", .gray, true, false)] {
            let jpeg = try JPEGEncoder.encode(layout == .gray ? grey : rgb, width: 97, height: 61, layout: layout, quality: 90,
                                              progressive: progressive, subsampling420: sub420)
            let path = write(jpeg, name + ".jpg")
            let mine = try decoder.decode(path: path)
            let theirs = try djpeg(path)
            XCTAssertEqual(mine.width, theirs.width, name); XCTAssertEqual(mine.height, theirs.height, name)
            XCTAssertEqual(differing(mine, theirs.rgb), 0, "\(name): bytes that differ from djpeg's")
        }
    }

    func testDCTScalingEqualsDjpegScale() throws {
        let path = write(try JPEGEncoder.encode(SyntheticPhoto.rgb(width: 500, height: 375, seed: 3), width: 500, height: 375,
                                                layout: .rgb, quality: 85, subsampling420: true), "photo.jpg")
        let decoder = JPEGDecoder()
        for (num, denom) in [(1, 2), (1, 4), (1, 8), (1, 1)] {
            let w = (500 * num + denom - 1) / denom, h = (375 * num + denom - 1) / denom
            let mine = try decoder.decode(path: path) { _ in (Double(w), Double(h)) }
            XCTAssertEqual(mine.scale.num * denom, num * mine.scale.denom, "\(num)/\(denom): the smallest factor keeping \(w)x\(h)")
            let theirs = try djpeg(path, scale: "\(num)/\(denom)")
            XCTAssertEqual(mine.width, theirs.width); XCTAssertEqual(mine.height, theirs.height)
            XCTAssertEqual(differing(mine, theirs.rgb), 0, "\(num)/\(denom): bytes that differ from djpeg's")
            if num * 2 == denom {
                // One pixel more than a half keeps the full size: 3/8 and the like are not used.
                XCTAssertEqual(try decoder.decode(path: path) { _ in (Double(w + 1), Double(h)) }.width, 500)
            }
        }
    }

    /// CMYK (Adobe's inverted, as Photoshop writes it) comes out as R = C K / 255.
    func testCMYKIsConvertedToRGB() throws {
        let w = 40, h = 24
        var cmyk = [UInt8](repeating: 0, count: w * h * 4)
        for i in 0..<(w * h) { cmyk[4 * i] = UInt8(i % 256); cmyk[4 * i + 1] = 200; cmyk[4 * i + 2] = UInt8(255 - i % 200); cmyk[4 * i + 3] = 180 }
        let path = write(try JPEGEncoder.encode(cmyk, width: w, height: h, layout: .cmyk, quality: 100), "cmyk.jpg")
        let decoder = JPEGDecoder()
        let image = try decoder.decode(path: path)
        var worst = 0
        for i in 0..<(w * h) {
            for c in 0..<3 {
                let expected = (Int(cmyk[4 * i + c]) * Int(cmyk[4 * i + 3]) + 127) / 255
                worst = max(worst, abs(Int(image.pixels[3 * i + c]) - expected))
            }
        }
        XCTAssertLessThanOrEqual(worst, 4, "JPEG at quality 100 is within a few levels of the source")
        // Grey in the source's K plane only: a channel that was 0 stays near 0.
        XCTAssertLessThan(Int(image.pixels[0]), 8)
    }

    func testBadFilesAreOneLineErrors() throws {
        let good = try JPEGEncoder.encode(SyntheticPhoto.rgb(width: 64, height: 48, seed: 1), width: 64, height: 48, layout: .rgb)
        // A SOF0 that claims 60000 x 60000 pixels (the bytes after FF C0: length, precision, height, width).
        var huge = good
        if let sof = (0..<(huge.count - 9)).first(where: { huge[$0] == 0xFF && huge[$0 + 1] == 0xC0 }) {
            huge[sof + 5] = 0xEA; huge[sof + 6] = 0x60; huge[sof + 7] = 0xEA; huge[sof + 8] = 0x60
        }
        let cases: [(String, [UInt8]?, String)] = [
            ("truncated.jpg", Array(good.prefix(good.count / 2)), "corrupt or truncated JPEG"),
            ("header-cut.jpg", Array(good.prefix(300)), "corrupt or truncated JPEG (bad header"),
            ("text.jpg", Array("hello, not a picture\n".utf8), "not a JPEG file"),
            ("empty.jpg", [], "not a JPEG file"),
            ("huge.jpg", huge, "megapixel limit"),
            ("missing.jpg", nil, "file not found"),
        ]
        let decoder = JPEGDecoder()
        let goodPath = write(good, "good.jpg")
        for (name, bytes, message) in cases {
            let path = bytes.map { write($0, name) } ?? dir.appendingPathComponent(name).path
            XCTAssertThrowsError(try decoder.decode(path: path), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(path) && text.contains(message), "\(name): \(text)")
                XCTAssertFalse(text.contains("\n"), "\(name): one line")
            }
            // A failure leaves the decoder good for the next file.
            let next = try decoder.decode(path: goodPath)
            XCTAssertEqual([next.width, next.height], [64, 48], "after \(name)")
        }
        XCTAssertThrowsError(try decoder.decode(path: dir.path)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        // The decoder is still good after the failures.
        XCTAssertEqual(try decoder.decode(path: goodPath).width, 64)
    }

    /// Random byte flips and truncations of a progressive and a baseline file: each decodes
    /// or throws a DatasetError; none crashes, and the whole run is bounded.
    func testFuzzedJPEGsNeverCrash() throws {
        let photo = SyntheticPhoto.rgb(width: 80, height: 60, seed: 9)
        let sources = [try JPEGEncoder.encode(photo, width: 80, height: 60, layout: .rgb, subsampling420: true),
                       try JPEGEncoder.encode(photo, width: 80, height: 60, layout: .rgb, progressive: true)]
        var rng = SystemRandomNumberGenerator()
        let decoder = JPEGDecoder()
        let start = Date()
        var failed = 0, decoded = 0
        for trial in 0..<400 {
            var bytes = sources[trial % 2]
            if trial % 3 == 0 {
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            } else {
                for _ in 0..<Int.random(in: 1...8, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            }
            let path = write(bytes, "fuzz.jpg")
            do { _ = try decoder.decode(path: path); decoded += 1 } catch is DatasetError { failed += 1 }
        }
        print("fuzzed JPEGs: \(failed) refused, \(decoded) decoded, in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        XCTAssertGreaterThan(failed, 100)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }
}
