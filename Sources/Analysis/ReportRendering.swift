// Report as Markdown (for people: MB, ms, %) and CSV (for tools: bytes, seconds).
import Foundation
import Topology

extension Report {
    /// The comparison table, the ratio table (when both models are present) and
    /// notes saying how timings were taken and which bytes are modelled.
    public func markdown() -> String {
        var text = comparisonTable(human: true).markdown()
        var notes = ["Bytes and messages are per rank per iteration. Times are the slowest rank's, "
            + "median over iterations; the first (warm-up) iteration is skipped when there are more than 2."]
        if rows.contains(where: { $0.bytesSource != .measured }) {
            notes.append("Bytes marked \"modelled\" were not counted on the wire (native MPI_Allreduce): "
                + AllreduceAlgorithm.mpiAssumption + ".")
        }
        for row in rows where row.isIncomplete {
            notes.append("\(row.model) \(row.algorithm) x\(row.worldSize): only \(row.records) records for "
                + "\(row.iterations) iterations x \(row.worldSize) ranks; some ranks did not report.")
        }
        text += "\n" + notes.map { "- " + $0 }.joined(separator: "\n") + "\n"
        if !ratios.isEmpty {
            text += "\nAlexNet / SqueezeNet:\n\n" + ratioTable(human: true).markdown()
        }
        return text
    }

    /// One line per row, plain numbers (bytes, seconds), snake_case header.
    public func csv() -> String { comparisonTable(human: false).csv() }

    /// One line per AlexNet/SqueezeNet pair; empty cells where a ratio is undefined.
    public func ratiosCSV() -> String { ratioTable(human: false).csv() }

    func comparisonTable(human: Bool) -> TextTable {
        // The codec columns only when some run used a codec (CSV: always).
        let coded = rows.contains { $0.codec != "none" }
        let header = human
            ? ["model", "algorithm"] + (coded ? ["codec"] : []) + ["ranks", "parameters", "gradient", "sent/rank mean", "sent/rank max",
               "recv/rank mean", "recv/rank max", "msgs/rank", "bytes", "model sent/rank"] + (coded ? ["compression", "codec time"] : [])
               + ["comm", "compute", "iteration", "comm share"]
            : ["model", "algorithm", "world_size", "parameters", "gradient_bytes", "mean_bytes_sent_per_rank",
               "max_bytes_sent_per_rank", "mean_bytes_received_per_rank", "max_bytes_received_per_rank",
               "mean_messages_sent_per_rank", "bytes_source", "modelled_mean_bytes_sent_per_rank",
               "comm_seconds", "compute_seconds", "iteration_seconds", "comm_share",
               "exposed_comm_seconds", "critical_exposed_comm_seconds", "records", "iterations", "timed_iterations",
               "codec", "mean_bytes_uncompressed_per_rank", "compression_ratio", "codec_seconds"]
        let bytes: (Double) -> String = human ? Format.megabytes : Format.raw
        let seconds: (Double) -> String = human ? Format.milliseconds : Format.raw
        let rows = self.rows.map { row -> [String] in
            var cells: [String] = [row.model, row.algorithm]
            if human && coded { cells.append(row.codec) }
            cells += [String(row.worldSize), human ? Format.grouped(row.parameters) : String(row.parameters),
                      bytes(Double(row.gradientBytes)),
                      bytes(row.meanBytesSentPerRank), bytes(Double(row.maxBytesSentPerRank)),
                      bytes(row.meanBytesReceivedPerRank), bytes(Double(row.maxBytesReceivedPerRank)),
                      human ? Format.fixed(row.meanMessagesSentPerRank, 1) : Format.raw(row.meanMessagesSentPerRank),
                      row.bytesSource.rawValue,
                      row.modelledMeanBytesSentPerRank.map(bytes) ?? ""]
            if human && coded { cells += [row.compressionRatio.map { Format.fixed($0, 1) + "x" } ?? "", row.codecSeconds.map(seconds) ?? ""] }
            cells += [seconds(row.commSeconds), seconds(row.computeSeconds), seconds(row.iterationSeconds),
                      row.commShare.map(human ? Format.percent : Format.raw) ?? ""]
            if !human {
                cells += [row.exposedCommSeconds.map(seconds) ?? "", row.criticalExposedCommSeconds.map(seconds) ?? "",
                          String(row.records), String(row.iterations), String(row.timedIterations),
                          row.codec, row.meanBytesUncompressedPerRank.map(Format.raw) ?? "", row.compressionRatio.map(Format.raw) ?? "",
                          row.codecSeconds.map(seconds) ?? ""]
            }
            return cells
        }
        let shift = human && coded ? 1 : 0
        return TextTable(header: header, rows: rows,
                         rightAligned: Set((2 + shift)..<(10 + shift)).union((11 + shift)..<(16 + 3 * shift)))
    }

    func ratioTable(human: Bool) -> TextTable {
        let header = human
            ? ["algorithm", "ranks", "models", "parameters", "gradient bytes", "sent/rank", "comm"]
            : ["algorithm", "world_size", "numerator_model", "denominator_model", "parameters_ratio",
               "gradient_bytes_ratio", "bytes_sent_ratio", "comm_seconds_ratio", "numerator_codec", "denominator_codec"]
        let number: (Double) -> String = human ? { Format.fixed($0, 2) + "x" } : Format.raw
        let rows = ratios.map { r -> [String] in
            func named(_ model: String, _ codec: String) -> String { codec == "none" ? model : "\(model) \(codec)" }
            let models = human ? ["\(named(r.numeratorModel, r.numeratorCodec)) / \(named(r.denominatorModel, r.denominatorCodec))"]
                               : [r.numeratorModel, r.denominatorModel]
            return [r.algorithm, String(r.worldSize)] + models
                + [number(r.parametersRatio), number(r.gradientBytesRatio),
                   r.bytesSentRatio.map(number) ?? "", r.commSecondsRatio.map(number) ?? ""]
                + (human ? [] : [r.numeratorCodec, r.denominatorCodec])
        }
        return TextTable(header: header, rows: rows, rightAligned: Set([1] + Array(3..<header.count)))
    }
}

extension Format {
    /// Thousands separators: 1248424 -> "1,248,424".
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (value < 0 ? "-" : "") + out
    }
}
