// Counted blocking point-to-point transfers: with the nonblocking ones in
// Transfers.swift, the only way the tree, ring and parameter-server algorithms
// move data, so their traffic is measured here. A buffer longer than
// `maxMessageBytes` travels as consecutive messages with the same tag; MPI's
// non-overtaking rule keeps them in order.
import CMPI

extension Communicator {
    /// Sends `buffer` to `destination` (blocking, MPI_Send per message).
    public func send<T: MPIElement>(_ buffer: UnsafeBufferPointer<T>, to destination: Int, tag: Int) throws {
        try checkPeer(destination, "send")
        let start = MPI_Wtime()
        defer { recordSeconds(since: start) }
        let base = buffer.baseAddress
        try forEachMessage(count: buffer.count, of: T.self) { offset, length in
            try Watchdog.shared.watch("MPI_Send", tag: tag, .one(destination)) {
                try mpiCheck(MPI_Send(base.map { $0 + offset }, Int32(length), T.mpiDatatype,
                                      Int32(destination), Int32(tag), world),
                             "MPI_Send(to \(destination), tag \(tag))")
            }
            recordSent(bytes: length * MemoryLayout<T>.stride)
        }
    }

    /// Receives exactly `buffer.count` elements from `source` into `buffer`
    /// (blocking); a message of any other length is an error.
    public func receive<T: MPIElement>(into buffer: UnsafeMutableBufferPointer<T>, from source: Int, tag: Int) throws {
        try checkPeer(source, "receive")
        let start = MPI_Wtime()
        defer { recordSeconds(since: start) }
        let base = buffer.baseAddress
        var status = MPI_Status()
        try forEachMessage(count: buffer.count, of: T.self) { offset, length in
            let call = "MPI_Recv(from \(source), tag \(tag))"
            try Watchdog.shared.watch("MPI_Recv", tag: tag, .one(source)) {
                try mpiCheck(MPI_Recv(base.map { $0 + offset }, Int32(length), T.mpiDatatype,
                                      Int32(source), Int32(tag), world, &status), call)
            }
            try checkLength(&status, expectedBytes: length * MemoryLayout<T>.stride, call)
            recordReceived(bytes: length * MemoryLayout<T>.stride)
        }
    }

    /// Throws unless the message behind `status` carried exactly `expectedBytes`.
    func checkLength(_ status: inout MPI_Status, expectedBytes: Int, _ call: String) throws {
        var received: Int32 = 0
        try mpiCheck(MPI_Get_count(&status, cmpi_byte(), &received), "MPI_Get_count")
        guard Int(received) == expectedBytes else {
            throw usageError(call, "received \(received) bytes, expected \(expectedBytes)")
        }
    }
}
