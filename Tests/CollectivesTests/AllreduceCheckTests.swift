// Every allreduce algorithm under real mpirun with 2, 3, 4 and 8 ranks (non-powers
// of two included), on counts that do not divide by the rank count: exact sums,
// the same bits on every rank, agreement with native MPI_Allreduce, and counted
// bytes equal to the formulas exactly.
import Collectives
import Topology
import XCTest

final class AllreduceCheckTests: XCTestCase {
    func testTwoRanks() throws { try checkAll(ranks: 2, count: 100_003) }
    func testThreeRanks() throws { try checkAll(ranks: 3, count: 100_003) }
    func testFourRanks() throws { try checkAll(ranks: 4, count: 100_003) }
    func testEightRanks() throws { try checkAll(ranks: 8, count: 100_003) }

    /// Buffers longer than one message: small messages force the multi-message paths.
    func testMessagesAreSplitAboveTheLimit() throws {
        try checkAll(ranks: 3, count: 100_003, maxMessageBytes: 4096)
        try checkAll(ranks: 4, count: 1001, maxMessageBytes: 1000)
    }

    /// Fewer elements than ranks: some ring chunks are empty.
    /// The tree pipelines in segments: several segments, a non-power-of-two rank
    /// count, and segments that are themselves split into messages, under both
    /// schedules (the network one, with the sum going down while later segments
    /// still go up, is what runs across hosts; here it is forced on one host).
    func testTreePipelineSegments() throws {
        let shared = TreeAllreduce.Schedule.sharedMemory.segmentElements
        try checkAll(ranks: 5, count: 3 * shared + 12_345)
        try checkAll(ranks: 8, count: 3 * shared + 12_345, maxMessageBytes: 300_000)
        let network = TreeAllreduce.Schedule.network.segmentElements
        try checkAll(ranks: 5, count: 7 * network + 999, treeSchedule: "network")
        try checkAll(ranks: 8, count: 7 * network + 999, maxMessageBytes: 40_000, treeSchedule: "network")
        // One segment of the whole buffer (inside gradient buckets), split into messages.
        try checkAll(ranks: 6, count: 300_001, maxMessageBytes: 65_536, treeSchedule: "unsegmented")
    }

    /// Every schedule gives the same bits: only message sizes and timing differ.
    func testTreeSchedulesGiveTheSameSum() throws {
        var hashes: [String: Set<String>] = [:]
        for schedule in ["shared-memory", "network", "unsegmented"] {
            let line = try oneRandomCall(of: "tree", ["--tree-schedule", schedule])
            let segment = ["network": TreeAllreduce.Schedule.network, "shared-memory": .sharedMemory,
                           "unsegmented": .unsegmented][schedule]!.segmentElements
            XCTAssertEqual(line["tree_segment_elements"] as? Int, segment)
            hashes[schedule, default: []].insert(try XCTUnwrap(line["result_hash"] as? String))
        }
        XCTAssertEqual(hashes["network"], hashes["shared-memory"])
        XCTAssertEqual(hashes["unsegmented"], hashes["shared-memory"])
        XCTAssertEqual(hashes["network"]?.count, 1)
    }

    /// The ring pipelined in segments (what runs across hosts; forced here): chunks of
    /// several segments with a short last one, more segments than staging slots, a
    /// non-power-of-two rank count, segments split into messages, and chunks shorter
    /// than one segment. Exact sums, same bits everywhere, traffic per the formulas.
    func testRingPipelineSegments() throws {
        try checkAll(ranks: 5, count: 100_003, ringSegment: "1000")
        try checkAll(ranks: 8, count: 100_003, maxMessageBytes: 2_000, ringSegment: "3000")
        try checkAll(ranks: 3, count: 7, ringSegment: "2")
        try checkAll(ranks: 4, count: 1001, ringSegment: String(RingAllreduce.networkSegmentElements))
    }

    /// Segments change only message sizes and timing: the same bits as whole chunks.
    func testRingSegmentsGiveTheSameSum() throws {
        var hashes: Set<String> = []
        for segment in ["0", "97", "777", "65536"] {
            let line = try oneRandomCall(of: "ring", ["--ring-segment-elements", segment])
            XCTAssertEqual(line["ring_segment_elements"] as? Int, segment == "0" ? nil : Int(segment), "\(line)")
            hashes.insert(try XCTUnwrap(line["result_hash"] as? String))
        }
        XCTAssertEqual(hashes.count, 1, "\(hashes)")
    }

    func testFewerElementsThanRanks() throws { try checkAll(ranks: 8, count: 5) }

    func testEmptyBufferSendsNothing() throws { try checkAll(ranks: 3, count: 0) }

    func testSingleRankIsANoOp() throws { try checkAll(ranks: 1, count: 1001) }

    /// The checks are not vacuous: a rank that perturbs its result fails the run on every rank.
    func testCorruptedResultFailsTheRun() throws {
        let run = try MPIRunner.run(ranks: 3, program: "allreduce-check",
                                    arguments: ["--count", "1001", "--json", "--corrupt-rank", "2",
                                                "--iterations", "1", "--warmup", "0"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("allreduce-check: FAILED:"), run.stderr)
        XCTAssertTrue(run.stderr.contains("results differ between ranks"), run.stderr)
        XCTAssertEqual(run.jsonLines.filter { $0["passed"] as? Bool == true }.count, 0)
    }

    /// Round-robin timing (for comparisons): every algorithm still checked, and timed
    /// over exactly the requested calls.
    func testInterleavedTiming() throws {
        let run = try MPIRunner.run(ranks: 3, program: "allreduce-check",
                                    arguments: ["--count", "10001", "--json", "--mode", "random", "--interleave",
                                                "--iterations", "3", "--warmup", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.jsonLines.count, AllreduceAlgorithm.flat.count)
        for json in run.jsonLines {
            XCTAssertEqual(json["timing"] as? String, "interleaved")
            XCTAssertEqual(json["iterations"] as? Int, 3)
            XCTAssertEqual(json["calls"] as? Int, 2 * (2 + 3), "the checked pass, then the round-robin one")
            XCTAssertGreaterThan(json["median_seconds"] as? Double ?? 0, 0)
            XCTAssertEqual(json["passed"] as? Bool, true, "\(json)")
        }
    }

    // MARK: - Helpers

    /// One checked call of `algorithm` on 6 ranks, 300,001 random floats: its JSON line.
    private func oneRandomCall(of algorithm: String, _ options: [String]) throws -> [String: Any] {
        let run = try MPIRunner.run(ranks: 6, program: "allreduce-check",
                                    arguments: ["--count", "300001", "--json", "--mode", "random",
                                                "--algorithms", algorithm, "--iterations", "1"] + options)
        XCTAssertEqual(run.status, 0, run.stderr)
        return try XCTUnwrap(run.jsonLines.first)
    }

    private func checkAll(ranks: Int, count: Int, maxMessageBytes: Int = 64 << 20, treeSchedule: String = "auto",
                          ringSegment: String = "auto", file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try MPIRunner.run(ranks: ranks, program: "allreduce-check",
                                    arguments: ["--count", String(count), "--json", "--iterations", "2",
                                                "--max-message-bytes", String(maxMessageBytes),
                                                "--tree-schedule", treeSchedule, "--ring-segment-elements", ringSegment])
        XCTAssertEqual(run.status, 0, "np \(ranks): \(run.stderr)", file: file, line: line)
        let lines = run.jsonLines
        XCTAssertEqual(lines.count, 8, "one line per algorithm and mode:\n\(run.stdout)", file: file, line: line)
        for json in lines {
            try checkLine(json, ranks: ranks, count: count, maxMessageBytes: maxMessageBytes, file: file, line: line)
        }
        let algorithms = Set(lines.compactMap { $0["algorithm"] as? String })
        XCTAssertEqual(algorithms, Set(AllreduceAlgorithm.flat.map(\.rawValue)), file: file, line: line)
    }

    private func checkLine(_ json: [String: Any], ranks p: Int, count: Int, maxMessageBytes: Int,
                           file: StaticString, line: UInt) throws {
        let name = json["algorithm"] as? String ?? "?"
        let mode = json["mode"] as? String ?? "?"
        let label = "\(name) \(mode) np \(p) count \(count)"
        let algorithm = try XCTUnwrap(AllreduceAlgorithm(rawValue: name), label, file: file, line: line)
        XCTAssertEqual(json["ranks"] as? Int, p, label, file: file, line: line)
        XCTAssertEqual(json["count"] as? Int, count, label, file: file, line: line)
        XCTAssertEqual(json["bytes_per_element"] as? Int, 4, label, file: file, line: line)
        XCTAssertEqual(json["passed"] as? Bool, true, label, file: file, line: line)
        XCTAssertEqual(json["calls"] as? Int, 1 + 2, "sequential: 1 warm-up and 2 timed calls; \(label)",
                       file: file, line: line)
        XCTAssertEqual(json["identical_across_ranks"] as? Bool, true, label, file: file, line: line)
        if mode == "exact" {
            XCTAssertEqual(json["max_abs_error"] as? Double, 0, label, file: file, line: line)
            XCTAssertEqual(json["max_abs_diff_vs_mpi"] as? Double, 0, label, file: file, line: line)
        } else {
            let rel = try XCTUnwrap(json["max_rel_error"] as? Double, label, file: file, line: line)
            XCTAssertLessThanOrEqual(rel, Double(p) * 0x1p-24, label, file: file, line: line)
            let vsMPI = try XCTUnwrap(json["max_abs_diff_vs_mpi"] as? Double, label, file: file, line: line)
            XCTAssertLessThan(vsMPI, 1e-4, label, file: file, line: line)
        }
        XCTAssertEqual(json["bytes_counted"] as? Bool, algorithm.bytesAreCounted, label, file: file, line: line)
        guard algorithm.bytesAreCounted else {
            XCTAssertTrue(json["bytes_sent"] is NSNull, "mpi bytes must be reported as not counted",
                          file: file, line: line)
            return
        }
        let measured = try perRankTraffic(json, ranks: p, label: label)
        var formulas = ExpectedTraffic(ranks: p, count: count, maxMessageBytes: maxMessageBytes)
        let expected: [Traffic] = (0..<p).map { r in
            switch algorithm {
            case .tree: return formulas.tree(rank: r, segment: json["tree_segment_elements"] as? Int ?? 0)
            case .ring: return formulas.ring(rank: r, segment: json["ring_segment_elements"] as? Int)
            case .ps: return formulas.parameterServer(rank: r)
            case .mpi, .hierarchical: return Traffic()  // hierarchical: CodecAllreduceTests, ClusterTests
            }
        }
        XCTAssertEqual(measured, expected, label, file: file, line: line)
        checkTotals(algorithm, measured, ranks: p, count: count, label: label, file: file, line: line)
    }

    /// The headline formulas (docs/collectives.md), on the measured numbers.
    private func checkTotals(_ algorithm: AllreduceAlgorithm, _ measured: [Traffic], ranks p: Int, count: Int,
                             label: String, file: StaticString, line: UInt) {
        let n = count * 4
        let totalSent = measured.map(\.bytesSent).reduce(0, +)
        XCTAssertEqual(totalSent, measured.map(\.bytesReceived).reduce(0, +), label, file: file, line: line)
        switch algorithm {
        case .tree, .ps:
            XCTAssertEqual(totalSent, 2 * (p - 1) * n, label, file: file, line: line)
        case .ring:
            // Each rank within one element per chunk of 2 (p-1)/p N; all ranks 2 (p-1) N.
            XCTAssertEqual(totalSent, p > 1 ? 2 * (p - 1) * n : 0, label, file: file, line: line)
            let ideal = p > 1 ? 2 * Double(p - 1) / Double(p) * Double(n) : 0
            for t in measured {
                XCTAssertLessThanOrEqual(abs(Double(t.bytesSent) - ideal), 2 * 4 + 1e-9, label, file: file, line: line)
            }
        case .mpi, .hierarchical:
            break
        }
        if algorithm == .ps, p > 1 {
            XCTAssertEqual(measured[0].bytesReceived, (p - 1) * n, label, file: file, line: line)
            XCTAssertEqual(measured[0].bytesSent, (p - 1) * n, label, file: file, line: line)
        }
        if algorithm == .tree, p > 1, count > 0 {
            // Leaves (odd ranks) send exactly one buffer up and receive one down.
            for r in stride(from: 1, to: p, by: 2) {
                XCTAssertEqual(measured[r].bytesSent, n, label, file: file, line: line)
                XCTAssertEqual(measured[r].bytesReceived, n, label, file: file, line: line)
            }
        }
    }

    private func perRankTraffic(_ json: [String: Any], ranks p: Int, label: String) throws -> [Traffic] {
        func column(_ key: String) throws -> [Int] {
            let values = try XCTUnwrap(json[key] as? [Int], "\(label): \(key)")
            XCTAssertEqual(values.count, p, "\(label): \(key)")
            return values
        }
        let sent = try column("bytes_sent"), received = try column("bytes_received")
        let messagesSent = try column("messages_sent"), messagesReceived = try column("messages_received")
        return (0..<min(p, sent.count, received.count, messagesSent.count, messagesReceived.count)).map {
            Traffic(bytesSent: sent[$0], bytesReceived: received[$0],
                    messagesSent: messagesSent[$0], messagesReceived: messagesReceived[$0])
        }
    }
}
