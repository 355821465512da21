import Basics
import Foundation

/// Test helpers that forge weight files: a header edited and the checksum recomputed, so
/// the edit gets past the checksum and reaches the header's own checks (the case a
/// flipped byte cannot reach).
enum WeightFileEditing {
    /// The checksum of every byte but the last 8, written over the last 8.
    static func resealed(_ data: Data) -> Data {
        var out = data.prefix(data.count - 8)
        var sum = fnv1a(out).littleEndian
        out.append(Data(bytes: &sum, count: 8))
        return out
    }

    /// The header's JSON object (the file must have a well-formed header).
    static func header(_ data: Data) -> [String: Any] {
        let length = Int(data.subdata(in: 8..<16).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        return (try? JSONSerialization.jsonObject(with: data.subdata(in: 16..<(16 + length)))) as? [String: Any] ?? [:]
    }

    /// `data` with its header JSON replaced by `json` (the sections kept), resealed.
    static func replacingHeader(_ data: Data, json: Data) -> Data {
        let length = Int(data.subdata(in: 8..<16).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        var out = data.prefix(8)
        var l = UInt64(json.count).littleEndian
        out.append(Data(bytes: &l, count: 8))
        out.append(json)
        out.append(data.subdata(in: (16 + length)..<data.count))
        return resealed(out)
    }

    /// `data` with `edit` applied to its header object, resealed.
    static func editingHeader(_ data: Data, _ edit: (inout [String: Any]) -> Void) -> Data {
        var h = header(data)
        edit(&h)
        let json = (try? JSONSerialization.data(withJSONObject: h, options: [.sortedKeys])) ?? Data()
        return replacingHeader(data, json: json)
    }

    /// `data` with the header length field set to `length`, resealed (the length lies, the checksum does not).
    static func withHeaderLength(_ data: Data, _ length: UInt64) -> Data {
        var out = data
        var l = length.littleEndian
        out.replaceSubrange(8..<16, with: Data(bytes: &l, count: 8))
        return resealed(out)
    }
}
