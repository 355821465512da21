// How gradients travel (`--compression`), and the bytes each codec puts on the wire:
// the one home of the codec names and of their byte formulas, as Traffic.swift is for
// the float32 algorithms. The hooks' counters are tested against these formulas.

/// A gradient codec: float32 (`none`), 16-bit values, int8 with a float32 scale per
/// chunk, top-k (index, value) pairs, or PowerSGD's low-rank factors.
public enum GradientCodec: Hashable, Sendable, CustomStringConvertible {
    case none, fp16, bf16, int8
    /// The largest `fraction` of each bucket's entries by magnitude.
    case topk(fraction: Double)
    /// Each matrix-shaped gradient as P Q^T of this rank.
    case powersgd(rank: Int)

    /// Elements sharing one int8 scale (one float32 each).
    public static let int8ChunkElements = 4096

    /// Parses `none`, `fp16`, `bf16`, `int8`, `topk:FRACTION`, `powersgd:RANK`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        func bad(_ why: String) -> GradientCodecError { GradientCodecError(description: "--compression \(text): \(why)") }
        switch (parts.first ?? "", parts.count) {
        case ("none", 1): self = .none
        case ("fp16", 1): self = .fp16
        case ("bf16", 1): self = .bf16
        case ("int8", 1): self = .int8
        case ("topk", 2):
            guard let f = Double(parts[1]), f > 0, f <= 1 else { throw bad("FRACTION must be a number in (0, 1], as topk:0.001") }
            self = .topk(fraction: f)
        case ("powersgd", 2):
            guard let r = Int(parts[1]), r >= 1, r <= 64 else { throw bad("RANK must be an integer from 1 to 64, as powersgd:2") }
            self = .powersgd(rank: r)
        default:
            throw bad("expected none, fp16, bf16, int8, topk:FRACTION or powersgd:RANK")
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .fp16: return "fp16"
        case .bf16: return "bf16"
        case .int8: return "int8"
        case let .topk(f): return "topk:\(f)"
        case let .powersgd(r): return "powersgd:\(r)"
        }
    }

    /// The codec name without its parameter (`topk`, `powersgd`, ...).
    public var family: String { String(description.split(separator: ":").first ?? "") }

    /// Bytes of one message of `count` values for the codecs that encode value by value
    /// (none, fp16, bf16, int8); nil for top-k and PowerSGD.
    public func messageBytes(_ count: Int) -> Int? {
        switch self {
        case .none: return 4 * count
        case .fp16, .bf16: return 2 * count
        case .int8: return count + 4 * ((count + Self.int8ChunkElements - 1) / Self.int8ChunkElements)
        case .topk, .powersgd: return nil
        }
    }

    /// Whether every rank sends and keeps a residual (error feedback).
    public var hasErrorFeedback: Bool {
        switch self {
        case .none, .fp16, .bf16: return false
        case .int8, .topk, .powersgd: return true
        }
    }

    /// Entries of a bucket of `count` that top-k sends at `fraction`: ceil(fraction x count), at least 1.
    public static func topkEntries(_ count: Int, fraction: Double) -> Int {
        count == 0 ? 0 : max(1, min(count, Int((fraction * Double(count)).rounded(.up))))
    }

    /// Bytes and messages of rank `rank` of `p` for one bucket of `count` elements sent
    /// with this value-by-value codec through `algorithm` (ring: one message per chunk
    /// and step, as `RingAllreduce` cuts them; tree: one message of the whole bucket per
    /// edge and direction). nil where the codec does not run on that algorithm.
    public func traffic(_ algorithm: AllreduceAlgorithm, rank r: Int, ranks p: Int, count: Int) -> RankTraffic? {
        guard let _ = messageBytes(0) else { return nil }
        if p == 1 || count == 0 { return .zero }
        switch algorithm {
        case .ring:
            let chunks = RingPartition(count: count, parts: p)
            var sent = 0, received = 0
            for s in 0..<(p - 1) {
                sent += messageBytes(chunks.length(chunks.reduceScatterChunk(rank: r, step: s)))!
                received += messageBytes(chunks.length(chunks.reduceScatterChunk(rank: r, step: s + 1)))!
                sent += messageBytes(chunks.length(chunks.allgatherChunk(rank: r, step: s)))!
                received += messageBytes(chunks.length(chunks.allgatherChunk(rank: r, step: s + 1)))!
            }
            return RankTraffic(bytesSent: sent, bytesReceived: received, messagesSent: 2 * (p - 1), messagesReceived: 2 * (p - 1))
        case .tree:
            let links = BinomialTree(rank: r, size: p).links, n = messageBytes(count)!
            return RankTraffic(bytesSent: links * n, bytesReceived: links * n, messagesSent: links, messagesReceived: links)
        case .ps:
            let n = messageBytes(count)!
            return r == 0 ? RankTraffic(bytesSent: (p - 1) * n, bytesReceived: (p - 1) * n, messagesSent: p - 1, messagesReceived: p - 1)
                          : RankTraffic(bytesSent: n, bytesReceived: n, messagesSent: 1, messagesReceived: 1)
        case .mpi, .hierarchical:
            return nil
        }
    }

    /// The two-level exchange with this codec between the hosts (ranks placed host after
    /// host, `hostSizes` of them on each): float32 inside a host (the binomial tree), the
    /// encoded ring between the host leaders. nil where the codec is not value by value.
    public func hierarchicalTraffic(rank: Int, hostSizes: [Int], count: Int) -> RankTraffic? {
        guard messageBytes(0) != nil else { return nil }
        precondition(hostSizes.allSatisfy { $0 > 0 } && rank >= 0 && rank < hostSizes.reduce(0, +))
        var first = 0, host = 0
        while rank >= first + hostSizes[host] { first += hostSizes[host]; host += 1 }
        // Inside the host: float32 through its binomial tree, as on a host of its own.
        var t = AllreduceAlgorithm.hierarchicalTraffic(rank: rank - first, hostSizes: [hostSizes[host]], count: count)
        if rank == first, hostSizes.count > 1, let ring = traffic(.ring, rank: host, ranks: hostSizes.count, count: count) {
            t.bytesSent += ring.bytesSent; t.bytesReceived += ring.bytesReceived
            t.messagesSent += ring.messagesSent; t.messagesReceived += ring.messagesReceived
        }
        return t
    }

    /// Top-k's allgather around the ring: every rank's k (index, value) pairs, 8 bytes
    /// each, pass through p - 1 hops, so each rank sends and receives (p - 1) x 8k bytes:
    /// it grows with the ranks, unlike an allreduce.
    public static func topkTraffic(ranks p: Int, count: Int, fraction: Double) -> RankTraffic {
        guard p > 1, count > 0 else { return .zero }
        let bytes = (p - 1) * 8 * topkEntries(count, fraction: fraction)
        return RankTraffic(bytesSent: bytes, bytesReceived: bytes, messagesSent: p - 1, messagesReceived: p - 1)
    }
}

public struct GradientCodecError: Error, CustomStringConvertible {
    public let description: String
}

extension GradientCodec: Codable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// PowerSGD's plan: which tensors travel as low-rank factors, and the bytes that follows.
public enum PowerSGDPlan {
    /// One compressed weight matrix: rows = the tensor's first dimension, cols = the rest.
    public struct Matrix: Equatable, Sendable {
        public let offset: Int, rows: Int, cols: Int, r: Int
        public var count: Int { rows * cols }
    }

    /// The tensors (offset, shape, count) of at least two dimensions that compress, at rank
    /// min(rank, rows, cols), when rows x cols > minCompressionRate x (rows + cols) x r
    /// (DDP's test with min_compression_rate, default 2; 0 compresses every matrix);
    /// vectors and small matrices go uncompressed.
    public static func matrices(tensors: [(offset: Int, shape: [Int], count: Int)], rank: Int,
                                minCompressionRate: Double) -> [Matrix] {
        tensors.compactMap { t in
            guard t.shape.count >= 2, t.shape[0] > 0 else { return nil }
            let rows = t.shape[0], cols = t.count / rows, r = min(rank, rows, cols)
            guard Double(rows * cols) > minCompressionRate * Double((rows + cols) * r) || minCompressionRate == 0 else { return nil }
            return Matrix(offset: t.offset, rows: rows, cols: cols, r: r)
        }
    }

    /// The two float32 allreduces of one bucket: the uncompressed entries and every P
    /// (rows x r), then every Q (cols x r). Matrices not wholly inside stay uncompressed.
    public static func allreduceCounts(bucket: Range<Int>, matrices: [Matrix]) -> (first: Int, second: Int) {
        let inside = matrices.filter { $0.offset >= bucket.lowerBound && $0.offset + $0.count <= bucket.upperBound }
        let compressed = inside.reduce(0) { $0 + $1.count }
        return (bucket.count - compressed + inside.reduce(0) { $0 + $1.rows * $1.r }, inside.reduce(0) { $0 + $1.cols * $1.r })
    }

    /// This rank's bytes for one bucket through `algorithm` (modelled for `mpi`, as `traffic`).
    public static func traffic(_ algorithm: AllreduceAlgorithm, rank: Int, ranks: Int, bucket: Range<Int>,
                               matrices: [Matrix]) -> RankTraffic {
        let counts = allreduceCounts(bucket: bucket, matrices: matrices)
        let a = algorithm.traffic(rank: rank, ranks: ranks, count: counts.first)
        let b = algorithm.traffic(rank: rank, ranks: ranks, count: counts.second)
        return RankTraffic(bytesSent: a.bytesSent + b.bytesSent, bytesReceived: a.bytesReceived + b.bytesReceived,
                           messagesSent: a.messagesSent + b.messagesSent, messagesReceived: a.messagesReceived + b.messagesReceived)
    }
}
