// Errors raised while reading or preparing a data set.
//
// Every message is one line that names the file (or the argument) and what is
// wrong with it, so the CLI can print `error: \(error)` and nothing else.

/// What went wrong while loading a data set. `description` is a one-line
/// message that names the file and the problem.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist (or is a directory).
    case missingFile(path: String)
    /// zlib could not open or decompress the file; `message` is zlib's
    /// (for a cut-off `.gz` file: "unexpected end of file").
    case gzip(path: String, message: String)
    /// The first four bytes (big-endian) are not the IDX magic we expected:
    /// 2049 for labels, 2051 for images.
    case badMagic(path: String, expected: UInt32, found: UInt32)
    /// The header is shorter than the format requires, or declares no items, zero-sized
    /// or oversized images, or more data than `IDX.maxDataBytes`.
    case badHeader(path: String, reason: String)
    /// The header's counts imply `expectedBytes` of data after the header, but
    /// the file holds `actualBytes` (fewer: truncated; more: trailing bytes).
    case sizeMismatch(path: String, header: String, expectedBytes: Int, actualBytes: Int)
    /// The image file and the label file of a pair hold different numbers of items.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A label lies outside `0..<classes`.
    case labelOutOfRange(path: String, index: Int, label: Int, classes: Int)
    /// A caller-supplied argument cannot be honoured (e.g. padding to a size
    /// smaller than the image, a pixel buffer of the wrong length).
    case invalidArgument(String)
    /// An image file that cannot be used: not a JPEG, corrupt, truncated, too large.
    case badImage(path: String, reason: String)
    /// A line of a list file (Caffe's ImageData `path label`) that cannot be used; `line` counts from 1.
    case badList(path: String, line: Int, reason: String)
    /// An image folder whose layout cannot be used (no class folders, an empty class).
    case badFolder(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path):
            return "\(path): file not found"
        case let .gzip(path, message):
            return "\(path): gzip error: \(message)"
        case let .badMagic(path, expected, found):
            return "\(path): bad IDX magic number \(found) (expected \(expected): "
                + (expected == IDX.labelMagic ? "labels" : "images") + ")"
        case let .badHeader(path, reason):
            return "\(path): bad IDX header: \(reason)"
        case let .sizeMismatch(path, header, expected, actual):
            let what = actual < expected ? "truncated" : "has \(actual - expected) extra bytes"
            return "\(path): \(what): header says \(header) = \(expected) data bytes, file has \(actual)"
        case let .countMismatch(imagesPath, images, labelsPath, labels):
            return "\(imagesPath) holds \(images) images but \(labelsPath) holds \(labels) labels"
        case let .labelOutOfRange(path, index, label, classes):
            return "\(path): label \(label) at index \(index) is outside 0..<\(classes)"
        case let .invalidArgument(message):
            return "invalid data set argument: \(message)"
        case let .badImage(path, reason):
            return "\(path): \(reason)"
        case let .badList(path, line, reason):
            return "\(path) line \(line): \(reason)"
        case let .badFolder(path, reason):
            return "\(path): \(reason)"
        }
    }
}
