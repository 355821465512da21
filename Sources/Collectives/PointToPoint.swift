// Counted point-to-point transfers of Float buffers: the only way the tree, ring
// and parameter-server algorithms move data, so their traffic is measured here.
// A buffer longer than `maxMessageBytes` travels as consecutive messages with the
// same tag; MPI's non-overtaking rule keeps them in order.
import CMPI

extension Communicator {
    /// Sends `buffer` to `destination` (blocking, MPI_Send per message).
    public func send(_ buffer: UnsafeBufferPointer<Float>, to destination: Int, tag: Int) throws {
        try checkPeer(destination, "send")
        let start = MPI_Wtime()
        defer { recordSeconds(since: start) }
        let base = buffer.baseAddress
        try forEachMessage(count: buffer.count) { offset, length in
            try mpiCheck(MPI_Send(base.map { $0 + offset }, Int32(length), cmpi_float(),
                                  Int32(destination), Int32(tag), world),
                         "MPI_Send(to \(destination), tag \(tag))")
            recordSent(bytes: length * MemoryLayout<Float>.stride)
        }
    }

    /// Receives exactly `buffer.count` floats from `source` into `buffer`
    /// (blocking); a message of any other length is an error.
    public func receive(into buffer: UnsafeMutableBufferPointer<Float>, from source: Int, tag: Int) throws {
        try checkPeer(source, "receive")
        let start = MPI_Wtime()
        defer { recordSeconds(since: start) }
        let base = buffer.baseAddress
        var status = MPI_Status()
        try forEachMessage(count: buffer.count) { offset, length in
            try mpiCheck(MPI_Recv(base.map { $0 + offset }, Int32(length), cmpi_float(),
                                  Int32(source), Int32(tag), world, &status),
                         "MPI_Recv(from \(source), tag \(tag))")
            try checkLength(&status, expected: length, "MPI_Recv(from \(source), tag \(tag))")
            recordReceived(bytes: length * MemoryLayout<Float>.stride)
        }
    }

    /// Sends `outgoing` to `destination` while receiving `incoming.count` floats
    /// from `source`, without deadlock whatever the peers do at the same time
    /// (MPI_Sendrecv, or MPI_Isend/MPI_Irecv + MPI_Waitall when either side
    /// needs more than one message). The two lengths may differ.
    public func sendReceive(_ outgoing: UnsafeBufferPointer<Float>, to destination: Int,
                            receivingInto incoming: UnsafeMutableBufferPointer<Float>, from source: Int,
                            tag: Int) throws {
        try checkPeer(destination, "sendReceive")
        try checkPeer(source, "sendReceive")
        let start = MPI_Wtime()
        defer { recordSeconds(since: start) }
        let sendMessages = messageCount(forElements: outgoing.count)
        let receiveMessages = messageCount(forElements: incoming.count)
        if sendMessages == 1 && receiveMessages == 1 {
            var status = MPI_Status()
            let call = "MPI_Sendrecv(to \(destination), from \(source), tag \(tag))"
            try mpiCheck(MPI_Sendrecv(outgoing.baseAddress, Int32(outgoing.count), cmpi_float(),
                                      Int32(destination), Int32(tag),
                                      incoming.baseAddress, Int32(incoming.count), cmpi_float(),
                                      Int32(source), Int32(tag), world, &status), call)
            try checkLength(&status, expected: incoming.count, call)
        } else {
            try exchangeNonblocking(outgoing, to: destination, incoming, from: source, tag: tag)
        }
        recordSentMessages(elements: outgoing.count)
        recordReceivedMessages(elements: incoming.count)
    }

    private func exchangeNonblocking(_ outgoing: UnsafeBufferPointer<Float>, to destination: Int,
                                     _ incoming: UnsafeMutableBufferPointer<Float>, from source: Int,
                                     tag: Int) throws {
        let call = "MPI_Isend/MPI_Irecv(to \(destination), from \(source), tag \(tag))"
        let total = messageCount(forElements: outgoing.count) + messageCount(forElements: incoming.count)
        if requests.count < total {
            requests = Array(repeating: cmpi_request_null(), count: total)
            statuses = Array(repeating: MPI_Status(), count: total)
        }
        var posted = 0
        // Receives first, so the peer's sends find them posted.
        let inBase = incoming.baseAddress
        try forEachMessage(count: incoming.count) { offset, length in
            try mpiCheck(MPI_Irecv(inBase.map { $0 + offset }, Int32(length), cmpi_float(),
                                   Int32(source), Int32(tag), world, &requests[posted]), call)
            posted += 1
        }
        let outBase = outgoing.baseAddress
        try forEachMessage(count: outgoing.count) { offset, length in
            try mpiCheck(MPI_Isend(outBase.map { $0 + offset }, Int32(length),
                                   cmpi_float(), Int32(destination), Int32(tag), world, &requests[posted]),
                         call)
            posted += 1
        }
        try mpiCheck(MPI_Waitall(Int32(posted), &requests, &statuses), "MPI_Waitall(" + call + ")")
    }

    private func recordSentMessages(elements: Int) {
        forEachMessage(count: elements) { _, length in recordSent(bytes: length * MemoryLayout<Float>.stride) }
    }

    private func recordReceivedMessages(elements: Int) {
        forEachMessage(count: elements) { _, length in
            recordReceived(bytes: length * MemoryLayout<Float>.stride)
        }
    }

    private func checkLength(_ status: inout MPI_Status, expected: Int, _ call: String) throws {
        var received: Int32 = 0
        try mpiCheck(MPI_Get_count(&status, cmpi_float(), &received), "MPI_Get_count")
        guard Int(received) == expected else {
            throw usageError(call, "received \(received) floats, expected \(expected)")
        }
    }
}
