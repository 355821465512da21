import Basics
import DeepCompression
import Foundation
import NeuralNet

/// Saved parameters (and, in a checkpoint, the optimizer's momentum): a fixed
/// little-endian header, the names and shapes of the tensors, the Float values in
/// the order of the flat parameter buffer, and an FNV-1a checksum of everything
/// before it (docs/formats.md).
///
///     magic "SQZWGT01" | u64 header length | header JSON | f32 x count [| f32 x count momentum]
///         [| per hookState entry "name[n]": f32 x n for rank 0, then rank 1, ... (ranks)] | u64 checksum
///
/// Written to a temporary file in the same folder, flushed, then renamed, so a
/// crash never leaves a half-written file under the final name.
public struct WeightFile: Equatable {
    public struct Header: Codable, Equatable {
        public var model: String
        public var count: Int
        public var tensors: [String]
        public var iteration: Int
        /// Checkpoints only: a momentum section follows the weights.
        public var hasMomentum: Bool?
        /// Checkpoints only: the run's options (JSON) and their fingerprint.
        public var options: String?
        public var fingerprint: String?
        /// Checkpoints only: the ranks that wrote it (a resume may run on another count,
        /// unless `hookState` is present).
        public var ranks: Int?
        /// Checkpoints of a compressed run: the gradient hook's per-rank state (error-feedback
        /// residuals, DGC's velocity, PowerSGD's Q), `name[n]` each, stored for every rank.
        public var hookState: [String]?

        public init(model: String, count: Int, tensors: [String], iteration: Int,
                    hasMomentum: Bool? = nil, options: String? = nil, fingerprint: String? = nil) {
            self.model = model; self.count = count; self.tensors = tensors; self.iteration = iteration
            self.hasMomentum = hasMomentum; self.options = options; self.fingerprint = fingerprint
        }
    }

    static let magic = Array("SQZWGT01".utf8)
    public var header: Header
    public var values: [Float]
    public var momentum: [Float]?
    /// One array per `header.hookState` entry: n floats of rank 0, then of rank 1, ...
    public var hookState: [[Float]]

    public init(header: Header, values: [Float], momentum: [Float]? = nil, hookState: [[Float]] = []) {
        precondition(values.count == header.count && (momentum == nil || momentum!.count == header.count))
        precondition(hookState.count == (header.hookState?.count ?? 0))
        var h = header
        h.hasMomentum = momentum == nil ? nil : true
        self.header = h
        self.values = values
        self.momentum = momentum
        self.hookState = hookState
    }

    public func encoded() throws -> Data {
        var data = Data(Self.magic)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // the same run writes the same bytes
        let json = try encoder.encode(header)
        data.appendLittleEndian(UInt64(json.count))
        data.append(json)
        // The machines this targets are little-endian: the raw Float bytes are the file's bytes.
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        momentum?.withUnsafeBytes { data.append(contentsOf: $0) }
        for state in hookState { state.withUnsafeBytes { data.append(contentsOf: $0) } }
        data.appendLittleEndian(fnv1a(data))
        return data
    }

    public func write(to path: String) throws {
        try atomicWrite(try encoded(), to: path)
    }

    public static func read(from path: String) throws -> WeightFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.badInput("\(path): cannot read the weight file")
        }
        if data.starts(with: CompressedModel.magic) { return try decodeCompressed([UInt8](data), path: path) }
        return try decode(data, path: path)
    }

    /// A Deep Compression file (`CompressedModel`) as the weights it decodes to, bit for
    /// bit: wherever a weight file is accepted (`--init-weights`, `diff`, `eval`).
    static func decodeCompressed(_ bytes: [UInt8], path: String) throws -> WeightFile {
        let decoded: (model: String, tensors: [CompressedTensor])
        do { decoded = try CompressedModel.decode(bytes) } catch { throw TrainingError.badInput("\(path): \(error)") }
        let values = decoded.tensors.flatMap(\.values)
        let header = Header(model: decoded.model, count: values.count,
                            tensors: decoded.tensors.map { "\($0.name)\($0.shape)" }, iteration: 0)
        return WeightFile(header: header, values: values)
    }

    /// The most iterations a run can count (`--iterations`, `--epochs` are held to it):
    /// a file's `iteration` outside `0...maxIteration` is corrupt.
    public static let maxIteration = Int(Int32.max)
    /// Longest header accepted (SqueezeNet's is about 3 KB): a corrupt length cannot make
    /// the reader decode a file's weights as JSON.
    static let maxHeaderLength = 1 << 20

    /// The `tensors` entries of a store, `name[d0, d1, ...]` in buffer order: what the
    /// writers store and what a run compares a file against.
    public static func tensorList(of store: ParameterStore) -> [String] {
        store.refs.map { "\($0.name)\($0.shape)" }
    }

    /// Element count of one `tensors` entry (`name[d0, d1, ...]`, every dimension positive),
    /// nil when it is malformed or its size overflows.
    static func elementCount(of entry: String) -> Int? {
        guard entry.last == "]", let open = entry.firstIndex(of: "["), open != entry.startIndex else { return nil }
        let dimensions = entry[entry.index(after: open)..<entry.index(before: entry.endIndex)]
        if dimensions.isEmpty { return 1 }  // a scalar: Swift writes its shape as []
        var total = 1
        for part in dimensions.split(separator: ",", omittingEmptySubsequences: false) {
            guard let d = Int(part.trimmingCharacters(in: .whitespaces)), d > 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// A string from a file as one printable line: quoted with escapes when it holds control characters.
    static func shown(_ s: String) -> String {
        s.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F } ? s : s.debugDescription
    }

    /// Checks everything before any section is read: the header's length against the file,
    /// its JSON, its count, iteration and tensors against each other, the file's size
    /// against the header (truncated and padded told apart), then the checksum. Every
    /// size is computed overflow-safe: the release build does not trap.
    public static func decode(_ data: Data, path: String) throws -> WeightFile {
        func bad(_ s: String) -> TrainingError { .badInput("\(path): \(s)") }
        guard data.count >= 8, Array(data.prefix(8)) == magic else {
            throw bad(data.count < 8 && Array(magic.prefix(data.count)) == Array(data) ? "truncated (\(data.count) bytes)"
                                                                                      : "not a squeezenet-train weight file (bad magic)")
        }
        guard data.count >= 24 else { throw bad("truncated (\(data.count) bytes, not even a header)") }
        let bytes = [UInt8](data)
        let rawLength = bytes.loadLittleEndian(UInt64.self, at: 8)
        // 16 + L + 8 <= size, without forming 16 + L (L is any 64-bit value).
        guard rawLength <= UInt64(data.count - 24) else {
            throw bad("truncated or corrupt: a header of \(rawLength) bytes does not fit in the \(data.count)-byte file")
        }
        let headerLength = Int(rawLength)
        guard headerLength <= maxHeaderLength else { throw bad("corrupt header (length \(headerLength), at most \(maxHeaderLength))") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<(16 + headerLength)])) } catch {
            throw bad("corrupt header (not the JSON of a weight file)")
        }
        guard header.count >= 0 else { throw bad("corrupt header (parameter count \(header.count))") }
        guard (0...maxIteration).contains(header.iteration) else {
            throw bad("corrupt header (iteration \(header.iteration), outside 0...\(maxIteration))")
        }
        if let r = header.ranks, !(1...(1 << 24)).contains(r) { throw bad("corrupt header (ranks \(r))") }
        var sum = 0
        for (i, entry) in header.tensors.enumerated() {
            guard let n = elementCount(of: entry) else { throw bad("corrupt header (tensor \(i), \(shown(String(entry.prefix(80)))), is not name[d0, d1, ...])") }
            let (s, overflow) = sum.addingReportingOverflow(n)
            guard !overflow else { throw bad("corrupt header (tensor sizes overflow)") }
            sum = s
        }
        guard sum == header.count else {
            throw bad("corrupt header (its \(header.tensors.count) tensors hold \(sum) parameters, its count says \(header.count))")
        }
        let sections = header.hasMomentum == true ? 2 : 1
        let start = 16 + headerLength
        let (sectionBytes, o1) = header.count.multipliedReportingOverflow(by: 4 * sections)
        // The hook's state: ranks x n floats per entry, summed overflow-safe.
        var stateCounts: [Int] = [], stateFloats = 0
        if let entries = header.hookState {
            guard let ranks = header.ranks else { throw bad("corrupt header (hook state without the ranks that wrote it)") }
            for (i, entry) in entries.enumerated() {
                guard let n = elementCount(of: entry) else { throw bad("corrupt header (hook state \(i), \(shown(String(entry.prefix(80)))), is not name[n])") }
                let (all, p) = n.multipliedReportingOverflow(by: ranks)
                let (total, q) = stateFloats.addingReportingOverflow(all)
                guard !p && !q else { throw bad("corrupt header (hook state sizes overflow)") }
                stateCounts.append(all)
                stateFloats = total
            }
        }
        let (stateBytes, o4) = stateFloats.multipliedReportingOverflow(by: 4)
        let (end0, o2) = start.addingReportingOverflow(sectionBytes)
        let (end, o5) = end0.addingReportingOverflow(stateBytes)
        let (expected, o3) = end.addingReportingOverflow(8)
        guard !(o1 || o2 || o3 || o4 || o5) else { throw bad("corrupt header (parameter count \(header.count) is larger than any file)") }
        guard data.count == expected else {
            let what = data.count < expected ? "truncated" : "padded: \(data.count - expected) bytes too many"
            throw bad("\(data.count) bytes, expected \(expected) for \(header.count) parameters (\(what))")
        }
        let stored = bytes.loadLittleEndian(UInt64.self, at: expected - 8)
        guard fnv1a(bytes[0..<(expected - 8)]) == stored else { throw bad("checksum mismatch (corrupt file)") }
        func floats(at from: Int, _ n: Int) -> [Float] {
            var out = [Float](repeating: 0, count: n)
            out.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[from..<(from + n * 4)]))
            } }
            return out
        }
        func section(_ k: Int) -> [Float] { floats(at: start + k * header.count * 4, header.count) }
        var state: [[Float]] = [], at = end0
        for n in stateCounts {
            state.append(floats(at: at, n))
            at += 4 * n
        }
        return WeightFile(header: header, values: section(0), momentum: sections == 2 ? section(1) : nil, hookState: state)
    }
}

/// Writes `data` to `path` through a temporary file in the same folder, flushed and renamed.
public func atomicWrite(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
        throw TrainingError.badInput("\(url.deletingLastPathComponent().path): cannot write here")
    }
    do {
        let handle = try FileHandle(forWritingTo: temporary)
        if FaultInjection.crashInNextWrite {
            // Test hook: die with half the bytes written, as a power cut or kill -9 would.
            try handle.write(contentsOf: data.prefix(data.count / 2))
            try handle.synchronize()
            FaultInjection.die()
        }
        try handle.write(contentsOf: data)
        try handle.synchronize()
        try handle.close()
        if rename(temporary.path, url.path) != 0 { throw TrainingError.badInput("\(path): cannot rename into place") }
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw error as? TrainingError ?? TrainingError.badInput("\(path): write failed: \(systemReason(error))")
    }
}

/// The system's words for a failed file operation ("No space left on device"), not Foundation's wrapper.
func systemReason(_ error: Error) -> String {
    let e = error as NSError
    if e.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(e.code))) }
    if let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    return e.localizedDescription
}

extension Data {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension Array where Element == UInt8 {
    func loadLittleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
