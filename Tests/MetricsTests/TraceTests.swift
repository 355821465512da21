import Foundation
import Metrics
import XCTest

final class TraceTests: XCTestCase {
    func testTraceIsValidChromeJSONWithOneRowPerRank() throws {
        var perRank: [String] = []
        for rank in 0..<2 {
            let t = TraceRecorder(capacity: 8, origin: 100)
            t.record(.forward, from: 100.001, to: 100.003, iteration: 0)
            t.record(.backward, from: 100.003, to: 100.007, iteration: 0)
            t.record(.allreduce, from: 100.007, to: 100.010, iteration: 0, bytes: 4096)
            t.record(.update, from: 100.010, to: 100.011, iteration: 0)
            perRank.append(t.jsonEvents(rank: rank))
        }
        let json = try JSONSerialization.jsonObject(with: TraceRecorder.document(perRank)) as! [String: Any]
        let events = json["traceEvents"] as! [[String: Any]]
        let complete = events.filter { $0["ph"] as? String == "X" }
        XCTAssertEqual(complete.count, 8)
        XCTAssertEqual(Set(complete.map { $0["pid"] as! Int }), [0, 1])
        let allreduce = complete.first { $0["name"] as? String == "allreduce" }!
        XCTAssertEqual((allreduce["args"] as! [String: Any])["bytes_sent"] as? Int, 4096)
        XCTAssertEqual(allreduce["ts"] as! Double, 7000, accuracy: 0.01, "microseconds from the origin")
        XCTAssertEqual(allreduce["dur"] as! Double, 3000, accuracy: 0.01)
        XCTAssertEqual(events.filter { $0["ph"] as? String == "M" }.count, 2, "a name row per rank")
    }

    func testEventsPastCapacityAreCountedNotStored() {
        let t = TraceRecorder(capacity: 2, origin: 0)
        for i in 0..<5 { t.record(.forward, from: Double(i), to: Double(i) + 0.5, iteration: i) }
        XCTAssertEqual(t.count, 2)
        XCTAssertEqual(t.dropped, 3)
    }
}
