// Comparison of runs from their metrics.jsonl records: one row per
// (model, algorithm, world size), and AlexNet/SqueezeNet ratios.
// Rendering (Markdown, CSV) is in ReportRendering.swift.
import Basics
import Foundation
import Metrics
import Topology

/// Whether a row's byte figures were counted at send/receive or modelled.
public enum BytesSource: String, Equatable, Sendable {
    case measured, modelled, mixed
}

/// One (model, algorithm, codec, world size) group of records, summarised.
///
/// Bytes and messages are per rank per iteration over every record of the group
/// (they do not depend on warm-up). Timings are, for each iteration, the slowest
/// rank's value (the iteration waits for it), then the median over iterations;
/// when the group has more than 2 iterations the first one is skipped as warm-up.
public struct ReportRow: Equatable, Sendable {
    public var model: String
    public var algorithm: String
    /// The gradient codec (`none` for float32).
    public var codec: String = "none"
    public var worldSize: Int
    public var parameters: Int
    public var gradientBytes: Int
    /// With a codec: the float32 bytes per rank for the same exchange (the records'
    /// bytes_uncompressed), and that over the bytes sent: the compression ratio.
    public var meanBytesUncompressedPerRank: Double?
    public var compressionRatio: Double? {
        meanBytesUncompressedPerRank.flatMap { meanBytesSentPerRank > 0 ? $0 / meanBytesSentPerRank : nil }
    }
    /// Records in the group (iterations x ranks when nothing is missing).
    public var records: Int
    /// Distinct iterations seen.
    public var iterations: Int
    /// Iterations that entered the timing medians.
    public var timedIterations: Int
    public var meanBytesSentPerRank: Double
    public var maxBytesSentPerRank: Int
    public var meanBytesReceivedPerRank: Double
    public var maxBytesReceivedPerRank: Int
    public var meanMessagesSentPerRank: Double
    /// Median over iterations of the max over ranks of comm_seconds.
    public var commSeconds: Double
    /// Median over iterations of the max over ranks of compute_seconds.
    public var computeSeconds: Double
    /// Median over iterations of the max over ranks of iteration_seconds.
    public var iterationSeconds: Double
    /// As commSeconds, for exposed_comm_seconds; nil when no record has it. The rank
    /// that waits longest is the one that finished backward first, so this includes
    /// load imbalance between ranks.
    public var exposedCommSeconds: Double?
    /// Median over iterations of the min over ranks of exposed_comm_seconds: the wait
    /// of the last rank to finish backward, the communication on the iteration's
    /// critical path without the imbalance. nil when no record has it.
    public var criticalExposedCommSeconds: Double?
    /// commSeconds / iterationSeconds (nil when iterationSeconds is 0).
    public var commShare: Double?
    /// With a codec: median over iterations of the max over ranks of the codec's
    /// arithmetic (codec_encode_seconds + codec_decode_seconds, part of comm); nil without.
    public var codecSeconds: Double? = nil
    public var bytesSource: BytesSource
    /// `CommunicationModel`'s mean bytes sent per rank, 2(p-1)N/p for tree,
    /// ring and ps; nil for an algorithm the model does not know.
    public var modelledMeanBytesSentPerRank: Double?

    /// True when some rank's record is missing for some iteration.
    public var isIncomplete: Bool { records != iterations * worldSize }
}

/// AlexNet figures divided by SqueezeNet figures at the same algorithm and world size.
public struct ModelRatio: Equatable, Sendable {
    public var algorithm: String
    public var worldSize: Int
    public var numeratorModel: String
    public var denominatorModel: String
    /// The codecs of the two rows: the same, or AlexNet in float32 against SqueezeNet with a codec.
    public var numeratorCodec: String = "none"
    public var denominatorCodec: String = "none"
    public var parametersRatio: Double
    public var gradientBytesRatio: Double
    /// Ratio of mean bytes sent per rank (nil when SqueezeNet sent nothing).
    public var bytesSentRatio: Double?
    /// Ratio of median comm seconds (nil when SqueezeNet's is 0).
    public var commSecondsRatio: Double?
}

/// The comparison table of a set of runs.
public struct Report: Sendable {
    public var rows: [ReportRow]
    public var ratios: [ModelRatio]

    /// Groups `records` by (model, algorithm, world size), rows sorted by those keys.
    public init(records: [IterationRecord]) {
        let groups = Dictionary(grouping: records) {
            GroupKey(model: $0.model, algorithm: $0.algorithm, codec: $0.codec ?? "none", worldSize: $0.worldSize)
        }
        rows = groups.keys.sorted().map { Report.summarise(key: $0, records: groups[$0]!) }
        ratios = Report.ratios(rows)
    }

    struct GroupKey: Hashable, Comparable {
        var model: String, algorithm: String, codec: String, worldSize: Int
        static func < (a: GroupKey, b: GroupKey) -> Bool {
            // float32 first, then the codecs by name
            (a.model, a.algorithm, a.codec == "none" ? "" : a.codec, a.worldSize) < (b.model, b.algorithm, b.codec == "none" ? "" : b.codec, b.worldSize)
        }
    }

    static func summarise(key: GroupKey, records: [IterationRecord]) -> ReportRow {
        let byIteration = Dictionary(grouping: records, by: \.iteration)
        var iterations = byIteration.keys.sorted()
        let count = iterations.count
        if iterations.count > 2 { iterations.removeFirst() }  // warm-up
        func timing(_ value: (IterationRecord) -> Double) -> Double {
            (median(iterations.map { byIteration[$0]!.map(value).max()! }) ?? 0)
        }
        func leastTiming(_ value: (IterationRecord) -> Double) -> Double {
            (median(iterations.map { byIteration[$0]!.map(value).min()! }) ?? 0)
        }
        let n = Double(records.count)
        let comm = timing(\.commSeconds)
        let iteration = timing(\.iterationSeconds)
        let withExposed = records.filter { $0.exposedCommSeconds != nil }
        let counted = records.filter(\.bytesCounted).count
        let gradientBytes = records.map(\.gradientBytes).max()!
        let known = AllreduceAlgorithm(rawValue: key.algorithm)
        let uncompressed = records.compactMap(\.bytesUncompressed)
        let timedCodec = records.allSatisfy { $0.codecEncodeSeconds != nil && $0.codecDecodeSeconds != nil }
        var row = ReportRow(
            model: key.model, algorithm: key.algorithm, codec: key.codec, worldSize: key.worldSize,
            parameters: records.map(\.parameters).max()!, gradientBytes: gradientBytes,
            meanBytesUncompressedPerRank: uncompressed.count == records.count ? Double(uncompressed.reduce(0, +)) / n : nil,
            records: records.count, iterations: count, timedIterations: iterations.count,
            meanBytesSentPerRank: Double(records.reduce(0) { $0 + $1.bytesSent }) / n,
            maxBytesSentPerRank: records.map(\.bytesSent).max()!,
            meanBytesReceivedPerRank: Double(records.reduce(0) { $0 + $1.bytesReceived }) / n,
            maxBytesReceivedPerRank: records.map(\.bytesReceived).max()!,
            meanMessagesSentPerRank: Double(records.reduce(0) { $0 + $1.messagesSent }) / n,
            commSeconds: comm,
            computeSeconds: timing(\.computeSeconds),
            iterationSeconds: iteration,
            exposedCommSeconds: withExposed.isEmpty ? nil : timing { $0.exposedCommSeconds ?? 0 },
            criticalExposedCommSeconds: withExposed.isEmpty ? nil : leastTiming { $0.exposedCommSeconds ?? 0 },
            commShare: iteration > 0 ? comm / iteration : nil,
            bytesSource: counted == records.count ? .measured : (counted == 0 ? .modelled : .mixed),
            modelledMeanBytesSentPerRank: known.map {
                $0.totalBytesSent(ranks: key.worldSize, gradientBytes: gradientBytes)
                    / Double(key.worldSize)
            })
        if timedCodec { row.codecSeconds = timing { $0.codecEncodeSeconds! + $0.codecDecodeSeconds! } }
        return row
    }

    /// Every (AlexNet row, SqueezeNet row) pair with equal algorithm and world size, and
    /// either the same codec or AlexNet in float32 ("SqueezeNet with int8 against AlexNet without").
    static func ratios(_ rows: [ReportRow]) -> [ModelRatio] {
        var result: [ModelRatio] = []
        for big in rows where isAlexNet(big.model) {
            for small in rows where isSqueezeNet(small.model)
                && small.algorithm == big.algorithm && small.worldSize == big.worldSize
                && (small.codec == big.codec || big.codec == "none") {
                result.append(ModelRatio(
                    algorithm: big.algorithm, worldSize: big.worldSize,
                    numeratorModel: big.model, denominatorModel: small.model,
                    numeratorCodec: big.codec, denominatorCodec: small.codec,
                    parametersRatio: Double(big.parameters) / Double(small.parameters),
                    gradientBytesRatio: Double(big.gradientBytes) / Double(small.gradientBytes),
                    bytesSentRatio: small.meanBytesSentPerRank > 0
                        ? big.meanBytesSentPerRank / small.meanBytesSentPerRank : nil,
                    commSecondsRatio: small.commSeconds > 0 ? big.commSeconds / small.commSeconds : nil))
            }
        }
        return result
    }

    /// "alexnet", "alexnet-payload", "bvlc_alexnet", ...
    static func isAlexNet(_ model: String) -> Bool { model.lowercased().contains("alexnet") }

    /// "v1.0", "v1.1", "squeezenet-v1.0", ...
    static func isSqueezeNet(_ model: String) -> Bool {
        let name = model.lowercased()
        return name.contains("squeeze") || name.hasPrefix("v1.")
    }
}

