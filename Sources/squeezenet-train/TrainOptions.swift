import DeepCompression
import ArgumentParser
import Datasets
import NeuralNet
import Topology
import Training

// The training options, grouped as `train --help` shows them. Every default is
// `TrainingOptions.defaults`'s: declared once, in the library.

extension ModelKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument) }
    public static var allValueStrings: [String] { ModelRegistry.all.map(\.name) }
}
extension AllreduceAlgorithm: ExpressibleByArgument {}
extension DatasetKind: ExpressibleByArgument {}
extension LRPolicyName: ExpressibleByArgument {}
extension ConvInit: ExpressibleByArgument {}
extension ImageTransform.Convention: ExpressibleByArgument {}

/// "0.485,0.456,0.406" (or one number for every channel).
private func numbers(_ text: String) throws -> [Double] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { throw ValidationError("expected 1 or 3 comma-separated numbers, got '\(text)'") }
    return parts.map { $0! }
}

private let defaults = TrainingOptions.defaults

struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Model: \(ModelRegistry.all.map { "\($0.name) (\($0.summary))" }.joined(separator: ", ")).",
                               valueName: "name"))
    var model: ModelKind = defaults.model
    @Option(help: "Number of classes (default \(defaults.classes); at least 10 for fashion-mnist, whose labels are 0-9; for folder and list: from the data).") var classes: Int?
    @Option(help: "Square input size in pixels, at most 4096 (Fashion-MNIST's 28x28 images are resized to it). Default: \(defaults.inputSize) for training, the model's native size for --summary.")
    var inputSize: Int?
    @Option(help: "Convolution weight filler: xavier (Caffe's prototxt) or kaiming (torchvision).")
    var weightInit: ConvInit = defaults.convInit
    @Option(help: "Initial classifier bias (SqueezeNet's conv10; Caffe: 0); positive keeps class outputs alive behind conv10's ReLU at the start.")
    var classifierBias: Double = defaults.classifierBias
    @Option(help: "Standard deviation of the initial classifier weights (Caffe, torchvision: 0.01; 0: zeros).")
    var classifierStd: Double = defaults.classifierStd
    @Option(help: "Dropout probability (SqueezeNet: before conv10).") var dropout: Double = defaults.dropout
    @Flag(help: "Print the model's per-layer table and parameter count, then exit.") var summary = false

    func apply(to o: inout TrainingOptions) {
        o.model = model; o.classes = classes ?? defaults.classes; o.inputSize = inputSize ?? defaults.inputSize; o.convInit = weightInit
        o.classifierBias = classifierBias; o.classifierStd = classifierStd; o.dropout = dropout
    }
}

struct DataOptions: ParsableArguments {
    @Option(help: "Dataset: fashion-mnist (IDX files), synthetic, folder (JPEGs in torchvision's ImageFolder layout: --data-dir DIR with DIR/train/<class>/*.jpg and DIR/val/<class>/*.jpg, classes in sorted order) or list (Caffe's ImageData list files: --train-list, --val-list, --root).")
    var dataset: DatasetKind = defaults.dataset
    @Option(help: "Folder with the Fashion-MNIST IDX .gz files, or the image folder for --dataset folder.") var dataDir: String = defaults.dataDirectory
    @Option(help: "--dataset list: the training list, one 'path label' per line (split at the last space; labels from 0).")
    var trainList: String?
    @Option(help: "--dataset list: the validation list (none: no evaluation).") var valList: String?
    @Option(help: "--dataset list: the folder relative paths in the lists start from (default: the working directory).")
    var root: String?
    @Option(help: ArgumentHelp("JPEG data sets: caffe (warp to --resize, random --input-size crop, test: centre crop; BGR minus 104,117,123), torchvision (random resized crop, scale 0.08-1, ratio 3/4-4/3; test: short side to --resize, centre crop; RGB, (x/255 - ImageNet mean) / std) or resize (the whole image warped to --input-size, train and test). Mirror with --mirror.", valueName: "convention"))
    var transform: ImageTransform.Convention = defaults.transform
    @Option(help: "JPEG data sets: the side Caffe warps to, or torchvision resizes the short side to for testing (default: --input-size x 256/227 for caffe, x 256/224 for torchvision: 256 at 227 and 224).")
    var resize: Int?
    @Option(help: ArgumentHelp("JPEG data sets: per-channel mean to subtract, 1 or 3 numbers in the convention's units and order (caffe: 0-255, B,G,R; else of x/255, R,G,B).", valueName: "m[,m,m]"), transform: numbers)
    var pixelMean: [Double]?
    @Option(help: ArgumentHelp("JPEG data sets: per-channel std to divide by (caffe: 1).", valueName: "s[,s,s]"), transform: numbers)
    var pixelStd: [Double]?
    @Option(help: "JPEG data sets: threads decoding each batch, per rank.") var decodeThreads: Int = defaults.decodeThreads
    @Option(help: "JPEG data sets: batches decoded ahead in the background while the current one trains (0: decode in the step).")
    var prefetchBatches: Int = defaults.prefetchBatches
    @Flag(help: "JPEG data sets: replace an image that cannot be read (corrupt, truncated, not a JPEG, missing) by the next usable one and count it (printed at the end, bad_images in the metrics), instead of stopping with its name.")
    var skipBadImages = false
    @Option(help: "Use only the first N training images.") var trainLimit: Int?
    @Option(help: "Use only the first N test images for evaluation.") var testLimit: Int?
    @Flag(help: "Mirror training images left-right at random (Caffe's mirror: true).") var mirror = defaults.augmentation.mirror
    @Option(help: "Translate training images at random by up to N pixels in x and y (background fill).")
    var maxShift: Int = defaults.augmentation.maxShift

    func apply(to o: inout TrainingOptions) {
        o.dataset = dataset; o.dataDirectory = dataDir; o.trainLimit = trainLimit; o.testLimit = testLimit
        o.augmentation = Augmentation(mirror: mirror, maxShift: maxShift)
        o.trainList = trainList; o.valList = valList; o.imageRoot = root; o.transform = transform; o.resizeSize = resize
        o.pixelMean = pixelMean; o.pixelStd = pixelStd; o.decodeThreads = decodeThreads; o.prefetchBatches = prefetchBatches
        o.skipBadImages = skipBadImages
    }
}

struct OptimizerOptions: ParsableArguments {
    @Option(help: "Global batch size, split evenly across the ranks; refused before anything is allocated when it exceeds the training set or the host's memory would not hold it (the estimate is logged as 'memory:').") var batchSize: Int = defaults.batchSize
    @Option(help: "Iterations (global steps) to train (default \(defaults.iterations)).") var iterations: Int?
    @Option(help: "Epochs over the training set instead of --iterations (the last incomplete batch of an epoch is dropped).")
    var epochs: Double?
    @Option(help: "Base learning rate.") var baseLR: Double = defaults.baseLR
    @Option(help: "Momentum, in [0, 1).") var momentum: Double = defaults.momentum
    @Option(help: "L2 weight decay (Caffe: added to the gradient; finite, >= 0).") var weightDecay: Double = defaults.weightDecay
    @Option(help: "Learning-rate policy: poly, fixed or step.") var lrPolicy: LRPolicyName = defaults.lrPolicy
    @Option(help: "Exponent of the poly policy (finite, >= 0).") var power: Double = defaults.power
    @Option(help: "Iterations between decays of the step policy (positive).") var stepSize: Int = defaults.stepSize
    @Option(help: "Decay factor of the step policy, in (0, 1].") var gamma: Double = defaults.gamma
    @Option(help: "Ramp the learning rate up linearly over the first N iterations (default: 300, or a quarter of a shorter run); without it early steps kill class outputs behind the ReLU after conv10.")
    var warmupIterations: Int?
    @Option(help: "Random seed (initial weights, data order, dropout, augmentation).") var seed: UInt64 = defaults.seed
    @Option(help: "Scale the averaged gradient down to this L2 norm when it is larger (Caffe's clip_gradients; 0: off).")
    var clipGradientNorm: Double = defaults.clipGradientNorm
    @Option(help: "Learning-rate multiplier of the classifier (SqueezeNet's conv10; Caffe's lr_mult); 1: the same rate as the rest.")
    var classifierLRMult: Double = defaults.classifierLRMult

    func validate() throws {
        if iterations != nil && epochs != nil { throw ValidationError("give --iterations or --epochs, not both") }
    }

    func apply(to o: inout TrainingOptions) {
        o.batchSize = batchSize; o.iterations = iterations ?? defaults.iterations; o.epochs = epochs
        o.baseLR = baseLR; o.momentum = momentum; o.weightDecay = weightDecay; o.lrPolicy = lrPolicy
        o.power = power; o.stepSize = stepSize; o.gamma = gamma; o.warmupIterations = warmupIterations
        o.seed = seed; o.clipGradientNorm = clipGradientNorm; o.classifierLRMult = classifierLRMult
    }
}

struct ExchangeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Gradient allreduce: \(AllreduceAlgorithm.allCases.map { "\($0.rawValue) (\($0.summary))" }.joined(separator: ", ")).",
                               valueName: "algorithm"))
    var allreduce: AllreduceAlgorithm = defaults.allreduce
    @Option(help: "Exchange gradients in buckets of this many MB while backward runs (0: one exchange after backward).")
    var bucketMB: Double = defaults.bucketMB

    @Option(help: ArgumentHelp("How gradients travel: \(GradientCodec.summaries.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")). Every codec gives the same bits on every rank; bytes_sent in the metrics is what was sent, bytes_uncompressed what float32 would have sent.",
                               valueName: "codec"), transform: { try GradientCodec(parsing: $0) })
    var compression: GradientCodec = .none
    @Option(help: "With topk: epochs of DGC's warm-up of the fraction (25%, 6.25%, 1.56%, 0.39% per epoch) before the target; 0 starts at the target.")
    var topkWarmupEpochs: Int = 4
    @Option(help: "Start from this weight file (weights.bin, a checkpoint, or a .sqzc from `compress`, of the same model) instead of the initialisation.")
    var initWeights: String?
    @Option(help: "Masked retraining (Deep Compression): prune this share of every weight tensor (2+ dimensions) by magnitude at the start, keep the pruned weights exactly zero, and exchange only the survivors (needs --init-weights).")
    var pruneSparsity: Double?
    @Option(help: "Masked retraining by Han et al.'s threshold instead of a share: prune |w| < Q x the standard deviation of each weight tensor (needs --init-weights). Several rounds: retrain again from the result at a larger --prune-sparsity or Q; the earlier zeros stay pruned.")
    var pruneQuality: Double?
    @Option(help: ArgumentHelp("Masked retraining with a share per layer, by layer name (conv1, fire2, fire2.expand3x3; the first that names a tensor wins), overriding --prune-sparsity/--prune-quality there; tensors no rule reaches keep their own zeros pruned. Han et al.'s AlexNet: conv1=0.16,conv2=0.62,conv3=0.65,conv4=0.63,conv5=0.63,fc6=0.91,fc7=0.91,fc8=0.75.", valueName: "name=share,..."),
            transform: { try LayerSetting.parse($0, flag: "--prune-layer-sparsity") })
    var pruneLayerSparsity: [LayerSetting]?
    @Flag(help: "Trained quantisation (Deep Compression): --init-weights is a .sqzc from `compress`; only its centroids train (each by the sum of its weights' gradients), pruned weights stay zero and are not exchanged.")
    var fineTuneCentroids = false

    func apply(to o: inout TrainingOptions) {
        o.allreduce = allreduce; o.bucketMB = bucketMB; o.compression = compression == .none ? nil : compression
        o.topkWarmupEpochs = topkWarmupEpochs == 4 ? nil : topkWarmupEpochs
        o.initWeights = initWeights; o.pruneSparsity = pruneSparsity; o.pruneQuality = pruneQuality; o.pruneLayerSparsity = pruneLayerSparsity; o.fineTuneCentroids = fineTuneCentroids
    }
}

struct OutputOptions: ParsableArguments {
    @Option(help: "Folder for metrics.jsonl, weights.bin and checkpoints (written by rank 0; created and checked before training). Weights that are not finite are never written: the run stops with an error instead.") var output: String?
    @Option(help: "Print progress and write metrics every N iterations.") var logEvery: Int = defaults.logEvery
    @Option(help: "Evaluate on the test set every N iterations (0: only at the end).") var evalEvery: Int = defaults.evalEvery
    @Option(help: "Write a checkpoint every N iterations (0: only at the end); needs --output.")
    var checkpointEvery: Int = defaults.checkpointEvery
    @Option(help: "Number of checkpoints to keep (0: all); needs --output.") var keepCheckpoints: Int = defaults.keepCheckpoints
    @Option(help: "Resume from a checkpoint file, 'latest' (newest in --output) or 'latest-valid' (the newest that reads intact, passing over corrupt or truncated newer ones).")
    var resume: String?
    @Flag(help: "With --resume: continue the checkpoint's run to a larger --iterations (the learning-rate schedule is recomputed over the new total; the resume line gives the first iteration's rate).")
    var extend = false
    @Option(help: "Write a Chrome trace (JSON; open in Perfetto or chrome://tracing) of every rank's phases to FILE (written at the end; checked writable before training).")
    var trace: String?
    @Flag(help: "Replace another run's files in --output (metrics, checkpoints, weights) instead of refusing the folder.")
    var overwrite = false
    @Option(help: ArgumentHelp("Watchdog: a rank waiting this long in one exchange or collective ends the job, every rank, with an error naming the ranks it waited for; a stall warning comes at a fifth of it.", valueName: "seconds"))
    var timeout: Double = defaults.timeout

    func apply(to o: inout TrainingOptions) {
        o.overwrite = overwrite; o.timeout = timeout
        o.extend = extend
        o.outputDirectory = output; o.logEvery = logEvery; o.evalEvery = evalEvery
        o.checkpointEvery = checkpointEvery; o.keepCheckpoints = keepCheckpoints; o.resume = resume; o.trace = trace
    }
}

struct ReplayOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Replay this measured single-worker timeline (squeezenet-train timeline) instead of computing: forward, backward and update become timed waits, each bucket leaves when real backward would produce it; the exchange is real. For the scaling lab (docs/scaling.md).",
                               valueName: "file"))
    var replayCompute: String?
    @Option(help: "With --replay-compute: a worker this many times faster than the measured one (the timeline is divided by it).")
    var workerSpeedup: Double = 1
    @Option(help: "With --replay-compute: time dilation k; links shaped at R/k stand for rate R, the timeline is replayed k times slower, and emulated times are measured times / k.")
    var timeDilation: Double = 1
    @Option(help: "With --replay-compute: the first N iterations exchange only the first 1024 x ranks floats of each bucket, without waiting the compute (a warm-up that opens the connections; marked warmup in the metrics, not a step's time).")
    var replayWarmup: Int = 0
    @Option(help: ArgumentHelp("Record this network interface's byte counters (the kernel's) at the start of every iteration in the metrics: what crossed the host's link (one rank per host).", valueName: "interface"))
    var linkCounters: String?

    func validate() throws {
        if replayCompute == nil && (workerSpeedup != 1 || timeDilation != 1 || replayWarmup != 0) {
            throw ValidationError("--worker-speedup, --time-dilation and --replay-warmup need --replay-compute")
        }
    }

    func apply(to o: inout TrainingOptions) {
        o.linkCounters = linkCounters
        o.replay = replayCompute.map { ReplaySettings(timelinePath: $0, workerSpeedup: workerSpeedup, timeDilation: timeDilation,
                                                           warmupIterations: replayWarmup) }
    }
}
