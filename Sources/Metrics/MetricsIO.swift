// JSON Lines I/O for IterationRecord: `<output>/metrics.jsonl`.
import Foundation

/// Errors from reading or writing metrics files; each names the file and,
/// for a bad line, its 1-based line number.
public enum MetricsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case malformedLine(path: String, line: Int, reason: String)
    /// A write failed (a full disk, a folder removed): the reason is the system's.
    case writeFailed(path: String, reason: String)
    /// Any other measurement file (a compute timeline): the message names the file.
    case malformed(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open metrics file \(path): \(reason)"
        case let .malformedLine(path, line, reason):
            return "\(path) line \(line): malformed metrics record: \(reason)"
        case let .malformed(message):
            return message
        case let .writeFailed(path, reason):
            return "\(path): cannot append to the metrics file: \(reason)"

        }
    }
}

extension MetricsError: LocalizedError {
    public var errorDescription: String? { description }
}

/// The encoder/decoder pair both sides use. Non-finite doubles (a diverged
/// loss is NaN) are written as the strings "nan", "inf", "-inf" because JSON
/// has no such numbers and a NaN loss is exactly what one wants to see logged.
enum MetricsJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy =
            .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy =
            .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}

/// Appends records to a JSON Lines file, one `write(2)` per record.
///
/// Each record is encoded to one line and handed to the kernel in a single
/// unbuffered write, so a crash loses at most the record being written and
/// readers (`tail -f`) see whole lines. No `fsync` per line: that would put
/// disk latency inside the training loop; call `synchronize()` at the end.
/// Files opened by path use `O_APPEND`, so several processes on one node may
/// append to the same file and still produce whole lines; which rank writes
/// is the caller's decision.
public final class MetricsWriter {
    private let handle: FileHandle
    private let encoder = MetricsJSON.encoder()
    /// The file's name in error messages.
    private let path: String

    /// Writes to an already-open handle (positioned where lines should go).
    public init(fileHandle: FileHandle, path: String = "metrics") {
        self.handle = fileHandle
        self.path = path
    }

    /// Opens `path` for appending, creating it (and not truncating it) so that a
    /// resumed run continues the same file. `truncate: true` starts afresh.
    public convenience init(path: String, truncate: Bool = false) throws {
        var flags = O_WRONLY | O_CREAT | O_APPEND
        if truncate { flags |= O_TRUNC }
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else {
            throw MetricsError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        self.init(fileHandle: FileHandle(fileDescriptor: fd, closeOnDealloc: true), path: path)
    }

    /// Encodes `record` as one line and writes it immediately.
    public func write(_ record: IterationRecord) throws {
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        try append(line)
    }

    /// One write(2) of `bytes` (repeated only if the kernel takes part of it); errno named on failure.
    private func append(_ bytes: Data) throws {
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(handle.fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw MetricsError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
                offset += n
            }
        }
    }

    /// Writes several records, one line each.
    public func write<S: Sequence>(contentsOf records: S) throws where S.Element == IterationRecord {
        for record in records { try write(record) }
    }

    /// Forces written lines to stable storage (fsync).
    public func synchronize() throws {
        try handle.synchronize()
    }

    /// Encodes one record as its JSON line (without the newline).
    public static func line(for record: IterationRecord) throws -> String {
        String(decoding: try MetricsJSON.encoder().encode(record), as: UTF8.self)
    }
}

/// Reads a metrics.jsonl file back.
public enum MetricsReader {
    /// Reads every record of `path`. Blank lines are skipped; any other line
    /// that is not a valid record throws `MetricsError.malformedLine` naming
    /// its 1-based line number.
    public static func read(_ path: String) throws -> [IterationRecord] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MetricsError.cannotOpen(path: path, reason: error.localizedDescription)
        }
        return try parse(data, source: path)
    }

    /// Reads `path` as a run left it: a last line without its newline is a write a crash or
    /// a full disk cut short, so it is dropped (its length in bytes is returned), not an
    /// error. Every complete line must still be a valid record.
    public static func readWrittenLines(_ path: String) throws -> (records: [IterationRecord], cutBytes: Int) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw MetricsError.cannotOpen(path: path, reason: error.localizedDescription)
        }
        let complete = data.lastIndex(of: UInt8(ascii: "\n")).map { data.startIndex...$0 }
        let kept = complete.map { data[$0] } ?? Data()
        return (try parse(Data(kept), source: path), data.count - kept.count)
    }

    /// Parses JSON Lines text already in memory; `source` names it in errors.
    public static func parse(_ data: Data, source: String = "metrics.jsonl") throws -> [IterationRecord] {
        let decoder = MetricsJSON.decoder()
        var records: [IterationRecord] = []
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let isBlank = line.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }
            if isBlank { continue }
            do {
                records.append(try decoder.decode(IterationRecord.self, from: Data(line)))
            } catch {
                throw MetricsError.malformedLine(path: source, line: index + 1, reason: describe(error))
            }
        }
        return records
    }

    /// A one-line reason for a decoding failure: which key, and what was wrong.
    private static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _):
            return "missing field \"\(key.stringValue)\""
        case let DecodingError.typeMismatch(type, context):
            return "field \"\(path(context))\" is not \(type)"
        case let DecodingError.valueNotFound(type, context):
            return "field \"\(path(context))\" is null, expected \(type)"
        case let DecodingError.dataCorrupted(context):
            return context.codingPath.isEmpty ? "not valid JSON" : "field \"\(path(context))\": \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }
}
