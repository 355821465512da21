// Reader for the IDX format of MNIST and Fashion-MNIST
// (LeCun et al., http://yann.lecun.com/exdb/mnist/; Xiao et al. 2017,
// https://github.com/zalandoresearch/fashion-mnist).
//
// Layout, all integers big-endian:
//   labels: magic 2049 (0x00000801), count N, then N bytes
//   images: magic 2051 (0x00000803), count N, rows R, columns C, then N*R*C bytes (row-major)
// Files may be gzip-compressed or plain: zlib's gzread passes a non-gzip file
// through unchanged, so one code path reads both.

import CZlib
import Foundation

/// Images read from an IDX3 file: `count` images of `rows` x `columns` bytes,
/// stored image after image, row-major.
public struct IDXImages: Equatable {
    public let count: Int
    public let rows: Int
    public let columns: Int
    /// (count, rows, columns), 0 = background, 255 = full intensity.
    public let pixels: [UInt8]
}

/// IDX (MNIST / Fashion-MNIST) file reading.
public enum IDX {
    public static let labelMagic: UInt32 = 2049
    public static let imageMagic: UInt32 = 2051
    /// Largest data section accepted (Fashion-MNIST's training images are 47 MB): a corrupt
    /// header cannot make a run read and hold gigabytes before it fails.
    public static let maxDataBytes = 1 << 30
    /// Largest image side accepted (Fashion-MNIST's is 28).
    public static let maxSide = 4096

    /// Reads an IDX1 label file (plain or gzip).
    /// - Throws: `DatasetError` naming `path` for a missing file, a gzip error,
    ///   a bad magic number, a count outside 1...`maxDataBytes`, or a data length that
    ///   disagrees with the header.
    public static func readLabels(path: String) throws -> [UInt8] {
        let file = try GzipFile(path: path)
        defer { file.close() }
        let header = try file.readHeader(words: 2)
        guard header[0] == labelMagic else {
            throw DatasetError.badMagic(path: path, expected: labelMagic, found: header[0])
        }
        let count = Int(header[1])
        guard count > 0, count <= maxDataBytes else {
            throw DatasetError.badHeader(path: path, reason: "\(count) labels (expected 1...\(maxDataBytes))")
        }
        return try file.readBody(bytes: count, header: "\(count) labels")
    }

    /// Reads an IDX3 image file (plain or gzip).
    /// - Throws: `DatasetError` as `readLabels`, and `.badHeader` for no images, a side outside
    ///   1...`maxSide` or more than `maxDataBytes` of pixels.
    public static func readImages(path: String) throws -> IDXImages {
        let file = try GzipFile(path: path)
        defer { file.close() }
        let header = try file.readHeader(words: 4)
        guard header[0] == imageMagic else {
            throw DatasetError.badMagic(path: path, expected: imageMagic, found: header[0])
        }
        let (count, rows, columns) = (Int(header[1]), Int(header[2]), Int(header[3]))
        guard rows > 0, columns > 0, rows <= maxSide, columns <= maxSide else {
            throw DatasetError.badHeader(path: path, reason: "image size \(rows)x\(columns) (each side 1...\(maxSide))")
        }
        // Each word is up to 2^32 - 1: the product overflows Int, checked rather than wrapped.
        let (perImage, o1) = rows.multipliedReportingOverflow(by: columns)
        let (bytes, o2) = count.multipliedReportingOverflow(by: perImage)
        guard count > 0, !o1, !o2, bytes <= maxDataBytes else {
            throw DatasetError.badHeader(path: path, reason: "\(count) images of \(rows)x\(columns) (expected 1 to \(maxDataBytes) bytes of images)")
        }
        let pixels = try file.readBody(bytes: bytes,
                                       header: "\(count) images of \(rows)x\(columns)")
        return IDXImages(count: count, rows: rows, columns: columns, pixels: pixels)
    }
}

/// A file read through zlib's gz* functions (which also read plain files).
final class GzipFile {
    let path: String
    private let handle: gzFile

    init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
              !isDirectory.boolValue else {
            throw DatasetError.missingFile(path: path)
        }
        guard let handle = gzopen(path, "rb") else {
            throw DatasetError.gzip(path: path, message: "cannot open (errno \(errno))")
        }
        self.path = path
        self.handle = handle
        gzbuffer(handle, 1 << 17)
    }

    func close() { gzclose_r(handle) }

    /// Reads up to `count` bytes; returns how many were read (fewer only at the
    /// end of the data). A zlib failure, including a gzip stream cut off before
    /// its end, throws.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var done = 0
        while done < count {
            let chunk = UInt32(min(count - done, 1 << 30))
            let got = gzread(handle, buffer + done, chunk)
            if got < 0 { throw error() }
            if got == 0 { break }
            done += Int(got)
        }
        var errnum: Int32 = Z_OK
        _ = gzerror(handle, &errnum)
        // Z_BUF_ERROR: the input ended in the middle of a gzip stream (truncated file).
        if errnum != Z_OK && errnum != Z_STREAM_END { throw error() }
        return done
    }

    /// Reads `words` big-endian UInt32 values; a short read is a bad header.
    func readHeader(words: Int) throws -> [UInt32] {
        var bytes = [UInt8](repeating: 0, count: 4 * words)
        let got = try bytes.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: 4 * words) }
        guard got == 4 * words else {
            throw DatasetError.badHeader(path: path, reason: "file is \(got) bytes, header needs \(4 * words)")
        }
        return (0..<words).map { w in
            bytes[4 * w ..< 4 * w + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }
    }

    /// Reads exactly `bytes` bytes and checks that nothing follows them.
    func readBody(bytes: Int, header: String) throws -> [UInt8] {
        // Grow in chunks rather than trusting a possibly corrupt header with one huge allocation.
        var data = [UInt8]()
        data.reserveCapacity(min(bytes, 1 << 26))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while total < bytes {
            let want = min(chunk.count, bytes - total)
            let got = try chunk.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: want) }
            data.append(contentsOf: chunk[0..<got])
            total += got
            if got < want { break }
        }
        if total < bytes {
            throw DatasetError.sizeMismatch(path: path, header: header, expectedBytes: bytes, actualBytes: total)
        }
        var extra = 0
        while true {
            let got = try chunk.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: $0.count) }
            if got == 0 { break }
            extra += got
        }
        if extra > 0 {
            throw DatasetError.sizeMismatch(path: path, header: header, expectedBytes: bytes,
                                            actualBytes: bytes + extra)
        }
        return data
    }

    private func error() -> DatasetError {
        var errnum: Int32 = Z_OK
        var message = gzerror(handle, &errnum).map { String(cString: $0) } ?? "unknown error"
        if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }  // zlib prefixes the path
        return .gzip(path: path, message: errnum == Z_ERRNO ? "read failed (errno \(errno))" : message)
    }
}
