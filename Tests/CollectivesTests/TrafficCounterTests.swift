// The traffic counters' arithmetic, without MPI.
import Collectives
import Topology
import XCTest

final class TrafficCounterTests: XCTestCase {
    func testTrafficCountersAdd() {
        let a = TrafficCounters(bytesSent: 4, bytesReceived: 8, messagesSent: 1, messagesReceived: 2, seconds: 0.5)
        XCTAssertEqual(a + a, TrafficCounters(bytesSent: 8, bytesReceived: 16, messagesSent: 2,
                                              messagesReceived: 4, seconds: 1))
        XCTAssertEqual(a + .zero, a)
    }
    func testEveryAlgorithmMakesItself() {
        for algorithm in AllreduceAlgorithm.allCases {
            XCTAssertEqual(algorithm.make().algorithm, algorithm)
            XCTAssertEqual(algorithm.make(overlappingBackward: true).algorithm, algorithm)
        }
    }
}
