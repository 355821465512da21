// The scaling lab's report: results.md (every table labelled measured or modelled),
// results.json, and the PNG plots, drawn by gnuplot from data files written here.
import Basics
import Foundation
import Metrics
import Topology

extension ScalingLab {
    public static let measuredLabel = "exchange measured, compute replayed from a measured single-worker timeline"

    static func title(_ model: String) -> String { model == "alexnet" ? "AlexNet" : "SqueezeNet \(model)" }
    static func ms(_ s: Double?) -> String { s.map { Format.fixed($0 * 1e3, 1) } ?? "-" }
    static func pct(_ f: Double?) -> String { f.map { Format.fixed($0 * 100, 1) + "%" } ?? "-" }
    static func signed(_ f: Double?) -> String { f.map { ($0 >= 0 ? "+" : "") + Format.fixed($0 * 100, 1) + "%" } ?? "-" }
    static func mb(_ b: Double?) -> String { b.map { Format.fixed($0 / 1e6, 2) } ?? "-" }
    static func seriesName(_ s: (rate: String, speedup: Double, bucketMB: Double)) -> String {
        "\(s.rate)-f\(Format.raw(s.speedup))-b\(Format.raw(s.bucketMB))"
    }
    static let algorithms: [AllreduceAlgorithm] = [.ring, .tree, .mpi, .ps]

    /// Points that may judge the model: measured with the cores not saturated.
    public var judged: [LabPoint] { points.filter { !$0.cpuBound && $0.config.hosts > 1 } }

    // MARK: Markdown

    public func markdown() -> String {
        var t = "# Scaling lab: SqueezeNet v1.0 against AlexNet on the simulated cluster\n\n"
        t += "Measured points: \(Self.measuredLabel). Times are emulated seconds: measured seconds divided by the time dilation k"
        t += " (links shaped at rate / k, compute replayed k times slower). Modelled figures: the step model of docs/scaling.md"
        t += " with alpha and beta calibrated in this run. Weak scaling: 32 images per worker, 1000 classes, 224 px (SqueezeNet) and 227 px (AlexNet).\n\n"
        t += timelineTable() + linkSection() + targets()
        for s in series { t += seriesTable(s) }
        t += codecSection()
        t += validation() + thresholds() + presetTable()
        return t
    }

    func timelineTable() -> String {
        var rows: [[String]] = []
        for (name, l) in timelines.sorted(by: { $0.key > $1.key }) {
            rows.append([Self.title(name), "\(l.inputSize)", "\(l.batch)", "\(l.blasThreads)", l.cpus, "\(l.parameters)",
                         Self.ms(l.forwardSeconds), Self.ms(l.backwardSeconds), Self.ms(l.updateSeconds), Self.ms(l.stepSeconds)])
        }
        return "## Single-worker timelines (measured)\n\nOne worker on the otherwise idle machine, medians of the timed steps (ms).\n\n"
            + TextTable(header: ["model", "px", "images", "BLAS threads", "CPUs", "parameters", "forward", "backward", "update", "whole step"],
                        rows: rows, rightAligned: Set(1...9)).markdown() + "\n"
    }

    func linkSection() -> String {
        var t = "## The emulated links (measured, calibrated)\n\n"
        t += String(format: "Ping-pong between two hosts of the cluster shaped at %.0f Mbit/s: alpha = %.1f us, beta = %.4g s/byte (%.1f MB/s). ",
                    calibratedMbit, link.alpha * 1e6, link.beta, 1e-6 / link.beta)
        if let pair = link.pairBeta {
            t += String(format: "Both hosts sending at once over their one connection: pair beta = %.4g s/byte (%.1f MB/s each way, %.2f x beta), used for the pairwise exchanges of a 2-host ring and of Open MPI's Rabenseifner and recursive doubling. ",
                        pair, 1e-6 / pair, pair / link.beta)
        }
        t += link.method + ". A point standing for rate R with dilation k uses beta x \(Format.raw(calibratedMbit)) / R and alpha / k"
        t += " (the veth's own latency shrinks by k too: small messages are emulated optimistically).\n\n"
        if let l = politeLatency {
            t += String(format: "Polite wait (waiting ranks sleep %d us instead of sched_yield, measured): a 4-byte message takes %.1f us one way with it, %.1f us without.\n\n",
                        points.first?.config.politeWaitUs ?? 0, l.polite * 1e6, l.yielding * 1e6)
        }
        return t
    }

    /// " (N TCP retransmits)" where a host retransmitted segments during the measured iterations.
    static func retransmits(_ p: LabPoint) -> String {
        guard let n = p.retransmittedSegments, n > 0 else { return "" }
        return " (\(n) retransmits)"
    }

    func seriesTable(_ s: (rate: String, speedup: Double, bucketMB: Double)) -> String {
        let chosen = points.filter { $0.config.rate == s.rate && $0.config.workerSpeedup == s.speedup && $0.config.bucketMB == s.bucketMB }
        var t = "## \(s.rate), worker x\(Format.raw(s.speedup))" + (s.speedup != 1 ? " (the timeline divided by \(Format.raw(s.speedup)))" : "")
        t += ", " + (s.bucketMB > 0 ? "buckets of \(Format.raw(s.bucketMB)) MB overlapping backward" : "one exchange after backward") + "\n\n"
        t += "Measured: \(Self.measuredLabel). Modelled: the step model. Error: measured / modelled - 1 (iteration time). Times in ms (emulated).\n\n"
        var rows: [[String]] = []
        for p in chosen.sorted(by: { Self.rowKey($0) < Self.rowKey($1) }) {
            let c = p.config
            rows.append([Self.title(c.model), c.hosts == 1 ? "-" : c.algorithm, "\(c.hosts)", Format.raw(c.timeDilation),
                         Self.ms(p.iterationSeconds), Format.fixed(p.imagesPerSecond, 1), p.speedup.map { Format.fixed($0, 2) } ?? "-",
                         Self.pct(p.efficiency), Self.ms(p.exposedSeconds),
                         Self.mb(p.bytesSentPerRank) + (p.bytesCounted ? "" : " (modelled)"),
                         Self.mb(p.linkTxBytesPerHost.max()), Self.signed(p.linkDeviation) + (p.bytesCounted || p.linkDeviation == nil ? "" : " (vs modelled)") + Self.retransmits(p),
                         Self.pct(p.cpuBusyDuringExchange) + (p.cpuBound ? " CPU-bound" : ""),
                         Self.ms(p.model?.iterationSeconds), Self.ms(p.model?.exposedSeconds), Self.pct(p.modelEfficiency),
                         Self.signed(p.iterationError)])
        }
        return t + TextTable(header: ["model", "algorithm", "hosts", "k", "iteration", "images/s", "speed-up", "efficiency",
                                      "exposed comm", "MB sent/rank", "link MB/host (max)", "link vs counted (max dev., net of TCP retransmits)",
                                      "CPU busy in exchange", "modelled iteration", "modelled exposed", "modelled efficiency", "error"],
                             rows: rows, rightAligned: Set(2...16)).markdown() + "\n"
    }

    /// The codec points beside float32's ring of the same series and host count.
    func codecSection() -> String {
        guard !codecPoints.isEmpty else { return "" }
        var t = "## Compressed gradients: the best codec for each model\n\n"
        t += "PowerSGD (rank 2, error feedback, warm start) on the ring with 25 MB buckets: the codec with the shortest modelled exchange"
        t += " for both models at 1 and 10 Gbit/s (`squeezenet-train codecs`). Measured: \(Self.measuredLabel); the codec's arithmetic"
        t += " (its GEMMs and orthogonalisation) is replayed too, from the same worker's timeline measured with the codec (`timeline --compression`),"
        t += " around the two real allreduces of each bucket. Its bytes are small enough that no point is dilated (k = 1)."
        t += " Efficiency is against the one-host point replaying the same timeline (the codec does nothing on one host). Times in ms (emulated).\n\n"
        var rows: [[String]] = []
        let sorted = codecPoints.sorted { ($0.config.rate.count, $0.config.rate, $0.config.workerSpeedup, $0.config.model == "alexnet" ? 1 : 0, $0.config.hosts)
            < ($1.config.rate.count, $1.config.rate, $1.config.workerSpeedup, $1.config.model == "alexnet" ? 1 : 0, $1.config.hosts) }
        for p in sorted {
            let c = p.config
            let plain = points.first { $0.config.rate == c.rate && $0.config.workerSpeedup == c.workerSpeedup && $0.config.bucketMB == c.bucketMB
                && $0.config.model == c.model && $0.config.algorithm == c.algorithm && $0.config.hosts == c.hosts }
            rows.append([c.rate, "x" + Format.raw(c.workerSpeedup), Self.title(c.model), c.codec ?? "-", "\(c.hosts)", Self.ms(p.iterationSeconds),
                         Self.pct(p.efficiency), Self.pct(plain?.efficiency) + (plain?.cpuBound == true ? " CPU-bound" : ""),
                         Self.ms(p.exposedSeconds), Self.mb(p.bytesSentPerRank), Self.mb(plain?.bytesSentPerRank),
                         Self.signed(p.linkDeviation), Self.pct(p.cpuBusyDuringExchange) + (p.cpuBound ? " CPU-bound" : ""),
                         Self.ms(p.model?.iterationSeconds), Self.pct(p.modelEfficiency), Self.signed(p.iterationError)])
        }
        return t + TextTable(header: ["link", "worker", "model", "codec", "hosts", "iteration", "efficiency", "float32 ring efficiency (measured)",
                                      "exposed comm", "MB sent/rank", "float32 MB sent/rank", "link vs counted (max dev.)", "CPU busy in exchange",
                                      "modelled iteration", "modelled efficiency", "error"],
                             rows: rows, rightAligned: Set(4...15)).markdown() + "\n"
    }

    static func rowKey(_ p: LabPoint) -> (Int, Int, Int) {
        (p.config.model == "alexnet" ? 1 : 0, p.config.hosts == 1 ? -1 : order(p.config.algorithm), p.config.hosts)
    }

    static func order(_ algorithm: String) -> Int { algorithms.firstIndex { $0.rawValue == algorithm } ?? 9 }

    func validation() -> String {
        var t = "## Validations (measured)\n\n"
        if !replayValidation.isEmpty {
            t += "**Replay against real compute**: 2 hosts at 1 Gbit/s, one rank pinned to each core, one BLAS thread, ring;"
            t += " the real run trains on synthetic images on both cores at once. \"Idle timeline\": the replay waits the lab's timeline, measured on one core"
            t += " with the other idle; \"loaded timeline\": one measured on one core while the other ran the same step, as in the real run. Median iteration (ms).\n\n"
            var rows: [[String]] = []
            for v in replayValidation {
                rows.append([Self.title(v.model), v.bucketMB > 0 ? "\(Format.raw(v.bucketMB)) MB" : "none", Self.ms(v.real.iterationSeconds),
                             Self.ms(v.replayed.iterationSeconds), Self.signed(v.replayed.iterationSeconds / v.real.iterationSeconds - 1),
                             Self.ms(v.loaded?.iterationSeconds), Self.signed(v.loaded.map { $0.iterationSeconds / v.real.iterationSeconds - 1 }),
                             Self.ms(v.real.exposedSeconds), Self.ms(v.replayed.exposedSeconds), Self.ms(v.loaded?.exposedSeconds)])
            }
            t += TextTable(header: ["model", "buckets", "real compute", "replayed (idle timeline)", "vs real", "replayed (loaded timeline)", "vs real",
                                    "exposed (real)", "exposed (idle)", "exposed (loaded)"],
                           rows: rows, rightAligned: Set(2...9)).markdown() + "\n"
        }
        if dilationValidation.count >= 2 {
            let v = dilationValidation.sorted { $0.config.timeDilation < $1.config.timeDilation }
            let c = v[0].config
            t += "**Time dilation**: \(Self.title(c.model)) \(c.algorithm), buckets \(Format.raw(c.bucketMB)) MB, \(c.hosts) hosts, standing for \(c.rate);"
            t += " the same configuration at k = \(v.map { Format.raw($0.config.timeDilation) }.joined(separator: " and ")). Emulated ms.\n\n"
            var rows: [[String]] = []
            for p in v {
                rows.append([Format.raw(p.config.timeDilation), p.config.shapedRate ?? "-", Self.ms(p.iterationSeconds), Self.ms(p.exposedSeconds),
                             Self.signed(p.iterationSeconds / v[0].iterationSeconds - 1), Self.pct(p.cpuBusyDuringExchange)])
            }
            t += TextTable(header: ["k", "shaped at", "iteration", "exposed comm", "vs the lowest k", "CPU busy in exchange"],
                           rows: rows, rightAligned: Set(0...5)).markdown() + "\n"
        }
        return t
    }

    func targets() -> String {
        var t = "## Targets\n\n"
        let judged = self.judged
        let within = judged.filter { abs($0.iterationError ?? .infinity) <= 0.15 }
        t += "- Model: \(within.count) of \(judged.count) measured points that were not CPU-bound are within 15% of the modelled iteration time"
        t += " (\(points.filter { $0.cpuBound }.count) CPU-bound points flagged and left out)."
        let misses = judged.filter { abs($0.iterationError ?? .infinity) > 0.15 }
        if !misses.isEmpty { t += " Outside: " + misses.map { "\($0.id) (\(Self.signed($0.iterationError)))" }.joined(separator: ", ") + "." }
        let worst = judged.max { abs($0.iterationError ?? 0) < abs($1.iterationError ?? 0) }
        if let w = worst { t += " Largest error: \(Self.signed(w.iterationError)) (\(w.id))." }
        t += "\n"
        let coded = codecPoints.filter { !$0.cpuBound && $0.config.hosts > 1 }
        if !coded.isEmpty {
            let codedWithin = coded.filter { abs($0.iterationError ?? .infinity) <= 0.15 }
            let codedWorst = coded.max { abs($0.iterationError ?? 0) < abs($1.iterationError ?? 0) }
            t += "- Model, compressed gradients: \(codedWithin.count) of \(coded.count) codec points that were not CPU-bound are within 15%"
            t += " (\(codecPoints.filter { $0.cpuBound }.count) CPU-bound)" + (codedWorst.map { "; largest error \(Self.signed($0.iterationError)) (\($0.id))" } ?? "") + ".\n"
        }
        let wire = points.filter { $0.bytesCounted && $0.config.hosts > 1 && $0.linkDeviation != nil }
        let wireWithin = wire.filter { abs($0.linkDeviation!) <= 0.01 }
        t += "- Link bytes (kernel counters, net of TCP retransmits) against counted bytes, tree, ring and ps: \(wireWithin.count) of \(wire.count) points within 1% on every host"
        if let w = wire.max(by: { abs($0.linkDeviation!) < abs($1.linkDeviation!) }) { t += "; largest deviation \(Self.signed(w.linkDeviation)) (\(w.id))" }
        let raw = wire.filter { $0.linkDeviationWithRetransmits != nil }
        if !raw.isEmpty {
            t += "; with the retransmits left in \(raw.filter { abs($0.linkDeviationWithRetransmits!) <= 0.01 }.count) of \(raw.count)"
            t += " (\(raw.filter { ($0.retransmittedSegments ?? 0) > 0 }.count) of them retransmitted TCP segments)"
        }
        t += ".\n"
        for (model, bucket) in [("v1.0", 25.0), ("v1.0", 0.0), ("alexnet", 0.0), ("alexnet", 25.0)] {
            for speedup in [1.0, 10.0] {
                guard let p = points.first(where: { $0.config.rate == "1gbit" && $0.config.workerSpeedup == speedup && $0.config.model == model
                    && $0.config.algorithm == "ring" && $0.config.bucketMB == bucket && $0.config.hosts == 16 }) else { continue }
                t += "- 16 hosts, 1 Gbit/s, ring, \(Self.title(model)), worker x\(Format.raw(speedup)), " + (bucket > 0 ? "buckets \(Format.raw(bucket)) MB" : "no buckets")
                t += ": efficiency \(Self.pct(p.efficiency)) measured\(p.cpuBound ? " (CPU-bound)" : ""), \(Self.pct(p.modelEfficiency)) modelled.\n"
            }
        }
        return t + "\n"
    }

    /// First p (powers of two) with efficiency below `limit`, or nil.
    static func firstBelow(_ curve: [(Int, Double)], _ limit: Double) -> Int? { curve.first { $0.1 < limit }?.0 }

    func thresholds() -> String {
        var t = "## Where efficiency drops below 90% and 50%\n\n"
        t += "Hosts (powers of two) at which efficiency first falls below each mark: measured up to 16 hosts (\"> 16\": not within the lab), "
        t += "modelled to 1024 on the calibrated emulated link. Buckets of 25 MB where measured, else none.\n\n"
        var rows: [[String]] = []
        for s in series {
            for model in ["v1.0", "alexnet"] {
                for algorithm in Self.algorithms {
                    let measured = points.filter { $0.config.rate == s.rate && $0.config.workerSpeedup == s.speedup && $0.config.bucketMB == s.bucketMB
                        && $0.config.model == model && ($0.config.algorithm == algorithm.rawValue || $0.config.hosts == 1) }
                        .sorted { $0.config.hosts < $1.config.hosts }
                    guard measured.count > 1 else { continue }
                    let m = measured.compactMap { p in p.efficiency.map { (p.config.hosts, $0) } }
                    let l = link(for: LabPointConfig(rate: s.rate, shapedRate: nil, timeDilation: 1, workerSpeedup: s.speedup, model: model,
                                                     algorithm: algorithm.rawValue, bucketMB: s.bucketMB, hosts: 1, iterations: 1, warmupIterations: 0))
                    let modelled = (0...10).map { 1 << $0 }.compactMap { p in
                        modelEfficiency(model: model, algorithm: algorithm, workers: p, alpha: l.alpha, beta: l.beta,
                                        pairBeta: l.pairBeta, speedup: s.speedup, bucketBytes: measured[0].config.bucketBytes).map { (p, $0) }
                    }
                    func show(_ x: Int?, _ limit: String) -> String { x.map(String.init) ?? limit }
                    rows.append([s.rate, "x" + Format.raw(s.speedup), s.bucketMB > 0 ? Format.raw(s.bucketMB) : "none", Self.title(model), algorithm.rawValue,
                                 show(Self.firstBelow(m, 0.9), "> 16"), show(Self.firstBelow(modelled, 0.9), "> 1024"),
                                 show(Self.firstBelow(m, 0.5), "> 16"), show(Self.firstBelow(modelled, 0.5), "> 1024")])
                }
            }
        }
        return t + TextTable(header: ["link", "worker", "buckets MB", "model", "algorithm", "< 90% measured", "< 90% modelled", "< 50% measured", "< 50% modelled"],
                             rows: rows, rightAligned: Set(5...8)).markdown() + "\n"
    }

    static let presetLinks: [NetworkPreset] = [.gigabitEthernet, .tenGigabitEthernet, .twentyFiveGigabitEthernet, .hundredGigabit, .infiniBandFDR]

    func presetTable() -> String {
        var t = "## Modelled to 1024 workers on network presets\n\n"
        t += "Modelled efficiency (no measurement): ring, buckets of 25 MB, the measured timelines, alpha and beta of each preset (docs/communication.md).\n\n"
        var rows: [[String]] = []
        for speedup in [1.0, 10.0] {
            for model in ["v1.0", "alexnet"] where timelines[model] != nil {
                for preset in Self.presetLinks {
                    let e = [16, 64, 256, 1024].map {
                        modelEfficiency(model: model, algorithm: .ring, workers: $0, alpha: preset.alpha, beta: preset.beta,
                                        speedup: speedup, bucketBytes: 25 << 20)
                    }
                    rows.append(["x" + Format.raw(speedup), Self.title(model), preset.name] + e.map { Self.pct($0) })
                }
            }
        }
        return t + TextTable(header: ["worker", "model", "network", "16", "64", "256", "1024"], rows: rows, rightAligned: Set(3...6)).markdown() + "\n"
    }

    // MARK: JSON

    public func json() throws -> Data {
        struct Document: Encodable {
            var label: String
            var link: LabLink
            var calibratedMbit: Double
            var timelines: [String: ComputeTimeline]
            var points: [LabPoint]
            var codecTimelines: [String: ComputeTimeline]
            var codecPoints: [LabPoint]
            var replayValidation: [[LabPoint]]
            var dilationValidation: [LabPoint]
        }
        let doc = Document(label: Self.measuredLabel, link: link, calibratedMbit: calibratedMbit, timelines: timelines, points: points,
                           codecTimelines: codecTimelines, codecPoints: codecPoints, replayValidation: replayValidation.map { [$0.real, $0.replayed] + ($0.loaded.map { [$0] } ?? []) }, dilationValidation: dilationValidation)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(doc)
    }
}
