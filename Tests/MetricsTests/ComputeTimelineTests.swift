import Foundation
import Metrics
import TestSupport
import XCTest

final class ComputeTimelineTests: XCTestCase {
    let timeline = ComputeTimeline(
        model: "v1.1", classes: 10, inputSize: 32, batch: 4, blasThreads: 1, cpus: "1", parameters: 30, iterations: 2,
        forwardSeconds: 0.01, layers: [.init(name: "conv1", backwardSeconds: 0.02, tensorCounts: [20, 10]),
                                       .init(name: "relu", backwardSeconds: 0.001, tensorCounts: [])],
        updateSeconds: 0.001, stepSeconds: 0.032)

    func testRoundTripAndSums() throws {
        let dir = TestPaths.temporaryDirectory("timeline")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.json").path
        try timeline.write(to: path)
        XCTAssertEqual(try ComputeTimeline.load(path), timeline)
        var coded = timeline
        coded.codec = .init(codec: "powersgd:2", bucketMB: 25, buckets: [
            .init(count: 30, firstCount: 12, secondCount: 4, beforeSeconds: 0.001, betweenSeconds: 0.0005, afterSeconds: 0.002)])
        try coded.write(to: path)
        XCTAssertEqual(try ComputeTimeline.load(path), coded)
        XCTAssertEqual(coded.codec!.buckets[0].arithmeticSeconds, 0.0035, accuracy: 1e-15)
        XCTAssertEqual(timeline.backwardSeconds, 0.021, accuracy: 1e-15)
        XCTAssertEqual(timeline.replayedStepSeconds, 0.032, accuracy: 1e-15)
        XCTAssertEqual(timeline.tensorCounts, [20, 10])
    }

    func testBadFilesAreRefusedNamingTheFile() throws {
        let dir = TestPaths.temporaryDirectory("timeline-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        func refused(_ edit: (inout ComputeTimeline) -> Void, _ expected: String) throws {
            var t = timeline
            edit(&t)
            let path = dir.appendingPathComponent("bad.json").path
            try t.write(to: path)
            XCTAssertThrowsError(try ComputeTimeline.load(path)) {
                XCTAssertTrue("\($0)".contains(path) && "\($0)".contains(expected), "\($0)")
            }
        }
        try refused({ $0.forwardSeconds = -1 }, "negative")
        try refused({ $0.layers[0].backwardSeconds = 7200 }, "over an hour")
        try refused({ $0.parameters = 31 }, "add up to 30")
        try refused({ $0.layers[0].tensorCounts = [0, 30] }, "not positive")
        try refused({ $0.version = 99 }, "version 99")
        try refused({ $0.batch = 0 }, "impossible sizes")
        let codec = ComputeTimeline.CodecArithmetic(codec: "powersgd:2", bucketMB: 0, buckets: [
            .init(count: 30, firstCount: 12, secondCount: 4, beforeSeconds: 0.001, betweenSeconds: 0, afterSeconds: 0.001)])
        try refused({ $0.codec = codec; $0.codec!.buckets[0].count = 29 }, "do not cover the 30 parameters")
        try refused({ $0.codec = codec; $0.codec!.buckets[0].firstCount = 27 }, "counts are impossible")
        try refused({ $0.codec = codec; $0.codec!.buckets[0].afterSeconds = -1 }, "codec duration")
        let garbage = dir.appendingPathComponent("garbage.json")
        try Data("{\"model\": 3".utf8).write(to: garbage)
        XCTAssertThrowsError(try ComputeTimeline.load(garbage.path)) { XCTAssertTrue("\($0)".contains("not a compute timeline"), "\($0)") }
        XCTAssertThrowsError(try ComputeTimeline.load(dir.appendingPathComponent("missing.json").path)) {
            XCTAssertTrue("\($0)".contains("cannot read"), "\($0)")
        }
    }

    func testRecordFieldsRoundTrip() throws {
        let r = IterationRecord(rank: 1, iteration: 2, worldSize: 2, model: "v1.0", parameters: 3, gradientBytes: 12, algorithm: "ring",
                                bytesSent: 12, bytesReceived: 12, messagesSent: 2, bytesCounted: true, commSeconds: 0.1,
                                computeSeconds: 0.2, updateSeconds: 0, dataSeconds: 0, iterationSeconds: 0.3, batchSize: 4,
                                globalBatchSize: 8, learningRate: 0.01, replay: .init(workerSpeedup: 10, timeDilation: 4),
                                linkTxCounter: 123, linkRxCounter: 456, startedAt: 1.5e9)
        let line = try MetricsWriter.line(for: r)
        XCTAssertTrue(line.contains("\"replay\":{\"time_dilation\":4,\"worker_speedup\":10}"), line)
        XCTAssertTrue(line.contains("\"link_tx_counter\":123") && line.contains("\"started_at\":1500000000"), line)
        XCTAssertEqual(try MetricsReader.parse(Data((line + "\n").utf8)), [r])
    }
}
