// MPI collectives the trainer needs around the gradient exchange: broadcasting
// initial weights and configuration, a start-up fingerprint check, gathering
// per-rank metrics, reducing scalars, and the native MPI_Allreduce. These run
// inside MPI, which picks its own message pattern, so none of them is counted in
// `TrafficCounters` (the native allreduce adds only its time).
import CMPI

extension Communicator {
    /// MPI_Bcast of `buffer` from `root`; every rank passes a buffer of the same length.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try broadcast(UnsafeMutableRawBufferPointer(buffer), root: root)
    }

    /// MPI_Bcast of raw bytes from `root`; every rank passes a buffer of the same length.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try checkPeer(root, "broadcast")
        let base = bytes.baseAddress
        var offset = 0
        while offset < bytes.count {
            let length = min(maxMessageBytes, bytes.count - offset)
            try Watchdog.shared.watch("MPI_Bcast", rank == root ? .everyRank : .one(root)) {
                try mpiCheck(MPI_Bcast(base.map { $0 + offset }, Int32(length), cmpi_byte(), Int32(root), world),
                             "MPI_Bcast(root \(root))")
            }
            offset += length
        }
    }

    /// MPI_Scatter: rank r receives `mine.count` floats from `all[r * mine.count ...]` on
    /// `root` (`all` is read on root only; every rank passes the same `mine.count`), in
    /// pieces of at most `maxMessageBytes` per rank.
    public func scatter(_ all: UnsafeBufferPointer<Float>?, into mine: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try checkPeer(root, "scatter")
        let n = mine.count
        if rank == root, (all?.count ?? -1) != n * size { throw usageError("scatter", "root passed \(all?.count ?? 0) floats for \(size) ranks of \(n)") }
        let piece = max(1, maxMessageBytes / 4)
        var offset = 0
        // Through a staging buffer on root: MPI_Scatter reads rank r's piece at r x length.
        var staging = [Float](repeating: 0, count: rank == root ? min(piece, n) * size : 0)
        while offset < n {
            let length = min(piece, n - offset)
            if rank == root, let all {
                for r in 0..<size { for i in 0..<length { staging[r * length + i] = all[r * n + offset + i] } }
            }
            try staging.withUnsafeBufferPointer { send in
                try Watchdog.shared.watch("MPI_Scatter", rank == root ? .everyRank : .one(root)) {
                    try mpiCheck(MPI_Scatter(send.baseAddress, Int32(length), cmpi_float(), mine.baseAddress.map { $0 + offset },
                                             Int32(length), cmpi_float(), Int32(root), world), "MPI_Scatter(root \(root))")
                }
            }
            offset += length
        }
    }

    /// Broadcasts a byte array of any length from `root`: on return every rank's
    /// `bytes` equals root's (the length travels first).
    public func broadcast(bytes: inout [UInt8], root: Int) throws {
        var length = [UInt64(bytes.count)]
        try length.withUnsafeMutableBytes { try broadcast($0, root: root) }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length[0])) }
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// MPI_Allgather of a fixed-size array: result[r] is rank r's `values`.
    /// Throws if ranks pass arrays of different lengths (checked first).
    public func allgather(_ values: [UInt64]) throws -> [[UInt64]] {
        let lengths = try allgatherScalar(UInt64(values.count))
        guard Set(lengths).count == 1 else {
            throw usageError("allgather", "ranks passed different lengths \(lengths)")
        }
        let n = values.count
        guard n > 0 else { return Array(repeating: [], count: size) }
        guard n * size <= Int(Int32.max) else { throw usageError("allgather", "\(n * size) values overflow Int32") }
        var flat = [UInt64](repeating: 0, count: n * size)
        try values.withUnsafeBufferPointer { mine in
            try flat.withUnsafeMutableBufferPointer { all in
                try Watchdog.shared.watch("MPI_Allgather", .everyRank) {
                    try mpiCheck(MPI_Allgather(mine.baseAddress, Int32(n), cmpi_uint64(),
                                               all.baseAddress, Int32(n), cmpi_uint64(), world), "MPI_Allgather")
                }
            }
        }
        return (0..<size).map { Array(flat[($0 * n)..<($0 * n + n)]) }
    }

    /// Gathers a byte array of any length from every rank to `root` (MPI_Gatherv).
    /// Returns rank order arrays on `root`, nil on every other rank.
    public func gatherBytes(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        try checkPeer(root, "gatherBytes")
        var myLength = Int32(clamping: bytes.count)
        var lengths = [Int32](repeating: 0, count: rank == root ? size : 0)
        try Watchdog.shared.watch("MPI_Gather", rank == root ? .everyRank : .one(root)) {
            try mpiCheck(MPI_Gather(&myLength, 1, cmpi_int32(), &lengths, 1, cmpi_int32(), Int32(root), world),
                         "MPI_Gather(lengths, root \(root))")
        }
        var displacements = [Int32](repeating: 0, count: lengths.count)
        var total = 0
        for r in 0..<lengths.count {
            displacements[r] = Int32(clamping: total)
            total += Int(lengths[r])
        }
        // Every rank must call MPI_Gatherv even if root would reject the total, so
        // an oversize total is reported after the call on root only.
        let fits = total <= Int(Int32.max) && bytes.count <= Int(Int32.max)
        var all = [UInt8](repeating: 0, count: fits ? max(total, 1) : 1)
        try bytes.withUnsafeBufferPointer { mine in
            try Watchdog.shared.watch("MPI_Gatherv", rank == root ? .everyRank : .one(root)) {
                try mpiCheck(MPI_Gatherv(mine.baseAddress, myLength, cmpi_byte(), &all, &lengths, &displacements,
                                         cmpi_byte(), Int32(root), world), "MPI_Gatherv(root \(root))")
            }
        }
        guard rank == root else { return nil }
        guard fits else { throw usageError("gatherBytes", "gathered \(total) bytes overflow Int32") }
        return (0..<size).map { r in
            let start = Int(displacements[r])
            return Array(all[start..<(start + Int(lengths[r]))])
        }
    }

    /// The maximum of `value` over all ranks (e.g. the slowest rank's time).
    public func allreduceMax(_ value: Double) throws -> Double {
        try allreduceDoubles([value], op: cmpi_max(), "MPI_Allreduce(max)")[0]
    }

    /// The sum of `value` over all ranks.
    public func allreduceSum(_ value: Double) throws -> Double {
        try allreduceDoubles([value], op: cmpi_sum(), "MPI_Allreduce(sum)")[0]
    }

    /// Element-wise sum over all ranks (e.g. loss and correct-count together).
    public func allreduceSum(_ values: [Double]) throws -> [Double] {
        try allreduceDoubles(values, op: cmpi_sum(), "MPI_Allreduce(sum)")
    }

    /// Native MPI_Allreduce(MPI_IN_PLACE, MPI_SUM) of `buffer`, in messages of at
    /// most `maxMessageBytes` (each an independent allreduce). Adds its time, but
    /// no bytes, to the counters: what MPI sends is not observable from here.
    public func nativeAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard size > 1, let base = buffer.baseAddress else { return }
        let start = MPI_Wtime()
        defer { recordSeconds(since: start) }
        try forEachMessage(count: buffer.count, of: Float.self) { offset, length in
            try Watchdog.shared.watch("MPI_Allreduce(gradient)", .everyRank) {
                try mpiCheck(MPI_Allreduce(cmpi_in_place(), base + offset, Int32(length), cmpi_float(),
                                           cmpi_sum(), world), "MPI_Allreduce(in place, sum)")
            }
        }
    }

    private func allgatherScalar(_ value: UInt64) throws -> [UInt64] {
        var mine = value
        var all = [UInt64](repeating: 0, count: size)
        try Watchdog.shared.watch("MPI_Allgather", .everyRank) {
            try mpiCheck(MPI_Allgather(&mine, 1, cmpi_uint64(), &all, 1, cmpi_uint64(), world), "MPI_Allgather(length)")
        }
        return all
    }

    private func allreduceDoubles(_ values: [Double], op: MPI_Op, _ call: String) throws -> [Double] {
        var result = values
        guard !values.isEmpty else { return result }
        try Watchdog.shared.watch("MPI_Allreduce", .everyRank) {
            try mpiCheck(MPI_Allreduce(cmpi_in_place(), &result, Int32(values.count), cmpi_double(), op, world), call)
        }
        return result
    }
}

/// One small nonblocking MPI_Iallreduce(MAX) of an Int32 in flight at a time: a control
/// value (a stop request) every rank learns one iteration later without a blocking
/// round trip of its own. Posted and completed on whichever thread holds MPI.
public final class ControlAllreduce {
    private let comm: Communicator
    private let send = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private let receive = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private var request: MPI_Request? = cmpi_request_null()
    public private(set) var pending = false

    public init(comm: Communicator) { self.comm = comm }
    deinit { send.deallocate(); receive.deallocate() }

    /// Posts the maximum of `value` over all ranks; every rank must post at the same point.
    public func post(_ value: Int32) throws {
        precondition(!pending, "ControlAllreduce: one at a time")
        send.pointee = value
        try mpiCheck(MPI_Iallreduce(send, receive, 1, cmpi_int32(), cmpi_max(), comm.world, &request), "MPI_Iallreduce(control)")
        pending = true
    }

    /// Waits for the posted allreduce and returns the maximum over all ranks.
    public func finish() throws -> Int32 {
        precondition(pending, "ControlAllreduce: nothing posted")
        pending = false
        try Watchdog.shared.watch("MPI_Wait(control)", .everyRank) {
            try mpiCheck(MPI_Wait(&request, cmpi_status_ignore()), "MPI_Wait(control)")
        }
        return receive.pointee
    }
}
