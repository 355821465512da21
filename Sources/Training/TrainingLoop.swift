import Basics
import Collectives
import Datasets
import Foundation
import Metrics
import NeuralNet

/// One step as the loop saw it: what the observers read.
struct StepReport {
    let iteration: Int
    /// This iteration is the run's last.
    let isLast: Bool
    /// Images this rank trained on.
    let images: Int
    let result: Replica.StepResult
    /// The exchange's traffic on this rank (counted at send and receive).
    let counters: TrafficCounters
    /// Seconds the exchange took on this rank (on the communication thread when overlapping).
    let commSeconds: Double
    let learningRate: Double
    /// L2 norm of the averaged gradient before clipping; nil for a model without compute.
    let gradientNorm: Double?
    let clipped: Bool
    /// Clock readings: start, data ready, backward done, exchange done, update done.
    let start: Double, dataEnd: Double, backwardEnd: Double, exchangeEnd: Double, updateEnd: Double
    /// The host's interface counters at the start of the step (`--link-counters`), nil when not read.
    var link: (tx: Int, rx: Int, retransmits: Int?)? = nil
    /// Unix seconds at `start` (wall clock, for lining up with outside samplers).
    var startedAt: Double = 0
    /// `--skip-bad-images`: images this rank replaced so far.
    var badImages: Int? = nil
    /// The codec's arithmetic inside the exchange (measured; nil without a codec).
    var codecSeconds: (encode: Double, decode: Double)? = nil
}

extension Trainer {
    /// The loop, as llm.c's: batch, forward and backward, exchange, optimizer; then
    /// the observers, in a fixed order on every rank (their collectives match).
    public func run() throws -> TrainingResult {
        if isRoot { log(banner()); if let line = memoryLine { log(line) }; if let line = pruneLine { log(line) } }
        let observers = try makeObservers()
        if isRoot && startIteration > 0 {
            let ranks = { (n: Int) in n == 1 ? "1 rank" : "\(n) ranks" }
            log("resuming at iteration \(startIteration) from \(options.resume!)"
                + (checkpointRanks.map { " (written by \(ranks($0)), resuming on \(comm.size))" } ?? "") + (resumedFrom ?? ""))
        }
        let start = monotonicSeconds()
        let stop = StopAgreement(comm: comm)
        prefetcher = makePrefetcher()
        defer { prefetcher?.stop(); prefetcher = nil }
        do {
            for iteration in startIteration..<options.iterations {
                Watchdog.shared.enter(iteration: iteration)
                let report = try step(iteration)
                for observer in observers.all { try observer.stepEnded(report) }
                let signal = report.isLast ? 0 : try stop.afterIteration()
                if signal != 0 { return try stopped(after: iteration + 1, by: signal, observers: observers, stop: stop, start: start) }
            }
            try stop.drain()
        } catch let error as TrainingError where error.isSharedByEveryRank {
            try? stop.drain()  // every rank throws it here: complete the control allreduce before MPI_Finalize
            throw error
        }
        let wall = monotonicSeconds() - start
        prefetcher?.stop()
        try verifyMaskedWeights()
        let badImages = try reportBadImages()
        for observer in observers.all { try observer.runEnded() }
        let evaluation = observers.evaluation.final
        let images = Double((options.iterations - startIteration) * options.batchSize)
        return TrainingResult(iterations: options.iterations, finalLoss: observers.progress.lastLoss,
                              testAccuracy: evaluation?.accuracy, testImages: evaluation?.images ?? 0,
                              wallSeconds: wall, imagesPerSecond: images / wall, badImages: badImages)
    }

    /// Test-set top-1 of the weights as they are (`--eval-only`), summed over the ranks.
    public func evaluateTestSet() throws -> (accuracy: Double, images: Int) {
        guard let e = try EvaluationObserver(trainer: self).evaluate(after: 0) else {
            throw TrainingError.badInput("nothing to evaluate: this model has no test set or network")
        }
        return (e.accuracy, e.images)
    }

    /// Masked retraining: every pruned weight is still exactly zero on every rank, and
    /// every rank holds the same weights (compared by hash). A failure ends the run.
    func verifyMaskedWeights() throws {
        guard let masked = exchange.hook as? MaskedHook, options.prunes || options.fineTuneCentroids else { return }
        let w = replica.store.values
        var nonzero = 0
        for i in 0..<w.count where masked.keep[i] == 0 && w[i].bitPattern != 0 { nonzero += 1 }
        var h = FNV1a()
        h.combine(words: UnsafeRawBufferPointer(w))
        let all = try comm.allgather([UInt64(nonzero), h.value])
        let bad = all.indices.filter { all[$0][0] != 0 }, apart = all.indices.filter { all[$0][1] != all[0][1] }
        if !bad.isEmpty { throw TrainingError.diverged("masked retraining: pruned weights became non-zero on ranks \(bad.map(String.init).joined(separator: ", "))") }
        if !apart.isEmpty { throw TrainingError.diverged("masked retraining: the weights of ranks \(apart.map(String.init).joined(separator: ", ")) differ from rank 0's") }
        if isRoot { log("masked retraining: the \(masked.keep.count - masked.kept(in: 0..<masked.keep.count)) pruned weights are exactly zero on every rank; every rank holds the same weights") }
    }

    /// Every rank agreed to stop after `iterations` (a stop signal): the metrics so far are
    /// flushed and rank 0 writes the checkpoint of that boundary, which `--resume` continues.
    private func stopped(after iterations: Int, by signal: Int32,
                         observers: (all: [TrainingObserver], progress: ProgressObserver, evaluation: EvaluationObserver),
                         stop: StopAgreement, start: Double) throws -> TrainingResult {
        try stop.drain()
        var checkpoint: String?
        if let saver = observers.all.lazy.compactMap({ $0 as? CheckpointObserver }).first {
            try saver.checkpoint(after: iterations)
            checkpoint = options.outputDirectory.map { Checkpoints.path($0, iteration: iterations) }
        } else if let sink = observers.all.lazy.compactMap({ $0 as? MetricsSink }).first {
            try sink.flush()
        }
        StopSignals.shared.stopCompleted()
        let wall = monotonicSeconds() - start
        let images = Double((iterations - startIteration) * options.batchSize)
        var result = TrainingResult(iterations: iterations, finalLoss: observers.progress.lastLoss, testAccuracy: nil,
                                    testImages: 0, wallSeconds: wall, imagesPerSecond: images / wall)
        result.stop = TrainingResult.Stop(signal: signal, checkpoint: checkpoint)
        return result
    }

    /// One iteration: this rank's batch, forward and backward (buckets leave during
    /// backward when overlapping), the rest of the exchange, then the update.
    func step(_ iteration: Int) throws -> StepReport {
        let o = options
        let startedAt = Date().timeIntervalSince1970
        let t0 = monotonicSeconds()
        let indices = schedule?.indices(forIteration: iteration) ?? []
        // The batch: from the prefetch queue (what the step waits for is its data time), or filled here.
        if replay == nil, let train {
            if let prefetcher { try replica.loadBatch(from: prefetcher, iteration: iteration) } else {
                try replica.loadBatch(dataset: train, indices: indices, augmentation: o.augmentation,
                                      augmentationSeed: augmentationSeed(iteration))
            }
        }
        let t1 = monotonicSeconds()
        _ = comm.takeCounters()
        FaultInjection.beforeAllreduce(rank: comm.rank, iteration: iteration)
        let link = linkCounters?.read()
        exchange.beginIteration(prefix: replay?.isWarmup(iteration) == true ? ComputeReplay.warmupElements(ranks: comm.size) : nil)
        exchange.hook.beginIteration(iteration, epoch: schedule.map { iteration / max(1, $0.stepsPerEpoch) } ?? 0)
        let result: Replica.StepResult
        if let replay {
            let forwardEnd = replay.forwardBackward(iteration: iteration) { [exchange] in exchange.layerDone($0) }
            result = Replica.StepResult(lossSum: 0, correct: 0, deadOutputs: false, forwardEnd: forwardEnd)
        } else {
            // Dropout is keyed by (seed, iteration, position in the global batch), not the rank:
            // any rank count draws the same masks, so a checkpoint resumes on any rank count.
            result = replica.computeGradients(images: train == nil ? 0 : indices.count,
                                              dropoutSeed: o.seed &+ UInt64(iteration) &* 0x9E37_79B9,
                                              firstSample: schedule?.firstInGlobalBatch ?? 0)
        }
        let t2 = monotonicSeconds()
        try exchange.finish()
        let counters = comm.takeCounters()
        let t3 = monotonicSeconds()
        let lr = o.learningRate(at: iteration)
        var update = (norm: Double.nan, clipped: false)
        if let replay { replay.update(iteration: iteration) } else {
            update = try applyUpdate(learningRate: lr, iteration: iteration, lossSum: result.lossSum, images: indices.count)
            FaultInjection.afterUpdate(iteration: iteration, weights: replica.store.values)
        }
        let t4 = monotonicSeconds()
        return StepReport(iteration: iteration, isLast: iteration + 1 == o.iterations,
                          images: replay == nil ? indices.count : replica.localBatch,
                          result: result, counters: counters, commSeconds: max(exchange.commSeconds, 0),
                          learningRate: lr, gradientNorm: o.model.computes && replay == nil ? update.norm : nil, clipped: update.clipped,
                          start: t0, dataEnd: t1, backwardEnd: t2, exchangeEnd: t3, updateEnd: t4, link: link,
                          startedAt: startedAt, badImages: options.skipBadImages ? badImageCount : nil,
                          codecSeconds: exchange.hook.codecTiming.map { ($0.encodeSeconds, $0.decodeSeconds) })
    }

    /// The seed of iteration `iteration`'s augmentation draws (mirror, crops), the same on every rank.
    func augmentationSeed(_ iteration: Int) -> UInt64 { Trainer.augmentationSeed(seed: options.seed, iteration: iteration) }
    static func augmentationSeed(seed: UInt64, iteration: Int) -> UInt64 { seed ^ (UInt64(iteration) &* 0xC2B2_AE3D_27D4_EB4F) }

    /// Images this rank replaced so far because they could not be read (`--skip-bad-images`),
    /// with the files the lists left out at startup.
    var badImageCount: Int {
        let sets = [train, test].compactMap { $0 as? ImageFileDataset }
        return sets.reduce(0) { $0 + $1.badImageCount + $1.list.skipped.count }
    }

    /// The background queue of the training batches, for a data set read from disk.
    func makePrefetcher() -> BatchPrefetcher? {
        guard replay == nil, let train, train.streams, options.prefetchBatches > 0, var ahead = schedule else { return nil }
        return BatchPrefetcher(dataset: train, batch: replica.localBatch, depth: options.prefetchBatches,
                               augmentation: options.augmentation, start: startIteration, end: options.iterations) { [seed = options.seed] i in
            (Array(ahead.indices(forIteration: i)), Trainer.augmentationSeed(seed: seed, iteration: i))
        }
    }

    /// `--skip-bad-images`: every rank's replaced images, gathered; rank 0 logs how many and the first.
    func reportBadImages() throws -> Int {
        guard options.skipBadImages else { return 0 }
        let sets = [train, test].compactMap { $0 as? ImageFileDataset }
        var mine: [String] = sets.flatMap { $0.badImages.values }
        if comm.rank == 0 { mine += sets.flatMap(\.list.skipped) }
        let gathered = try comm.gatherBytes(Array(mine.joined(separator: "\n").utf8), root: 0)
        guard let gathered else { return 0 }
        let all = Set(gathered.flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) }).sorted()
        log(all.isEmpty ? "--skip-bad-images: every image was readable"
            : "--skip-bad-images: skipped \(all.count) unreadable image\(all.count == 1 ? "" : "s") (each replaced by the next readable one); the first: \(all[0])")
        return all.count
    }

    /// Average the summed gradients, clip them (Caffe's clip_gradients), SGD step.
    /// Every rank holds the same averaged gradient, so every rank decides alike.
    func applyUpdate(learningRate: Double, iteration: Int, lossSum: Double, images: Int) throws -> (norm: Double, clipped: Bool) {
        let o = options
        let update = sgdUpdate(replica.store, optimizer: optimizer, scale: 1 / Float(comm.size),
                               clipNorm: o.model.computes ? Compression.globalClipNorm(o.compression, clipNorm: o.clipGradientNorm) : 0,
                               learningRate: Float(learningRate))
        centroids?.step(weights: replica.store.values, gradients: replica.store.gradients, learningRate: Float(learningRate),
                        momentum: Float(o.momentum), weightDecay: Float(o.weightDecay))
        if !update.norm.isFinite {
            throw TrainingError.diverged("iteration \(iteration): the averaged gradient holds NaN or Inf (loss \(lossSum / Double(max(images, 1)))); lower --base-lr")
        }
        return update
    }

    func banner() -> String {
        let o = options
        let bytes = replica.store.count * 4
        let buckets = exchange.overlapsBackward ? " in \(exchange.buckets.count) buckets overlapping backward" : ""
        let replayed = replay.map {
            String(format: "; compute replayed from %@ (worker speed-up %g, time dilation %g)",
                   $0.settings.timelinePath, $0.settings.workerSpeedup, $0.settings.timeDilation)
        } ?? ""
        return "training \(o.model.rawValue) (\(replica.store.count) parameters, \(bytes) gradient bytes) on \(replay == nil ? o.dataset.rawValue : "no data")"
            + " \(o.inputSize)px, \(comm.size) rank(s) on \(comm.hostCount) host(s), global batch \(o.batchSize) (\(o.batchSize / comm.size) per rank),"
            + " allreduce \(algorithm.rawValue)\(buckets), base-lr \(o.baseLR) \(o.lrPolicy.rawValue)"
            + ((o.warmupIterations ?? 0) > 0 ? " after \(o.warmupIterations!) warm-up iterations" : "") + ", \(o.iterations) iterations"
            + replayed
    }

    /// Writes weights.bin; refuses weights that are not finite (no file is written).
    public func saveWeights(to path: String, iteration: Int) throws {
        try Trainer.checkFinite(replica.store, momentum: nil, iteration: iteration, writing: path)
        let header = WeightFile.Header(model: replica.modelName, count: replica.store.count,
                                       tensors: WeightFile.tensorList(of: replica.store), iteration: iteration)
        try WeightFile(header: header, values: Array(replica.store.values)).write(to: path)
    }
}

/// The update of one step, on the summed gradients in `store`: scale them to the
/// average, clip the average's L2 norm to `clipNorm` (0: never), SGD step. A norm that
/// is not finite leaves the parameters untouched (the caller stops the run).
func sgdUpdate(_ store: ParameterStore, optimizer: SGD, scale: Float, clipNorm: Double,
               learningRate: Float) -> (norm: Double, clipped: Bool) {
    let gradients = store.gradients
    let norm = averageGradients(gradients, scale: scale).squareRoot()
    guard norm.isFinite else { return (norm, false) }
    let clipped = clipNorm > 0 && norm > clipNorm
    if clipped {
        let shrink = Float(clipNorm / norm)
        for i in 0..<gradients.count { gradients[i] *= shrink }
    }
    optimizer.step(parameters: store.values, gradients: gradients, learningRate: learningRate)
    return (norm, clipped)
}

/// Divides the summed gradients by the rank count in place and returns the squared L2
/// norm of the average (NaN or Inf when an element is not finite). The summation order
/// is fixed, so ranks holding the same gradient get the same bits and decide alike.
func averageGradients(_ gradients: UnsafeMutableBufferPointer<Float>, scale: Float) -> Double {
    guard let base = gradients.baseAddress else { return 0 }
    let n = gradients.count
    var total = 0.0, i = 0
    // Eight lanes in single precision over blocks of 1,024 elements, each block's sum
    // added in double precision: vectorized, and the rounding stays near 1e-6.
    while i + 8 <= n {
        let blockEnd = min(n - (n - i) % 8, i + 1024)
        var lanes = SIMD8<Float>(repeating: 0)
        while i < blockEnd {
            let raw = UnsafeMutableRawPointer(base + i)
            let v = raw.loadUnaligned(as: SIMD8<Float>.self) * scale
            raw.storeBytes(of: v, as: SIMD8<Float>.self)
            lanes += v * v
            i += 8
        }
        total += Double(lanes.sum())
    }
    while i < n {
        let v = base[i] * scale
        base[i] = v
        total += Double(v) * Double(v)
        i += 1
    }
    return total
}
