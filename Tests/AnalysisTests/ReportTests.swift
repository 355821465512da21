import Analysis
import Metrics
import Topology
import XCTest

/// Records for one run: `times[i][r]` = (comm, compute, iteration) seconds of rank r at iteration i.
func runRecords(model: String, parameters: Int, algorithm: String, bytesPerRank: Int, counted: Bool = true,
                times: [[(Double, Double, Double)]]) -> [IterationRecord] {
    var records: [IterationRecord] = []
    for (iteration, ranks) in times.enumerated() {
        for (rank, t) in ranks.enumerated() {
            records.append(IterationRecord(
                rank: rank, iteration: iteration, worldSize: ranks.count, model: model,
                parameters: parameters, gradientBytes: 4 * parameters, algorithm: algorithm,
                bytesSent: bytesPerRank, bytesReceived: bytesPerRank, messagesSent: 2 * (ranks.count - 1),
                bytesCounted: counted, commSeconds: t.0, computeSeconds: t.1, updateSeconds: 0.001,
                dataSeconds: 0.001, iterationSeconds: t.2, batchSize: 16, globalBatchSize: 16 * ranks.count,
                loss: 2.3, learningRate: 0.01))
        }
    }
    return records
}

final class ReportTests: XCTestCase {
    /// SqueezeNet v1.0, ring, 2 ranks, 3 iterations: iteration 0 is a slow warm-up.
    let squeeze = runRecords(model: "v1.0", parameters: 1_248_424, algorithm: "ring", bytesPerRank: 4_993_696, times: [
        [(1.0, 1.0, 2.0), (1.0, 1.0, 2.0)],           // warm-up, skipped
        [(0.010, 0.05, 0.10), (0.012, 0.06, 0.10)],   // slowest rank: comm 0.012, compute 0.06
        [(0.020, 0.07, 0.14), (0.030, 0.08, 0.14)],   // slowest rank: comm 0.030, compute 0.08
    ])
    /// AlexNet, ring, 2 ranks, same shape, 10x the communication time.
    let alex = runRecords(model: "alexnet", parameters: 60_965_224, algorithm: "ring", bytesPerRank: 243_860_896, times: [
        [(5.0, 1.0, 7.0), (5.0, 1.0, 7.0)],
        [(0.100, 0.05, 0.20), (0.120, 0.06, 0.20)],
        [(0.200, 0.07, 0.40), (0.300, 0.08, 0.40)],
    ])

    func testRowFiguresAndWarmUpSkip() throws {
        let report = Report(records: squeeze)
        XCTAssertEqual(report.rows.count, 1)
        let row = report.rows[0]
        XCTAssertEqual(row.iterations, 3)
        XCTAssertEqual(row.timedIterations, 2)
        XCTAssertEqual(row.records, 6)
        XCTAssertFalse(row.isIncomplete)
        XCTAssertEqual(row.gradientBytes, 4_993_696)
        XCTAssertEqual(row.meanBytesSentPerRank, 4_993_696)
        XCTAssertEqual(row.maxBytesReceivedPerRank, 4_993_696)
        XCTAssertEqual(row.meanMessagesSentPerRank, 2)
        XCTAssertEqual(row.commSeconds, 0.021, accuracy: 1e-12)      // median(0.012, 0.030)
        XCTAssertEqual(row.computeSeconds, 0.07, accuracy: 1e-12)    // median(0.06, 0.08)
        XCTAssertEqual(row.iterationSeconds, 0.12, accuracy: 1e-12)  // median(0.10, 0.14)
        XCTAssertEqual(row.commShare!, 0.175, accuracy: 1e-12)
        XCTAssertEqual(row.bytesSource, .measured)
        XCTAssertEqual(row.modelledMeanBytesSentPerRank, 4_993_696)  // 2 (1/2) N
        XCTAssertNil(row.exposedCommSeconds)
        XCTAssertNil(row.criticalExposedCommSeconds)
    }

    /// Exposed communication: the slowest rank's wait (with imbalance) and the least
    /// wait, the last rank to finish backward (the critical path), both medians over
    /// the timed iterations.
    func testExposedCommunicationWithAndWithoutImbalance() throws {
        var records = squeeze
        let exposed: [[Double]] = [[1.0, 1.0], [0.009, 0.002], [0.025, 0.004]]
        for i in records.indices { records[i].exposedCommSeconds = exposed[records[i].iteration][records[i].rank] }
        let row = Report(records: records).rows[0]
        XCTAssertEqual(try XCTUnwrap(row.exposedCommSeconds), (0.009 + 0.025) / 2, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(row.criticalExposedCommSeconds), (0.002 + 0.004) / 2, accuracy: 1e-12)
        let csv = Report(records: records).csv()
        let header = try XCTUnwrap(csv.split(separator: "\n").first).split(separator: ",").map(String.init)
        let values = try XCTUnwrap(csv.split(separator: "\n").dropFirst().first).split(separator: ",").map(String.init)
        let column = try XCTUnwrap(header.firstIndex(of: "critical_exposed_comm_seconds"))
        XCTAssertEqual(try XCTUnwrap(Double(values[column])), 0.003, accuracy: 1e-12)
    }

    func testTwoIterationsAreNotSkipped() {
        let row = Report(records: Array(squeeze.prefix(4))).rows[0]
        XCTAssertEqual(row.timedIterations, 2)
        XCTAssertEqual(row.commSeconds, (1.0 + 0.012) / 2, accuracy: 1e-12)
    }

    func testRatiosWhenBothModelsPresent() throws {
        let report = Report(records: alex + squeeze)
        XCTAssertEqual(report.rows.map(\.model), ["alexnet", "v1.0"])
        XCTAssertEqual(report.ratios.count, 1)
        let ratio = report.ratios[0]
        XCTAssertEqual(ratio.numeratorModel, "alexnet")
        XCTAssertEqual(ratio.denominatorModel, "v1.0")
        XCTAssertEqual(ratio.parametersRatio, 48.83, accuracy: 0.005)
        XCTAssertEqual(ratio.gradientBytesRatio, 243_860_896.0 / 4_993_696.0, accuracy: 1e-12)
        XCTAssertEqual(ratio.bytesSentRatio!, 48.83, accuracy: 0.005)
        XCTAssertEqual(ratio.commSecondsRatio!, 0.21 / 0.021, accuracy: 1e-9)  // median(0.12, 0.30) / 0.021

        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("| v1.0 | ring | 2 | 1,248,424 | 4.99 MB | 4.99 MB | 4.99 MB |"), markdown)
        XCTAssertTrue(markdown.contains("| alexnet | ring | 2 | 60,965,224 | 243.86 MB |"), markdown)
        XCTAssertTrue(markdown.contains("| 21.000 ms | 70.000 ms | 120.000 ms | 17.5% |"), markdown)
        XCTAssertTrue(markdown.contains("| ring | 2 | alexnet / v1.0 | 48.83x | 48.83x | 48.83x | 10.00x |"), markdown)
        XCTAssertTrue(markdown.contains("warm-up"), markdown)

        let csv = report.csv().split(separator: "\n")
        XCTAssertEqual(csv.count, 3)
        XCTAssertTrue(csv[0].hasPrefix("model,algorithm,world_size,parameters,gradient_bytes,mean_bytes_sent_per_rank,"))
        XCTAssertTrue(csv[2].hasPrefix("v1.0,ring,2,1248424,4993696,4993696,4993696,4993696,4993696,2,measured,4993696,"),
                      String(csv[2]))
        XCTAssertTrue(csv[2].hasSuffix(",0.021,0.07,0.12,0.175,,,6,3,2,none,,,"), String(csv[2]))
        let ratios = report.ratiosCSV().split(separator: "\n")
        XCTAssertEqual(ratios.count, 2)
        XCTAssertTrue(ratios[1].hasPrefix("ring,2,alexnet,v1.0,48.83"), String(ratios[1]))
    }

    func testNoRatiosWithOneModel() {
        let report = Report(records: squeeze)
        XCTAssertTrue(report.ratios.isEmpty)
        XCTAssertFalse(report.markdown().contains("AlexNet / SqueezeNet"))
    }

    func testModelledBytesAreLabelled() {
        let mpi = runRecords(model: "v1.0", parameters: 1_248_424, algorithm: "mpi", bytesPerRank: 4_993_696,
                             counted: false, times: [[(0.01, 0.05, 0.1), (0.01, 0.05, 0.1)]])
        let report = Report(records: mpi + squeeze)
        XCTAssertEqual(report.rows.map(\.algorithm), ["mpi", "ring"])
        XCTAssertEqual(report.rows[0].bytesSource, .modelled)
        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("| mpi | 2 |"), markdown)
        XCTAssertTrue(markdown.contains("| modelled |"), markdown)
        XCTAssertTrue(markdown.contains(AllreduceAlgorithm.mpiAssumption), markdown)
        XCTAssertTrue(report.csv().contains(",modelled,"))
    }

    /// A codec's rows: grouped apart from float32's, with the ratio of bytes_uncompressed
    /// to bytes_sent, and paired with AlexNet in float32 ("SqueezeNet int8 / AlexNet").
    func testCodecRowsShowTheirCompressionAndPairWithFloatAlexNet() {
        let int8 = squeeze.map { r -> IterationRecord in
            var c = r
            c.codec = "int8"; c.bytesUncompressed = r.bytesSent; c.bytesSent = r.bytesSent / 4 + 1220
            c.codecEncodeSeconds = 0.002 + 0.001 * Double(r.rank); c.codecDecodeSeconds = 0.001
            return c
        }
        let report = Report(records: squeeze + int8 + alex)
        XCTAssertEqual(report.rows.map(\.codec), ["none", "none", "int8"])
        let row = report.rows[2]
        XCTAssertEqual(row.model, "v1.0")
        XCTAssertEqual(row.compressionRatio!, 4_993_696 / Double(4_993_696 / 4 + 1220), accuracy: 1e-9)
        XCTAssertNil(report.rows[1].compressionRatio)
        XCTAssertEqual(row.codecSeconds!, 0.004, accuracy: 1e-12, "the slowest rank's encode + decode")
        XCTAssertNil(report.rows[1].codecSeconds)
        XCTAssertEqual(report.ratios.count, 2)
        let mixed = report.ratios.first { $0.denominatorCodec == "int8" }!
        XCTAssertEqual(mixed.numeratorCodec, "none")
        XCTAssertEqual(mixed.bytesSentRatio!, 243_860_896 / Double(4_993_696 / 4 + 1220), accuracy: 1e-6)
        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("| v1.0 | ring | int8 | 2 |"), markdown)
        XCTAssertTrue(markdown.contains("| 4.0x | 4.000 ms |"), markdown)
        XCTAssertTrue(markdown.contains("alexnet / v1.0 int8"), markdown)
    }

    func testMissingRankIsReported() {
        let incomplete = Array(squeeze.dropLast())
        let report = Report(records: incomplete)
        XCTAssertTrue(report.rows[0].isIncomplete)
        XCTAssertTrue(report.markdown().contains("only 5 records for 3 iterations x 2 ranks"), report.markdown())
    }
}
