// Who sends what to whom: the chunk partition of the ring allreduce and the
// binomial tree of the reduction-tree allreduce. Collectives uses the same
// definitions, so the modelled bytes here equal the counted bytes there.
// Ring: Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for clusters
// of workstations" (JPDC 2009). Tree: Iandola et al., "FireCaffe" (CVPR 2016).

/// The ring allreduce's split of `count` elements into `p` contiguous chunks.
///
/// Chunk `i` has `count / p + (i < count % p ? 1 : 0)` elements: the first
/// `count % p` chunks get one extra element. Chunk `i` starts at element
/// `i * (count / p) + min(i, count % p)`. With `count < p` the last chunks are
/// empty.
public enum RingPartition {
    /// Elements in chunk `index` (0..<p).
    public static func chunkCount(_ index: Int, parts p: Int, count: Int) -> Int {
        precondition(p > 0 && index >= 0 && index < p, "chunk \(index) of \(p)")
        return count / p + (index < count % p ? 1 : 0)
    }

    /// First element of chunk `index`.
    public static func chunkOffset(_ index: Int, parts p: Int, count: Int) -> Int {
        precondition(p > 0 && index >= 0 && index <= p, "chunk \(index) of \(p)")
        return index * (count / p) + min(index, count % p)
    }

    /// All chunk sizes, in order; they sum to `count`.
    public static func chunkCounts(parts p: Int, count: Int) -> [Int] {
        (0..<p).map { chunkCount($0, parts: p, count: count) }
    }

    /// Chunk rank `rank` sends at reduce-scatter step `step` (0..<p-1): (r - s) mod p.
    public static func reduceScatterChunk(rank: Int, step: Int, parts p: Int) -> Int {
        mod(rank - step, p)
    }

    /// Chunk rank `rank` sends at allgather step `step` (0..<p-1): (r + 1 - s) mod p.
    public static func allgatherChunk(rank: Int, step: Int, parts p: Int) -> Int {
        mod(rank + 1 - step, p)
    }

    static func mod(_ a: Int, _ n: Int) -> Int { ((a % n) + n) % n }
}

/// The binomial tree rooted at rank 0 used for reduce (leaves to root) and
/// broadcast (root to leaves).
///
/// Rank 0's children are 1, 2, 4, ... (< p). A rank r > 0 whose lowest set bit
/// is 2^j has parent r - 2^j and children r + 2^k for every k < j with
/// r + 2^k < p. Every rank but 0 has exactly one parent, so the tree has p - 1
/// edges and depth ceil(log2 p).
public enum BinomialTree {
    /// Children of `rank`, in increasing order.
    public static func children(of rank: Int, worldSize p: Int) -> [Int] {
        precondition(rank >= 0 && rank < p, "rank \(rank) of \(p)")
        var result: [Int] = []
        var step = 1
        // For rank 0 the loop runs until 2^k >= p; otherwise until 2^k reaches r's lowest bit.
        let limit = rank == 0 ? Int.max : (rank & -rank)
        while step < limit && rank + step < p {
            result.append(rank + step)
            step <<= 1
        }
        return result
    }

    /// Parent of `rank` (nil for the root).
    public static func parent(of rank: Int) -> Int? {
        rank == 0 ? nil : rank - (rank & -rank)
    }

    /// ceil(log2 p): rounds of a binomial reduce (or broadcast); 0 for p = 1.
    public static func depth(worldSize p: Int) -> Int {
        precondition(p > 0)
        var rounds = 0
        while (1 << rounds) < p { rounds += 1 }
        return rounds
    }
}
