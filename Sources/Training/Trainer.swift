import Collectives
import Datasets
import Foundation
import Metrics
import NeuralNet

/// What a finished run reports.
public struct TrainingResult {
    public var iterations: Int
    public var finalLoss: Double
    public var testAccuracy: Double?
    public var testImages: Int
    public var wallSeconds: Double
    public var imagesPerSecond: Double
}

/// Data-parallel SGD over MPI, as Horovod and PyTorch DDP do it: rank 0's initial
/// weights are broadcast, every rank computes gradients on its shard of the
/// global batch, gradients are summed by the chosen allreduce and divided by the
/// number of ranks, and every rank applies the same update. Only rank 0 logs and
/// writes files. Every decision that could differ between ranks (stop, diverge)
/// is taken on values all ranks share, so ranks never wait for each other in vain.
public final class Trainer {
    public let options: TrainingOptions
    let comm: Communicator
    let log: (String) -> Void
    let replica: Replica
    let allreduce: GradientAllreduce
    let algorithm: AllreduceAlgorithm
    let optimizer: SGD
    var schedule: BatchSchedule?
    let train: ImageDataset?
    let test: ImageDataset?
    let metrics: MetricsWriter?
    var pending: [IterationRecord] = []
    /// The first iteration to run: 0, or the checkpoint's iteration when resuming.
    public private(set) var startIteration = 0
    var tracer: TraceRecorder?
    /// Bytes this rank sent in the latest iteration (printed for the payload model).
    var lastBytesSent = 0
    /// Set when --bucket-mb > 0: exchanges buckets on a communication thread during backward.
    var exchange: BucketedExchange?

    var isRoot: Bool { comm.rank == 0 }

    /// Builds the replica, loads this rank's data, checks that all ranks agree,
    /// and broadcasts rank 0's weights. Throws the same one-line error on every rank.
    public init(options: TrainingOptions, communicator: Communicator, log: @escaping (String) -> Void) throws {
        self.options = options
        comm = communicator
        self.log = log
        let p = communicator.size
        var startupError: String?
        var loaded: (ImageDataset?, ImageDataset?) = (nil, nil)
        var writer: MetricsWriter?
        var checkpoint: WeightFile?
        var built: Replica?
        do {
            try options.validate(worldSize: p)
            built = Replica(options: options, localBatch: options.batchSize / p, rank: communicator.rank)
            loaded = try Trainer.loadData(options)
            if communicator.rank == 0, let spec = options.resume {
                checkpoint = try Checkpoints.load(spec, options: options, parameterCount: built!.store.count,
                                                  modelName: built!.modelName)
            }
            if communicator.rank == 0, let dir = options.outputDirectory {
                writer = try Trainer.prepareOutput(dir, keepBefore: checkpoint?.header.iteration)
            }
        } catch {
            startupError = "\(error)"
        }
        (train, test) = loaded
        metrics = writer
        try Trainer.agree(options: options, datasetCount: train?.count ?? 0, error: startupError, comm: communicator)

        algorithm = AllreduceAlgorithm(rawValue: options.allreduce)!
        allreduce = algorithm.make()
        replica = built!
        // Caffe's lr_mult for SqueezeNet's classifier (conv10, weight and bias: contiguous).
        let classifier = replica.store.refs.filter { $0.name.hasPrefix("conv10.") }
        let multipliers: [(range: Range<Int>, factor: Float)] = classifier.isEmpty ? [] :
            [(classifier.map(\.offset).min()!..<classifier.map { $0.offset + $0.count }.max()!, Float(options.classifierLRMult))]
        optimizer = SGD(parameterCount: replica.store.count, momentum: Float(options.momentum),
                        weightDecay: Float(options.weightDecay), rateMultipliers: multipliers)
        if options.bucketMB > 0, let net = replica.network {
            guard communicator.allowsSerializedThreads else {
                throw TrainingError.badInput("--bucket-mb needs an MPI library with MPI_THREAD_SERIALIZED support; use --bucket-mb 0")
            }
            let ex = BucketedExchange(network: net, bucketBytes: max(4, Int(options.bucketMB * 1_048_576)),
                                      allreduce: allreduce, comm: communicator)
            net.onLayerBackwardDone = { [unowned ex] in ex.layerDone($0) }
            exchange = ex
        }
        if options.resume != nil {
            // Rank 0 read the checkpoint; every rank takes its state from rank 0.
            var position = [UInt8](repeating: 0, count: 8)
            if let c = checkpoint {
                _ = replica.store.values.update(from: c.values)
                _ = optimizer.velocity.update(from: c.momentum!)
                position = withUnsafeBytes(of: UInt64(c.header.iteration).littleEndian) { Array($0) }
            }
            try comm.broadcast(bytes: &position, root: 0)
            startIteration = Int(position.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
            try comm.broadcast(optimizer.velocity, root: 0)
        }
        if let train = train {
            schedule = BatchSchedule(count: train.count, globalBatch: options.batchSize, worldSize: p,
                                     rank: communicator.rank, seed: options.seed)
        }
        try comm.broadcast(replica.store.values, root: 0)
    }

    deinit { exchange?.stop() }

    static func loadData(_ o: TrainingOptions) throws -> (ImageDataset?, ImageDataset?) {
        guard o.model.computes else { return (nil, nil) }
        switch o.dataset {
        case .fashionMNIST:
            let prep = Preprocessing(size: o.inputSize, channels: 3)
            let train = try FashionMNIST.load(directory: o.dataDirectory, split: .train, limit: o.trainLimit, preprocessing: prep)
            let test = try FashionMNIST.load(directory: o.dataDirectory, split: .test, limit: o.testLimit, preprocessing: prep)
            if train.count < o.batchSize {
                throw TrainingError.badInput("--batch-size \(o.batchSize) is larger than the \(train.count) training images")
            }
            return (train, test)
        case .synthetic:
            let n = o.trainLimit ?? 4096
            let train = try SyntheticDataset.make(count: n, classes: o.classes, channels: 3, size: o.inputSize, seed: o.seed)
            let test = try SyntheticDataset.make(count: o.testLimit ?? 1024, classes: o.classes, channels: 3,
                                                 size: o.inputSize, seed: o.seed &+ 1)
            if n < o.batchSize { throw TrainingError.badInput("--batch-size \(o.batchSize) is larger than the \(n) training images") }
            return (train, test)
        }
    }

    /// Creates the output folder and opens metrics.jsonl: new, or when resuming from
    /// iteration k, keeping only the records of iterations before k.
    static func prepareOutput(_ dir: String, keepBefore resumeIteration: Int?) throws -> MetricsWriter {
        let path = (dir as NSString).appendingPathComponent("metrics.jsonl")
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // Temporary files of writes that a crash interrupted: never complete, never needed.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
                try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent(name))
            }
            if let k = resumeIteration, FileManager.default.fileExists(atPath: path) {
                let kept = try MetricsReader.read(path).filter { $0.iteration < k }
                var text = ""
                for r in kept { text += try MetricsWriter.line(for: r) + "\n" }
                try atomicWrite(Data(text.utf8), to: path)
                return try MetricsWriter(path: path, truncate: false)
            }
            return try MetricsWriter(path: path, truncate: true)
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.badInput("\(dir): cannot write the output folder (\(error))")
        }
    }

    /// Startup agreement: every rank shares whether it started and a fingerprint of
    /// its options and data; any failure or difference stops all ranks with one message.
    static func agree(options: TrainingOptions, datasetCount: Int, error: String?, comm: Communicator) throws {
        let mine: [UInt64] = [error == nil ? 0 : 1, options.fingerprint, UInt64(datasetCount)]
        let all = try comm.allgather(mine)
        if let failing = all.firstIndex(where: { $0[0] != 0 }) {
            var message = Array((error ?? "").utf8)
            try comm.broadcast(bytes: &message, root: failing)
            let text = String(decoding: message, as: UTF8.self)
            throw TrainingError.badInput(failing == comm.rank || comm.size == 1 ? text : "rank \(failing): \(text)")
        }
        let differing = all.indices.filter { all[$0][1] != all[0][1] || all[$0][2] != all[0][2] }
        if !differing.isEmpty {
            throw TrainingError.disagreement(
                "ranks \(differing.map(String.init).joined(separator: ", ")) were started with options or data that differ from rank 0's; every rank must run the same command")
        }
    }
}
