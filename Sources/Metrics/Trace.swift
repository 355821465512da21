import Foundation

/// The phases of an iteration that the timeline shows.
public enum TracePhase: UInt8, CaseIterable {
    case data, forward, backward, allreduce, update, checkpoint, evaluate
    /// A gradient codec's arithmetic inside the exchange, on its own row (thread 1): with
    /// buckets it runs on the communication thread, during backward.
    case encode, decode
    public var name: String {
        switch self {
        case .data: return "data"
        case .forward: return "forward"
        case .backward: return "backward"
        case .allreduce: return "allreduce"
        case .update: return "sgd update"
        case .checkpoint: return "checkpoint"
        case .evaluate: return "evaluate"
        case .encode: return "codec encode"
        case .decode: return "codec decode"
        }
    }
    /// The trace row: 0 the training loop, 1 the codec.
    public var thread: Int { self == .encode || self == .decode ? 1 : 0 }
}

/// Records the phases of every iteration of one rank for a Chrome trace (the
/// format of Horovod's timeline; opens in Perfetto and chrome://tracing).
///
/// Recording appends one fixed-size value to storage reserved up front, so the
/// training loop neither allocates nor formats text; JSON is made once, at the end.
/// Past `capacity` events further ones are counted in `dropped`, not stored.
public final class TraceRecorder {
    struct Event { var phase: TracePhase; var start: Double; var duration: Double; var iteration: Int32; var bytes: Int }
    private var events: [Event] = []
    public let capacity: Int
    public let origin: Double
    public private(set) var dropped = 0

    /// - Parameter origin: the clock reading that becomes time 0 (taken right after a barrier on every rank).
    public init(capacity: Int, origin: Double) {
        self.capacity = capacity
        self.origin = origin
        events.reserveCapacity(capacity)
    }

    public var count: Int { events.count }

    @inline(__always)
    public func record(_ phase: TracePhase, from start: Double, to end: Double, iteration: Int, bytes: Int = 0) {
        guard events.count < capacity else { dropped += 1; return }
        events.append(Event(phase: phase, start: start, duration: end - start, iteration: Int32(iteration), bytes: bytes))
    }

    /// This rank's events as comma-separated Chrome trace objects (pid = rank: one row per rank).
    public func jsonEvents(rank: Int) -> String {
        var parts: [String] = []
        parts.reserveCapacity(events.count + 1)
        parts.append("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(rank),\"args\":{\"name\":\"rank \(rank)\"}}")
        if events.contains(where: { $0.phase.thread == 1 }) {
            parts.append("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(rank),\"tid\":1,\"args\":{\"name\":\"codec arithmetic\"}}")
        }
        for e in events {
            let ts = String(format: "%.3f", (e.start - origin) * 1e6), dur = String(format: "%.3f", e.duration * 1e6)
            var args = "\"iteration\":\(e.iteration)"
            if e.phase == .allreduce { args += ",\"bytes_sent\":\(e.bytes)" }
            parts.append("{\"name\":\"\(e.phase.name)\",\"cat\":\"train\",\"ph\":\"X\",\"ts\":\(ts),\"dur\":\(dur),\"pid\":\(rank),\"tid\":\(e.phase.thread),\"args\":{\(args)}}")
        }
        return parts.joined(separator: ",\n")
    }

    /// One trace file from every rank's `jsonEvents`.
    public static func document(_ perRank: [String]) -> Data {
        Data(("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n" + perRank.filter { !$0.isEmpty }.joined(separator: ",\n") + "\n]}\n").utf8)
    }
}
