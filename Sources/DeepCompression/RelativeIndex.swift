// Sparse positions as relative indices (Deep Compression, Fig. 2): each surviving weight
// stores the gap since the previous one in a fixed number of bits; a gap too large for
// them is bridged by filler entries that hold a zero weight at the largest step.

/// The (gap, value index) entries for the positions of a layer's non-zero weights.
public enum RelativeIndex {
    /// Entries for ascending `positions` with gaps of `bits` bits: each entry says "skip
    /// `gap` positions, then a weight" where gap = position - previous - 1 (previous = -1
    /// at the start). A gap above 2^bits - 1 first emits fillers of gap 2^bits - 1, each
    /// standing for a zero weight at the position it reaches. `isFiller` marks them.
    public static func encode(positions: [Int], bits: Int) -> (gaps: [Int], isFiller: [Bool]) {
        precondition(bits >= 1 && bits <= 16)
        let largest = (1 << bits) - 1
        var gaps: [Int] = [], filler: [Bool] = [], previous = -1
        for p in positions {
            precondition(p > previous, "positions must ascend")
            var gap = p - previous - 1
            while gap > largest {
                gaps.append(largest); filler.append(true)
                gap -= largest + 1  // the filler occupies the position after its gap
            }
            gaps.append(gap); filler.append(false)
            previous = p
        }
        return (gaps, filler)
    }

    /// Positions of every entry (fillers included) from the gaps: cumsum(gap + 1) - 1.
    /// nil when a position would pass `limit` (a corrupt file).
    public static func positions(gaps: [Int], limit: Int) -> [Int]? {
        var out: [Int] = [], p = -1
        out.reserveCapacity(gaps.count)
        for g in gaps {
            guard g >= 0 else { return nil }
            p += g + 1
            guard p < limit else { return nil }
            out.append(p)
        }
        return out
    }
}
