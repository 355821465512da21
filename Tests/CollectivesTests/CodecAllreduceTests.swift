import Foundation
import TestSupport
import Topology
import XCTest

/// The encoded ring and tree (`CodecRingHook`, `CodecTreeHook`) under real mpirun through
/// allreduce-check: the same bits on every rank and from call to call, the counted bytes
/// equal to `GradientCodec.traffic` (fp16: exactly half the float ring's), the sum within
/// one encoding per hop, and with int8's error feedback the result plus every rank's
/// residual equal to the sum.
final class CodecAllreduceTests: XCTestCase {
    @discardableResult
    func check(_ codec: GradientCodec, _ algorithm: AllreduceAlgorithm, ranks p: Int, count: Int = 100_003,
               errorFeedback: Bool = false) throws -> [String: Any] {
        let run = try MPIRunner.run(ranks: p, program: "allreduce-check",
                                    arguments: ["--count", String(count), "--json", "--algorithms", algorithm.rawValue,
                                                "--codec", "\(codec)", "--iterations", "2"] + (errorFeedback ? ["--error-feedback"] : []))
        let label = "\(codec) \(algorithm.rawValue) np \(p)"
        XCTAssertEqual(run.status, 0, "\(label): \(run.stderr)")
        let json = try XCTUnwrap(run.jsonLines.first, run.stdout)
        XCTAssertEqual(json["passed"] as? Bool, true, "\(label): \(json)")
        XCTAssertEqual(json["codec"] as? String, "\(codec)")
        XCTAssertEqual(json["identical_across_ranks"] as? Bool, true, label)
        XCTAssertEqual(json["identical_across_calls"] as? Bool, true, label)
        let sent = try XCTUnwrap(json["bytes_sent"] as? [Int]), received = try XCTUnwrap(json["bytes_received"] as? [Int])
        for r in 0..<p {
            let expected = try XCTUnwrap(codec.traffic(algorithm, rank: r, ranks: p, count: count))
            XCTAssertEqual(sent[r], expected.bytesSent, "\(label) rank \(r)")
            XCTAssertEqual(received[r], expected.bytesReceived, "\(label) rank \(r)")
            if codec == .fp16 || codec == .bf16 {
                let float = try XCTUnwrap(algorithm.countedBytes(rank: r, ranks: p, count: count))
                XCTAssertEqual(sent[r] * 2, float.sent, "\(label) rank \(r): half the float32 bytes")
            }
        }
        if codec == .fp16 || codec == .bf16 {
            let unit = codec == .fp16 ? 0x1p-11 : 0x1p-8
            let rel = try XCTUnwrap(json["max_rel_error"] as? Double)
            XCTAssertLessThanOrEqual(rel, Double(p) * unit * 1.01, label)
            XCTAssertGreaterThan(rel, Double(p) * 0x1p-24, "\(label): the values were rounded to 16 bits")
        }
        return json
    }

    func testHalfPrecisionRingAndTreeAtTwoThreeFourAndEightRanks() throws {
        for p in [2, 3, 4, 8] {
            try check(.fp16, .ring, ranks: p)
            try check(.fp16, .tree, ranks: p)
        }
    }

    /// The encoded parameter server (`CodecServerHook`): workers send half to rank 0, rank 0
    /// sends the encoded total back; the same bits everywhere, bytes as `traffic(.ps, ...)`
    /// (rank 0 carries (p - 1) messages each way) and half of float32's.
    func testEncodedParameterServer() throws {
        for p in [2, 3, 4, 8] { try check(.fp16, .ps, ranks: p) }
        try check(.bf16, .ps, ranks: 3)
        let json = try check(.int8, .ps, ranks: 4, errorFeedback: true)
        let conservation = try XCTUnwrap(json["max_conservation_error"] as? Double)
        XCTAssertLessThan(conservation, try XCTUnwrap(json["max_rel_error"] as? Double) / 1000, "ps: the residuals hold what int8 lost")
    }

    func testBFloat16() throws {
        try check(.bf16, .ring, ranks: 3)
        try check(.bf16, .tree, ranks: 3)
        try check(.bf16, .ring, ranks: 4, count: 5)  // fewer elements than ranks: empty chunks
    }

    /// int8 at np 2, 3, 4, 8 on both: a byte an element plus a float32 scale per 4096 of
    /// each message, so about a quarter of float32's bytes.
    func testInt8RingAndTree() throws {
        for p in [2, 3, 4, 8] {
            for algorithm in [AllreduceAlgorithm.ring, .tree] {
                let json = try check(.int8, algorithm, ranks: p, count: 100_003)
                let sent = try XCTUnwrap(json["bytes_sent"] as? [Int])
                let float = try XCTUnwrap(algorithm.countedBytes(rank: 0, ranks: p, count: 100_003)).sent
                XCTAssertEqual(Double(sent[0]) / Double(float), 0.25, accuracy: 0.01, "int8 \(algorithm) np \(p)")
            }
        }
    }

    /// Error feedback conserves the gradient: what the result lacks is in the residuals.
    func testInt8ErrorFeedbackConservesTheSum() throws {
        for algorithm in [AllreduceAlgorithm.ring, .tree] {
            let json = try check(.int8, algorithm, ranks: 4, errorFeedback: true)
            let conservation = try XCTUnwrap(json["max_conservation_error"] as? Double)
            let error = try XCTUnwrap(json["max_rel_error"] as? Double)
            XCTAssertLessThan(conservation, error / 1000, "\(algorithm): the residuals hold what int8 lost")
        }
    }

    /// The two-level allreduce on one host (a binomial tree there) at np 2, 3, 4 and 8:
    /// the sum checked as every algorithm's, the counted bytes equal to
    /// `hierarchicalTraffic` (ClusterTests runs it across simulated hosts).
    func testHierarchicalOnOneHost() throws {
        for p in [2, 3, 4, 8] {
            let run = try MPIRunner.run(ranks: p, program: "allreduce-check",
                                        arguments: ["--count", "100003", "--json", "--algorithms", "hierarchical", "--iterations", "2"])
            XCTAssertEqual(run.status, 0, "np \(p): \(run.stderr)")
            XCTAssertEqual(run.jsonLines.count, 2, "exact and random")
            for json in run.jsonLines {
                XCTAssertEqual(json["passed"] as? Bool, true, "np \(p): \(json)")
                XCTAssertEqual(json["identical_across_ranks"] as? Bool, true)
                let sent = try XCTUnwrap(json["bytes_sent"] as? [Int])
                XCTAssertEqual(sent, (0..<p).map { AllreduceAlgorithm.hierarchicalTraffic(rank: $0, hostSizes: [p], count: 100_003).bytesSent })
            }
        }
    }

    func testCodecOffRingAndTreeIsRefused() throws {
        let run = try MPIRunner.run(ranks: 2, program: "allreduce-check", arguments: ["--codec", "fp16", "--algorithms", "mpi"])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("--codec runs on ring, tree, ps and hierarchical"), run.stderr)
    }
}
