// Canonical Huffman codes (Deep Compression, Han et al. 2016, section 4: codes and
// index gaps are Huffman-coded per layer, 20-30% smaller). Canonical, so a file stores
// only each symbol's code length and the decoder rebuilds the same codes; lengths are
// limited to `maxLength` bits so a table stays small and decoding stays bounded.

/// A canonical prefix code over symbols 0..<lengths.count (length 0: symbol unused).
public struct HuffmanCode: Equatable, Sendable {
    public static let maxLength = 24
    /// Code length of each symbol in bits (0: never occurs).
    public let lengths: [UInt8]
    /// Each used symbol's code, `lengths[s]` bits, most significant bit first.
    public let codes: [UInt32]

    /// The optimal code for `counts` (lengths limited to `maxLength` by flattening the
    /// deepest leaves, the zlib approach). One used symbol gets a 1-bit code.
    public init(counts: [Int]) {
        precondition(counts.allSatisfy { $0 >= 0 })
        var lengths = [UInt8](repeating: 0, count: counts.count)
        let used = counts.indices.filter { counts[$0] > 0 }
        if used.count == 1 { lengths[used[0]] = 1 }
        if used.count > 1 {
            // Huffman's merge on (weight, node) pairs; ties by node index: deterministic.
            var weight = used.map { counts[$0] }, parent = [Int](repeating: -1, count: used.count)
            var queue = Array(used.indices)
            func pop() -> Int {
                var best = 0
                for i in 1..<queue.count where (weight[queue[i]], queue[i]) < (weight[queue[best]], queue[best]) { best = i }
                return queue.remove(at: best)
            }
            while queue.count > 1 {
                let a = pop(), b = pop()
                weight.append(weight[a] + weight[b]); parent.append(-1)
                parent[a] = weight.count - 1; parent[b] = weight.count - 1
                queue.append(weight.count - 1)
            }
            var depth = [Int](repeating: 0, count: used.count)
            for i in used.indices {
                var n = i
                while parent[n] >= 0 { depth[i] += 1; n = parent[n] }
            }
            // Limit the lengths: clamp, then lengthen the shortest codes until Kraft holds.
            for i in depth.indices { depth[i] = min(depth[i], Self.maxLength) }
            func kraft() -> Int { depth.reduce(0) { $0 + (1 << (Self.maxLength - $1)) } }
            while kraft() > 1 << Self.maxLength {
                // The deepest code not yet at the limit (the rarest among equals) costs least to lengthen.
                let candidates = depth.indices.filter { depth[$0] < Self.maxLength }
                let i = candidates.max { a, b in (depth[a], -counts[used[a]]) < (depth[b], -counts[used[b]]) }!
                depth[i] += 1
            }
            for (i, s) in used.enumerated() { lengths[s] = UInt8(depth[i]) }
        }
        self.init(lengths: lengths)!
    }

    /// The canonical codes for stored lengths; nil when they are not a valid prefix code
    /// (over-full, or a length above `maxLength`): a corrupt table.
    public init?(lengths: [UInt8]) {
        guard lengths.allSatisfy({ Int($0) <= Self.maxLength }) else { return nil }
        var kraft = 0
        for l in lengths where l > 0 { kraft += 1 << (Self.maxLength - Int(l)) }
        guard kraft <= 1 << Self.maxLength else { return nil }
        var codes = [UInt32](repeating: 0, count: lengths.count)
        var code: UInt32 = 0, previous: UInt8 = 0
        // Symbols sorted by (length, symbol): each code is the previous + 1, shifted to its length.
        for s in lengths.indices.filter({ lengths[$0] > 0 }).sorted(by: { (lengths[$0], $0) < (lengths[$1], $1) }) {
            if previous > 0 { code = (code + 1) << UInt32(lengths[s] - previous) } else { code = 0 }
            previous = lengths[s]
            codes[s] = code
        }
        self.lengths = lengths
        self.codes = codes
    }

    /// Bits to encode `counts` with this code.
    public func bits(for counts: [Int]) -> Int { zip(counts, lengths).reduce(0) { $0 + $1.0 * Int($1.1) } }

    public func encode(_ symbols: [Int], into writer: inout BitWriter) {
        for s in symbols {
            precondition(lengths[s] > 0, "symbol \(s) has no code")
            writer.write(codes[s], bits: Int(lengths[s]))
        }
    }

    /// Decodes `count` symbols; nil when the bits run out or hit no code (corrupt data).
    public func decode(_ count: Int, from reader: inout BitReader) -> [Int]? {
        // (length, code) -> symbol, looked up bit by bit: at most maxLength steps a symbol.
        var table: [UInt64: Int] = [:]
        for s in lengths.indices where lengths[s] > 0 { table[UInt64(lengths[s]) << 32 | UInt64(codes[s])] = s }
        var out: [Int] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            var code: UInt32 = 0, found: Int?
            for length in 1...Self.maxLength {
                guard let bit = reader.read(bits: 1) else { return nil }
                code = code << 1 | bit
                if let s = table[UInt64(length) << 32 | UInt64(code)] { found = s; break }
            }
            guard let s = found else { return nil }
            out.append(s)
        }
        return out
    }
}

/// Bits appended most significant first into bytes.
public struct BitWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var pending: UInt64 = 0, pendingBits = 0
    public init() {}
    public var bitCount: Int { bytes.count * 8 + pendingBits }

    public mutating func write(_ value: UInt32, bits: Int) {
        precondition(bits >= 0 && bits <= 32 && (bits == 32 || value >> UInt32(bits) == 0))
        pending = pending << UInt64(bits) | UInt64(value)
        pendingBits += bits
        while pendingBits >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: pending >> UInt64(pendingBits - 8)))
            pendingBits -= 8
        }
        pending &= (1 << UInt64(pendingBits)) - 1
    }

    /// Pads the last byte with zero bits and returns every byte.
    public mutating func finish() -> [UInt8] {
        if pendingBits > 0 { write(0, bits: 8 - pendingBits) }
        return bytes
    }
}

/// Reads what `BitWriter` wrote; nil past the end (never traps on short input).
public struct BitReader: Sendable {
    let bytes: [UInt8]
    public private(set) var position = 0  // in bits
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public mutating func read(bits: Int) -> UInt32? {
        precondition(bits >= 0 && bits <= 32)
        guard position + bits <= bytes.count * 8 else { return nil }
        var v: UInt32 = 0
        for _ in 0..<bits {
            let bit = (bytes[position >> 3] >> UInt8(7 - position & 7)) & 1
            v = v << 1 | UInt32(bit)
            position += 1
        }
        return v
    }
}
