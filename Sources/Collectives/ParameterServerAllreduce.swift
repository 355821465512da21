// Parameter server, the baseline FireCaffe (Iandola et al., CVPR 2016) compares
// its reduction tree against: every worker sends its gradients to one server
// (rank 0 here), which sums them and sends the sum back to every worker.
import Topology


/// All ranks to rank 0, rank 0 back to all, through point-to-point messages.
///
/// Traffic (N = buffer bytes): each worker sends N and receives N; rank 0
/// receives (p - 1) N and sends (p - 1) N, so all of the 2 (p - 1) N bytes
/// pass through rank 0's link, serialised: 2 (p - 1)(alpha + N beta).
///
/// Determinism: rank 0 adds the workers' buffers in rank order,
/// ((x0 + x1) + x2) + ..., and every worker receives rank 0's bits, so the
/// result is bit-identical on every rank and from run to run.
public final class ParameterServerAllreduce: GradientAllreduce {
    public var algorithm: AllreduceAlgorithm { .ps }
    private var scratch = StagingBuffer()
    static let gatherTag = 301
    static let scatterTag = 302

    public init() {}
    deinit { scratch.release() }

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws {
        guard comm.size > 1, buffer.count > 0 else { return }
        if comm.rank == 0 {
            let incoming = scratch.region(buffer.count)
            for worker in 1..<comm.size {
                try comm.receive(into: incoming, from: worker, tag: Self.gatherTag)
                accumulate(incoming, into: buffer)
            }
            for worker in 1..<comm.size {
                try comm.send(buffer.readOnly, to: worker, tag: Self.scatterTag)
            }
        } else {
            try comm.send(buffer.readOnly, to: 0, tag: Self.gatherTag)
            try comm.receive(into: buffer, from: 0, tag: Self.scatterTag)
        }
    }
}
