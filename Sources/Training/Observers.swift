import Basics
import Collectives
import Foundation
import Metrics
import NeuralNet

/// What happens around each step, outside it. The loop calls every observer after
/// every step and once at the end, in the same order on every rank, so the
/// collectives observers make (gathering metrics, totals, evaluation) match.
protocol TrainingObserver: AnyObject {
    func stepEnded(_ step: StepReport) throws
    func runEnded() throws
}

extension TrainingObserver {
    func runEnded() throws {}
}

extension Trainer {
    /// The observers of this run, in calling order (`all`), and the two whose results
    /// the run returns: metrics are flushed before a divergence can stop the run; at the
    /// end the test accuracy is logged before the weights are written; the trace goes last.
    func makeObservers() throws -> (all: [TrainingObserver], progress: ProgressObserver, evaluation: EvaluationObserver) {
        if options.trace != nil {
            try comm.barrier()  // a common time origin for every rank's row
            // A codec's intervals: at most 2p + 2 a bucket (the ring's encodings and decodings).
            let codec = exchange.hook.codecTiming == nil ? 0 : exchange.buckets.count * (2 * comm.size + 2)
            tracer = TraceRecorder(capacity: (8 + codec) * (options.iterations - startIteration) + 64, origin: monotonicSeconds())
        }
        let metricsSink = MetricsSink(trainer: self)
        let progress = ProgressObserver(trainer: self)
        let evaluation = EvaluationObserver(trainer: self)
        var observers: [TrainingObserver] = [metricsSink, progress, DivergenceObserver(trainer: self, progress: progress), evaluation]
        if options.model.computes && replay == nil { observers.append(CheckpointObserver(trainer: self, metrics: metricsSink)) }
        observers.append(ExchangeSummaryObserver(trainer: self, metrics: metricsSink))
        if let tracer = tracer, let path = options.trace { observers.append(TraceObserver(trainer: self, tracer: tracer, path: path)) }
        return (observers, progress, evaluation)
    }

    /// Whether the step ends a `--log-every` interval (the last step always does).
    func endsInterval(_ step: StepReport) -> Bool { (step.iteration + 1) % options.logEvery == 0 || step.isLast }
}

/// Every rank's records of every iteration, gathered to rank 0 at the end of each
/// log interval (and before each checkpoint), which appends them to metrics.jsonl.
final class MetricsSink: TrainingObserver {
    unowned let trainer: Trainer
    private var pending: [IterationRecord] = []
    /// The counters saw this run's bytes: every algorithm but native MPI_Allreduce, and
    /// any hook other than the identity (which moves its own, counted, messages).
    let bytesCounted: Bool
    /// With a codec (or a masked exchange): this rank's float32 bytes for the same buckets (the formula).
    let uncompressed: Int?
    /// The codec's name in the records (`masked:S` for masked retraining).
    let codec: String?

    init(trainer: Trainer) {
        self.trainer = trainer
        bytesCounted = trainer.algorithm.bytesAreCounted || !(trainer.exchange.hook is IdentityHook)
        let comm = trainer.comm, algorithm = trainer.algorithm
        let coded = trainer.options.compression != nil || trainer.options.prunes
        uncompressed = coded ? trainer.exchange.buckets.reduce(0) { $0 + algorithm.traffic(rank: comm.rank, ranks: comm.size, count: $1.count).bytesSent } : nil
        codec = trainer.options.compression.map { "\($0)" } ?? trainer.options.maskedCodecName
        pending.reserveCapacity(trainer.options.logEvery)
    }

    func stepEnded(_ step: StepReport) throws {
        pending.append(record(step))
        if trainer.endsInterval(step) { try flush() }
    }

    func record(_ s: StepReport) -> IterationRecord {
        let t = trainer, comm = t.comm, count = t.replica.store.count
        var sent = s.counters.bytesSent, received = s.counters.bytesReceived, messages = s.counters.messagesSent
        if !bytesCounted {
            // Native MPI_Allreduce: the library's bytes are invisible; report the modelled figure.
            let m = t.algorithm.traffic(rank: comm.rank, ranks: comm.size, count: count)
            sent = m.bytesSent; received = m.bytesReceived; messages = m.messagesSent
        }
        return IterationRecord(
            rank: comm.rank, iteration: s.iteration, worldSize: comm.size, model: t.options.model.rawValue,
            parameters: count, gradientBytes: count * 4, algorithm: t.algorithm.rawValue,
            bytesSent: sent, bytesReceived: received, messagesSent: messages, bytesCounted: bytesCounted,
            commSeconds: s.commSeconds, computeSeconds: s.backwardEnd - s.dataEnd, updateSeconds: s.updateEnd - s.exchangeEnd,
            dataSeconds: s.dataEnd - s.start, iterationSeconds: s.updateEnd - s.start, batchSize: s.images,
            globalBatchSize: t.options.batchSize,
            loss: s.images > 0 && t.replay == nil ? s.result.lossSum / Double(s.images) : nil,
            learningRate: s.learningRate, exposedCommSeconds: s.exchangeEnd - s.backwardEnd, gradientNorm: s.gradientNorm,
            replay: t.replay.map { IterationRecord.Replay(workerSpeedup: $0.settings.workerSpeedup, timeDilation: $0.settings.timeDilation,
                                                             warmup: $0.isWarmup(s.iteration) ? true : nil) },
            linkTxCounter: s.link?.tx, linkRxCounter: s.link?.rx, linkRetransmitCounter: s.link?.retransmits, startedAt: s.startedAt,
            codec: codec, bytesUncompressed: uncompressed, badImages: s.badImages,
            codecEncodeSeconds: s.codecSeconds?.encode, codecDecodeSeconds: s.codecSeconds?.decode)
    }

    /// Gathers every rank's pending records to rank 0, which appends them ordered by iteration, then rank.
    func flush() throws {
        var lines = Data()
        for r in pending { lines.append(contentsOf: Array(try MetricsWriter.line(for: r).utf8)); lines.append(0x0A) }
        pending.removeAll(keepingCapacity: true)
        guard let gathered = try trainer.comm.gatherBytes(Array(lines), root: 0), let writer = trainer.metrics else { return }
        let records = try gathered.flatMap { try MetricsReader.parse(Data($0), source: "gathered metrics") }
        try writer.write(contentsOf: records.sorted { ($0.iteration, $0.rank) < ($1.iteration, $1.rank) })
    }
}

/// The run's closing lines, what the paper's claim is about: the bytes each rank sent per
/// iteration (counted), what an AlexNet-sized gradient would send with the same algorithm
/// and ranks (modelled from the same formulas the counters are checked against), and the
/// share of the iteration time spent waiting on the exchange. One allreduce at the end.
final class ExchangeSummaryObserver: TrainingObserver {
    unowned let trainer: Trainer
    unowned let metrics: MetricsSink
    private var bytes = 0.0, exposed = 0.0, time = 0.0, iterations = 0
    private var encode = 0.0, decode = 0.0, comm = 0.0
    /// This rank's modelled bytes per iteration when the counters cannot see them (nil: counted).
    private let modelledBytes: Int?

    init(trainer: Trainer, metrics: MetricsSink) {
        self.trainer = trainer; self.metrics = metrics
        modelledBytes = metrics.bytesCounted ? nil
            : trainer.algorithm.traffic(rank: trainer.comm.rank, ranks: trainer.comm.size, count: trainer.replica.store.count).bytesSent
    }

    func stepEnded(_ s: StepReport) throws {
        bytes += Double(modelledBytes ?? s.counters.bytesSent)
        exposed += s.exchangeEnd - s.backwardEnd
        time += s.updateEnd - s.start
        iterations += 1
        comm += s.commSeconds
        if let c = s.codecSeconds { encode += c.encode; decode += c.decode }
    }

    func runEnded() throws {
        let t = trainer, p = t.comm.size
        let totals = try t.comm.allreduceSum([bytes, exposed, time, encode, decode, comm])
        guard t.isRoot, iterations > 0 else { return }
        guard p > 1 else { t.log("exchange: one rank, nothing exchanged"); return }
        let perRank = totals[0] / Double(p * iterations)
        let alexnet = ModelKind.alexnet.architecture
        let alexnetBytes = t.algorithm.totalBytesSent(ranks: p, gradientBytes: alexnet.parameterCountAt1000Classes * 4) / Double(p)
        let how = metrics.bytesCounted ? "counted" : "modelled: MPI_Allreduce's own traffic is not observable"
        t.log(String(format: "exchange: each rank sent %.2f MB per iteration (%@; %@ over %d ranks, mean over ranks and %d iterations)",
                     perRank / 1e6, how, t.algorithm.rawValue, p, iterations))
        t.log(String(format: "an AlexNet-sized gradient (Caffe AlexNet at 1000 classes, %d parameters) would send %.2f MB per rank per iteration with %@ over %d ranks (modelled), %.1fx this run's",
                     alexnet.parameterCountAt1000Classes, alexnetBytes / 1e6, t.algorithm.rawValue, p, alexnetBytes / max(perRank, 1)))
        t.log(String(format: "waiting on communication: %.1f%% of the iteration time (exposed exchange, measured, all ranks)",
                     100 * totals[1] / max(totals[2], 1e-12)))
        if let codec = metrics.codec {
            let n = Double(p * iterations)
            t.log(String(format: "codec %@: %.2f ms of arithmetic per iteration (encode %.2f, decode %.2f; measured, mean over ranks), %.1f%% of the exchange's time",
                         codec, 1e3 * (totals[3] + totals[4]) / n, 1e3 * totals[3] / n, 1e3 * totals[4] / n,
                         100 * (totals[3] + totals[4]) / max(totals[5], 1e-12)))
        }
    }
}

/// The progress line of each log interval, from totals every rank shares (one small
/// allreduce per interval), which the divergence check reads too.
final class ProgressObserver: TrainingObserver {
    unowned let trainer: Trainer
    struct Window { var lossSum = 0.0, correct = 0, seen = 0, dead = 0, exposedComm = 0.0, time = 0.0, clipped = 0 }
    private var window = Window()
    private var lastBytesSent = 0
    /// Summed over ranks at the end of the latest interval: loss, correct, images,
    /// iterations with dead outputs, seconds.
    private(set) var totals: [Double] = []
    private(set) var lastLoss = Double.nan

    init(trainer: Trainer) { self.trainer = trainer }

    func stepEnded(_ s: StepReport) throws {
        window.lossSum += s.result.lossSum; window.correct += s.result.correct; window.seen += s.images
        window.dead += s.result.deadOutputs ? 1 : 0
        window.exposedComm += s.exchangeEnd - s.backwardEnd; window.time += s.updateEnd - s.start
        window.clipped += s.clipped ? 1 : 0
        lastBytesSent = s.counters.bytesSent
        guard trainer.endsInterval(s) else { return }
        totals = try trainer.comm.allreduceSum([window.lossSum, Double(window.correct), Double(window.seen),
                                                Double(window.dead), window.time])
        lastLoss = totals[2] > 0 ? totals[0] / totals[2] : .nan
        if trainer.isRoot { trainer.log(line(s)) }
        window = Window()
    }

    private func line(_ s: StepReport) -> String {
        let o = trainer.options
        if let r = trainer.replay {
            return String(format: "iter %6d/%d  %.1f ms/iteration, exposed exchange %.1f ms/iteration (rank 0; compute replayed x%g)",
                          s.iteration + 1, o.iterations, 1e3 * window.time / Double(o.logEvery),
                          1e3 * window.exposedComm / Double(o.logEvery), r.scale)
        }
        guard o.model.computes else {
            return String(format: "iter %6d/%d  exchange %.1f ms/iteration (rank 0)  rank 0 sent %.1f MB in the last iteration",
                          s.iteration + 1, o.iterations, 1e3 * window.exposedComm / Double(o.logEvery), Double(lastBytesSent) / 1e6)
        }
        let images = totals[2], seconds = totals[4] / Double(trainer.comm.size)
        return String(format: "iter %6d/%d  loss %.4f  train-acc %5.1f%%  lr %.5f  %7.1f img/s  comm %4.1f%%",
                      s.iteration + 1, o.iterations, lastLoss, 100 * totals[1] / max(images, 1), s.learningRate,
                      images / max(seconds, 1e-9), 100 * window.exposedComm / max(window.time, 1e-9))
            + (o.clipGradientNorm > 0 ? "  clipped \(window.clipped)" : "")
    }
}

/// Stops every rank alike when the shared totals say the run diverged: a NaN loss,
/// or every class output 0 for `patience` iterations (the ReLU after conv10 died).
final class DivergenceObserver: TrainingObserver {
    unowned let trainer: Trainer
    unowned let progress: ProgressObserver
    /// Iterations with all class outputs zero, in a row, before the run is declared dead.
    static let patience = 20
    private var deadRun = 0

    init(trainer: Trainer, progress: ProgressObserver) { self.trainer = trainer; self.progress = progress }

    func stepEnded(_ s: StepReport) throws {
        guard trainer.endsInterval(s), trainer.replica.network != nil, trainer.replay == nil else { return }
        if progress.lastLoss.isNaN {
            throw TrainingError.diverged("iteration \(s.iteration + 1): the loss is NaN; lower --base-lr")
        }
        let every = trainer.options.logEvery, ranks = trainer.comm.size
        deadRun = progress.totals[3] >= Double(every * ranks) ? deadRun + every : 0
        if deadRun >= Self.patience {
            throw TrainingError.diverged("iteration \(s.iteration + 1): every class output has been 0 for \(deadRun) iterations (ReLU after conv10 died; loss stuck at ln C); lower --base-lr")
        }
    }
}

/// `--checkpoint-every` checkpoints during the run; at the end, weights.bin and the
/// final checkpoint. Metrics are flushed first on every rank; rank 0 writes.
final class CheckpointObserver: TrainingObserver {
    unowned let trainer: Trainer
    unowned let metrics: MetricsSink

    init(trainer: Trainer, metrics: MetricsSink) { self.trainer = trainer; self.metrics = metrics }

    func stepEnded(_ s: StepReport) throws {
        let every = trainer.options.checkpointEvery
        if every > 0 && (s.iteration + 1) % every == 0 && !s.isLast { try checkpoint(after: s.iteration + 1) }
    }

    func runEnded() throws {
        let o = trainer.options
        guard let dir = o.outputDirectory else { return }
        // On every rank (they hold the same weights): a refusal on rank 0 alone would leave the others in the gather.
        try trainer.checkFinite(iteration: o.iterations, writing: (dir as NSString).appendingPathComponent("weights.bin"))
        if trainer.isRoot {
            try trainer.saveWeights(to: (dir as NSString).appendingPathComponent("weights.bin"), iteration: o.iterations)
        }
        try checkpoint(after: o.iterations)
    }

    func checkpoint(after iterations: Int) throws {
        let t0 = monotonicSeconds()
        try metrics.flush()  // first: the records up to a refusal are kept
        if let dir = trainer.options.outputDirectory {
            try trainer.checkFinite(iteration: iterations, writing: Checkpoints.path(dir, iteration: iterations))
        }
        let t = trainer
        if let dir = t.options.outputDirectory {
            let hookValues = try t.gatheredHookState()  // on every rank: a gather
            if t.isRoot {
                try Checkpoints.write(store: t.replica.store, momentum: t.optimizer.velocity, iteration: iterations,
                                      options: t.options, modelName: t.replica.modelName, ranks: t.comm.size, dir: dir,
                                      keep: t.options.keepCheckpoints, hookState: Checkpoints.entries(t.exchange.hook.state),
                                      hookValues: hookValues)
            }
        }
        t.tracer?.record(.checkpoint, from: t0, to: monotonicSeconds(), iteration: iterations - 1)
    }
}

/// Test-set top-1 every `--eval-every` iterations and at the end; each rank takes
/// every p-th image, the counts are summed.
final class EvaluationObserver: TrainingObserver {
    unowned let trainer: Trainer
    struct Evaluation { var accuracy: Double; var images: Int; var deadClasses: [Int] }
    private(set) var final: Evaluation?

    init(trainer: Trainer) { self.trainer = trainer }

    func stepEnded(_ s: StepReport) throws {
        let every = trainer.options.evalEvery
        guard every > 0 && (s.iteration + 1) % every == 0 && !s.isLast, let e = try evaluate(after: s.iteration) else { return }
        if trainer.isRoot { trainer.log("eval  iter \(s.iteration + 1)  " + describe(e)) }
    }

    func runEnded() throws {
        final = try evaluate(after: trainer.options.iterations - 1)
        if trainer.isRoot, let e = final { trainer.log(describe(e)) }
    }

    /// Nil without a test set or a network.
    func evaluate(after iteration: Int) throws -> Evaluation? {
        let t = trainer
        guard let test = t.test, let net = t.replica.network else { return nil }
        let t0 = monotonicSeconds()
        let p = t.comm.size, batch = t.replica.localBatch
        let mine = Array(stride(from: t.comm.rank, to: test.count, by: p))
        var correct = 0
        var active = [Double](repeating: 0, count: net.classes)
        var i = 0
        while i < mine.count {
            let slice = mine[i..<min(i + batch, mine.count)]
            correct += try t.replica.countCorrect(dataset: test, indices: slice, active: &active)
            i += batch
        }
        let totals = try t.comm.allreduceSum([Double(correct), Double(mine.count)] + active)
        t.tracer?.record(.evaluate, from: t0, to: monotonicSeconds(), iteration: iteration)
        let dead = (0..<net.classes).filter { totals[2 + $0] == 0 }
        return Evaluation(accuracy: totals[0] / max(totals[1], 1), images: Int(totals[1]), deadClasses: dead)
    }

    func describe(_ e: Evaluation) -> String {
        var s = String(format: "test top-1 %.2f%% on %d images", 100 * e.accuracy, e.images)
        if !e.deadClasses.isEmpty {
            s += "; classes \(e.deadClasses.map(String.init).joined(separator: ", ")) are dead (output 0 on every test image)"
        }
        return s
    }
}

/// The Chrome trace: each step's phases recorded as they happened (no allocation),
/// every rank's timeline gathered to rank 0 at the end, one file.
final class TraceObserver: TrainingObserver {
    unowned let trainer: Trainer
    let tracer: TraceRecorder
    let path: String

    init(trainer: Trainer, tracer: TraceRecorder, path: String) { self.trainer = trainer; self.tracer = tracer; self.path = path }

    func stepEnded(_ s: StepReport) throws {
        tracer.record(.data, from: s.start, to: s.dataEnd, iteration: s.iteration)
        tracer.record(.forward, from: s.dataEnd, to: s.result.forwardEnd, iteration: s.iteration)
        tracer.record(.backward, from: s.result.forwardEnd, to: s.backwardEnd, iteration: s.iteration)
        tracer.record(.allreduce, from: s.backwardEnd, to: s.exchangeEnd, iteration: s.iteration, bytes: s.counters.bytesSent)
        tracer.record(.update, from: s.exchangeEnd, to: s.updateEnd, iteration: s.iteration)
        for i in trainer.exchange.hook.codecTiming?.intervals ?? [] {
            tracer.record(i.kind == .encode ? .encode : .decode, from: i.start, to: i.end, iteration: s.iteration)
        }
    }

    func runEnded() throws {
        let mine = Array(tracer.jsonEvents(rank: trainer.comm.rank).utf8)
        guard let all = try trainer.comm.gatherBytes(mine, root: 0) else { return }
        try atomicWrite(TraceRecorder.document(all.map { String(decoding: $0, as: UTF8.self) }), to: path)
    }
}
