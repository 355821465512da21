// Ping-pong between ranks 0 and 1 over the counted point-to-point calls the
// allreduce algorithms use, to calibrate the alpha-beta model on the transport
// in use. Library code: returns timings, never prints.

/// Round trips of one message size, as rank 0 timed them.
public struct PingPongSample: Sendable {
    /// Bytes of one message (one way); a multiple of 4 (Float payloads).
    public var bytes: Int
    /// Seconds of each timed round trip (rank 0 -> 1 -> 0), MPI_Wtime.
    public var roundTrips: [Double]
}

public enum PingPong {
    /// 4 B, 16 B, 64 B, ... 64 MiB: powers of 4.
    public static let defaultSizes: [Int] = (0...12).map { 4 << (2 * $0) }

    /// Default repetitions for a size: many for small messages, fewer for large
    /// ones, so a full run takes a few seconds on shared memory.
    public static func defaultRepetitions(bytes: Int) -> Int {
        switch bytes {
        case ..<65_536: return 200
        case ..<1_048_576: return 50
        case ..<16_777_216: return 20
        default: return 7
        }
    }

    /// Runs the ping-pong on every rank of `comm` (at least 2): rank 0 sends
    /// `bytes` to rank 1, which sends them back; `warmup` untimed round trips,
    /// then `repetitions(bytes)` timed ones per size, after a barrier. Ranks other
    /// than 0 and 1 only join the barriers. Returns the samples on rank 0 and an
    /// empty array elsewhere. Sizes must be positive multiples of 4 and not exceed
    /// `comm.maxMessageBytes` if one message per leg is wanted (longer ones split).
    ///
    /// `bothWays`: ranks 0 and 1 send `bytes` to each other at the same moment, over the
    /// one connection between them, and a "round trip" is two such exchanges, so half of
    /// it is the time `bytes` take to cross while the same amount comes the other way:
    /// what a pairwise exchange step (Rabenseifner, recursive doubling, a 2-rank ring) costs.
    public static func run(on comm: Communicator, sizes: [Int] = defaultSizes,
                           repetitions: (Int) -> Int = defaultRepetitions(bytes:),
                           warmup: Int = 3, bothWays: Bool = false) throws -> [PingPongSample] {
        guard comm.size >= 2 else {
            throw usageError("PingPong.run", "needs at least 2 ranks, have \(comm.size)")
        }
        for s in sizes where s <= 0 || s % 4 != 0 {
            throw usageError("PingPong.run", "message size \(s) is not a positive multiple of 4 bytes")
        }
        let largest = (sizes.max() ?? 4) / 4
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: largest)
        buffer.initialize(repeating: 1)
        let incoming = UnsafeMutableBufferPointer<Float>.allocate(capacity: bothWays ? largest : 0)
        incoming.initialize(repeating: 0)
        defer { buffer.deallocate(); incoming.deallocate() }
        let transfers = Transfers()
        var samples: [PingPongSample] = []
        let tag = 7
        for bytes in sizes {
            let count = bytes / 4
            let message = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
            let reps = max(1, repetitions(bytes))
            try comm.barrier()
            var times: [Double] = []
            times.reserveCapacity(reps)
            for i in 0..<(warmup + reps) where bothWays && comm.rank < 2 {
                let start = Communicator.wallTime()
                for _ in 0..<2 {
                    transfers.reset()
                    try comm.postReceive(into: UnsafeMutableBufferPointer(rebasing: incoming[0..<count]), from: 1 - comm.rank,
                                         tag: tag, in: transfers)
                    try comm.postSend(UnsafeBufferPointer(message), to: 1 - comm.rank, tag: tag, in: transfers)
                    try comm.waitAll(transfers)
                }
                if comm.rank == 0 && i >= warmup { times.append(Communicator.wallTime() - start) }
            }
            for i in 0..<(warmup + reps) where !bothWays {
                if comm.rank == 0 {
                    let start = Communicator.wallTime()
                    try comm.send(UnsafeBufferPointer(message), to: 1, tag: tag)
                    try comm.receive(into: message, from: 1, tag: tag)
                    if i >= warmup { times.append(Communicator.wallTime() - start) }
                } else if comm.rank == 1 {
                    try comm.receive(into: message, from: 0, tag: tag)
                    try comm.send(UnsafeBufferPointer(message), to: 0, tag: tag)
                }
            }
            if comm.rank == 0 { samples.append(PingPongSample(bytes: bytes, roundTrips: times)) }
        }
        try comm.barrier()
        return samples
    }
}
