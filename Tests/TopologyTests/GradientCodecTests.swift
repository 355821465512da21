import Foundation
import Topology
import XCTest

final class GradientCodecTests: XCTestCase {
    func testParsingAndNames() throws {
        for text in ["none", "fp16", "bf16", "int8", "topk:0.001", "powersgd:2"] {
            XCTAssertEqual("\(try GradientCodec(parsing: text))", text)
        }
        XCTAssertEqual(try GradientCodec(parsing: "topk:0.01"), .topk(fraction: 0.01))
        for bad in ["", "int4", "topk", "topk:0", "topk:1.5", "topk:x", "powersgd", "powersgd:0", "powersgd:2.5", "fp16:3"] {
            XCTAssertThrowsError(try GradientCodec(parsing: bad), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix("--compression \(bad):"), "\(error)")
            }
        }
    }

    func testCodableAsItsName() throws {
        let codecs: [GradientCodec] = [.none, .int8, .topk(fraction: 0.001), .powersgd(rank: 4)]
        let data = try JSONEncoder().encode(codecs)
        XCTAssertEqual(String(decoding: data, as: UTF8.self), #"["none","int8","topk:0.001","powersgd:4"]"#)
        XCTAssertEqual(try JSONDecoder().decode([GradientCodec].self, from: data), codecs)
        XCTAssertThrowsError(try JSONDecoder().decode([GradientCodec].self, from: Data(#"["int3"]"#.utf8)))
    }

    func testMessageBytes() {
        XCTAssertEqual(GradientCodec.none.messageBytes(10), 40)
        XCTAssertEqual(GradientCodec.fp16.messageBytes(10), 20)
        XCTAssertEqual(GradientCodec.int8.messageBytes(0), 0)
        XCTAssertEqual(GradientCodec.int8.messageBytes(1), 5)
        XCTAssertEqual(GradientCodec.int8.messageBytes(4096), 4100)
        XCTAssertEqual(GradientCodec.int8.messageBytes(4097), 4105)
        XCTAssertNil(GradientCodec.topk(fraction: 0.1).messageBytes(10))
    }

    /// The float32 codec's traffic is the float algorithms' (the same formula two ways).
    func testNoneMatchesTheFloatFormulas() {
        for p in [2, 3, 4, 8] {
            for r in 0..<p {
                for algorithm in [AllreduceAlgorithm.ring, .tree] {
                    let t = GradientCodec.none.traffic(algorithm, rank: r, ranks: p, count: 100_003)!
                    XCTAssertEqual(t, algorithm.traffic(rank: r, ranks: p, count: 100_003), "\(algorithm) \(r)/\(p)")
                }
            }
        }
        XCTAssertNil(GradientCodec.int8.traffic(.mpi, rank: 0, ranks: 2, count: 10))
    }

    func testTopKBytesGrowWithTheRanks() {
        XCTAssertEqual(GradientCodec.topkEntries(1_000_000, fraction: 0.001), 1000)
        XCTAssertEqual(GradientCodec.topkEntries(10, fraction: 0.001), 1)
        XCTAssertEqual(GradientCodec.topkEntries(0, fraction: 0.5), 0)
        XCTAssertEqual(GradientCodec.topkTraffic(ranks: 8, count: 1_000_000, fraction: 0.001).bytesSent, 7 * 8 * 1000)
        XCTAssertEqual(GradientCodec.topkTraffic(ranks: 2, count: 1_000_000, fraction: 0.001).bytesSent, 8 * 1000)
    }
}
