// Counted nonblocking point-to-point transfers (MPI_Isend / MPI_Irecv), for
// algorithms that keep several transfers in flight. Bytes are counted when a
// transfer is posted, by the code that posts it, from the element's real size.
import CMPI

/// A reusable set of outstanding requests. Capacity grows on first use and is kept,
/// so steady-state calls allocate nothing.
public final class Transfers {
    var requests: [MPI_Request?] = []
    var statuses: [MPI_Status] = []
    /// Bytes each receive must deliver; -1 for sends.
    var expectedBytes: [Int] = []
    /// The rank at the other end of each request (the watchdog names it).
    var peers: [Int] = []
    private(set) var count = 0

    public init() {}

    /// Forgets completed transfers (all must have been waited for).
    func reset() { count = 0 }

    fileprivate func append(expectingBytes bytes: Int, peer: Int) -> Int {
        if count == requests.count {
            requests.append(cmpi_request_null()); statuses.append(MPI_Status()); expectedBytes.append(0); peers.append(0)
        }
        expectedBytes[count] = bytes
        peers[count] = peer
        count += 1
        return count - 1
    }
}

extension Communicator {
    /// Posts the receive of exactly `buffer.count` elements from `source`; returns the
    /// request indices to wait for.
    @discardableResult
    public func postReceive<T: MPIElement>(into buffer: UnsafeMutableBufferPointer<T>, from source: Int, tag: Int,
                                           in transfers: Transfers) throws -> Range<Int> {
        try checkPeer(source, "postReceive")
        let first = transfers.count, base = buffer.baseAddress
        try forEachMessage(count: buffer.count, of: T.self) { offset, length in
            let bytes = length * MemoryLayout<T>.stride
            let i = transfers.append(expectingBytes: bytes, peer: source)
            try mpiCheck(MPI_Irecv(base.map { $0 + offset }, Int32(length), T.mpiDatatype, Int32(source), Int32(tag),
                                   world, &transfers.requests[i]), "MPI_Irecv(from \(source), tag \(tag))")
            recordReceived(bytes: bytes)
        }
        return first..<transfers.count
    }

    /// Posts the send of `buffer` to `destination`; the buffer must not change until waited for.
    @discardableResult
    public func postSend<T: MPIElement>(_ buffer: UnsafeBufferPointer<T>, to destination: Int, tag: Int,
                                        in transfers: Transfers) throws -> Range<Int> {
        try checkPeer(destination, "postSend")
        let first = transfers.count, base = buffer.baseAddress
        try forEachMessage(count: buffer.count, of: T.self) { offset, length in
            let i = transfers.append(expectingBytes: -1, peer: destination)
            try mpiCheck(MPI_Isend(base.map { $0 + offset }, Int32(length), T.mpiDatatype,
                                   Int32(destination), Int32(tag), world, &transfers.requests[i]),
                         "MPI_Isend(to \(destination), tag \(tag))")
            recordSent(bytes: length * MemoryLayout<T>.stride)
        }
        return first..<transfers.count
    }

    /// Waits for the transfers in `range` (MPI_Waitall); a receive of the wrong length is an error.
    public func wait(_ range: Range<Int>, in transfers: Transfers) throws {
        guard !range.isEmpty else { return }
        let start = MPI_Wtime()
        defer { recordSeconds(since: start) }
        let n = Int32(range.count)
        try Watchdog.shared.watch("MPI_Waitall", .transfers(transfers, range)) {
            try transfers.requests.withUnsafeMutableBufferPointer { requests in
                try transfers.statuses.withUnsafeMutableBufferPointer { statuses in
                    try mpiCheck(MPI_Waitall(n, requests.baseAddress! + range.lowerBound, statuses.baseAddress! + range.lowerBound),
                                 "MPI_Waitall")
                }
            }
        }
        for i in range where transfers.expectedBytes[i] >= 0 {
            try checkLength(&transfers.statuses[i], expectedBytes: transfers.expectedBytes[i], "MPI_Irecv")
            transfers.expectedBytes[i] = -1  // checked; a later wait over it sees an empty status
        }
    }

    /// Waits for every transfer posted since the last reset, then resets.
    public func waitAll(_ transfers: Transfers) throws {
        try wait(0..<transfers.count, in: transfers)
        transfers.reset()
    }
}
