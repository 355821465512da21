import Basics
import Collectives
import Datasets
import Foundation
import Metrics
import NeuralNet
import Topology

/// How a run replays compute instead of doing it (the scaling lab, docs/scaling.md).
public struct ReplaySettings: Codable, Equatable, Sendable {
    /// A `squeezenet-train timeline` file measured on the idle machine.
    public var timelinePath: String
    /// A worker this many times faster than the measured one: the timeline is divided by it.
    public var workerSpeedup: Double = 1
    /// Time dilation k (Gupta et al., NSDI 2006): the timeline is multiplied by k, for links
    /// shaped at R/k standing for rate R; an emulated time is a measured one divided by k.
    public var timeDilation: Double = 1
    /// The first this many iterations run the exchange without waiting the compute, and
    /// exchange only the start of each bucket (`ComputeReplay.warmupElements`): they open
    /// the connections (what a warm-up is for) without costing a dilated step or a full
    /// exchange over the shaped links.
    public var warmupIterations: Int = 0

    public init(timelinePath: String, workerSpeedup: Double = 1, timeDilation: Double = 1, warmupIterations: Int = 0) {
        self.timelinePath = timelinePath; self.workerSpeedup = workerSpeedup; self.timeDilation = timeDilation
        self.warmupIterations = warmupIterations
    }
}

/// Replayed compute: instead of forward, backward and the update, this rank waits their
/// measured durations in order, and hands each layer's gradient to the exchange when
/// real backward would have produced it. Only the exchange is real. Sixteen emulated
/// hosts cannot compute at full speed on two cores; they can all wait.
///
/// Waits sleep to absolute deadlines (clock_nanosleep, TIMER_ABSTIME) measured from the
/// start of the step, so a sleep's overshoot does not add up over a model's layers, and
/// a waiting rank leaves its core to the ones exchanging.
final class ComputeReplay {
    let timeline: ComputeTimeline
    let settings: ReplaySettings
    /// Timeline seconds to wall seconds.
    let scale: Double

    /// Loads the timeline and checks it is this run's step: same model, classes, input
    /// size, images per rank, and the network's own layers and tensors.
    init(settings: ReplaySettings, options: TrainingOptions, network: Network, localBatch: Int) throws {
        let t = try ComputeTimeline.load(settings.timelinePath)
        let path = settings.timelinePath
        func mismatch(_ what: String, _ theirs: String, _ ours: String) -> TrainingError {
            .badInput("\(path): the timeline was measured for \(what) \(theirs), this run has \(ours); measure it with squeezenet-train timeline for this run")
        }
        if t.model != options.model.rawValue { throw mismatch("model", t.model, options.model.rawValue) }
        if t.classes != options.classes { throw mismatch("classes", "\(t.classes)", "\(options.classes)") }
        if t.inputSize != options.inputSize { throw mismatch("input size", "\(t.inputSize)", "\(options.inputSize)") }
        if t.batch != localBatch { throw mismatch("images per worker", "\(t.batch)", "\(localBatch) (--batch-size / ranks)") }
        let ours = network.layers.map { ComputeTimeline.Layer(name: $0.name, backwardSeconds: 0, tensorCounts: $0.parameters.map(\.count)) }
        if ours.map(\.name) != t.layers.map(\.name) || ours.map(\.tensorCounts) != t.layers.map(\.tensorCounts) {
            throw TrainingError.badInput("\(path): the timeline's layers and tensors are not this build's \(options.model.rawValue); measure it again")
        }
        // PowerSGD's GEMMs are replayed with the compute (16 ranks' worth cannot run on 2 cores):
        // the timeline must have timed them on this run's buckets.
        let codec = options.compression.map { "\($0)" }
        if let c = t.codec {
            if codec != c.codec { throw mismatch("codec", c.codec, codec ?? "none") }
            let ours = options.bucketMB > 0
                ? GradientExchange.buckets(of: network.store, bucketBytes: GradientBuckets.bytes(megabytes: options.bucketMB)).map(\.count)
                : [t.parameters]
            if c.buckets.map(\.count) != ours {
                throw mismatch("gradient buckets of", "\(c.bucketMB) MB", "\(options.bucketMB) MB")
            }
        } else if case .powersgd? = options.compression {
            throw TrainingError.badInput("\(path): no PowerSGD arithmetic in the timeline; measure it with squeezenet-train timeline --compression \(codec!) --bucket-mb \(options.bucketMB)")
        }
        timeline = t
        self.settings = settings
        scale = settings.timeDilation / settings.workerSpeedup
    }

    /// Whether `iteration` is a warm-up one, whose compute is not waited.
    func isWarmup(_ iteration: Int) -> Bool { iteration < settings.warmupIterations }

    /// Floats of each bucket a warm-up iteration exchanges: 1024 per rank, so every ring
    /// chunk and tree message is non-empty and every pair of ranks that talks in a full
    /// exchange talks in this one.
    static func warmupElements(ranks: Int) -> Int { 1024 * max(1, ranks) }

    /// Waits forward, then each layer's backward from the last layer to the first,
    /// calling `layerDone` after each; returns the clock at the end of forward.
    /// A warm-up iteration hands every layer over at once.
    func forwardBackward(iteration: Int, layerDone: (Int) -> Void) -> Double {
        let scale = isWarmup(iteration) ? 0 : scale
        var deadline = monotonicSeconds() + timeline.forwardSeconds * scale
        sleep(until: deadline)
        let forwardEnd = monotonicSeconds()
        for i in stride(from: timeline.layers.count - 1, through: 0, by: -1) {
            deadline += timeline.layers[i].backwardSeconds * scale
            sleep(until: deadline)
            layerDone(i)
        }
        return forwardEnd
    }

    /// Waits the update.
    func update(iteration: Int) {
        guard !isWarmup(iteration) else { return }
        sleep(until: monotonicSeconds() + timeline.updateSeconds * scale)
    }

    /// Fingerprint of the timeline's content, for the startup agreement: ranks on
    /// different hosts may read different files under one path.
    var fingerprint: UInt64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // one byte order on every rank
        let data = (try? encoder.encode(timeline)) ?? Data()
        return fnv1a(Array(data)) ^ UInt64(scale.bitPattern)
    }
}

/// Sleeps until the CLOCK_MONOTONIC reading `deadline` (seconds), whatever signals interrupt it.
func sleep(until deadline: Double) {
    guard deadline > 0 else { return }
    let whole = deadline.rounded(.down)
    var ts = timespec(tv_sec: Int(whole), tv_nsec: Int((deadline - whole) * 1e9))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}

extension ComputeTimeline {
    /// Measures one worker's real step as the trainer runs it (the same Replica, loss,
    /// averaging, clipping and SGD): `warmup` untimed steps, then the medians of
    /// `iterations` timed ones, per phase and per layer. Synthetic images of the run's size.
    public static func measure(options: TrainingOptions, batch: Int, threads: Int, iterations: Int,
                               warmup: Int) throws -> ComputeTimeline {
        var o = options
        o.dataset = .synthetic
        try o.validate()
        guard o.model.computes else {
            throw TrainingError.badInput("timeline: \(o.model.rawValue) has no compute to measure")
        }
        guard iterations >= 1, warmup >= 0, batch >= 1, threads >= 1 else {
            throw TrainingError.badInput("timeline: --iterations, --batch and --threads must be positive, --warmup >= 0")
        }
        setBLASThreads(threads)
        let replica = Replica(options: o, localBatch: batch, rank: 0)
        let net = replica.network!
        let data = try SyntheticDataset.make(count: batch, classes: o.classes, channels: 3, size: o.inputSize, seed: o.seed)
        let optimizer = SGD(parameterCount: replica.store.count, momentum: Float(o.momentum), weightDecay: Float(o.weightDecay),
                            rateMultipliers: replica.classifierRange.map { [($0, Float(o.classifierLRMult))] } ?? [])
        let indices = Array(0..<batch)[...]
        var forward: [Double] = [], update: [Double] = [], step: [Double] = []
        var backward = [[Double]](repeating: [], count: net.layers.count)
        for i in 0..<(warmup + iterations) {
            net.startProfilingLayers()
            let t0 = monotonicSeconds()
            _ = try replica.computeGradients(dataset: data, indices: indices, dropoutSeed: UInt64(i))
            let t1 = monotonicSeconds()
            _ = sgdUpdate(replica.store, optimizer: optimizer, scale: 1, clipNorm: o.clipGradientNorm,
                          learningRate: 1e-6)
            let t2 = monotonicSeconds()
            let layers = net.layerSeconds!.backward
            net.layerSeconds = nil
            guard i >= warmup else { continue }
            forward.append(t1 - t0 - layers.reduce(0, +))
            update.append(t2 - t1)
            step.append(t2 - t0)
            for l in layers.indices { backward[l].append(layers[l]) }
        }
        var t = ComputeTimeline(
            model: o.model.rawValue, classes: o.classes, inputSize: o.inputSize, batch: batch, blasThreads: threads,
            cpus: allowedCPUs(), parameters: replica.store.count, iterations: iterations,
            forwardSeconds: median(forward)!,
            layers: net.layers.indices.map { Layer(name: net.layers[$0].name, backwardSeconds: median(backward[$0])!,
                                                   tensorCounts: net.layers[$0].parameters.map(\.count)) },
            updateSeconds: median(update)!, stepSeconds: median(step)!)
        if case let .powersgd(rank)? = o.compression {
            t.codec = measurePowerSGD(rank: rank, store: replica.store, bucketMB: o.bucketMB, iterations: iterations, warmup: warmup)
        }
        return t
    }

    /// PowerSGD's arithmetic on this worker's last real gradient, bucket by bucket as the
    /// exchange cuts them, with the allreduces left out (one worker): medians per phase.
    static func measurePowerSGD(rank: Int, store: ParameterStore, bucketMB: Double, iterations: Int, warmup: Int) -> CodecArithmetic {
        let hook = PowerSGDHook(rank: rank, store: store, startIteration: 0)
        let buckets = bucketMB > 0 ? GradientExchange.buckets(of: store, bucketBytes: GradientBuckets.bytes(megabytes: bucketMB))
                                   : [0..<store.count]
        let g = store.gradients, saved = Array(g)
        var phases = [[PowerSGDHook.Phases]](repeating: [], count: buckets.count)
        for i in 0..<(warmup + iterations) {
            for (j, r) in buckets.enumerated() {
                for k in r { g[k] = saved[k] }  // the same gradient each time (the step overwrites it)
                let p = hook.step(GradientBucket(index: j, offset: r.lowerBound, values: UnsafeMutableBufferPointer(rebasing: g[r])), ranks: 1) { _ in }
                if i >= warmup { phases[j].append(p) }
            }
        }
        for k in 0..<g.count { g[k] = saved[k] }
        return CodecArithmetic(codec: "\(GradientCodec.powersgd(rank: rank))", bucketMB: bucketMB, buckets: zip(buckets, phases).map { r, p in
            CodecBucket(count: r.count, firstCount: p[0].firstCount, secondCount: p[0].secondCount,
                        beforeSeconds: median(p.map(\.before))!, betweenSeconds: median(p.map(\.between))!, afterSeconds: median(p.map(\.after))!)
        })
    }
}

/// The CPUs this process may run on (/proc/self/status Cpus_allowed_list), "" if unknown.
func allowedCPUs() -> String {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return "" }
    for line in text.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
        return line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
    }
    return ""
}
