// The compressed model file (docs/formats.md, "Compressed model"): every tensor either
// as raw float32 (biases) or pruned, weight-shared and Huffman-coded (relative indices
// for the positions, codebook indices for the values), with an FNV-1a checksum. The
// decoder checks every length and count against the bytes it has before using it.
import Basics

/// One tensor to store.
public struct CompressedTensor: Equatable, Sendable {
    public enum Storage: Equatable, Sendable {
        case raw([Float])
        /// `codebook` of 2^bits centroids; per element its centroid or -1 (pruned: zero).
        case shared(bits: Int, indexBits: Int, codebook: [Float], assignment: [Int])
    }
    public let name: String
    public let shape: [Int]
    public let storage: Storage
    public init(name: String, shape: [Int], storage: Storage) { self.name = name; self.shape = shape; self.storage = storage }

    /// The values the tensor decodes to.
    public var values: [Float] {
        switch storage {
        case let .raw(v): return v
        case let .shared(_, _, codebook, assignment): return assignment.map { $0 < 0 ? 0 : codebook[$0] }
        }
    }
}

public struct CompressedModelError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

public enum CompressedModel {
    public static let magic = Array("SQZDC001".utf8)
    public static let version: UInt32 = 1
    /// Largest tensor (elements) and tensor count a file may declare.
    public static let maxElements = 1 << 31, maxTensors = 1 << 16

    public static func encode(model: String, _ tensors: [CompressedTensor]) -> [UInt8] {
        var out = magic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
        u32(Int(version))
        let modelName = Array(model.utf8)
        withUnsafeBytes(of: UInt16(modelName.count).littleEndian) { out += $0 }
        out += modelName
        u32(tensors.count)
        for t in tensors { append(t, to: &out) }
        withUnsafeBytes(of: fnv1a(out).littleEndian) { out += $0 }
        return out
    }

    /// The bytes one tensor takes in a file (its name, shape and storage): what `compress`
    /// minimises over the relative-index widths.
    public static func encodedSize(_ tensor: CompressedTensor) -> Int {
        var out: [UInt8] = []
        append(tensor, to: &out)
        return out.count
    }

    private static func append(_ t: CompressedTensor, to out: inout [UInt8]) {
        func u8(_ v: Int) { out.append(UInt8(v)) }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { out += $0 } }
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
        func f32(_ v: Float) { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        let name = Array(t.name.utf8)
        u16(name.count); out += name
        u8(t.shape.count); t.shape.forEach(u32)
        switch t.storage {
        case let .raw(v):
            u8(0); v.forEach(f32)
        case let .shared(bits, indexBits, codebook, assignment):
            precondition(codebook.count == 1 << bits && (1...8).contains(bits) && (1...8).contains(indexBits))
            u8(1); u8(bits); u8(indexBits); codebook.forEach(f32)
            let positions = assignment.indices.filter { assignment[$0] >= 0 }
            let relative = RelativeIndex.encode(positions: positions, bits: indexBits)
            var codes: [Int] = [], next = 0
            for filler in relative.isFiller {
                if filler { codes.append(1 << bits) } else { codes.append(assignment[positions[next]]); next += 1 }
            }
            u32(codes.count)
            var codeCounts = [Int](repeating: 0, count: (1 << bits) + 1), gapCounts = [Int](repeating: 0, count: 1 << indexBits)
            codes.forEach { codeCounts[$0] += 1 }
            relative.gaps.forEach { gapCounts[$0] += 1 }
            let codeTable = HuffmanCode(counts: codeCounts), gapTable = HuffmanCode(counts: gapCounts)
            out += codeTable.lengths; out += gapTable.lengths
            for (table, symbols) in [(gapTable, relative.gaps), (codeTable, codes)] {
                var w = BitWriter()
                table.encode(symbols, into: &w)
                let bytes = w.finish()
                u32(bytes.count); out += bytes
            }
        }
    }

    /// Decodes a file's bytes; a one-line error for anything corrupt or truncated.
    public static func decode(_ bytes: [UInt8]) throws -> (model: String, tensors: [CompressedTensor]) {
        func bad(_ why: String) -> CompressedModelError { CompressedModelError(description: why) }
        guard bytes.count >= magic.count, Array(bytes.prefix(magic.count)) == magic else {
            throw bad(bytes.count < magic.count ? "truncated (\(bytes.count) bytes)" : "not a compressed model (bad magic)")
        }
        guard bytes.count >= magic.count + 16 else { throw bad("truncated (\(bytes.count) bytes)") }
        let body = bytes.count - 8
        var stored: UInt64 = 0
        for k in 0..<8 { stored |= UInt64(bytes[body + k]) << (8 * UInt64(k)) }
        guard fnv1a(bytes[0..<body]) == stored else { throw bad("checksum mismatch (corrupt or truncated file)") }
        var at = magic.count
        func take(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= body - at else { throw bad("truncated or corrupt: \(what) at byte \(at) runs past the end") }
            defer { at += n }
            return bytes[at..<(at + n)]
        }
        func int(_ n: Int, _ what: String) throws -> Int {
            var v = 0
            for (k, b) in try take(n, what).enumerated() { v |= Int(b) << (8 * k) }
            return v
        }
        func floats(_ n: Int, _ what: String) throws -> [Float] {
            let (size, overflow) = n.multipliedReportingOverflow(by: 4)
            guard !overflow else { throw bad("corrupt: \(what) size overflows") }
            let raw = try take(size, what)
            return (0..<n).map { i in
                var v: UInt32 = 0
                for k in 0..<4 { v |= UInt32(raw[raw.startIndex + 4 * i + k]) << (8 * UInt32(k)) }
                return Float(bitPattern: v)
            }
        }
        let v = try int(4, "the version")
        guard v == version else { throw bad("version \(v), this build reads version \(version)") }
        guard let model = String(validating: Array(try take(try int(2, "the model name's length"), "the model name")), as: UTF8.self) else {
            throw bad("the model name is not UTF-8")
        }
        let count = try int(4, "the tensor count")
        guard count <= maxTensors else { throw bad("corrupt: \(count) tensors (at most \(maxTensors))") }
        var out: [CompressedTensor] = []
        for t in 0..<count {
            let nameBytes = try take(try int(2, "tensor \(t)'s name length"), "tensor \(t)'s name")
            guard let name = String(validating: Array(nameBytes), as: UTF8.self) else { throw bad("tensor \(t): its name is not UTF-8") }
            let label = "tensor \(t) (\(name.prefix(60)))"
            let dims = try int(1, "\(label)'s dimensions")
            var shape: [Int] = [], n = 1
            for _ in 0..<dims {
                let d = try int(4, "\(label)'s shape")
                let (m, overflow) = n.multipliedReportingOverflow(by: d)
                guard d > 0, !overflow, m <= maxElements else { throw bad("\(label): corrupt shape") }
                shape.append(d); n = m
            }
            switch try int(1, "\(label)'s kind") {
            case 0:
                out.append(CompressedTensor(name: name, shape: shape, storage: .raw(try floats(n, "\(label)'s values"))))
            case 1:
                let bits = try int(1, "\(label)'s bits"), indexBits = try int(1, "\(label)'s index bits")
                guard (1...8).contains(bits), (1...8).contains(indexBits) else { throw bad("\(label): bits \(bits), index bits \(indexBits) (1 to 8 each)") }
                let codebook = try floats(1 << bits, "\(label)'s codebook")
                let entries = try int(4, "\(label)'s entry count")
                guard entries <= 2 * n + 1 else { throw bad("\(label): \(entries) entries for \(n) elements (corrupt)") }
                guard let codeTable = HuffmanCode(lengths: Array(try take((1 << bits) + 1, "\(label)'s code table"))),
                      let gapTable = HuffmanCode(lengths: Array(try take(1 << indexBits, "\(label)'s gap table"))) else {
                    throw bad("\(label): corrupt Huffman table")
                }
                var gapReader = BitReader(Array(try take(try int(4, "\(label)'s gap stream length"), "\(label)'s gap stream")))
                var codeReader = BitReader(Array(try take(try int(4, "\(label)'s code stream length"), "\(label)'s code stream")))
                guard let gaps = gapTable.decode(entries, from: &gapReader) else { throw bad("\(label): the index stream ends early or is corrupt") }
                guard let codes = codeTable.decode(entries, from: &codeReader) else { throw bad("\(label): the code stream ends early or is corrupt") }
                guard let positions = RelativeIndex.positions(gaps: gaps, limit: n) else { throw bad("\(label): its indices pass its \(n) elements (corrupt)") }
                var assignment = [Int](repeating: -1, count: n)
                for (p, c) in zip(positions, codes) where c < 1 << bits { assignment[p] = c }
                out.append(CompressedTensor(name: name, shape: shape,
                                            storage: .shared(bits: bits, indexBits: indexBits, codebook: codebook, assignment: assignment)))
            case let k:
                throw bad("\(label): unknown kind \(k)")
            }
        }
        guard at == body else { throw bad("corrupt: \(body - at) bytes after the last tensor") }
        return (model, out)
    }
}
