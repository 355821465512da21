// The ring allreduce's chunks: P. Patarasuk and X. Yuan, "Bandwidth optimal
// all-reduce algorithms for clusters of workstations", JPDC 69(2), 2009.
// The collectives move these chunks; the traffic formulas count them.

/// The split of `count` elements into `parts` contiguous chunks: chunk i has
/// floor(count / parts) elements plus one if i < count % parts, starting at
/// i * floor(count / parts) + min(i, count % parts). With count < parts the last
/// chunks are empty.
public struct RingPartition: Equatable, Sendable {
    public let count: Int
    public let parts: Int

    @inlinable public init(count: Int, parts: Int) {
        precondition(parts > 0 && count >= 0)
        self.count = count
        self.parts = parts
    }

    /// Elements in chunk `i` (0..<parts).
    @inlinable @inline(__always)
    public func length(_ i: Int) -> Int { count / parts + (i < count % parts ? 1 : 0) }
    /// First element of chunk `i` (0...parts).
    @inlinable @inline(__always)
    public func offset(_ i: Int) -> Int { i * (count / parts) + min(i, count % parts) }

    /// All chunk lengths, in order; they sum to `count`.
    public var lengths: [Int] { (0..<parts).map(length) }

    /// `i` mod parts, for chunk indices that step below zero.
    @inlinable @inline(__always)
    public func wrap(_ i: Int) -> Int { ((i % parts) + parts) % parts }

    /// Chunk rank r sends at reduce-scatter step s (0..<p-1): (r - s) mod p; after
    /// p - 1 steps rank r holds the full sum of chunk (r + 1) mod p.
    public func reduceScatterChunk(rank r: Int, step s: Int) -> Int { wrap(r - s) }

    /// Chunk rank r sends at allgather step s (0..<p-1): (r + 1 - s) mod p.
    public func allgatherChunk(rank r: Int, step s: Int) -> Int { wrap(r + 1 - s) }

    /// Elements rank r sends and receives in one allreduce (p > 1). Reduce-scatter
    /// sends every chunk except (r+1) mod p and receives every chunk except r;
    /// allgather sends every chunk except (r+2) mod p and receives every chunk
    /// except (r+1) mod p. So sent = 2 count - c[(r+1)%p] - c[(r+2)%p] and
    /// received = 2 count - c[r] - c[(r+1)%p]: 2 (p-1)/p count up to rounding.
    public func elementsMoved(by r: Int) -> (sent: Int, received: Int) {
        (2 * count - length(wrap(r + 1)) - length(wrap(r + 2)),
         2 * count - length(wrap(r)) - length(wrap(r + 1)))
    }
}
