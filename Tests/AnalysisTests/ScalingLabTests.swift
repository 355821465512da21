import Analysis
import Foundation
import Metrics
import TestSupport
import XCTest

/// `scaling-report`'s reading of a lab folder, on a folder written here with known figures:
/// emulated times (measured / k), efficiency, link bytes against counted ones, the CPU-bound
/// flag from /proc/stat samples inside the exchange windows, and the labels.
final class ScalingLabTests: XCTestCase {
    let parameters = 786_432
    var n: Int { parameters * 4 }

    func write(_ text: String, _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// One point: `ranks` ranks, 3 iterations (the first a warm-up), each `seconds` long as
    /// measured (dilated by k), exchange `exposed` after backward; cores busy `busy` in the exchange.
    /// The last host retransmits 7 TCP segments in the warm-up and `retransmits` after it,
    /// each a 1,514-byte frame on its link.
    func point(_ dir: URL, hosts: Int, k: Int, seconds: Double, exposed: Double, busy: Double, retransmits: Int = 0,
               folder id: String? = nil, compute: String = "replayed") throws {
        let folder = dir.appendingPathComponent(id ?? "points/1gbit-k\(k)-f1/v1.0/ring-b0/h\(hosts)")
        try write("""
            {"rate": "1gbit", "shaped_rate": "\(1000 / k)mbit", "time_dilation": \(k), "worker_speedup": 1, "model": "v1.0", "algorithm": "ring", "bucket_mb": 0, "hosts": \(hosts), "iterations": 3, "warmup_iterations": 1, "compute": "\(compute)", "polite_wait_us": 50}
            """, folder.appendingPathComponent("point.json"))
        var records: [IterationRecord] = []
        let t0 = 1_000_000.0
        let sent = hosts == 1 ? 0 : 2 * (hosts - 1) * n / hosts
        let warm = sent / 100  // the warm-up exchanges the start of each bucket only
        for i in 0..<3 {
            for r in 0..<hosts {
                let start = t0 + Double(i) * seconds
                records.append(IterationRecord(
                    rank: r, iteration: i, worldSize: hosts, model: "v1.0", parameters: parameters, gradientBytes: n,
                    algorithm: "ring", bytesSent: i == 0 ? warm : sent, bytesReceived: i == 0 ? warm : sent, messagesSent: 2, bytesCounted: true,
                    commSeconds: exposed, computeSeconds: seconds - exposed, updateSeconds: 0, dataSeconds: 0,
                    iterationSeconds: seconds, batchSize: 32, globalBatchSize: 32 * hosts, learningRate: 0.01,
                    exposedCommSeconds: exposed, replay: .init(workerSpeedup: 1, timeDilation: Double(k)),
                    linkTxCounter: 5000 + (i > 0 ? warm + (i - 1) * sent : 0) + (r == hosts - 1 && i > 0 ? 7 * 1514 + (i - 1) * retransmits / 2 * 1514 : 0),
                    linkRxCounter: 0, linkRetransmitCounter: r == hosts - 1 ? 90 + (i > 0 ? 7 + (i - 1) * retransmits / 2 : 0) : 0, startedAt: start))
            }
        }
        try write(records.map { try MetricsWriter.line(for: $0) }.joined(separator: "\n") + "\n", folder.appendingPathComponent("metrics.jsonl"))
        // Samples every 50 ms from t0 to the end: `busy` inside each exchange window (the
        // iteration's last `exposed` seconds), 10% outside; 5% of the time at nice 19, not counted.
        var cpu = "", jiffies = [Double](repeating: 0, count: 8)
        let perIteration = Int((seconds / 0.05).rounded()), inWindow = Int((exposed / 0.05).rounded())
        for i in 0...(3 * perIteration + 2) {
            cpu += "\(t0 + Double(i) * 0.05) " + jiffies.map { String(Int($0)) }.joined(separator: " ") + "\n"
            let b = i % perIteration >= perIteration - inWindow ? busy : 0.1
            jiffies[0] += 95 * b; jiffies[1] += 5; jiffies[3] += 95 * (1 - b)
        }
        try write(cpu, folder.appendingPathComponent("cpu.txt"))
        let hostsJSON = (0..<hosts).map { h in
            let last = h == hosts - 1
            return "{\"host\": \"h\(h)\", \"tx_bytes\": 0, \"rx_bytes\": 0, \"tx_after\": \(5000 + warm + 2 * sent + 3000 + (last ? (7 + retransmits) * 1514 : 0)),"
                + " \"rx_after\": 0, \"retrans_segs\": \(last ? 7 + retransmits : 0), \"retrans_after\": \(last ? 97 + retransmits : 0)}"
        }
        try write("{\"np\": \(hosts), \"rate\": \"x\", \"mtu\": 1500, \"hosts\": [\(hostsJSON.joined(separator: ", "))]}", folder.appendingPathComponent("wire.json"))
    }

    func lab() throws -> URL {
        let dir = TestPaths.temporaryDirectory("lab")
        let timeline = ComputeTimeline(
            model: "v1.0", classes: 10, inputSize: 8, batch: 32, blasThreads: 1, cpus: "1", parameters: parameters, iterations: 3,
            forwardSeconds: 0.1, layers: [.init(name: "a", backwardSeconds: 0.05, tensorCounts: [262_144]),
                                          .init(name: "c", backwardSeconds: 0.05, tensorCounts: [524_288])],
            updateSeconds: 0.01, stepSeconds: 0.21)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("timelines"), withIntermediateDirectories: true)
        try timeline.write(to: dir.appendingPathComponent("timelines/v1.0.json").path)
        // Latency 100 us (small messages), 8 ns per byte between the two largest sizes.
        let sizes = [4, 4096, 4 << 20, 16 << 20]
        let points = sizes.map { s in
            PingPongPoint(bytes: s, repetitions: 5, medianRoundTripSeconds: 2 * (1e-4 + (s > 4096 ? Double(s) * 8e-9 : 0)),
                          minRoundTripSeconds: 0)
        }
        let calibration = Calibration(alpha: 0, beta: 0, points: points, transport: "test")
        let cal = dir.appendingPathComponent("calibration/1000mbit/calibration.json")
        try write("", cal)
        try calibration.json().write(to: cal)
        try point(dir, hosts: 1, k: 1, seconds: 0.21, exposed: 0, busy: 0.1)
        try point(dir, hosts: 2, k: 2, seconds: 0.6, exposed: 0.2, busy: 1, retransmits: 40)
        return dir
    }

    func testEmulatedFiguresModelAndFlags() throws {
        let dir = try lab()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lab = try ScalingLab.load(dir.path)
        XCTAssertEqual(lab.link.alpha, 1e-4, accuracy: 1e-12)
        XCTAssertEqual(lab.link.beta, 8e-9, accuracy: 1e-15)
        XCTAssertEqual(lab.points.count, 2)
        let two = try XCTUnwrap(lab.points.first { $0.config.hosts == 2 })
        XCTAssertEqual(two.iterationSeconds, 0.3, accuracy: 1e-9, "measured / k")
        XCTAssertEqual(two.exposedSeconds, 0.1, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(two.efficiency), 0.7, accuracy: 1e-9)
        XCTAssertEqual(two.bytesSentPerRank, Double(n))
        // Past the warm-up the link carried the counted 2 N plus 3,000 bytes after the last
        // iteration, and on the second host 40 retransmitted frames, netted out (the warm-up's 7 are not in the window).
        XCTAssertEqual(try XCTUnwrap(two.linkDeviation), 3000 / Double(2 * n), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(two.linkDeviationWithRetransmits), Double(3000 + 40 * 1514) / Double(2 * n), accuracy: 1e-12)
        XCTAssertEqual(two.retransmittedSegments, 40)
        XCTAssertEqual(two.linkTxBytesPerHost[0], Double(2 * n + 3000) / 2, accuracy: 1e-6, "per measured iteration")
        XCTAssertTrue(two.cpuBound, "95% busy while exchanging is saturated")
        XCTAssertEqual(try XCTUnwrap(two.cpuBusyDuringExchange), 0.95, accuracy: 1e-6)
        XCTAssertFalse(lab.points.first { $0.config.hosts == 1 }!.cpuBound)
        // Model: ring of N at 2 hosts on alpha 100 us / k, beta 8 ns: the exchange after backward.
        let model = try XCTUnwrap(two.model)
        XCTAssertEqual(model.exposedSeconds, 2 * 1e-4 / 2 + Double(n) * 8e-9, accuracy: 1e-9)
        XCTAssertEqual(model.computeSeconds, 0.21, accuracy: 1e-12)
        XCTAssertTrue(lab.judged.isEmpty, "a CPU-bound point does not judge the model")
        let markdown = lab.markdown()
        XCTAssertTrue(markdown.contains(ScalingLab.measuredLabel), markdown)
        XCTAssertTrue(markdown.contains("CPU-bound"), markdown)
        XCTAssertTrue(markdown.contains("0 of 0 measured points that were not CPU-bound"), markdown)
        XCTAssertTrue(markdown.contains("| SqueezeNet v1.0 | ring | 2 | 2 | 300.0 |"), markdown)
        XCTAssertTrue(markdown.contains("(40 retransmits)"), markdown)
    }

    func testFolderProblemsAreOneLine() throws {
        let dir = TestPaths.temporaryDirectory("lab-empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try ScalingLab.load(dir.path)) { XCTAssertTrue("\($0)".contains("no timelines"), "\($0)") }
        let full = try lab()
        defer { try? FileManager.default.removeItem(at: full) }
        try write("{\"rate\": \"1gbit\"}", full.appendingPathComponent("points/1gbit-k1-f1/v1.0/ring-b0/h1/point.json"))
        XCTAssertThrowsError(try ScalingLab.load(full.path)) { XCTAssertTrue("\($0)".contains("point.json: not a lab point"), "\($0)") }
    }

    /// The replay validation pairs each real run with both replays: of the idle-core
    /// timeline and of the timeline measured with the other core loaded.
    func testReplayValidationShowsBothTimelines() throws {
        let dir = try lab()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (mode, seconds) in [("real", 0.5), ("replayed", 0.4), ("replayed-loaded", 0.48)] {
            try point(dir, hosts: 2, k: 1, seconds: seconds, exposed: 0.1, busy: 0.5, folder: "validation/replay/v1.0-b0/" + mode, compute: mode)
        }
        let lab = try ScalingLab.load(dir.path)
        let v = try XCTUnwrap(lab.replayValidation.first)
        XCTAssertEqual(lab.replayValidation.count, 1)
        XCTAssertEqual(v.real.iterationSeconds, 0.5, accuracy: 1e-9)
        XCTAssertEqual(v.replayed.iterationSeconds, 0.4, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(v.loaded).iterationSeconds, 0.48, accuracy: 1e-9)
        let markdown = lab.markdown()
        XCTAssertTrue(markdown.contains("| SqueezeNet v1.0 | none | 500.0 | 400.0 | -20.0% | 480.0 | -4.0% |"), markdown)
    }
}
