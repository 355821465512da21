import Analysis
import Topology
import XCTest

/// The compressed exchange's modelled time, written out by hand for known alpha, beta and
/// per-element codec costs: the ring's and the parameter server's, and the two-level
/// exchange at one rank per host, which is the ring.
final class CodecCostTests: XCTestCase {
    let network = NetworkPreset.calibrated(alpha: 1e-4, beta: 1e-8)
    let n = 1_000_000, p = 4

    func testFP16RingIsHalfTheBytesPlusTheArithmetic() throws {
        let t = try XCTUnwrap(CodecCost.seconds(.fp16, .ring, ranks: p, count: n, network: network, encode: 1, decode: 2))
        // 2 (p-1) alpha + 2 (p-1)/p x 2n bytes x beta + n ((p-1)/p (e + d) + e/p + d) ns.
        let expected = 6e-4 + 1.5 * 2e6 * 1e-8 + 1e6 * (0.75 * 3 + 0.25 + 2) * 1e-9
        XCTAssertEqual(t, expected, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(CodecCost.seconds(.fp16, .hierarchical, ranks: p, count: n, network: network, encode: 1, decode: 2)),
                       t, accuracy: 1e-15, "one rank per host: the leaders' ring")
    }

    func testEncodedParameterServerSerialisesTheServersLink() throws {
        let t = try XCTUnwrap(CodecCost.seconds(.int8, .ps, ranks: p, count: n, network: network, encode: 1, decode: 2))
        // int8: n bytes and a 4-byte scale per 4,096 elements a message; 2 (p-1) messages
        // through the server; a worker encodes n, the server decodes 3 n and encodes n, the worker decodes n.
        let message = Double(n + 4 * ((n + 4095) / 4096))
        let expected = 6 * (1e-4 + message * 1e-8) + 1e6 * (2 * 1 + 4 * 2) * 1e-9
        XCTAssertEqual(t, expected, accuracy: 1e-12)
        XCTAssertNil(CodecCost.seconds(.fp16, .mpi, ranks: p, count: n, network: network), "MPI_Allreduce adds float32 only")
    }
}
