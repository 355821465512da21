// The scaling lab's measured points (launch/scaling-lab), read back, turned into
// emulated figures (measured time / dilation k), held to the step model, and judged for
// whether the two cores were the bottleneck. docs/scaling.md explains the method.
import Basics
import Foundation
import Metrics
import Topology

/// `point.json`, written by the lab next to each point's metrics.
public struct LabPointConfig: Codable, Equatable, Sendable {
    /// The link rate the point stands for ("1gbit", "10gbit").
    public var rate: String
    /// The tbf rate the links were shaped at (rate / k).
    public var shapedRate: String?
    public var timeDilation: Double
    public var workerSpeedup: Double
    public var model: String
    public var algorithm: String
    public var bucketMB: Double
    public var hosts: Int
    public var iterations: Int
    public var warmupIterations: Int
    /// "replayed" (the lab's points) or "real" (the replay validation's reference).
    public var compute: String?
    public var politeWaitUs: Int?
    /// `--compression` of the point (the codec points: `powersgd:2`); nil: float32.
    public var codec: String? = nil

    enum CodingKeys: String, CodingKey {
        case rate, model, algorithm, hosts, iterations, compute, codec
        case shapedRate = "shaped_rate"
        case timeDilation = "time_dilation"
        case workerSpeedup = "worker_speedup"
        case bucketMB = "bucket_mb"
        case warmupIterations = "warmup_iterations"
        case politeWaitUs = "polite_wait_us"
    }

    /// Megabits per second of `rate`.
    public var rateMbit: Double { Self.megabits(rate) ?? .nan }

    static func megabits(_ rate: String) -> Double? {
        if rate.hasSuffix("gbit"), let v = Double(rate.dropLast(4)) { return v * 1000 }
        if rate.hasSuffix("mbit"), let v = Double(rate.dropLast(4)) { return v }
        return nil
    }

    /// The gradient bucket size in bytes as the trainer computes it (0: one exchange).
    public var bucketBytes: Int { GradientBuckets.bytes(megabytes: bucketMB) }
}

/// One point as measured, in emulated seconds (measured / k), with its model.
public struct LabPoint: Codable, Sendable {
    public var id: String
    public var config: LabPointConfig
    /// Medians over the measured iterations of the slowest rank's figure.
    public var iterationSeconds: Double
    public var exposedSeconds: Double
    public var exchangeSeconds: Double
    public var imagesPerSecond: Double
    /// Filled in once the one-host point of the same series is known.
    public var speedup: Double?
    public var efficiency: Double?
    /// Mean over ranks of the bytes each sent per iteration (counted; modelled for mpi).
    public var bytesSentPerRank: Double
    public var bytesCounted: Bool
    /// Per host (rank = host), the interface's sent bytes per iteration (kernel counters).
    public var linkTxBytesPerHost: [Double]
    /// link / counted - 1 of the host where it is largest in size (over the run's iterations),
    /// the link's bytes net of TCP retransmissions (which the interface counts twice and the
    /// program once): at most one frame of MTU + 14 bytes per retransmitted segment.
    public var linkDeviation: Double?
    /// The same with the retransmissions left in (nil in folders without retransmit counters).
    public var linkDeviationWithRetransmits: Double?
    /// The most TCP segments any host retransmitted over the measured iterations.
    public var retransmittedSegments: Int?
    /// Busy share of both cores over the measured iterations, and while the exchange ran.
    public var cpuBusy: Double?
    public var cpuBusyDuringExchange: Double?
    public var cpuBound: Bool
    public var model: StepModel.Step?
    public var modelSpeedup: Double?
    public var modelEfficiency: Double?
    /// measured / modelled - 1, for the iteration and for the exposed exchange.
    public var iterationError: Double? {
        model.map { iterationSeconds / $0.iterationSeconds - 1 }
    }
}

/// What the lab's alpha and beta are: latency from the small messages, bandwidth from
/// the slope between the two largest (tbf lets a burst of a few hundred KB through at
/// the veth's speed, so a fit over every size overstates the bandwidth).
public struct LabLink: Codable, Equatable, Sendable {
    public var alpha: Double
    public var beta: Double
    /// Seconds per byte while as many bytes cross the other way on the same connection
    /// (calibrated both ways at once; nil when the lab did not measure it: `beta` is used).
    public var pairBeta: Double?
    public var method: String

    public init(alpha: Double, beta: Double, pairBeta: Double? = nil, method: String) {
        self.alpha = alpha; self.beta = beta; self.pairBeta = pairBeta; self.method = method
    }

    /// From the ping-pong, and the both-ways exchange if there is one.
    public init(calibration c: Calibration, bothWays: Calibration? = nil) throws {
        let points = c.points.sorted { $0.bytes < $1.bytes }
        let small = points.filter { $0.bytes <= 4096 }.map(\.oneWaySeconds)
        guard let a = median(small), points.count >= 2 else {
            throw MetricsError.malformed("calibration: needs sizes up to 4 KB and at least two large ones")
        }
        let (slope, before, last) = try Self.largestSlope(points)
        var method = "alpha: median one-way time of messages up to 4 KB; beta: slope of the one-way time between \(before) and \(last) bytes (ping-pong inside the cluster)"
        var pair: Double?
        if let b = bothWays {
            let (s, from, to) = try Self.largestSlope(b.points.sorted { $0.bytes < $1.bytes })
            pair = s
            method += "; pair beta: the same slope between \(from) and \(to) bytes with both hosts sending at once"
        }
        guard a > 0 else { throw MetricsError.malformed("calibration: latency is not positive") }
        self.init(alpha: a, beta: slope, pairBeta: pair, method: method)
    }

    /// The slope of the one-way time between the two largest sizes (tbf lets a burst of a
    /// few hundred KB through at the veth's speed, so a fit over every size overstates the bandwidth).
    static func largestSlope(_ points: [PingPongPoint]) throws -> (Double, Int, Int) {
        guard points.count >= 2 else { throw MetricsError.malformed("calibration: needs at least two sizes") }
        let last = points[points.count - 1], before = points[points.count - 2]
        let slope = (last.oneWaySeconds - before.oneWaySeconds) / Double(last.bytes - before.bytes)
        guard slope > 0 else { throw MetricsError.malformed("calibration: bandwidth between \(before.bytes) and \(last.bytes) bytes is not positive") }
        return (slope, before.bytes, last.bytes)
    }

    /// The link a point stands for: bandwidth scaled to its rate, latency divided by k.
    public func emulated(rateMbit: Double, calibratedMbit: Double, dilation k: Double) -> LabLink {
        LabLink(alpha: alpha / k, beta: beta * calibratedMbit / rateMbit, pairBeta: pairBeta.map { $0 * calibratedMbit / rateMbit },
                method: method)
    }
}

/// `wire.json` of netns-cluster run: each host's interface tx counter after the run, in hostfile order.
enum LabWire {
    /// Per host, the interface's sent bytes and the namespace's retransmitted TCP segments
    /// after the run (nil in files from before they were recorded), and the links' MTU.
    static func read(_ path: String) -> (hosts: [(tx: Int, retransmits: Int?)], mtu: Int?) {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let hosts = object["hosts"] as? [[String: Any]] else { return ([], nil) }
        let counters = hosts.compactMap { h in
            (h["tx_after"] as? NSNumber).map { (tx: $0.intValue, retransmits: (h["retrans_after"] as? NSNumber)?.intValue) }
        }
        return (counters, (object["mtu"] as? NSNumber)?.intValue)
    }
}

/// Busy share of both cores between two /proc/stat samples.
struct CPUSample { var time: Double; var busy: Double; var duration: Double }

enum CPUSamples {
    /// `cpu.txt`: "unix-seconds user nice system idle iowait irq softirq steal" per line;
    /// busy = everything but idle, iowait and nice.
    static func read(_ path: String) -> [CPUSample] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let rows: [[Double]] = text.split(separator: "\n").compactMap { line in
            let v = line.split(separator: " ").compactMap { Double($0) }
            return v.count == 9 ? v : nil
        }
        var out: [CPUSample] = []
        for (a, b) in zip(rows, rows.dropFirst()) {
            let d = (1..<9).map { b[$0] - a[$0] }
            let total = d.reduce(0, +)
            guard total > 0, b[0] > a[0] else { continue }
            // Niced time is not the lab's: work at nice 19 beside it only fills idle cycles.
            out.append(CPUSample(time: a[0], busy: 1 - (d[1] + d[3] + d[4]) / total, duration: b[0] - a[0]))
        }
        return out
    }

    /// The busy share over the parts of `windows` the samples cover (time-weighted).
    static func busy(_ samples: [CPUSample], in windows: [(Double, Double)]) -> Double? {
        var weight = 0.0, sum = 0.0
        for s in samples {
            let lo = s.time, hi = s.time + s.duration
            for w in windows {
                let overlap = min(hi, w.1) - max(lo, w.0)
                if overlap > 0 { weight += overlap; sum += overlap * s.busy }
            }
        }
        return weight > 0 ? sum / weight : nil
    }
}

extension LabPoint {
    /// The two cores count as saturated while the exchange ran above this busy share.
    public static let cpuBoundThreshold = 0.9

    /// Reads one point folder (point.json, metrics.jsonl, cpu.txt).
    public static func load(_ dir: String, id: String) throws -> LabPoint {
        let configPath = (dir as NSString).appendingPathComponent("point.json")
        let config: LabPointConfig
        do {
            config = try JSONDecoder().decode(LabPointConfig.self, from: Data(contentsOf: URL(fileURLWithPath: configPath)))
        } catch { throw MetricsError.malformed("\(configPath): not a lab point (\(error))") }
        guard config.hosts >= 1, config.timeDilation >= 1, config.workerSpeedup > 0, config.rateMbit.isFinite else {
            throw MetricsError.malformed("\(configPath): impossible hosts, dilation, speed-up or rate")
        }
        let records = try MetricsReader.read((dir as NSString).appendingPathComponent("metrics.jsonl"))
        let measured = records.filter { $0.iteration >= config.warmupIterations }
        let iterations = Set(measured.map(\.iteration)).sorted()
        guard !iterations.isEmpty, Set(records.map(\.rank)).count == config.hosts else {
            throw MetricsError.malformed("\(dir): no measured iterations, or not one record per host")
        }
        let k = config.timeDilation
        func slowest(_ f: (IterationRecord) -> Double) -> Double {
            median(iterations.map { i in measured.filter { $0.iteration == i }.map(f).max()! })! / k
        }
        let iteration = slowest(\.iterationSeconds)
        let perRank = iterations.map { i in measured.filter { $0.iteration == i }.map { Double($0.bytesSent) } }
        let bytes = median(perRank.map { $0.reduce(0, +) / Double($0.count) })!
        // The link against the counted bytes, per host (rank r on the r-th host): from the
        // counters at the start of the first measured iteration (after the warm-up) to the
        // counters after the run (wire.json), against the measured iterations' counted bytes.
        // Reading after the run, not at the last iteration's end, takes in what the socket
        // buffers and the tbf queue still held; it adds the final metrics gather (docs/scaling.md).
        // A segment the tbf queue dropped crosses the interface twice; netting the
        // retransmissions out holds the link to what the program sent.
        var linkPerHost: [Double] = [], deviation: Double?, withRetransmits: Double?, retransmitted: Int?
        let ranks = Set(records.map(\.rank)).sorted()
        let wire = LabWire.read((dir as NSString).appendingPathComponent("wire.json"))
        if measured.allSatisfy({ $0.linkTxCounter != nil }), wire.hosts.count >= ranks.count {
            for r in ranks {
                let mine = measured.filter { $0.rank == r }.sorted { $0.iteration < $1.iteration }
                let link = Double(wire.hosts[r].tx - mine.first!.linkTxCounter!)
                let counted = Double(mine.reduce(0) { $0 + $1.bytesSent })
                var net = link
                if let before = mine.first!.linkRetransmitCounter, let after = wire.hosts[r].retransmits, let mtu = wire.mtu, after >= before {
                    retransmitted = max(retransmitted ?? 0, after - before)
                    net -= Double((after - before) * (mtu + 14))
                    if counted > 0, abs(link / counted - 1) > abs(withRetransmits ?? 0) { withRetransmits = link / counted - 1 }
                }
                linkPerHost.append(link / Double(mine.count))
                if counted > 0, abs(net / counted - 1) > abs(deviation ?? 0) { deviation = net / counted - 1 }
            }
        }
        // CPU while the exchange ran: rank 0's exchange windows of the measured iterations.
        let samples = CPUSamples.read((dir as NSString).appendingPathComponent("cpu.txt"))
        var windows: [(Double, Double)] = [], whole: [(Double, Double)] = []
        for r in measured where r.rank == 0 {
            guard let start = r.startedAt else { continue }
            let exchangeEnd = start + r.dataSeconds + r.computeSeconds + (r.exposedCommSeconds ?? 0)
            windows.append((exchangeEnd - r.commSeconds, exchangeEnd))
            whole.append((start, start + r.iterationSeconds))
        }
        let during = CPUSamples.busy(samples, in: windows)
        return LabPoint(id: id, config: config, iterationSeconds: iteration,
                        exposedSeconds: slowest { $0.exposedCommSeconds ?? 0 }, exchangeSeconds: slowest(\.commSeconds),
                        imagesPerSecond: Double(32 * config.hosts) / iteration, speedup: nil, efficiency: nil,
                        bytesSentPerRank: bytes, bytesCounted: records.allSatisfy(\.bytesCounted),
                        linkTxBytesPerHost: linkPerHost, linkDeviation: deviation,
                        linkDeviationWithRetransmits: withRetransmits, retransmittedSegments: retransmitted,
                        cpuBusy: CPUSamples.busy(samples, in: whole), cpuBusyDuringExchange: during,
                        cpuBound: (during ?? 0) >= cpuBoundThreshold, model: nil, modelSpeedup: nil, modelEfficiency: nil)
    }
}

/// Everything one lab run measured, modelled and judged.
public struct ScalingLab: Sendable {
    public var directory: String
    public var timelines: [String: ComputeTimeline]
    public var link: LabLink
    /// Calibrated at this tbf rate (Mbit/s).
    public var calibratedMbit: Double
    /// One-way latency of a 4-byte message with and without the polite wait.
    public var politeLatency: (polite: Double, yielding: Double)?
    public var points: [LabPoint]
    /// Timelines measured with a codec's arithmetic (`timeline --compression`), by model.
    public var codecTimelines: [String: ComputeTimeline] = [:]
    /// The points with a codec (`codec-points/`), modelled with the codec's step; their
    /// speed-up is against their own one-host point (the same timeline replayed, nothing exchanged).
    public var codecPoints: [LabPoint] = []
    /// Real compute against the replay of the idle-core timeline and (when measured) of one
    /// measured with the other core running the same step, as the real run's cores do.
    public var replayValidation: [(model: String, bucketMB: Double, real: LabPoint, replayed: LabPoint, loaded: LabPoint?)]
    public var dilationValidation: [LabPoint]

    /// Reads a lab folder: timelines/, calibration/, points/, validation/.
    public static func load(_ dir: String) throws -> ScalingLab {
        let fm = FileManager.default
        func sub(_ path: String) -> String { (dir as NSString).appendingPathComponent(path) }
        var timelines: [String: ComputeTimeline] = [:], codecTimelines: [String: ComputeTimeline] = [:]
        for name in (try? fm.contentsOfDirectory(atPath: sub("timelines"))) ?? [] where name.hasSuffix(".json") {
            let t = try ComputeTimeline.load(sub("timelines/" + name))
            if t.codec != nil { codecTimelines[t.model] = t } else { timelines[t.model] = t }
        }
        guard !timelines.isEmpty else { throw MetricsError.malformed("\(dir): no timelines/*.json (is this a scaling-lab folder?)") }
        let calibrations = ((try? fm.contentsOfDirectory(atPath: sub("calibration"))) ?? []).sorted()
        guard let rate = calibrations.first, let mbit = LabPointConfig.megabits(rate) else {
            throw MetricsError.malformed("\(dir): no calibration/<rate>/calibration.json")
        }
        let calibration = try Calibration.read(sub("calibration/\(rate)/calibration.json"))
        let link = try LabLink(calibration: calibration,
                               bothWays: try? Calibration.read(sub("calibration/\(rate)/both-ways.json")))
        var latency: (Double, Double)?
        if let yielding = try? Calibration.read(sub("calibration/\(rate)/no-polite.json")),
           let a = calibration.points.first(where: { $0.bytes == 4 }), let b = yielding.points.first(where: { $0.bytes == 4 }) {
            latency = (a.oneWaySeconds, b.oneWaySeconds)
        }
        func points(under root: String) throws -> [LabPoint] {
            guard let walker = fm.enumerator(atPath: sub(root)) else { return [] }
            var out: [LabPoint] = []
            for case let path as String in walker where path.hasSuffix("point.json") {
                let folder = (path as NSString).deletingLastPathComponent
                out.append(try LabPoint.load(sub(root + "/" + folder), id: folder))
            }
            return out.sorted { $0.id < $1.id }
        }
        var lab = ScalingLab(directory: dir, timelines: timelines, link: link, calibratedMbit: mbit,
                             politeLatency: latency, points: try points(under: "points"), replayValidation: [],
                             dilationValidation: try points(under: "validation/dilation"))
        let replays = try points(under: "validation/replay")
        for real in replays where real.config.compute == "real" {
            func replay(_ mode: String) -> LabPoint? {
                replays.first { $0.config.compute == mode && $0.config.model == real.config.model && $0.config.bucketMB == real.config.bucketMB }
            }
            if let replayed = replay("replayed") {
                lab.replayValidation.append((real.config.model, real.config.bucketMB, real, replayed, replay("replayed-loaded")))
            }
        }
        lab.codecTimelines = codecTimelines
        lab.points = lab.points.map(lab.modelled)
        lab.dilationValidation = lab.dilationValidation.map(lab.modelled)
        lab.codecPoints = try points(under: "codec-points").map(lab.modelled)
        lab.fillSpeedups()
        return lab
    }

    /// The link a point's model uses.
    public func link(for c: LabPointConfig) -> LabLink {
        link.emulated(rateMbit: c.rateMbit, calibratedMbit: calibratedMbit, dilation: c.timeDilation)
    }

    /// The step model of a configuration (nil without its model's timeline); a codec point's
    /// comes from the timeline measured with the codec.
    public func stepModel(_ c: LabPointConfig) -> StepModel? {
        (c.codec == nil ? timelines[c.model] : codecTimelines[c.model].flatMap { $0.codec?.codec == c.codec ? $0 : nil })
            .map { StepModel(timeline: $0, workerSpeedup: c.workerSpeedup, bucketBytes: c.bucketBytes) }
    }

    func modelled(_ p: LabPoint) -> LabPoint {
        var p = p
        guard let m = stepModel(p.config), let algorithm = AllreduceAlgorithm(rawValue: p.config.algorithm) else { return p }
        let l = link(for: p.config)
        p.model = p.config.codec == nil ? m.step(algorithm, workers: p.config.hosts, alpha: l.alpha, beta: l.beta, pairBeta: l.pairBeta)
            : m.powerSGDStep(algorithm, workers: p.config.hosts, alpha: l.alpha, beta: l.beta, pairBeta: l.pairBeta)
        return p
    }

    /// Modelled efficiency of a codec series (PowerSGD's timeline) at `p` workers, against
    /// the same timeline's one worker (the codec does nothing on one).
    public func codecModelEfficiency(model: String, codec: String, algorithm: AllreduceAlgorithm, workers p: Int,
                                     alpha: Double, beta: Double, pairBeta: Double? = nil, speedup: Double, bucketBytes: Int) -> Double? {
        guard let coded = codecTimelines[model], coded.codec?.codec == codec else { return nil }
        let m = StepModel(timeline: coded, workerSpeedup: speedup, bucketBytes: bucketBytes)
        guard let one = m.powerSGDStep(algorithm, workers: 1, alpha: alpha, beta: beta),
              let step = m.powerSGDStep(algorithm, workers: p, alpha: alpha, beta: beta, pairBeta: pairBeta) else { return nil }
        return one.iterationSeconds / step.iterationSeconds
    }

    /// Speed-up and efficiency against the one-host point of the same rate, worker, model and buckets.
    mutating func fillSpeedups() {
        func fill(_ list: inout [LabPoint]) {
            let ones = list.filter { $0.config.hosts == 1 }
            for i in list.indices {
                let c = list[i].config
                guard let one = ones.first(where: { $0.config.rate == c.rate && $0.config.workerSpeedup == c.workerSpeedup
                    && $0.config.model == c.model && $0.config.bucketMB == c.bucketMB }) else { continue }
                let p = Double(c.hosts)
                list[i].efficiency = one.iterationSeconds / list[i].iterationSeconds
                list[i].speedup = list[i].efficiency! * p
                if let m = list[i].model, let m1 = one.model {
                    list[i].modelEfficiency = m1.iterationSeconds / m.iterationSeconds
                    list[i].modelSpeedup = list[i].modelEfficiency! * p
                }
            }
        }
        fill(&points)
        fill(&codecPoints)
    }

    /// The series (rate, worker speed-up, bucket MB) the lab measured, in a fixed order.
    public var series: [(rate: String, speedup: Double, bucketMB: Double)] {
        var seen: [(String, Double, Double)] = []
        for p in points where !seen.contains(where: { $0 == (p.config.rate, p.config.workerSpeedup, p.config.bucketMB) }) {
            seen.append((p.config.rate, p.config.workerSpeedup, p.config.bucketMB))
        }
        return seen.sorted { ($0.0.count, $0.0, $0.1, $0.2) < ($1.0.count, $1.0, $1.1, $1.2) }
    }

    /// Modelled efficiency of `model` with `algorithm` at `p` workers on `link` (buckets and speed-up as given).
    public func modelEfficiency(model: String, algorithm: AllreduceAlgorithm, workers p: Int, alpha: Double, beta: Double,
                                pairBeta: Double? = nil, speedup: Double, bucketBytes: Int) -> Double? {
        guard let t = timelines[model] else { return nil }
        let m = StepModel(timeline: t, workerSpeedup: speedup, bucketBytes: bucketBytes)
        let one = m.step(algorithm, workers: 1, alpha: alpha, beta: beta).iterationSeconds
        return one / m.step(algorithm, workers: p, alpha: alpha, beta: beta, pairBeta: pairBeta).iterationSeconds
    }
}
