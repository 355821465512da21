// FireCaffe reduction tree: F. Iandola, K. Ashraf, M. Moskewicz, K. Keutzer,
// "FireCaffe: near-linear acceleration of deep neural network training on
// compute clusters", CVPR 2016. Gradients are summed up a binomial tree to
// rank 0 and the sum is sent back down the same tree, using only point-to-point
// messages so every byte is counted. Works for any number of ranks.

/// The binomial tree rooted at rank 0 over `size` ranks: the parent of r > 0 is
/// r with its lowest set bit cleared; the children of r are r + m for each power
/// of two m below r's lowest set bit (every power of two for r = 0) with r + m < size.
struct BinomialTree {
    let rank: Int
    let size: Int

    var parent: Int? { rank == 0 ? nil : rank - (rank & -rank) }

    /// Children in ascending order of subtree size.
    var children: [Int] {
        var result: [Int] = []
        let limit = rank == 0 ? Int.max : (rank & -rank)
        var m = 1
        while m < limit && rank + m < size {
            result.append(rank + m)
            m <<= 1
        }
        return result
    }

    /// Tree edges at this rank: each carries one full buffer up and one down.
    var links: Int { children.count + (parent == nil ? 0 : 1) }
}

/// Binomial-tree reduce to rank 0, then binomial-tree broadcast of the sum.
///
/// Traffic (N = buffer bytes): a rank with c children and a parent sends and
/// receives (c + 1) N; rank 0 sends and receives c N; all ranks together send
/// 2(p - 1) N. Critical path 2 ceil(log2 p) messages of N bytes.
///
/// Determinism: the summation order is fixed by the tree (rank 0 adds the
/// subtrees of 1, 2, 4, ... in that order, each summed the same way), and every
/// rank ends with rank 0's bits, so the result is bit-identical on every rank
/// and from run to run for the same p.
public final class TreeAllreduce: GradientAllreduce {
    public var algorithm: AllreduceAlgorithm { .tree }
    private var scratch = StagingBuffer()
    static let upTag = 101
    static let downTag = 102

    public init() {}
    deinit { scratch.release() }

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws {
        guard comm.size > 1, buffer.count > 0 else { return }
        let tree = BinomialTree(rank: comm.rank, size: comm.size)
        let children = tree.children
        // Up: add each child's subtree sum, smallest subtree first, then pass ours on.
        let incoming = scratch.region(buffer.count)
        for child in children {
            try comm.receive(into: incoming, from: child, tag: Self.upTag)
            accumulate(incoming, into: buffer)
        }
        if let parent = tree.parent {
            try comm.send(buffer.readOnly, to: parent, tag: Self.upTag)
            // Down: the total arrives from the parent, replacing our partial sum.
            try comm.receive(into: buffer, from: parent, tag: Self.downTag)
        }
        // Largest subtree first: it has the most forwarding left to do.
        for child in children.reversed() {
            try comm.send(buffer.readOnly, to: child, tag: Self.downTag)
        }
    }
}
