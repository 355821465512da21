/// How the gradient buffer is cut into buckets, as PyTorch DDP's reducer does it
/// (Li et al., VLDB 2020): at tensor boundaries, from the end of the buffer (the last
/// layers, whose gradients backward produces first), about `bucketBytes` each, the first
/// at most `firstBucketBytes`. The exchange and the cost model both cut here, so the
/// model's buckets are the ones the wire carries.
public enum GradientBuckets {
    /// DDP's first bucket: small, so the exchange starts early in backward.
    public static let firstBucketBytes = 1 << 20

    /// `--bucket-mb` in bytes as the exchange uses it: 0 for one exchange after backward.
    public static func bytes(megabytes: Double) -> Int { megabytes > 0 ? max(4, Int(megabytes * 1_048_576)) : 0 }

    /// Element ranges in exchange order (buffer end first) for tensors of `tensorCounts`
    /// elements of `elementSize` bytes laid out back to back; they tile the buffer with no
    /// gap and no overlap.
    public static func cut(tensorCounts: [Int], bucketBytes: Int, elementSize: Int = 4,
                           firstBucketBytes: Int = GradientBuckets.firstBucketBytes) -> [Range<Int>] {
        precondition(bucketBytes > 0)
        var cuts: [Range<Int>] = []
        var end = tensorCounts.reduce(0, +), size = 0
        var offset = end
        var limit = min(firstBucketBytes, bucketBytes)
        for count in tensorCounts.reversed() {
            offset -= count
            size += count * elementSize
            if size >= limit {
                cuts.append(offset..<end)
                end = offset; size = 0; limit = bucketBytes
            }
        }
        if end > 0 { cuts.append(0..<end) }
        return cuts
    }
}
