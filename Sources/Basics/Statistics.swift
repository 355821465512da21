// Order statistics for reported timings: every figure the project prints as a
// median comes from here, so all of them treat even counts and empty lists alike.

/// The median: the middle value, or the mean of the middle two for an even count;
/// nil for no values (the caller says what an empty measurement means).
public func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted(), mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
