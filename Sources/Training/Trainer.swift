import DeepCompression
import Basics
import Collectives
import Datasets
import Foundation
import Metrics
import NeuralNet
import Topology

/// What a finished run reports.
public struct TrainingResult {
    public var iterations: Int
    public var finalLoss: Double
    public var testAccuracy: Double?
    public var testImages: Int
    public var wallSeconds: Double
    public var imagesPerSecond: Double
    /// `--skip-bad-images`: the distinct unreadable images replaced, over every rank.
    public var badImages: Int = 0
    /// Set when the run stopped early on a stop signal (`iterations` is then where it stopped).
    public var stop: Stop?

    public struct Stop {
        /// The signal that asked for the stop (the highest-numbered one if ranks got different ones).
        public var signal: Int32
        /// The checkpoint written at the stop; nil without an output folder or weights to save.
        public var checkpoint: String?
    }
}

/// Data-parallel SGD over MPI, as Horovod and PyTorch DDP do it: rank 0's initial
/// weights are broadcast, every rank computes gradients on its shard of the
/// global batch, gradients are summed by the chosen allreduce and divided by the
/// number of ranks, and every rank applies the same update. Only rank 0 logs and
/// writes files. Every decision that could differ between ranks (stop, diverge)
/// is taken on values all ranks share, so ranks never wait for each other in vain.
///
/// The loop itself is in TrainingLoop.swift; what happens around each step
/// (progress, metrics, trace, checkpoints, evaluation, divergence) in Observers.swift.
public final class Trainer {
    /// The run's options, resolved (`TrainingOptions.resolved`): epochs turned into
    /// iterations over the real training set, the warm-up's default filled in.
    public let options: TrainingOptions
    let comm: Communicator
    let log: (String) -> Void
    let replica: Replica
    let exchange: GradientExchange
    let optimizer: SGD
    var schedule: BatchSchedule?
    let train: Dataset?
    let test: Dataset?
    let metrics: MetricsWriter?
    /// Rank 0's hold on the output folder (its lock), for the run's life.
    let outputFolder: OutputFolder?
    /// The first iteration to run: 0, or the checkpoint's iteration when resuming.
    public private(set) var startIteration = 0
    /// Rank 0, resuming: the checkpoint `latest` chose and what the resume changes (the log line's tail).
    var resumedFrom: String?
    var tracer: TraceRecorder?
    /// Replayed compute (the scaling lab); nil: real forward, backward and update.
    let replay: ComputeReplay?
    /// The training batches decoded ahead (a data set read from disk), while `run` runs.
    var prefetcher: BatchPrefetcher?
    /// `--link-counters`: this host's interface, read around every exchange.
    let linkCounters: LinkCounters?
    /// What this rank was estimated to allocate, and its log line (rank 0 prints it).
    let memoryLine: String?
    /// Rank 0, resuming: the ranks that wrote the checkpoint (nil when the file does not say).
    let checkpointRanks: Int?
    /// Masked retraining: what was pruned (rank 0 prints it).
    private(set) var pruneLine: String?
    /// Trained quantisation (`--fine-tune-centroids`): the centroids and their momentum.
    private(set) var centroids: CentroidTuning?

    var isRoot: Bool { comm.rank == 0 }
    var algorithm: AllreduceAlgorithm { options.allreduce }

    /// Loads this rank's data, builds the replica, checks that all ranks agree, and
    /// broadcasts rank 0's weights. Throws the same one-line error on every rank.
    /// `options` must have passed `validate()` (the CLI validates before MPI starts).
    /// `hook`: makes what each gradient bucket goes through, given the store (nil: the `--compression` codec's hook); every rank
    /// must pass the same one (the startup agreement compares their names).
    public init(options requested: TrainingOptions, communicator: Communicator, hook: TestHooks.Factory? = nil,
                log: @escaping (String) -> Void) throws {
        comm = communicator
        self.log = log
        let p = communicator.size
        var startupError: String?
        var loaded: (train: Dataset?, test: Dataset?) = (nil, nil)
        var resolved = requested
        var writer: MetricsWriter?
        var checkpoint: Checkpoints.Resume?
        var built: Replica?
        var replayed: ComputeReplay?
        var memory: String?
        var folder: OutputFolder?
        var madeHook: BucketHook?
        do {
            try requested.check(ranks: p)
            // Before anything large is allocated: the data (synthetic: its size is known) and the replica.
            if requested.dataset == .synthetic && requested.model.computes && requested.replay == nil {
                try requested.check(trainingImages: Trainer.syntheticCounts(requested).train)
            }
            var request = requested
            if requested.dataset.isImageFiles && requested.replay == nil {
                // Only the file lists are read here (names, sizes, labels): the classes come from them.
                loaded = try Trainer.loadData(requested)
                request.classes = try Trainer.classes(requested, found: loaded.train!.classes)
            }
            memory = try Trainer.checkMemory(request, localBatch: request.batchSize / p, ranksOnHost: communicator.ranksOnHost)
            if !requested.dataset.isImageFiles { loaded = requested.replay == nil ? try Trainer.loadData(requested) : (nil, nil) }
            resolved = try request.resolved(trainingImages: loaded.train?.count ?? 0)
            try resolved.check(trainingImages: loaded.train?.count)
            built = Replica(options: resolved, localBatch: resolved.batchSize / p, rank: communicator.rank,
                            layoutOnly: resolved.replay != nil)
            madeHook = hook?(built!.store) ?? Compression.hook(resolved.compression, algorithm: resolved.allreduce, store: built!.store,
                                                momentum: resolved.momentum, iterations: resolved.iterations,
                                                topkWarmupEpochs: resolved.topkWarmupEpochs, prunes: resolved.prunes,
                                                fineTuneCentroids: resolved.fineTuneCentroids,
                                                localClipNorm: resolved.clipGradientNorm * Double(p).squareRoot())
            if communicator.rank == 0, let path = resolved.initWeights, resolved.resume == nil {
                let file = try WeightFile.read(from: path)
                guard file.header.model == built!.modelName, file.header.tensors == WeightFile.tensorList(of: built!.store) else {
                    throw TrainingError.badInput("\(path): holds \(WeightFile.shown(file.header.model)) with \(file.header.count) parameters; this run is \(built!.modelName) with \(built!.store.count) (--init-weights needs the same model and tensors)")
                }
                _ = built!.store.values.update(from: file.values)
            }
            if let settings = resolved.replay {
                replayed = try ComputeReplay(settings: settings, options: resolved, network: built!.network!,
                                             localBatch: resolved.batchSize / p)
            }
            if GradientBuckets.bytes(megabytes: resolved.bucketMB) > 0 && resolved.model.computes
                && !communicator.allowsSerializedThreads {
                throw TrainingError.badInput("--bucket-mb needs an MPI library with MPI_THREAD_SERIALIZED support; use --bucket-mb 0")
            }
            if communicator.rank == 0, let dir = resolved.outputDirectory {
                folder = try OutputFolder(dir)  // locked before any file in it is read
            }
            if communicator.rank == 0, let spec = resolved.resume {
                checkpoint = try Checkpoints.load(spec, options: resolved, parameterCount: built!.store.count,
                                                  tensors: WeightFile.tensorList(of: built!.store), modelName: built!.modelName,
                                                  hookState: Checkpoints.entries(madeHook!.state), ranks: p)
            }
            writer = try folder?.prepare(resumeIteration: checkpoint?.file.header.iteration, overwrite: resolved.overwrite)
            if communicator.rank == 0, let path = resolved.trace { try Trainer.checkWritable(path, flag: "--trace") }
        } catch {
            startupError = "\(error)"
        }
        options = resolved
        memoryLine = memory
        checkpointRanks = checkpoint?.file.header.ranks
        (train, test) = loaded
        metrics = writer
        outputFolder = folder
        replay = replayed
        linkCounters = resolved.linkCounters.map(LinkCounters.init(interface:))
        // A test hook replaces the default; --compression picks the codec's hook.
        let exchangeHook = madeHook ?? IdentityHook()
        try Trainer.agree(options: resolved, data: (train?.contentHash ?? 0, test?.contentHash ?? 0), hook: exchangeHook.name,
                          replay: replayed?.fingerprint ?? 0, error: startupError, comm: communicator)

        let replica = built!
        self.replica = replica
        let multiplier = Float(resolved.classifierLRMult)
        // Replayed compute updates nothing: no momentum buffer (244 MB for AlexNet, per rank).
        optimizer = SGD(parameterCount: replay == nil ? replica.store.count : 0,
                        momentum: Float(Compression.optimizerMomentum(resolved.compression, momentum: resolved.momentum)),
                        weightDecay: Float(resolved.weightDecay),
                        rateMultipliers: replay == nil ? replica.classifierRange.map { [($0, multiplier)] } ?? [] : [])
        let bucketBytes = GradientBuckets.bytes(megabytes: resolved.bucketMB)
        let exchange = GradientExchange(store: replica.store, layers: replica.network?.layers, bucketBytes: bucketBytes,
                                        algorithm: resolved.allreduce, hook: exchangeHook, comm: communicator)
        self.exchange = exchange
        if let replay, let c = replay.timeline.codec, let h = exchangeHook as? PowerSGDHook { h.replayed = (c.buckets, replay.scale) }
        if exchange.overlapsBackward {
            replica.network?.onLayerBackwardDone = { [unowned exchange] in exchange.layerDone($0) }
        }
        resumedFrom = checkpoint.map { Checkpoints.describe($0, options: resolved) }
        if options.resume != nil { try takeCheckpoint(checkpoint?.file) }
        schedule = train.map {
            BatchSchedule(count: $0.count, globalBatch: options.batchSize, worldSize: p, rank: communicator.rank,
                          seed: options.seed)
        }
        // Replayed compute never reads the weights: 244 MB of AlexNet need not cross the links.
        if replay == nil { try comm.broadcast(replica.store.values, root: 0) }
        // Masked retraining: the masks come from the weights every rank now holds; check
        // that they agree (as the options do) before any exchange relies on it.
        if options.fineTuneCentroids, let masked = exchangeHook as? MaskedHook {
            let tuning = try CentroidTuning(store: replica.store, momentum: masked.carried)
            centroids = tuning
            for i in 0..<masked.keep.count { masked.keep[i] = 1 }
            for t in tuning.tensors { for (i, c) in t.sharing.assignment.enumerated() where c < 0 { masked.keep[t.offset + i] = 0 } }
            let hashes = try comm.allgather([fnv1a(masked.keep)])
            if hashes.contains(where: { $0 != hashes[0] }) { throw TrainingError.disagreement("the ranks derived different pruning masks from the compressed weights") }
            pruneLine = "fine-tuning \(tuning.tensors.reduce(0) { $0 + $1.sharing.centroids.count }) centroids of \(tuning.tensors.count) weight tensors (at most \(tuning.largestCodebook) per tensor); \(masked.keep.count - masked.kept(in: 0..<masked.keep.count)) pruned weights stay zero"
        }
        if options.prunes, let masked = exchangeHook as? MaskedHook {
            let layers = options.pruneLayerSparsity ?? []
            do { try LayerSetting.requireMatches(layers, names: replica.store.refs.map(\.name), flag: "--prune-layer-sparsity") }
            catch { throw TrainingError.badInput("\(error)") }
            masked.keep = Compression.prune(replica.store, sparsity: options.pruneSparsity, quality: options.pruneQuality, layers: layers)
            let hashes = try comm.allgather([fnv1a(masked.keep)])
            let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
            if !differing.isEmpty {
                throw TrainingError.disagreement("the pruning masks of ranks \(differing.map(String.init).joined(separator: ", ")) differ from rank 0's")
            }
            let rule = [options.pruneSparsity.map { "--prune-sparsity \($0) of every weight tensor" },
                        options.pruneQuality.map { "--prune-quality \($0): |w| < \($0) x std of every weight tensor" },
                        layers.isEmpty ? nil : "--prune-layer-sparsity " + layers.map { "\($0.prefix)=\($0.value)" }.joined(separator: ",")
                            + (options.pruneSparsity == nil && options.pruneQuality == nil ? ", the other tensors' zeros" : " first")].compactMap { $0 }
            pruneLine = "pruned \(masked.keep.count - masked.kept(in: 0..<masked.keep.count)) of \(masked.keep.count) parameters (\(rule.joined(separator: "; "))); the exchange sends the rest"
        }
    }

    deinit { exchange.stop() }

    /// Rank 0 read the checkpoint; every rank takes its iteration and momentum from
    /// rank 0 (the weights follow with the initial broadcast).
    private func takeCheckpoint(_ checkpoint: WeightFile?) throws {
        var position = [UInt8](repeating: 0, count: 8)
        if let c = checkpoint {
            _ = replica.store.values.update(from: c.values)
            _ = optimizer.velocity.update(from: c.momentum!)
            position = withUnsafeBytes(of: UInt64(c.header.iteration).littleEndian) { Array($0) }
        }
        try comm.broadcast(bytes: &position, root: 0)
        startIteration = Int(position.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        try comm.broadcast(optimizer.velocity, root: 0)
        // Each rank's own residuals (they differ by rank), from the checkpoint's rank-major copy.
        for (i, s) in exchange.hook.state.enumerated() {
            if let c = checkpoint {
                try c.hookState[i].withUnsafeBufferPointer { try comm.scatter($0, into: s.values, root: 0) }
            } else {
                try comm.scatter(nil, into: s.values, root: 0)
            }
        }
    }

    /// Every rank's hook state gathered on rank 0 for a checkpoint, rank-major per entry
    /// (empty on the other ranks). Called on every rank.
    func gatheredHookState() throws -> [[Float]] {
        var out: [[Float]] = []
        for s in exchange.hook.state {
            let gathered = try comm.gatherBytes(Array(UnsafeRawBufferPointer(s.values)), root: 0)
            if let gathered {
                out.append(gathered.flatMap { bytes in bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } })
            }
        }
        return out
    }

    /// The training and test sets of the run; none for a model that does not compute.
    static func loadData(_ o: TrainingOptions) throws -> (train: Dataset?, test: Dataset?) {
        guard o.model.computes else { return (nil, nil) }
        switch o.dataset {
        case .fashionMNIST:
            let prep = Preprocessing(size: o.inputSize, channels: 3)
            return (try FashionMNIST.load(directory: o.dataDirectory, split: .train, limit: o.trainLimit, preprocessing: prep),
                    try FashionMNIST.load(directory: o.dataDirectory, split: .test, limit: o.testLimit, preprocessing: prep))
        case .folder, .list:
            let train: ImageList, val: ImageList?
            if o.dataset == .folder {
                train = try ImageList.folder(o.dataDirectory + "/train", skipBad: o.skipBadImages)
                let valDir = o.dataDirectory + "/val"
                val = FileManager.default.fileExists(atPath: valDir)
                    ? try ImageList.folder(valDir, classNames: train.classNames, skipBad: o.skipBadImages) : nil
            } else {
                let given = o.classes == 0 ? nil : o.classes
                train = try ImageList.listFile(o.trainList!, root: o.imageRoot, classes: given, skipBad: o.skipBadImages)
                val = try o.valList.map { try ImageList.listFile($0, root: o.imageRoot, classes: given ?? train.classes, skipBad: o.skipBadImages) }
            }
            func make(_ list: ImageList, training: Bool, limit: Int?) throws -> ImageFileDataset {
                try ImageFileDataset(list: list.spread(limit), transform: o.imageTransform(training: training),
                                     decodeThreads: o.decodeThreads, skipBadImages: o.skipBadImages)
            }
            return (try make(train, training: true, limit: o.trainLimit), try val.map { try make($0, training: false, limit: o.testLimit) })
        case .synthetic:
            let counts = syntheticCounts(o)
            return (try SyntheticDataset.make(count: counts.train, classes: o.classes, channels: 3,
                                              size: o.inputSize, seed: o.seed),
                    try SyntheticDataset.make(count: counts.test, classes: o.classes, channels: 3,
                                              size: o.inputSize, seed: o.seed &+ 1))
        }
    }

    /// The classes of a JPEG data set: `--classes` when given (at least the data's), else the data's.
    static func classes(_ o: TrainingOptions, found: Int) throws -> Int {
        if o.classes == 0 { return found }
        guard o.classes >= found else {
            throw TrainingError.badInput("--classes \(o.classes) is fewer than the \(found) classes of the training data")
        }
        return o.classes
    }

    /// The synthetic sets' sizes, known before they are made.
    static func syntheticCounts(_ o: TrainingOptions) -> (train: Int, test: Int) { (o.trainLimit ?? 4096, o.testLimit ?? 1024) }

    /// Startup agreement: every rank shares whether it started, a hash of each option,
    /// of its training and test data (`Dataset.contentHash`), of the bucket hook's name
    /// and the replayed timeline. A failure stops all ranks with its message; a difference
    /// with one naming the ranks and what differs, by flag or as "the training data".
    static func agree(options: TrainingOptions, data: (train: UInt64, test: UInt64), hook: String, replay: UInt64,
                      error: String?, comm: Communicator) throws {
        let fields = options.agreementFields
        let names = fields.map(\.flag) + ["the training data", "the test data", "the bucket hook", "the replayed timeline"]
        let mine: [UInt64] = [error == nil ? 0 : 1] + fields.map { fnv1a(Array($0.value.utf8)) }
            + [data.train, data.test, fnv1a(Array(hook.utf8)), replay]
        let all = try comm.allgather(mine)
        if let failing = all.firstIndex(where: { $0[0] != 0 }) {
            var message = Array((error ?? "").utf8)
            try comm.broadcast(bytes: &message, root: failing)
            let text = String(decoding: message, as: UTF8.self)
            throw TrainingError.startup(failing == comm.rank || comm.size == 1 ? text : "rank \(failing): \(text)")
        }
        let differences = all.indices.compactMap { r -> (rank: Int, what: String)? in
            let what = names.indices.filter { all[r][$0 + 1] != all[0][$0 + 1] }.map { names[$0] }
            return what.isEmpty ? nil : (r, what.joined(separator: ", "))
        }
        if !differences.isEmpty {
            let ranks = differences.count == 1 ? "rank \(differences[0].rank) was"
                : "ranks \(differences.map { String($0.rank) }.joined(separator: ", ")) were"
            throw TrainingError.disagreement(
                "\(ranks) started with options or data that differ from rank 0's (\(differences.map { "rank \($0.rank): \($0.what)" }.joined(separator: "; "))); every rank must run the same command on the same data")
        }
    }
}
