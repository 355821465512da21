import ArgumentParser
import Collectives
import Datasets
import Foundation
import NeuralNet
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train SqueezeNet (the default subcommand); under mpirun every process is one worker.")

    @Option(help: "Model: v1.0, v1.1, or alexnet-payload (AlexNet-sized gradients, no compute).")
    var model: String = "v1.0"
    @Option(help: "Number of classes (10 for fashion-mnist).") var classes: Int = 10
    @Option(help: "Square input size in pixels (Fashion-MNIST's 28x28 images are resized to it).") var inputSize: Int = 32
    @Option(help: "Dataset: fashion-mnist or synthetic.") var dataset: String = "fashion-mnist"
    @Option(help: "Folder with the Fashion-MNIST IDX .gz files.") var dataDir: String = "/usr/share/datasets/fashion-mnist"
    @Option(help: "Use only the first N training images.") var trainLimit: Int?
    @Option(help: "Use only the first N test images for evaluation.") var testLimit: Int?
    @Option(help: "Global batch size, split evenly across the ranks.") var batchSize: Int = 64
    @Option(help: "Iterations (global steps) to train.") var iterations: Int?
    @Option(help: "Epochs to train instead of --iterations (the last incomplete batch of an epoch is dropped).")
    var epochs: Double?
    @Option(help: "Base learning rate.") var baseLR: Double = 0.01
    @Option(help: "Momentum.") var momentum: Double = 0.9
    @Option(help: "L2 weight decay (Caffe: added to the gradient).") var weightDecay: Double = 0.0002
    @Option(help: "Learning-rate policy: poly, fixed or step.") var lrPolicy: String = "poly"
    @Option(help: "Exponent of the poly policy.") var power: Double = 1.0
    @Option(help: "Iterations between decays of the step policy.") var stepSize: Int = 1000
    @Option(help: "Decay factor of the step policy.") var gamma: Double = 0.1
    @Option(help: "Ramp the learning rate up linearly over the first N iterations (default: 300, or a quarter of a shorter run); without it early steps kill class outputs behind the ReLU after conv10.")
    var warmupIterations: Int?
    @Option(help: "Random seed (initial weights, data order, dropout).") var seed: UInt64 = 42
    @Option(help: "Dropout probability before conv10.") var dropout: Double = 0.5
    @Option(help: "Convolution weight filler: xavier (Caffe's prototxt) or kaiming (torchvision).")
    var weightInit: String = "kaiming"
    @Option(help: "Initial conv10 bias (Caffe: 0); positive keeps class outputs alive behind conv10's ReLU at the start.")
    var classifierBias: Double = 0.5
    @Option(help: "Standard deviation of SqueezeNet's initial conv10 weights (Caffe, torchvision: 0.01; 0: zeros).")
    var classifierStd: Double = 0.01
    @Option(help: "Learning-rate multiplier of SqueezeNet's conv10 (Caffe's lr_mult); 1: the same rate as the rest.")
    var classifierLRMult: Double = 0.1
    @Option(help: "Scale the averaged gradient down to this L2 norm when it is larger (Caffe's clip_gradients; 0: off).")
    var clipGradientNorm: Double = 5
    @Flag(help: "Mirror training images left-right at random (Caffe's mirror: true).") var mirror = false
    @Option(help: "Translate training images at random by up to N pixels in x and y (background fill).")
    var maxShift: Int = 0
    @Option(help: "Gradient allreduce: tree (FireCaffe), ring, mpi (native MPI_Allreduce) or ps (parameter server).")
    var allreduce: String = "ring"
    @Option(help: "Evaluate on the test set every N iterations (0: only at the end).") var evalEvery: Int = 0
    @Option(help: "Print progress and write metrics every N iterations.") var logEvery: Int = 10
    @Option(help: "Folder for metrics.jsonl and weights.bin (written by rank 0).") var output: String?
    @Option(help: "Write a checkpoint every N iterations (0: only at the end); needs --output.") var checkpointEvery: Int = 0
    @Option(help: "Number of checkpoints to keep (0: all).") var keepCheckpoints: Int = 3
    @Option(help: "Resume from a checkpoint file, or 'latest' (newest in --output).") var resume: String?
    @Option(help: "Exchange gradients in buckets of this many MB while backward runs (0: one exchange after backward).")
    var bucketMB: Double = 0
    @Option(help: "Write a Chrome trace (JSON; open in Perfetto or chrome://tracing) of every rank's phases to FILE.")
    var trace: String?
    @Flag(help: "Print the model's per-layer table and parameter count, then exit.") var summary = false

    func makeOptions() throws -> TrainingOptions {
        var o = TrainingOptions()
        guard let m = ModelKind(rawValue: model) else {
            throw ValidationError("--model must be one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(model)'")
        }
        guard let d = DatasetKind(rawValue: dataset) else {
            throw ValidationError("--dataset must be one of \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(dataset)'")
        }
        guard let policy = LRPolicyName(rawValue: lrPolicy) else {
            throw ValidationError("--lr-policy must be one of poly, fixed, step, got '\(lrPolicy)'")
        }
        guard let fill = ConvInit(rawValue: weightInit) else {
            throw ValidationError("--weight-init must be xavier or kaiming, got '\(weightInit)'")
        }
        o.convInit = fill
        o.classifierBias = classifierBias
        o.clipGradientNorm = clipGradientNorm
        o.classifierStd = classifierStd
        o.classifierLRMult = classifierLRMult
        o.augmentation = Augmentation(mirror: mirror, maxShift: maxShift)
        o.model = m; o.classes = classes; o.inputSize = inputSize; o.dataset = d; o.dataDirectory = dataDir
        o.trainLimit = trainLimit; o.testLimit = testLimit; o.batchSize = batchSize
        o.baseLR = baseLR; o.momentum = momentum; o.weightDecay = weightDecay; o.lrPolicy = policy
        o.power = power; o.stepSize = stepSize; o.gamma = gamma; o.warmupIterations = warmupIterations ?? 0; o.seed = seed; o.dropout = dropout
        o.allreduce = allreduce; o.evalEvery = evalEvery; o.logEvery = logEvery; o.outputDirectory = output
        o.checkpointEvery = checkpointEvery; o.keepCheckpoints = keepCheckpoints; o.resume = resume
        o.trace = trace
        o.bucketMB = bucketMB
        if iterations != nil && epochs != nil { throw ValidationError("give --iterations or --epochs, not both") }
        if let e = epochs {
            guard e > 0 else { throw ValidationError("--epochs must be positive, got \(e)") }
            let images = trainLimit ?? (d == .fashionMNIST ? 60_000 : 4096)
            guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
            o.iterations = max(1, Int((e * Double(images / batchSize)).rounded()))
        } else {
            o.iterations = iterations ?? 500
        }
        if warmupIterations == nil { o.warmupIterations = min(300, o.iterations / 4) }
        if summary {
            // The table needs no data: only the model options matter.
            var check = o
            check.dataset = .synthetic
            try check.validate(worldSize: 1)
        } else {
            try o.validate(worldSize: 1)  // rank-independent checks, before MPI starts
        }
        return o
    }

    func validate() throws { _ = try makeOptions() }

    func run() throws {
        let options = try makeOptions()
        if summary {
            print(ModelSummary.table(options))
            return
        }
        let comm: Communicator
        do { comm = try Communicator.initialize() } catch {
            fail("cannot start MPI: \(error)")
        }
        do {
            let trainer = try Trainer(options: options, communicator: comm) { print($0); fflush(stdout) }
            let result = try trainer.run()
            if comm.rank == 0 {
                let rate = options.model.computes ? String(format: " (%.1f img/s)", result.imagesPerSecond) : ""
                print(String(format: "done: %d iterations in %.1f s", result.iterations, result.wallSeconds)
                      + rate + (options.outputDirectory.map { ", output in \($0)" } ?? ""))
            }
            try comm.finalize()
        } catch let error as TrainingError {
            // Taken on values every rank shares: all ranks stop alike; rank 0 speaks for them.
            if comm.rank == 0 { printError("\(error)") }
            try? comm.finalize()
            Foundation.exit(1)
        } catch {
            printError("rank \(comm.rank): \(error)")
            comm.abort(code: 1)
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

func fail(_ message: String) -> Never {
    printError(message)
    Foundation.exit(1)
}
