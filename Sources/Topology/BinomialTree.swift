// The reduction tree of F. Iandola, K. Ashraf, M. Moskewicz, K. Keutzer,
// "FireCaffe: near-linear acceleration of deep neural network training on compute
// clusters", CVPR 2016: a binomial tree rooted at rank 0, used up (reduce) and down
// (broadcast). The collectives walk it; the traffic formulas count its edges.

/// Rank `rank`'s place in the binomial tree over `size` ranks: the parent of r > 0
/// is r with its lowest set bit cleared; the children of r are r + m for each power
/// of two m below r's lowest set bit (every power of two for r = 0) with r + m < size.
/// Every rank but 0 has one parent: p - 1 edges, depth ceil(log2 p).
public struct BinomialTree: Equatable, Sendable {
    public let rank: Int
    public let size: Int

    /// Floats per segment of the pipelined tree across hosts (the collective's schedule
    /// and the cost model both read it).
    public static let networkSegmentElements = 1 << 15

    @inlinable public init(rank: Int, size: Int) {
        precondition(size > 0 && rank >= 0 && rank < size, "rank \(rank) of \(size)")
        self.rank = rank
        self.size = size
    }

    @inlinable public var parent: Int? { rank == 0 ? nil : rank - (rank & -rank) }

    /// Number of children: r + 1, r + 2, r + 4, ... below r's lowest set bit and `size`.
    @inlinable public var childCount: Int {
        let limit = rank == 0 ? Int.max : (rank & -rank)
        var m = 1, n = 0
        while m < limit && rank + m < size { n += 1; m <<= 1 }
        return n
    }

    /// Child `c` (0..<childCount): r + 2^c, so children come in ascending subtree size.
    @inlinable @inline(__always)
    public func child(_ c: Int) -> Int { rank + (1 << c) }

    /// The children in increasing order.
    public var children: [Int] { (0..<childCount).map(child) }

    /// Tree edges at this rank: each carries one full buffer up and one down.
    public var links: Int { childCount + (parent == nil ? 0 : 1) }

    /// ceil(log2 p): rounds of a binomial reduce (or broadcast); 0 for p = 1.
    public static func depth(size p: Int) -> Int {
        precondition(p > 0)
        var rounds = 0
        while (1 << rounds) < p { rounds += 1 }
        return rounds
    }
}
