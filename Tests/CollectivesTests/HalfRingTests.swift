import Foundation
import TestSupport
import Topology
import XCTest

/// The 16-bit ring (`HalfRingHook`) under real mpirun through allreduce-check: the same
/// bits on every rank and from call to call, 2 bytes an element on the wire (exactly half
/// of the float ring's counted bytes), and the sum within one 16-bit rounding per hop.
final class HalfRingTests: XCTestCase {
    func check(_ codec: String, ranks p: Int, count: Int = 100_003) throws {
        let run = try MPIRunner.run(ranks: p, program: "allreduce-check",
                                    arguments: ["--count", String(count), "--json", "--algorithms", "ring", "--codec", codec,
                                                "--iterations", "2"])
        XCTAssertEqual(run.status, 0, "\(codec) np \(p): \(run.stderr)")
        let json = try XCTUnwrap(run.jsonLines.first, run.stdout)
        let label = "\(codec) np \(p)"
        XCTAssertEqual(json["passed"] as? Bool, true, "\(label): \(json)")
        XCTAssertEqual(json["codec"] as? String, codec)
        XCTAssertEqual(json["bytes_per_element"] as? Int, 2)
        XCTAssertEqual(json["identical_across_ranks"] as? Bool, true, label)
        XCTAssertEqual(json["identical_across_calls"] as? Bool, true, label)
        let sent = try XCTUnwrap(json["bytes_sent"] as? [Int]), received = try XCTUnwrap(json["bytes_received"] as? [Int])
        for r in 0..<p {
            let float = try XCTUnwrap(AllreduceAlgorithm.ring.countedBytes(rank: r, ranks: p, count: count))
            XCTAssertEqual(sent[r] * 2, float.sent, "\(label) rank \(r): half the float ring's bytes")
            XCTAssertEqual(received[r] * 2, float.received, "\(label) rank \(r)")
        }
        let unit = codec == "fp16" ? 0x1p-11 : 0x1p-8
        let rel = try XCTUnwrap(json["max_rel_error"] as? Double)
        XCTAssertLessThanOrEqual(rel, Double(p) * unit * 1.01, label)
        XCTAssertGreaterThan(rel, Double(p) * 0x1p-24, "\(label): the values were rounded to 16 bits")
    }

    func testHalfRingAtTwoThreeFourAndEightRanks() throws {
        for p in [2, 3, 4, 8] { try check("fp16", ranks: p) }
    }

    func testBFloat16Ring() throws {
        try check("bf16", ranks: 3)
        try check("bf16", ranks: 4, count: 5)  // fewer elements than ranks: empty chunks
    }

    func testCodecOutsideTheRingIsRefused() throws {
        let run = try MPIRunner.run(ranks: 2, program: "allreduce-check", arguments: ["--codec", "fp16", "--algorithms", "tree"])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("--codec runs on the ring only"), run.stderr)
    }
}
