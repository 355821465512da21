import Collectives
import Foundation
import Metrics
import NeuralNet

extension Trainer {
    /// Iterations with all class outputs zero, in a row, before the run is declared dead.
    static let deadOutputPatience = 20

    public func run() throws -> TrainingResult {
        let o = options, p = comm.size
        let gradients = replica.store.gradients
        let scale = 1 / Float(p)
        let start = monotonicSeconds()
        var window = (lossSum: 0.0, correct: 0, seen: 0, dead: 0, comm: 0.0, time: 0.0, clipped: 0)
        var lastLoss = Double.nan
        var deadRun = 0
        pending.reserveCapacity(o.logEvery)
        if isRoot { log(banner()) }
        if o.trace != nil {
            try comm.barrier()  // a common time origin for every rank's row
            tracer = TraceRecorder(capacity: 8 * (o.iterations - startIteration) + 64, origin: monotonicSeconds())
        }

        if isRoot && startIteration > 0 { log("resuming at iteration \(startIteration) from \(o.resume!)") }
        for iteration in startIteration..<o.iterations {
            let t0 = monotonicSeconds()
            let indices = schedule?.indices(forIteration: iteration) ?? []
            let t1 = monotonicSeconds()
            _ = comm.takeCounters()
            FaultInjection.beforeAllreduce(rank: comm.rank, iteration: iteration)
            exchange?.beginIteration()
            let step = replica.computeGradients(dataset: train, indices: indices,
                                                dropoutSeed: o.seed &+ UInt64(iteration) &* 0x9E37_79B9 &+ UInt64(comm.rank) << 48,
                                                augmentation: o.augmentation,
                                                augmentationSeed: o.seed ^ (UInt64(iteration) &* 0xC2B2_AE3D_27D4_EB4F))
            let t2 = monotonicSeconds()
            var commSeconds: Double
            if let ex = exchange {
                try ex.finish()  // buckets started during backward; wait for the rest
                commSeconds = ex.commSeconds
            } else {
                try allreduce.allreduce(gradients, on: comm)
                commSeconds = monotonicSeconds() - t2
            }
            let counters = comm.takeCounters()
            let t3 = monotonicSeconds()
            commSeconds = max(commSeconds, 0)
            let squaredNorm = averageGradients(gradients, scale: scale)
            if !squaredNorm.isFinite {
                throw TrainingError.diverged("iteration \(iteration): the averaged gradient holds NaN or Inf (loss \(step.lossSum / Double(max(indices.count, 1)))); lower --base-lr")
            }
            let gradientNorm = squaredNorm.squareRoot()
            if o.model.computes && o.clipGradientNorm > 0 && gradientNorm > o.clipGradientNorm {
                // Every rank holds the same averaged gradient, so every rank decides alike.
                let shrink = Float(o.clipGradientNorm / gradientNorm)
                for i in 0..<gradients.count { gradients[i] *= shrink }
                window.clipped += 1
            }
            let lr = o.learningRate(at: iteration)
            optimizer.step(parameters: replica.store.values, gradients: gradients, learningRate: Float(lr))
            let t4 = monotonicSeconds()
            if let tr = tracer {
                tr.record(.data, from: t0, to: t1, iteration: iteration)
                tr.record(.forward, from: t1, to: step.forwardEnd, iteration: iteration)
                tr.record(.backward, from: step.forwardEnd, to: t2, iteration: iteration)
                tr.record(.allreduce, from: t2, to: t3, iteration: iteration, bytes: counters.bytesSent)
                tr.record(.update, from: t3, to: t4, iteration: iteration)
            }

            pending.append(record(iteration: iteration, counters: counters, step: step, batch: indices.count, lr: lr,
                                  gradientNorm: o.model.computes ? gradientNorm : nil,
                                  times: (data: t1 - t0, compute: t2 - t1, comm: commSeconds, exposed: t3 - t2,
                                          update: t4 - t3, total: t4 - t0)))
            window.lossSum += step.lossSum; window.correct += step.correct; window.seen += indices.count
            window.dead += step.deadOutputs ? 1 : 0
            window.comm += t3 - t2; window.time += t4 - t0  // exposed communication
            lastBytesSent = counters.bytesSent

            let last = iteration + 1 == o.iterations
            if (iteration + 1) % o.logEvery == 0 || last {
                // One small allreduce per log interval: every rank sees the same totals and decides alike.
                let totals = try comm.allreduceSum([window.lossSum, Double(window.correct), Double(window.seen),
                                                    Double(window.dead), window.time])
                lastLoss = totals[2] > 0 ? totals[0] / totals[2] : .nan
                try flushMetrics()
                if isRoot {
                    let images = totals[2], seconds = totals[4] / Double(p)
                    if o.model.computes {
                        log(String(format: "iter %6d/%d  loss %.4f  train-acc %5.1f%%  lr %.5f  %7.1f img/s  comm %4.1f%%",
                                   iteration + 1, o.iterations, lastLoss, 100 * totals[1] / max(images, 1), lr,
                                   images / max(seconds, 1e-9), 100 * window.comm / max(window.time, 1e-9))
                            + (o.clipGradientNorm > 0 ? "  clipped \(window.clipped)" : ""))
                    } else {
                        let sent = lastBytesSent
                        log(String(format: "iter %6d/%d  exchange %.1f ms/iteration (rank 0)  rank 0 sent %.1f MB in the last iteration",
                                   iteration + 1, o.iterations, 1e3 * window.comm / Double(o.logEvery), Double(sent) / 1e6))
                    }
                }
                if lastLoss.isNaN && replica.network != nil {
                    throw TrainingError.diverged("iteration \(iteration + 1): the loss is NaN; lower --base-lr")
                }
                deadRun = totals[3] >= Double(o.logEvery * p) ? deadRun + o.logEvery : 0
                if deadRun >= Trainer.deadOutputPatience {
                    throw TrainingError.diverged("iteration \(iteration + 1): every class output has been 0 for \(deadRun) iterations (ReLU after conv10 died; loss stuck at ln C); lower --base-lr")
                }
                window = (0, 0, 0, 0, 0, 0, 0)
            }
            if o.checkpointEvery > 0 && (iteration + 1) % o.checkpointEvery == 0 && !last && o.model.computes {
                try checkpoint(after: iteration + 1)
            }
            if o.evalEvery > 0 && (iteration + 1) % o.evalEvery == 0 && !last, let acc = try evaluate() {
                if isRoot { log("eval  iter \(iteration + 1)  " + describe(acc)) }
            }
        }
        let wall = monotonicSeconds() - start
        let evaluation = try evaluate()
        if isRoot {
            if let e = evaluation { log(describe(e)) }
            if let dir = o.outputDirectory, o.model.computes {
                try saveWeights(to: (dir as NSString).appendingPathComponent("weights.bin"), iteration: o.iterations)
            }
        }
        // The communication-only payload has no weights worth keeping (and 732 MB to write).
        if o.outputDirectory != nil && o.model.computes { try checkpoint(after: o.iterations) }
        if let path = o.trace { try writeTrace(to: path) }
        let images = Double(o.iterations * o.batchSize)
        return TrainingResult(iterations: o.iterations, finalLoss: lastLoss, testAccuracy: evaluation?.accuracy,
                              testImages: evaluation?.images ?? 0, wallSeconds: wall, imagesPerSecond: images / wall)
    }

    func banner() -> String {
        let o = options
        let bytes = replica.store.count * 4
        return "training \(o.model.rawValue) (\(replica.store.count) parameters, \(bytes) gradient bytes) on \(o.dataset.rawValue)"
            + " \(o.inputSize)px, \(comm.size) rank(s) on \(comm.hostCount) host(s), global batch \(o.batchSize) (\(o.batchSize / comm.size) per rank),"
            + " allreduce \(algorithm.rawValue)\(exchange.map { " in \($0.buckets.count) buckets overlapping backward" } ?? ""), base-lr \(o.baseLR) \(o.lrPolicy.rawValue)"
            + (o.warmupIterations > 0 ? " after \(o.warmupIterations) warm-up iterations" : "") + ", \(o.iterations) iterations"
    }

    func record(iteration: Int, counters: TrafficCounters, step: Replica.StepResult, batch: Int, lr: Double,
                gradientNorm: Double?, times: (data: Double, compute: Double, comm: Double, exposed: Double, update: Double, total: Double)) -> IterationRecord {
        var sent = counters.bytesSent, received = counters.bytesReceived, messages = counters.messagesSent
        if !algorithm.bytesAreCounted {
            // Native MPI_Allreduce: the library's bytes are invisible; report the modelled figure.
            let t = CommunicationModel.rankTraffic(.mpi, rank: comm.rank, worldSize: comm.size, count: replica.store.count)
            sent = t.bytesSent; received = t.bytesReceived; messages = t.messagesSent
        }
        return IterationRecord(
            rank: comm.rank, iteration: iteration, worldSize: comm.size, model: options.model.rawValue,
            parameters: replica.store.count, gradientBytes: replica.store.count * 4, algorithm: algorithm.rawValue,
            bytesSent: sent, bytesReceived: received, messagesSent: messages, bytesCounted: algorithm.bytesAreCounted,
            commSeconds: times.comm, computeSeconds: times.compute, updateSeconds: times.update, dataSeconds: times.data,
            iterationSeconds: times.total, batchSize: batch, globalBatchSize: options.batchSize,
            loss: batch > 0 ? step.lossSum / Double(batch) : nil, learningRate: lr, exposedCommSeconds: times.exposed,
            gradientNorm: gradientNorm)
    }

    /// Gathers every rank's pending records to rank 0, which appends them ordered by iteration, then rank.
    func flushMetrics() throws {
        var lines = Data()
        for r in pending { lines.append(contentsOf: Array(try MetricsWriter.line(for: r).utf8)); lines.append(0x0A) }
        pending.removeAll(keepingCapacity: true)
        guard let gathered = try comm.gatherBytes(Array(lines), root: 0), let writer = metrics else { return }
        let records = try gathered.flatMap { try MetricsReader.parse(Data($0), source: "gathered metrics") }
        try writer.write(contentsOf: records.sorted { ($0.iteration, $0.rank) < ($1.iteration, $1.rank) })
    }

    /// Test-set top-1, each rank taking every p-th image; nil without a test set.
    func evaluate() throws -> (accuracy: Double, images: Int, deadClasses: [Int])? {
        guard let test = test, let net = replica.network else { return nil }
        let p = comm.size, batch = replica.localBatch
        let mine = Array(stride(from: comm.rank, to: test.count, by: p))
        var correct = 0
        var active = [Double](repeating: 0, count: net.classes)
        var i = 0
        while i < mine.count {
            let slice = mine[i..<min(i + batch, mine.count)]
            correct += replica.countCorrect(dataset: test, indices: slice, active: &active)
            i += batch
        }
        let totals = try comm.allreduceSum([Double(correct), Double(mine.count)] + active)
        let dead = (0..<net.classes).filter { totals[2 + $0] == 0 }
        return (totals[0] / max(totals[1], 1), Int(totals[1]), dead)
    }

    func describe(_ e: (accuracy: Double, images: Int, deadClasses: [Int])) -> String {
        var s = String(format: "test top-1 %.2f%% on %d images", 100 * e.accuracy, e.images)
        if !e.deadClasses.isEmpty {
            s += "; classes \(e.deadClasses.map(String.init).joined(separator: ", ")) are dead (output 0 on every test image)"
        }
        return s
    }

    /// Flushes the metrics up to this point on every rank, then rank 0 writes the checkpoint.
    func checkpoint(after iterations: Int) throws {
        try flushMetrics()
        guard isRoot, let dir = options.outputDirectory else { return }
        try Checkpoints.write(store: replica.store, momentum: optimizer.velocity, iteration: iterations, options: options,
                              modelName: replica.modelName, dir: dir, keep: options.keepCheckpoints)
    }

    /// Gathers every rank's timeline to rank 0, which writes one Chrome trace file.
    func writeTrace(to path: String) throws {
        let mine = Array((tracer?.jsonEvents(rank: comm.rank) ?? "").utf8)
        guard let all = try comm.gatherBytes(mine, root: 0) else { return }
        try atomicWrite(TraceRecorder.document(all.map { String(decoding: $0, as: UTF8.self) }), to: path)
    }

    public func saveWeights(to path: String, iteration: Int) throws {
        let header = WeightFile.Header(model: replica.network?.name ?? options.model.rawValue, count: replica.store.count,
                                       tensors: replica.store.refs.map { "\($0.name)\($0.shape)" }, iteration: iteration)
        try WeightFile(header: header, values: Array(replica.store.values)).write(to: path)
    }
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
