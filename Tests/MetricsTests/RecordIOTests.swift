import Foundation
import Metrics
import XCTest

/// A record with every field set; `rank` and `iteration` vary in tests.
func sampleRecord(rank: Int = 0, iteration: Int = 0, loss: Double? = 2.302585) -> IterationRecord {
    IterationRecord(rank: rank, iteration: iteration, worldSize: 2, model: "v1.0",
                    parameters: 1_248_424, gradientBytes: 4_993_696, algorithm: "ring",
                    bytesSent: 4_993_696, bytesReceived: 4_993_696, messagesSent: 2, bytesCounted: true,
                    commSeconds: 0.0125, computeSeconds: 0.25, updateSeconds: 0.003, dataSeconds: 0.001,
                    iterationSeconds: 0.27, batchSize: 32, globalBatchSize: 64, loss: loss,
                    learningRate: 0.01, exposedCommSeconds: 0.004)
}

final class RecordIOTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("metrics-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testKeysAreSnakeCase() throws {
        let line = try MetricsWriter.line(for: sampleRecord())
        for key in ["rank", "iteration", "world_size", "model", "parameters", "gradient_bytes", "algorithm",
                    "bytes_sent", "bytes_received", "messages_sent", "bytes_counted", "comm_seconds",
                    "compute_seconds", "update_seconds", "data_seconds", "iteration_seconds", "batch_size",
                    "global_batch_size", "loss", "learning_rate", "exposed_comm_seconds"] {
            XCTAssertTrue(line.contains("\"\(key)\":"), "missing key \(key) in \(line)")
        }
        XCTAssertTrue(line.contains("\"world_size\":2"))
        XCTAssertTrue(line.contains("\"bytes_counted\":true"))
        XCTAssertFalse(line.contains("\n"))
    }

    func testRoundTripThroughFileAppendsAcrossWriters() throws {
        let path = directory.appendingPathComponent("metrics.jsonl").path
        let first = [sampleRecord(rank: 0, iteration: 0), sampleRecord(rank: 1, iteration: 0, loss: nil)]
        do {
            let writer = try MetricsWriter(path: path)
            try writer.write(contentsOf: first)
        }
        // A resumed run appends to the same file.
        var nan = sampleRecord(rank: 0, iteration: 1, loss: .nan)
        nan.exposedCommSeconds = nil
        try MetricsWriter(path: path).write(nan)

        let back = try MetricsReader.read(path)
        XCTAssertEqual(back.count, 3)
        XCTAssertEqual(Array(back[0..<2]), first)
        XCTAssertNil(back[1].loss)
        XCTAssertTrue(back[2].loss!.isNaN, "a NaN loss survives the round trip")
        XCTAssertNil(back[2].exposedCommSeconds)
        XCTAssertEqual(back[2].iteration, 1)

        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 3)
        XCTAssertTrue(text.hasSuffix("\n"))
    }

    func testTruncateStartsAfresh() throws {
        let path = directory.appendingPathComponent("metrics.jsonl").path
        try MetricsWriter(path: path).write(sampleRecord())
        try MetricsWriter(path: path, truncate: true).write(sampleRecord(rank: 1))
        XCTAssertEqual(try MetricsReader.read(path).map(\.rank), [1])
    }

    func testMalformedLineIsNamedByNumber() throws {
        let good = try MetricsWriter.line(for: sampleRecord())
        let data = Data((good + "\n\n" + good + "\n{\"rank\": 0, oops\n").utf8)
        XCTAssertThrowsError(try MetricsReader.parse(data, source: "run/metrics.jsonl")) { error in
            guard case let MetricsError.malformedLine(path, line, _) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(path, "run/metrics.jsonl")
            XCTAssertEqual(line, 4, "blank line 2 is skipped but still counted")
            XCTAssertTrue("\(error)".contains("line 4"), "\(error)")
        }
    }

    func testMissingFieldIsNamed() throws {
        let line = try MetricsWriter.line(for: sampleRecord()).replacingOccurrences(of: ",\"world_size\":2", with: "")
        XCTAssertFalse(line.contains("world_size"))
        XCTAssertThrowsError(try MetricsReader.parse(Data(line.utf8))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("line 1") && text.contains("world_size"), text)
        }
    }

    func testMissingFileIsAClearError() {
        let path = directory.appendingPathComponent("absent.jsonl").path
        XCTAssertThrowsError(try MetricsReader.read(path)) { error in
            XCTAssertTrue("\(error)".contains("absent.jsonl"), "\(error)")
        }
    }
}
