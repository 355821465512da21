import Analysis
import Foundation
import Metrics
import TestSupport
import XCTest

/// `squeezenet-train report` on a small generated metrics.jsonl, run as a process.
final class ReportCommandTests: XCTestCase {
    func makeRun() throws -> URL {
        let dir = TestPaths.temporaryDirectory("report")
        let squeeze = runRecords(model: "v1.0", parameters: 1_248_424, algorithm: "ring", bytesPerRank: 4_993_696, times: [
            [(1.0, 1.0, 2.0), (1.0, 1.0, 2.0)],
            [(0.010, 0.05, 0.10), (0.012, 0.06, 0.10)],
            [(0.020, 0.07, 0.14), (0.030, 0.08, 0.14)],
        ])
        let alex = runRecords(model: "alexnet-payload", parameters: 60_965_224, algorithm: "ring",
                              bytesPerRank: 243_860_896, times: [
            [(5.0, 0, 7.0), (5.0, 0, 7.0)],
            [(0.100, 0, 0.20), (0.120, 0, 0.20)],
            [(0.200, 0, 0.40), (0.300, 0, 0.40)],
        ])
        let writer = try MetricsWriter(path: dir.appendingPathComponent("metrics.jsonl").path, truncate: true)
        try writer.write(contentsOf: squeeze + alex)
        return dir
    }

    func testTableRatiosAndCSV() throws {
        let dir = try makeRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("points.csv")
        let result = try ProcessRunner.run(TestPaths.executable("squeezenet-train").path,
                                           ["report", dir.path, "--network", "10gbe", "--csv", csv.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let out = result.stdout
        XCTAssertTrue(out.contains("| v1.0 | ring | 2 | 1,248,424 | 4.99 MB | 4.99 MB | 4.99 MB |"), out)
        XCTAssertTrue(out.contains("| alexnet-payload | ring | 2 | 60,965,224 | 243.86 MB |"), out)
        XCTAssertTrue(out.contains("| ring | 2 | alexnet-payload / v1.0 | 48.83x | 48.83x | 48.83x | 10.00x |"), out)
        // Cost model: ring p = 2 on 10 GbE, N = 4,993,696: 40 us + 3.995 ms = 4.035 ms; measured 21 ms.
        XCTAssertTrue(out.contains("| v1.0 | ring | 2 | 4.99 MB | 21.000 ms | 4.035 ms | +420.5% |"), out)
        XCTAssertTrue(out.contains("comm (measured)"), out)
        XCTAssertTrue(out.contains("comm (modelled, 10gbe)"), out)

        let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3)
        let header = lines[0].split(separator: ",").map(String.init)
        XCTAssertEqual(header.first, "model")
        XCTAssertEqual(header.suffix(2), ["modelled_comm_seconds_10gbe", "comm_error_10gbe"])
        let squeezeLine = try XCTUnwrap(lines.first { $0.hasPrefix("v1.0,ring,2,1248424,4993696,4993696,") })
        let cells = squeezeLine.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(Double(cells[header.firstIndex(of: "comm_seconds")!])!, 0.021, accuracy: 1e-12)
        XCTAssertEqual(Double(cells[header.count - 2])!, 40e-6 + 4_993_696 * 8 / 10e9, accuracy: 1e-12)
    }

    func testScalingCurvesAndPlotFiles() throws {
        let dir = try makeRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let scaling = dir.appendingPathComponent("scaling.csv"), plots = dir.appendingPathComponent("plots")
        let result = try ProcessRunner.run(TestPaths.executable("squeezenet-train").path,
                                           ["report", dir.appendingPathComponent("metrics.jsonl").path, "--scaling",
                                            "--network", "ib-fdr56", "--scaling-csv", scaling.path,
                                            "--plot-dir", plots.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("### v1.0, tree, ib-fdr56"), result.stdout)
        XCTAssertTrue(result.stdout.contains("### alexnet-payload, ps, ib-fdr56"), result.stdout)
        XCTAssertTrue(result.stdout.contains("speedup (modelled)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("borrowed"), result.stdout)  // the payload has no compute
        XCTAssertTrue(result.stdout.contains("| 1024 |"), result.stdout)
        let rows = try String(contentsOf: scaling, encoding: .utf8).split(separator: "\n")
        // 2 models x 4 algorithms x 11 worker counts + header
        XCTAssertEqual(rows.count, 1 + 2 * 4 * 11)
        XCTAssertTrue(FileManager.default.fileExists(atPath: plots.appendingPathComponent("plots.gp").path))
    }

    func testMissingFileIsOneLineError() throws {
        let result = try ProcessRunner.run(TestPaths.executable("squeezenet-train").path, ["report", "/nonexistent/run"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("error: cannot open metrics file /nonexistent/run/metrics.jsonl"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    }
}
