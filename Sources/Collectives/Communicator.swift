// The one object that talks to MPI. It owns MPI_COMM_WORLD for the life of the
// process, switches it to MPI_ERRORS_RETURN so every failure comes back through
// `mpiCheck`, and carries the traffic counters the point-to-point wrappers fill.
// Point-to-point calls live in PointToPoint.swift, collectives in Collective.swift.
import CMPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A handle on MPI_COMM_WORLD.
///
/// Not thread-safe: MPI is initialised with MPI_THREAD_SERIALIZED, so one thread at
/// a time may use the communicator (the trainer hands it to its exchange thread
/// between backward's start and the exchange's end). Every rank must
/// make the same sequence of collective calls with the same `maxMessageBytes`.
public final class Communicator {
    /// This process's rank in MPI_COMM_WORLD, in 0..<size.
    public let rank: Int
    /// Number of ranks in MPI_COMM_WORLD.
    public let size: Int
    /// MPI_Get_processor_name: the host this rank runs on.
    public let processorName: String
    /// Thread support level MPI granted (`allowsSerializedThreads` tells whether it is enough).
    public let threadLevel: Int32
    /// Hosts the ranks run on, as MPI sees them (MPI_COMM_TYPE_SHARED groups):
    /// 1 when every transfer goes through shared memory.
    public let hostCount: Int
    /// Ranks on this rank's host (its MPI_COMM_TYPE_SHARED group): they share its memory.
    public let ranksOnHost: Int
    /// Ranks per host in rank order when every host holds consecutive ranks (mpirun's
    /// --map-by slot, the default); nil for any other placement.
    public let hostSizes: [Int]?

    /// Largest payload of a single MPI message. Longer buffers are split into
    /// consecutive messages of this size (the last one shorter), both because MPI
    /// counts are Int32 and so that no single transfer pins hundreds of MB.
    /// Must be a positive multiple of 4 (every element size divides it) and equal on
    /// every rank. Default 64 MiB.
    public var maxMessageBytes: Int = 64 << 20 {
        didSet { precondition(maxMessageBytes >= 4 && maxMessageBytes % 4 == 0 && maxMessageBytes <= Int(Int32.max),
                              "maxMessageBytes must be a positive multiple of 4 that MPI can count (Int32)") }
    }

    /// Traffic since the last `takeCounters()`; see `TrafficCounters`.
    public private(set) var counters = TrafficCounters()

    let world: MPI_Comm
    private var finalized = false

    private init(world: MPI_Comm, threadLevel: Int32) throws {
        self.world = world
        self.threadLevel = threadLevel
        var r: Int32 = 0
        var s: Int32 = 0
        try mpiCheck(MPI_Comm_rank(world, &r), "MPI_Comm_rank")
        try mpiCheck(MPI_Comm_size(world, &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
        var name = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var length: Int32 = 0
        try mpiCheck(MPI_Get_processor_name(&name, &length), "MPI_Get_processor_name")
        processorName = String(decoding: name.prefix(Int(length)).map { UInt8(bitPattern: $0) },
                               as: UTF8.self)
        var local: MPI_Comm?
        try mpiCheck(MPI_Comm_split_type(world, cmpi_comm_type_shared(), r, cmpi_info_null(), &local),
                     "MPI_Comm_split_type")
        var localRank: Int32 = 0
        try mpiCheck(MPI_Comm_rank(local, &localRank), "MPI_Comm_rank")
        var localSize: Int32 = 0
        try mpiCheck(MPI_Comm_size(local, &localSize), "MPI_Comm_size")
        ranksOnHost = Int(localSize)
        try mpiCheck(MPI_Comm_free(&local), "MPI_Comm_free")
        var leader: Int32 = localRank == 0 ? 1 : 0, leaders: Int32 = 0
        try mpiCheck(MPI_Allreduce(&leader, &leaders, 1, cmpi_int32(), cmpi_sum(), world), "MPI_Allreduce")
        hostCount = Int(leaders)
        // Block placement: the local ranks read 0, 1, ..., 0, 1, ... host after host.
        var pair: [Int32] = [localRank, localSize], pairs = [Int32](repeating: 0, count: 2 * size)
        try mpiCheck(MPI_Allgather(&pair, 2, cmpi_int32(), &pairs, 2, cmpi_int32(), world), "MPI_Allgather(hosts)")
        var sizes: [Int] = [], first = 0, block = true
        while first < size && block {
            let n = Int(pairs[2 * first + 1])
            block = n > 0 && first + n <= size
            for j in 0..<(block ? n : 0) where pairs[2 * (first + j)] != Int32(j) || Int(pairs[2 * (first + j) + 1]) != n { block = false }
            sizes.append(n)
            first += n
        }
        hostSizes = block && sizes.count == hostCount ? sizes : nil
    }

    /// Initialises MPI (MPI_Init_thread, MPI_THREAD_SERIALIZED: a communication
    /// thread may make the calls while the main thread computes, never both at
    /// once) unless it already is, and sets MPI_ERRORS_RETURN on MPI_COMM_WORLD.
    /// Works without mpirun too (a singleton run: rank 0 of 1).
    public static func initialize() throws -> Communicator {
        var initialized: Int32 = 0
        try mpiCheck(MPI_Initialized(&initialized), "MPI_Initialized")
        var provided: Int32 = 0
        if initialized == 0 {
            try mpiCheck(MPI_Init_thread(nil, nil, cmpi_thread_serialized(), &provided), "MPI_Init_thread")
        } else {
            try mpiCheck(MPI_Query_thread(&provided), "MPI_Query_thread")
        }
        let world = cmpi_comm_world()!
        try mpiCheck(MPI_Comm_set_errhandler(world, cmpi_errors_return()), "MPI_Comm_set_errhandler")
        return try Communicator(world: world, threadLevel: provided)
    }

    /// Whether a thread other than the main one may make MPI calls (one at a time).
    public var allowsSerializedThreads: Bool { threadLevel >= cmpi_thread_serialized() }

    /// MPI_Finalize. Call once, after the last collective, on every rank.
    public func finalize() throws {
        guard !finalized else { return }
        finalized = true
        try mpiCheck(MPI_Finalize(), "MPI_Finalize")
    }

    /// MPI_Abort on MPI_COMM_WORLD: ends every rank with `code`. Use after an error
    /// on one rank, when the others would otherwise wait for it forever.
    public func abort(code: Int32) -> Never {
        MPI_Abort(world, code)
        exit(code)  // MPI_Abort should not return; make sure this rank ends anyway
    }

    /// MPI_Barrier on MPI_COMM_WORLD.
    public func barrier() throws {
        try Watchdog.shared.watch("MPI_Barrier", .everyRank) { try mpiCheck(MPI_Barrier(world), "MPI_Barrier") }
    }

    /// MPI_Wtime: seconds on a monotonic clock.
    public static func wallTime() -> Double { MPI_Wtime() }

    /// The two groups of a hierarchical allreduce: this rank's host (MPI_COMM_TYPE_SHARED,
    /// ranks in world order) and, on each host's lowest rank only, the host leaders (one
    /// per host, in world order). A collective call: every rank makes it at the same point.
    public func splitByHost() throws -> (host: Communicator, leaders: Communicator?) {
        var local: MPI_Comm?
        try mpiCheck(MPI_Comm_split_type(world, cmpi_comm_type_shared(), Int32(rank), cmpi_info_null(), &local),
                     "MPI_Comm_split_type(hierarchical)")
        var localRank: Int32 = 0
        try mpiCheck(MPI_Comm_rank(local, &localRank), "MPI_Comm_rank")
        var leaders: MPI_Comm?
        try mpiCheck(MPI_Comm_split(world, localRank == 0 ? 0 : cmpi_undefined(), Int32(rank), &leaders),
                     "MPI_Comm_split(host leaders)")
        let host = try Communicator(world: local!, threadLevel: threadLevel)
        host.maxMessageBytes = maxMessageBytes
        let leaderGroup = try leaders.flatMap { $0 == cmpi_comm_null() ? nil : try Communicator(world: $0, threadLevel: threadLevel) }
        leaderGroup?.maxMessageBytes = maxMessageBytes
        return (host, leaderGroup)
    }

    /// Adds another communicator's counted traffic to this one's (a hierarchical
    /// allreduce counts its sub-groups' messages as this rank's).
    public func absorbCounters(of other: Communicator) {
        counters = counters + other.takeCounters()
    }

    /// Returns the counters accumulated since the previous call and zeroes them.
    public func takeCounters() -> TrafficCounters {
        defer { counters = TrafficCounters() }
        return counters
    }

    func recordSent(bytes: Int) {
        counters.bytesSent += bytes
        counters.messagesSent += 1
    }

    func recordReceived(bytes: Int) {
        counters.bytesReceived += bytes
        counters.messagesReceived += 1
    }

    func recordSeconds(since start: Double) {
        counters.seconds += MPI_Wtime() - start
    }

    /// Elements of type `T` per message.
    @inline(__always)
    func maxMessageElements<T>(of _: T.Type) -> Int { maxMessageBytes / MemoryLayout<T>.stride }

    /// Number of messages a buffer of `count` elements travels as: at least one (an
    /// empty buffer is still one, empty, message), so both sides agree on the pattern.
    public func messageCount<T>(forElements count: Int, of type: T.Type) -> Int {
        let step = maxMessageElements(of: type)
        return count == 0 ? 1 : (count + step - 1) / step
    }

    /// Calls `body(offset, length)` for each message a buffer of `count` elements travels as.
    @inline(__always)
    func forEachMessage<T>(count: Int, of type: T.Type, _ body: (Int, Int) throws -> Void) rethrows {
        let step = maxMessageElements(of: type)
        var offset = 0
        repeat {
            let length = min(step, count - offset)
            try body(offset, length)
            offset += length
        } while offset < count
    }

    func checkPeer(_ peer: Int, _ call: String) throws {
        guard (0..<size).contains(peer) else {
            throw usageError(call, "rank \(peer) is outside 0..<\(size)")
        }
    }
}
