// Which images each rank trains on at each step: identical on every rank
// given the seed, with no communication.
//
// Semantics (data parallelism with a global batch B over p ranks):
//   - each epoch visits a permutation of 0..<count drawn from (seed, epoch);
//   - step k of an epoch uses order[k*B ..< (k+1)*B]; the last count % B
//     images of the permutation are dropped (a different set each epoch);
//   - rank r takes elements [r*B/p ..< (r+1)*B/p] of that global batch, so the
//     ranks' slices concatenated in rank order are exactly the batch one
//     process with batch B would use.

import Basics
import Foundation


/// Number of full global batches in one epoch; the remainder is dropped.
public func stepsPerEpoch(count: Int, globalBatch: Int) -> Int {
    precondition(globalBatch > 0, "global batch must be positive")
    return count / globalBatch
}

/// Writes the permutation of 0..<order.count for `(seed, epoch)` into `order`
/// (Fisher-Yates driven by SplitMix64). Allocates nothing.
public func fillShuffledOrder(_ order: UnsafeMutableBufferPointer<Int>, epoch: Int, seed: UInt64) {
    var rng = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &* 0xD1B5_4A32_D192_ED03))
    for i in order.indices { order[i] = i }
    var i = order.count - 1
    while i > 0 {
        order.swapAt(i, rng.next(below: i + 1))
        i -= 1
    }
}

/// The permutation of 0..<count visited in `epoch`; equal on every rank for the same seed.
public func shuffledOrder(count: Int, epoch: Int, seed: UInt64) -> [Int] {
    var order = [Int](repeating: 0, count: count)
    order.withUnsafeMutableBufferPointer { fillShuffledOrder($0, epoch: epoch, seed: seed) }
    return order
}

/// This rank's part of the global batch at step `iteration` of an epoch:
/// `order[k*B + r*B/p ..< k*B + (r+1)*B/p]` with k = iteration % stepsPerEpoch
/// (so a global iteration counter may be passed too). When p does not divide
/// B, slice sizes differ by at most one.
public func shard(of order: [Int], rank: Int, worldSize: Int, globalBatch: Int,
                  iteration: Int) -> ArraySlice<Int> {
    order[shardRange(count: order.count, rank: rank, worldSize: worldSize,
                     globalBatch: globalBatch, iteration: iteration)]
}

func shardRange(count: Int, rank: Int, worldSize: Int, globalBatch: Int, iteration: Int) -> Range<Int> {
    precondition(worldSize > 0 && rank >= 0 && rank < worldSize, "rank \(rank) outside 0..<\(worldSize)")
    let steps = stepsPerEpoch(count: count, globalBatch: globalBatch)
    precondition(steps > 0, "\(count) images cannot fill one global batch of \(globalBatch)")
    let start = (iteration % steps) * globalBatch
    return start + rank * globalBatch / worldSize ..< start + (rank + 1) * globalBatch / worldSize
}

/// Per-rank batch indices for every iteration of a run, iterations counted
/// from 0 across epochs (epoch = iteration / stepsPerEpoch).
///
/// Caches the current epoch's order: steady-state calls allocate nothing, and
/// an epoch change reshuffles in place (unless a caller still holds a slice of
/// the old order, which copy-on-write then preserves).
public struct BatchSchedule {
    public let count: Int
    public let globalBatch: Int
    public let worldSize: Int
    public let rank: Int
    public let seed: UInt64
    /// false: every epoch visits 0..<count in order (e.g. for evaluation).
    public let shuffle: Bool
    public let stepsPerEpoch: Int

    private var order: [Int]
    private var cachedEpoch = -1

    /// - Precondition: `count >= globalBatch > 0`, `0 <= rank < worldSize`.
    public init(count: Int, globalBatch: Int, worldSize: Int = 1, rank: Int = 0, seed: UInt64,
                shuffle: Bool = true) {
        precondition(worldSize > 0 && rank >= 0 && rank < worldSize, "rank \(rank) outside 0..<\(worldSize)")
        self.count = count
        self.globalBatch = globalBatch
        self.worldSize = worldSize
        self.rank = rank
        self.seed = seed
        self.shuffle = shuffle
        self.stepsPerEpoch = Datasets.stepsPerEpoch(count: count, globalBatch: globalBatch)
        precondition(stepsPerEpoch > 0, "\(count) images cannot fill one global batch of \(globalBatch)")
        self.order = Array(0..<count)
    }

    /// Images this rank processes per step (r*B/p ..< (r+1)*B/p).
    public var localBatch: Int { (rank + 1) * globalBatch / worldSize - rank * globalBatch / worldSize }

    /// Position in the global batch of this rank's first image (r*B/p): what keys
    /// per-image draws (dropout) so they do not depend on how the batch is split.
    public var firstInGlobalBatch: Int { rank * globalBatch / worldSize }

    public func epoch(ofIteration i: Int) -> Int { i / stepsPerEpoch }

    /// This rank's indices at global iteration `i` (from 0, across epochs).
    public mutating func indices(forIteration i: Int) -> ArraySlice<Int> {
        precondition(i >= 0, "iteration \(i) is negative")
        let epoch = i / stepsPerEpoch
        if epoch != cachedEpoch {
            if shuffle {
                let seed = self.seed
                order.withUnsafeMutableBufferPointer { fillShuffledOrder($0, epoch: epoch, seed: seed) }
            }
            cachedEpoch = epoch
        }
        return order[shardRange(count: count, rank: rank, worldSize: worldSize,
                                globalBatch: globalBatch, iteration: i)]
    }
}
