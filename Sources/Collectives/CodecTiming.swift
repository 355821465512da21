// The time a gradient codec spends on arithmetic (encoding what it sends, decoding and
// adding what arrives), apart from the time it waits for the network: the issue's
// "encode/decode cost per iteration, measured and on the trace". The hook that owns one
// brackets each pass over the values; the exchange reads and resets it each iteration.
import Basics

/// Encoding and decoding seconds of one iteration, and the intervals themselves for the
/// trace (up to `capacity`; past it only the totals grow). Written by the one thread
/// that runs the hook, read after the exchange has finished (its semaphore orders them).
public final class CodecTiming {
    public enum Kind: UInt8 { case encode, decode }
    public struct Interval: Equatable { public let kind: Kind; public let start: Double; public let end: Double }

    public private(set) var encodeSeconds = 0.0, decodeSeconds = 0.0
    /// This iteration's intervals, in the order they ran (reserved once: no allocation).
    public private(set) var intervals: [Interval] = []
    public let capacity: Int
    /// Intervals this iteration that did not fit (their seconds are in the totals).
    public private(set) var dropped = 0

    public init(capacity: Int = 4096) {
        self.capacity = capacity
        intervals.reserveCapacity(capacity)
    }

    /// Starts an iteration: totals and intervals back to zero.
    public func reset() {
        encodeSeconds = 0; decodeSeconds = 0; dropped = 0
        intervals.removeAll(keepingCapacity: true)
    }

    /// Runs `body` and books its duration as `kind`.
    @inline(__always)
    public func measure<T>(_ kind: Kind, _ body: () throws -> T) rethrows -> T {
        let start = monotonicSeconds()
        let result = try body()
        book(kind, from: start, to: monotonicSeconds())
        return result
    }

    public func book(_ kind: Kind, from start: Double, to end: Double) {
        switch kind {
        case .encode: encodeSeconds += end - start
        case .decode: decodeSeconds += end - start
        }
        if intervals.count < capacity { intervals.append(Interval(kind: kind, start: start, end: end)) } else { dropped += 1 }
    }
}
