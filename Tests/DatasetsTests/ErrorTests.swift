// Broken and missing files give a DatasetError whose message names the file.

import Datasets
import Foundation
import XCTest

final class ErrorTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "datasets-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Big-endian IDX header words followed by `body`.
    func idx(_ words: [UInt32], body: [UInt8]) -> Data {
        var data = Data()
        for w in words { data.append(contentsOf: [UInt8(w >> 24), UInt8(w >> 16 & 255), UInt8(w >> 8 & 255), UInt8(w & 255)]) }
        data.append(contentsOf: body)
        return data
    }

    func write(_ data: Data, _ name: String) throws -> String {
        let path = directory + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func assertError(_ expected: DatasetError, naming path: String,
                     _ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? DatasetError, expected, file: file, line: line)
            XCTAssertTrue("\(error)".contains(path), "\(error)", file: file, line: line)
            XCTAssertFalse("\(error)".contains("\n"), file: file, line: line)
        }
    }

    func testMissingFile() {
        let path = directory + "/nope-labels-idx1-ubyte.gz"
        assertError(.missingFile(path: path), naming: path) { try IDX.readLabels(path: path) }
        let expected = directory + "/train-images-idx3-ubyte.gz"
        assertError(.missingFile(path: expected), naming: expected) {
            try FashionMNIST.load(directory: self.directory, split: .train)
        }
    }

    /// A gzip stream cut short is a gzip error (zlib: "unexpected end of
    /// file"), not silently short data.
    func testTruncatedGzip() throws {
        for (name, cut) in [("t10k-labels-idx1-ubyte.gz", 2_000), ("t10k-images-idx3-ubyte.gz", 100_000)] {
            let original = try Data(contentsOf: URL(fileURLWithPath: FashionMNIST.defaultDirectory + "/" + name))
            let path = try write(original.prefix(cut), name)
            XCTAssertThrowsError(try name.contains("labels") ? IDX.readLabels(path: path) as Any : IDX.readImages(path: path)) { error in
                guard case let .gzip(p, message)? = error as? DatasetError else {
                    return XCTFail("expected a gzip error, got \(error)")
                }
                XCTAssertEqual(p, path)
                XCTAssertEqual(message, "unexpected end of file")
                XCTAssertEqual("\(error)", "\(path): gzip error: unexpected end of file")
            }
        }
    }

    func testBadMagic() throws {
        let path = try write(idx([2051, 2], body: [1, 2]), "labels")
        assertError(.badMagic(path: path, expected: 2049, found: 2051), naming: path) { try IDX.readLabels(path: path) }
        let images = try write(idx([2049, 1, 2, 2], body: [1, 2, 3, 4]), "images")
        assertError(.badMagic(path: images, expected: 2051, found: 2049), naming: images) { try IDX.readImages(path: images) }
    }

    func testHeaderCountLargerThanData() throws {
        let path = try write(idx([2051, 3, 28, 28], body: [UInt8](repeating: 7, count: 2 * 784 + 5)), "images")
        assertError(.sizeMismatch(path: path, header: "3 images of 28x28", expectedBytes: 3 * 784, actualBytes: 2 * 784 + 5),
                    naming: path) { try IDX.readImages(path: path) }
        XCTAssertTrue("\(DatasetError.sizeMismatch(path: path, header: "", expectedBytes: 2, actualBytes: 1))".contains("truncated"))
    }

    func testTrailingBytes() throws {
        let path = try write(idx([2049, 3], body: [1, 2, 3, 4]), "labels")
        assertError(.sizeMismatch(path: path, header: "3 labels", expectedBytes: 3, actualBytes: 4), naming: path) {
            try IDX.readLabels(path: path)
        }
    }

    /// Counts the reader could never hold, or images of no pixels, are refused from the header
    /// alone: before anything is read, and without a product that wraps (the release build
    /// does not trap). `IDX.maxDataBytes` (1 GiB) and `IDX.maxSide` (4096) bound them.
    func testHugeZeroOrOverflowingCountsAreBadHeaders() throws {
        let images: [[UInt32]] = [[2051, .max, .max, .max], [2051, 2_000_000, 28, 28], [2051, .max, 4096, 4096],
                                  [2051, 1, 5000, 5], [2051, 1, 5, 4097], [2051, 0, 28, 28], [2051, 3, 0, 28]]
        let labels: [[UInt32]] = [[2049, 0], [2049, .max], [2049, 1 << 30 + 1]]
        for words in images + labels {
            let path = try write(idx(words, body: [1, 2, 3]), "file")
            XCTAssertThrowsError(try words[0] == 2049 ? IDX.readLabels(path: path) as Any : IDX.readImages(path: path)) { error in
                guard case .badHeader(path, _)? = error as? DatasetError else { return XCTFail("\(words): \(error)") }
                XCTAssertTrue("\(error)".hasPrefix(path + ": bad IDX header: "), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
        let path = try write(idx([2051, 2_000_000, 28, 28], body: []), "big")
        XCTAssertThrowsError(try IDX.readImages(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path): bad IDX header: 2000000 images of 28x28 (expected 1 to 1073741824 bytes of images)")
        }
    }

    func testShortHeader() throws {
        let path = try write(idx([2051, 3], body: []), "images")
        XCTAssertThrowsError(try IDX.readImages(path: path)) { error in
            guard case .badHeader(path, _)? = error as? DatasetError else { return XCTFail("\(error)") }
        }
    }

    /// Uncompressed files are read too (gzread passes them through), and the
    /// pair is checked against each other.
    func testImageLabelCountMismatch() throws {
        _ = try write(idx([2051, 3, 28, 28], body: [UInt8](repeating: 0, count: 3 * 784)), "t10k-images-idx3-ubyte")
        _ = try write(idx([2049, 2], body: [1, 2]), "t10k-labels-idx1-ubyte")
        let images = directory + "/t10k-images-idx3-ubyte", labels = directory + "/t10k-labels-idx1-ubyte"
        assertError(.countMismatch(imagesPath: images, images: 3, labelsPath: labels, labels: 2), naming: labels) {
            try FashionMNIST.load(directory: self.directory, split: .test)
        }
    }

    func testLabelOutOfRange() throws {
        _ = try write(idx([2051, 3, 28, 28], body: [UInt8](repeating: 0, count: 3 * 784)), "t10k-images-idx3-ubyte")
        let labels = try write(idx([2049, 3], body: [1, 10, 2]), "t10k-labels-idx1-ubyte")
        assertError(.labelOutOfRange(path: labels, index: 1, label: 10, classes: 10), naming: labels) {
            try FashionMNIST.load(directory: self.directory, split: .test)
        }
        // A valid plain pair loads.
        _ = try write(idx([2049, 3], body: [1, 9, 2]), "t10k-labels-idx1-ubyte")
        XCTAssertEqual(try FashionMNIST.load(directory: directory, split: .test).labels, [1, 9, 2])
    }
}
