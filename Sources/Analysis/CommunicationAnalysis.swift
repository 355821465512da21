// Measured runs set against the alpha-beta cost model: per-row modelled comm
// seconds and the model's error, and weak-scaling curves to 1024 workers with
// the measured points beside them. Every figure is labelled measured or modelled.
import Basics
import Foundation
import Metrics
import Topology

/// One measured (model, algorithm, world size) row next to the model's comm seconds on one network.
public struct ModelCheckRow: Equatable, Sendable {
    public var model: String
    public var algorithm: String
    public var worldSize: Int
    public var gradientBytes: Int
    public var network: String
    /// Median over iterations of the slowest rank's comm seconds (measured).
    public var measuredCommSeconds: Double
    /// Critical path of the algorithm on the network (modelled); nil for an unknown algorithm.
    public var modelledCommSeconds: Double?
    /// measured / modelled - 1; nil when the model predicts 0 (one worker) or is unknown.
    public var error: Double?
}

/// Where a scaling curve's single-worker compute seconds came from.
public struct ComputeReference: Equatable, Sendable {
    /// Seconds per iteration excluding communication (data + forward + backward + update).
    public var seconds: Double
    /// Images per worker per iteration.
    public var perWorkerBatch: Int
    /// Human-readable origin: "measured, v1.0 at 1 worker", "given with --compute-seconds", ...
    public var source: String
}

/// One modelled point of a curve with the measured point at the same p, if any.
public struct ScalingComparison: Equatable, Sendable {
    public var modelled: ScalingPoint
    /// Measured comm seconds (median of the slowest rank), nil when not run at this p.
    public var measuredCommSeconds: Double?
    /// Measured iteration seconds (slowest rank, median).
    public var measuredIterationSeconds: Double?
    /// Measured images per second, p b / measured iteration seconds (nil without images).
    public var measuredThroughput: Double?
    /// Measured throughput / measured single-worker throughput.
    public var measuredSpeedup: Double?
    /// measured comm / modelled comm - 1 (nil at p = 1).
    public var commError: Double?
    /// measured iteration / modelled iteration - 1.
    public var iterationError: Double?
}

/// The scaling curve of one model and algorithm on one network.
public struct ScalingSeries: Sendable {
    public var model: String
    public var algorithm: AllreduceAlgorithm
    public var network: NetworkPreset
    public var gradientBytes: Int
    public var compute: ComputeReference
    public var points: [ScalingComparison]
}

/// Measured report + cost model on one or more networks.
public struct CommunicationAnalysis: Sendable {
    public var report: Report
    public var networks: [NetworkPreset]
    public var workerCounts: [Int]
    let records: [IterationRecord]
    let computeOverrides: [String: Double]

    /// `computeOverrides`: model name -> single-worker seconds per iteration to use
    /// instead of (or where there is no) measurement.
    public init(records: [IterationRecord], networks: [NetworkPreset],
                computeOverrides: [String: Double] = [:],
                workerCounts: [Int] = ScalingModel.defaultWorkerCounts) {
        self.records = records
        self.report = Report(records: records)
        self.networks = networks
        self.computeOverrides = computeOverrides
        self.workerCounts = workerCounts
    }

    // MARK: Per-row model check

    public func modelCheck() -> [ModelCheckRow] {
        var result: [ModelCheckRow] = []
        for network in networks {
            for row in report.rows {
                let algorithm = AllreduceAlgorithm(rawValue: row.algorithm)
                let modelled = algorithm.map {
                    CommunicationModel.criticalPathSeconds($0, worldSize: row.worldSize,
                                                           gradientBytes: row.gradientBytes, network: network)
                } ?? (row.worldSize == 1 ? 0 : nil)
                result.append(ModelCheckRow(
                    model: row.model, algorithm: row.algorithm, worldSize: row.worldSize,
                    gradientBytes: row.gradientBytes, network: network.name,
                    measuredCommSeconds: row.commSeconds, modelledCommSeconds: modelled,
                    error: modelled.flatMap { $0 > 0 ? row.commSeconds / $0 - 1 : nil }))
            }
        }
        return result
    }

    /// The model check row with the largest |error| on `network`, if any.
    public func largestError(network: NetworkPreset) -> ModelCheckRow? {
        modelCheck().filter { $0.network == network.name && $0.error != nil }
            .max { abs($0.error!) < abs($1.error!) }
    }

    public func modelCheckMarkdown() -> String {
        var text = ""
        for network in networks {
            let rows = modelCheck().filter { $0.network == network.name }
            text += "Communication seconds per iteration, measured vs modelled on `\(network.name)` "
                + "(\(network.assumption)):\n\n"
            let cells = rows.map { r -> [String] in
                [r.model, r.algorithm, String(r.worldSize), Format.megabytes(Double(r.gradientBytes)),
                 Format.milliseconds(r.measuredCommSeconds),
                 r.modelledCommSeconds.map(Format.milliseconds) ?? "",
                 r.error.map(Format.signedPercent) ?? ""]
            }
            text += TextTable(header: ["model", "algorithm", "ranks", "gradient", "comm (measured)",
                                       "comm (modelled, \(network.name))", "error (measured/modelled - 1)"],
                              rows: cells, rightAligned: Set(2..<7)).markdown()
            if let worst = largestError(network: network) {
                text += "\nLargest error on \(network.name): \(Format.signedPercent(worst.error!)) "
                    + "(\(worst.model) \(worst.algorithm) x\(worst.worldSize): measured "
                    + "\(Format.milliseconds(worst.measuredCommSeconds)), modelled "
                    + "\(Format.milliseconds(worst.modelledCommSeconds!))).\n"
            }
            if rows.contains(where: { $0.algorithm == "mpi" }) {
                text += "\nmpi rows: the model is " + AllreduceAlgorithm.mpiAssumption + ".\n"
            }
            text += "\n"
        }
        return text
    }

    /// The report's CSV with, for each network, the modelled comm seconds and the error appended.
    public func csv() -> String {
        let base = report.comparisonTable(human: false)
        let checks = modelCheck()
        var header = base.header
        for n in networks { header += ["modelled_comm_seconds_\(n.name)", "comm_error_\(n.name)"] }
        let rows = zip(report.rows, base.rows).map { row, cells -> [String] in
            var out = cells
            for n in networks {
                let c = checks.first { $0.network == n.name && $0.model == row.model
                    && $0.algorithm == row.algorithm && $0.worldSize == row.worldSize }
                out += [c?.modelledCommSeconds.map(Format.raw) ?? "", c?.error.map(Format.raw) ?? ""]
            }
            return out
        }
        return TextTable(header: header, rows: rows).csv()
    }

    // MARK: Scaling

    /// Models with measured rows, AlexNet-like first.
    public var models: [String] {
        var seen: [String] = []
        for r in report.rows where !seen.contains(r.model) { seen.append(r.model) }
        return seen.sorted { (Report.isAlexNet($0) ? 0 : 1, $0) < (Report.isAlexNet($1) ? 0 : 1, $1) }
    }

    /// Records of one model at its smallest world size, and that size.
    private func smallestRun(of model: String) -> (worldSize: Int, rows: [ReportRow], batch: Int)? {
        let rows = report.rows.filter { $0.model == model }
        guard let p = rows.map(\.worldSize).min() else { return nil }
        let batches = records.filter { $0.model == model && $0.worldSize == p }.map { Double($0.batchSize) }
        return (p, rows.filter { $0.worldSize == p }, Int(median(batches) ?? 0))
    }

    /// Single-worker compute of `model`: the override, else the measured non-comm
    /// seconds at the smallest world size run (1 when present), else (for a
    /// communication-only payload, which has no compute) SqueezeNet's.
    public func computeReference(for model: String) -> ComputeReference? {
        let run = smallestRun(of: model)
        if let s = computeOverrides[model] {
            return ComputeReference(seconds: s, perWorkerBatch: max(run?.batch ?? 1, 1),
                                    source: "given with --compute-seconds; not measured")
        }
        if let run = run, run.batch > 0, !model.lowercased().contains("payload") {
            let seconds = median(run.rows.map { max($0.iterationSeconds - $0.commSeconds, 0) }) ?? 0
            let at = run.worldSize == 1 ? "1 worker" : "\(run.worldSize) workers (no 1-worker run)"
            return ComputeReference(seconds: seconds, perWorkerBatch: run.batch,
                                    source: "measured: \(model) iteration minus comm at \(at)")
        }
        // A payload: gradients of the right size, no forward/backward. Borrow a
        // measured SqueezeNet compute (AlexNet's forward+backward FLOPs per image
        // are of the same order as SqueezeNet v1.0's).
        if let donor = models.first(where: { Report.isSqueezeNet($0) && $0 != model }),
           var ref = computeReference(for: donor) {
            ref.source = "borrowed: \(model) has no compute; uses \(donor)'s (\(ref.source))"
            return ref
        }
        return nil
    }

    /// Curves for every measured model, every algorithm, every network.
    public func scaling() -> [ScalingSeries] {
        var result: [ScalingSeries] = []
        for network in networks {
            for model in models {
                guard let compute = computeReference(for: model) else { continue }
                let rows = report.rows.filter { $0.model == model }
                let gradientBytes = rows.map(\.gradientBytes).max()!
                let single = rows.filter { $0.worldSize == 1 }
                let measuredSingleThroughput: Double? = single.isEmpty ? nil : {
                    let t = median(single.map(\.iterationSeconds)) ?? 0
                    return compute.perWorkerBatch > 0 && t > 0 && !compute.source.hasPrefix("borrowed")
                        ? Double(compute.perWorkerBatch) / t : nil
                }()
                for algorithm in AllreduceAlgorithm.flat {
                    let sm = ScalingModel(computeSeconds: compute.seconds, perWorkerBatch: compute.perWorkerBatch,
                                          gradientBytes: gradientBytes, algorithm: algorithm, network: network)
                    let counts = Array(Set(workerCounts + rows.map(\.worldSize))).sorted()
                    let points = counts.map { p -> ScalingComparison in
                        let pt = sm.point(workers: p)
                        var c = ScalingComparison(modelled: pt)
                        let measured = rows.filter { $0.worldSize == p && (p == 1 || $0.algorithm == algorithm.rawValue) }
                        guard !measured.isEmpty else { return c }
                        let comm = median(measured.map(\.commSeconds)) ?? 0
                        let iteration = median(measured.map(\.iterationSeconds)) ?? 0
                        c.measuredCommSeconds = comm
                        c.measuredIterationSeconds = iteration
                        c.commError = pt.commSeconds > 0 ? comm / pt.commSeconds - 1 : nil
                        c.iterationError = pt.iterationSeconds > 0 ? iteration / pt.iterationSeconds - 1 : nil
                        if let single = measuredSingleThroughput, iteration > 0 {
                            c.measuredThroughput = Double(p * compute.perWorkerBatch) / iteration
                            c.measuredSpeedup = c.measuredThroughput! / single
                        }
                        return c
                    }
                    result.append(ScalingSeries(model: model, algorithm: algorithm, network: network,
                                                gradientBytes: gradientBytes, compute: compute, points: points))
                }
            }
        }
        return result
    }

    public func scalingMarkdown() -> String {
        var text = "Weak scaling (each worker keeps its batch): time(p) = compute + comm(p), comm not overlapped. "
            + "Columns marked modelled come from the alpha-beta model; measured columns from the runs on this machine; "
            + "errors are measured / modelled - 1 against the curve's own network, so they only describe the model "
            + "when that network is the one the runs used (calibrated).\n\n"
        for s in scaling() {
            text += "### \(s.model), \(s.algorithm.rawValue), \(s.network.name)\n\n"
            text += "Gradient \(Format.megabytes(Double(s.gradientBytes))); compute \(Format.milliseconds(s.compute.seconds)) "
                + "per iteration at \(s.compute.perWorkerBatch) images per worker (\(s.compute.source)); "
                + "network \(s.network.assumption)"
            if s.algorithm == .mpi { text += "; mpi " + AllreduceAlgorithm.mpiAssumption }
            text += ".\n\n"
            let rows = s.points.map { c -> [String] in
                let m = c.modelled
                return [String(m.workers), Format.milliseconds(m.commSeconds), Format.milliseconds(m.iterationSeconds),
                        Format.fixed(m.throughput, 1), Format.fixed(m.speedup, 2), Format.percent(m.efficiency),
                        c.measuredCommSeconds.map(Format.milliseconds) ?? "",
                        c.commError.map(Format.signedPercent) ?? "",
                        c.measuredSpeedup.map { Format.fixed($0, 2) } ?? "",
                        c.iterationError.map(Format.signedPercent) ?? ""]
            }
            text += TextTable(header: ["workers", "comm (modelled)", "iteration (modelled)", "images/s (modelled)",
                                       "speedup (modelled)", "efficiency (modelled)", "comm (measured)", "comm error",
                                       "speedup (measured)", "iteration error"],
                              rows: rows, rightAligned: Set(0..<10)).markdown() + "\n"
        }
        return text
    }

    /// Every curve point in long form, measured columns empty where not run.
    public func scalingCSV() -> String {
        let header = ["model", "algorithm", "network", "gradient_bytes", "compute_seconds", "per_worker_batch",
                      "compute_source", "workers", "modelled_comm_seconds", "modelled_iteration_seconds",
                      "modelled_images_per_second", "modelled_speedup", "modelled_efficiency",
                      "measured_comm_seconds", "measured_iteration_seconds", "measured_images_per_second",
                      "measured_speedup", "comm_error", "iteration_error"]
        var rows: [[String]] = []
        for s in scaling() {
            for c in s.points {
                let m = c.modelled
                rows.append([s.model, s.algorithm.rawValue, s.network.name, String(s.gradientBytes),
                             Format.raw(s.compute.seconds), String(s.compute.perWorkerBatch), s.compute.source,
                             String(m.workers), Format.raw(m.commSeconds), Format.raw(m.iterationSeconds),
                             Format.raw(m.throughput), Format.raw(m.speedup), Format.raw(m.efficiency),
                             c.measuredCommSeconds.map(Format.raw) ?? "", c.measuredIterationSeconds.map(Format.raw) ?? "",
                             c.measuredThroughput.map(Format.raw) ?? "", c.measuredSpeedup.map(Format.raw) ?? "",
                             c.commError.map(Format.raw) ?? "", c.iterationError.map(Format.raw) ?? ""])
            }
        }
        return TextTable(header: header, rows: rows).csv()
    }
}
