// Bytes are counted where they are sent: the point-to-point
// wrappers in PointToPoint.swift add to these counters, so tree, ring and
// parameter-server traffic is measured rather than inferred from a formula.
// MPI collectives (MPI_Allreduce, MPI_Bcast, MPI_Allgather, MPI_Gatherv) choose
// their own message pattern inside the library and are not counted.

/// Traffic seen by one rank since the counters were last taken.
///
/// Invariants: `bytesSent` is the sum of the payload sizes of every message this
/// rank sent through `Communicator.send`/`postSend`; one message is one MPI
/// send, and a buffer longer than `Communicator.maxMessageBytes` travels as
/// several messages. `seconds` is wall time spent inside counted calls (the
/// point-to-point wrappers and the native allreduce), so it includes waiting
/// for the peer.
public struct TrafficCounters: Equatable, Sendable, CustomStringConvertible {
    public var bytesSent: Int = 0
    public var bytesReceived: Int = 0
    public var messagesSent: Int = 0
    public var messagesReceived: Int = 0
    public var seconds: Double = 0

    public init(bytesSent: Int = 0, bytesReceived: Int = 0, messagesSent: Int = 0,
                messagesReceived: Int = 0, seconds: Double = 0) {
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
        self.messagesSent = messagesSent
        self.messagesReceived = messagesReceived
        self.seconds = seconds
    }

    public static let zero = TrafficCounters()

    /// Element-wise sum, for accumulating over iterations or ranks.
    public static func + (lhs: TrafficCounters, rhs: TrafficCounters) -> TrafficCounters {
        TrafficCounters(bytesSent: lhs.bytesSent + rhs.bytesSent,
                        bytesReceived: lhs.bytesReceived + rhs.bytesReceived,
                        messagesSent: lhs.messagesSent + rhs.messagesSent,
                        messagesReceived: lhs.messagesReceived + rhs.messagesReceived,
                        seconds: lhs.seconds + rhs.seconds)
    }

    public var description: String {
        "sent \(bytesSent) B in \(messagesSent) msgs, received \(bytesReceived) B in "
            + "\(messagesReceived) msgs, \(seconds) s"
    }
}
