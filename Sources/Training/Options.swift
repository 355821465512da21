import DeepCompression
import Basics
import Codecs
import Datasets
import NeuralNet
import Topology

/// Which data set a run trains on (`Datasets.make`).
public enum DatasetKind: String, CaseIterable, Codable {
    case fashionMNIST = "fashion-mnist"
    case synthetic
    /// torchvision's ImageFolder of JPEGs: DIR/train/<class>/*.jpg and DIR/val/<class>/*.jpg.
    case folder
    /// Caffe's ImageData list files: `path label` per line.
    case list

    /// JPEG files read from disk as batches need them.
    public var isImageFiles: Bool { self == .folder || self == .list }
}

public enum LRPolicyName: String, CaseIterable, Codable { case poly, fixed, step }

/// Everything that defines a training run. Ranks compare a hash of each option at
/// startup (`agreementFields`), so two ranks started with different options refuse to
/// train together, and are told which.
public struct TrainingOptions: Codable, Equatable {
    public var model: ModelKind = .v1_0
    public var classes: Int = 10
    public var inputSize: Int = 32
    public var dataset: DatasetKind = .fashionMNIST
    public var dataDirectory: String = "/usr/share/datasets/fashion-mnist"
    /// Images used from the training set (nil: all).
    public var trainLimit: Int?
    /// Images used from the test set for evaluation (nil: all).
    public var testLimit: Int?
    /// Global batch: split evenly across ranks (PyTorch DDP users: per-rank batch = this / ranks).
    public var batchSize: Int = 64
    public var iterations: Int = 500
    /// Epochs over the run's real training set instead of `iterations`: set, the
    /// trainer resolves it into iterations once the data is loaded (`resolved`).
    public var epochs: Double?
    public var baseLR: Double = 0.01
    public var momentum: Double = 0.9
    public var weightDecay: Double = 0.0002
    public var lrPolicy: LRPolicyName = .poly
    public var power: Double = 1.0
    public var stepSize: Int = 1000
    public var gamma: Double = 0.1
    /// Iterations over which the learning rate ramps linearly from base/N up to the
    /// policy's value; nil: `defaultWarmup(iterations:)`, resolved with the iterations.
    public var warmupIterations: Int?
    public var seed: UInt64 = 42
    public var dropout: Double = 0.5
    /// Convolution filler: Caffe's Xavier (the prototxt) or torchvision's Kaiming.
    public var convInit: ConvInit = .kaiming
    /// Initial value of every classifier bias (SqueezeNet's conv10; Caffe: 0). A small positive
    /// value keeps class outputs above the ReLU after conv10 in the first steps.
    public var classifierBias: Double = 0.5
    /// Standard deviation of SqueezeNet's conv10 weights at initialisation (Caffe and
    /// torchvision: 0.01; 0: zeros).
    public var classifierStd: Double = 0.01
    /// Caffe's `clip_gradients`: when the averaged gradient's L2 norm exceeds this, it is
    /// scaled down to it before the update (0: never).
    public var clipGradientNorm: Double = 5
    /// Caffe's `lr_mult` for SqueezeNet's conv10 (weights and biases): its learning rate
    /// is this fraction of the others'.
    public var classifierLRMult: Double = 0.1
    /// Random mirror and translation of training images (never of test images).
    public var augmentation: Augmentation = .none
    /// `--dataset list`: Caffe's ImageData list files and the folder their relative paths
    /// start from (nil: as written, from the working directory). No validation list: no evaluation.
    public var trainList: String?
    public var valList: String?
    public var imageRoot: String?
    /// `--dataset folder|list`: how a photograph becomes the input (docs/datasets.md).
    public var transform: ImageTransform.Convention = .torchvision
    /// The side Caffe warps to / torchvision resizes the short side to (nil: the convention's, from --input-size).
    public var resizeSize: Int?
    /// Per-channel mean and std in the convention's units and channel order (nil: the convention's).
    public var pixelMean: [Double]?
    public var pixelStd: [Double]?
    /// Threads decoding each batch, per rank.
    public var decodeThreads: Int = 1
    /// Batches decoded ahead in the background (0: decode in the step).
    public var prefetchBatches: Int = 2
    /// Replace an image that cannot be decoded by the next usable one and count it, instead of stopping.
    public var skipBadImages: Bool = false
    public var allreduce: AllreduceAlgorithm = .ring
    /// Evaluate on the test set every N iterations (0: only at the end).
    public var evalEvery: Int = 0
    public var logEvery: Int = 10
    public var outputDirectory: String?
    /// Write a checkpoint every N iterations (0: only at the end) into the output folder.
    public var checkpointEvery: Int = 0
    /// Checkpoints to keep (older ones are deleted); 0 keeps all.
    public var keepCheckpoints: Int = 3
    /// A checkpoint path, "latest" for the newest in the output folder, or "latest-valid"
    /// for the newest that reads intact (passing over corrupt or truncated newer ones).
    public var resume: String?
    /// Resuming: continue the checkpoint's run to a larger `iterations` (the schedule follows the new total).
    public var extend: Bool = false
    /// Chrome trace JSON of every rank's phases, written by rank 0 at the end.
    public var trace: String?
    /// Gradient bucket size in MB for overlapping the exchange with backward (0: one exchange after backward).
    public var bucketMB: Double = 0
    /// How gradients travel (`--compression`; nil: float32). Optional, so checkpoints written before it load.
    public var compression: GradientCodec?
    /// Top-k: epochs of DGC's warm-up of the fraction (25%, 6.25%, ... per epoch), then the
    /// target (nil: 4, DGC's; 0: the target from the first step).
    public var topkWarmupEpochs: Int?
    /// Start from these weights (a weights.bin or checkpoint of the same model) instead of
    /// the initialisation; a resume takes its weights from the checkpoint instead.
    public var initWeights: String?
    /// Masked retraining: prune this share of every weight tensor of two or more dimensions
    /// by magnitude at the start, keep those weights exactly zero and exchange only the rest.
    public var pruneSparsity: Double?
    /// Masked retraining by Han et al.'s threshold instead: prune |w| < this x the standard
    /// deviation of its tensor, in every weight tensor of two or more dimensions.
    public var pruneQuality: Double?
    /// Masked retraining with a share per layer (`LayerSetting`: by layer name, first match wins),
    /// overriding the two above where it matches; a tensor no rule reaches keeps its
    /// zeros pruned (a second round keeps the first's). nil in older checkpoints.
    public var pruneLayerSparsity: [LayerSetting]?
    /// Trained quantisation: --init-weights is a compressed (.sqzc) model; only its
    /// centroids train, its pruned weights stay zero and are not exchanged.
    public var fineTuneCentroids: Bool = false
    /// Replay a measured single-worker timeline instead of computing (the scaling lab).
    public var replay: ReplaySettings?
    /// A network interface (eth0) whose kernel byte counters each rank reads at the start of
    /// every iteration, into the metrics: the bytes on the host's link (one rank per host).
    public var linkCounters: String?
    /// The watchdog: a rank that waits this many seconds in one MPI call ends the job; it
    /// warns at a fifth of it (Horovod's stall inspector warns at 60 s; NCCL's default is minutes).
    public var timeout: Double = 300
    /// Replace another run's files in the output folder instead of refusing it.
    public var overwrite: Bool = false

    public init() {}

    /// Masked retraining: pruning by a share or by Han et al.'s threshold.
    public var prunes: Bool { pruneSparsity != nil || pruneQuality != nil || !(pruneLayerSparsity ?? []).isEmpty }
    /// The masked exchange's name in the metrics: `masked:S`, `masked:qQ` for the threshold,
    /// `+layers` when per-layer shares apply (`masked:layers` alone).
    public var maskedCodecName: String? {
        guard prunes else { return nil }
        let base = pruneSparsity.map { "masked:\($0)" } ?? pruneQuality.map { "masked:q\($0)" }
        let layered = !(pruneLayerSparsity ?? []).isEmpty
        return base.map { layered ? $0 + "+layers" : $0 } ?? "masked:layers"
    }

    /// Seconds a rank waits in one MPI call before the watchdog warns.
    public var stallWarning: Double { timeout / 5 }

    /// Every default, in one place: the CLI shows these.
    public static let defaults = TrainingOptions()

    /// Largest `--input-size`: 16 times SqueezeNet's native 224.
    public static let maximumInputSize = 4096

    /// Without a warm-up, early steps kill class outputs behind the ReLU after conv10
    /// (docs/training.md): 300 iterations, or a quarter of a shorter run.
    public static func defaultWarmup(iterations: Int) -> Int { min(300, iterations / 4) }

    /// The options with `epochs` turned into iterations over `trainingImages` (the last
    /// incomplete batch of an epoch is dropped) and the warm-up's default filled in:
    /// what the run uses, compares across ranks and stores in checkpoints.
    /// Throws when the epochs come to more iterations than a run can count.
    public func resolved(trainingImages: Int) throws -> TrainingOptions {
        var o = self
        if let e = epochs {
            let steps = (e * Double(trainingImages / max(batchSize, 1))).rounded()
            guard steps.isFinite && steps <= Double(Int32.max) else {
                throw TrainingError.badInput("--epochs \(e) of \(trainingImages) images at batch \(batchSize) is more than \(Int32.max) iterations")
            }
            o.iterations = max(1, Int(steps))
            o.epochs = nil
        }
        if o.warmupIterations == nil { o.warmupIterations = Self.defaultWarmup(iterations: o.iterations) }
        return o
    }

    /// The learning rate of `iteration`: the policy's, scaled by the linear warm-up.
    public func learningRate(at iteration: Int) -> Double {
        let rate = policy.rate(base: baseLR, iteration: iteration)
        let warmup = warmupIterations ?? Self.defaultWarmup(iterations: iterations)
        guard iteration < warmup else { return rate }
        return rate * Double(iteration + 1) / Double(warmup)
    }

    public var policy: LearningRatePolicy {
        switch lrPolicy {
        case .poly: return .poly(power: power, maxIterations: iterations)
        case .fixed: return .fixed
        case .step: return .step(gamma: gamma, stepSize: stepSize)
        }
    }

    /// Checks every value that needs no data and no ranks; one line per problem.
    /// The CLI calls this once, before MPI starts (the `Trainer` requires options that
    /// passed it); the trainer adds what needs the run (`check(ranks:)` before loading
    /// the data, `check(trainingImages:)` after).
    public func validate() throws {
        func bad(_ s: String) -> TrainingError { .badInput(s) }
        let architecture = model.architecture
        // Written as !(x in range) so that NaN, which fails every comparison, is refused too.
        if classes < 2 && !(classes == 0 && dataset.isImageFiles) { throw bad("--classes must be at least 2, got \(classes)") }
        try validateImageFiles()
        if batchSize <= 0 { throw bad("--batch-size must be positive, got \(batchSize)") }
        if iterations <= 0 { throw bad("--iterations must be positive, got \(iterations)") }
        if iterations > Int(Int32.max) { throw bad("--iterations must be at most \(Int32.max), got \(iterations)") }
        if let e = epochs, !(e > 0) || !e.isFinite { throw bad("--epochs must be positive, got \(e)") }
        if epochs != nil && !model.computes {
            throw bad("--epochs needs a training set; \(model.rawValue) has none: give --iterations")
        }
        if !(baseLR > 0) || !baseLR.isFinite { throw bad("--base-lr must be a positive number, got \(baseLR)") }
        // The update runs in float32: a rate beyond its range turns every weight into Inf or NaN.
        let floatMax = Double(Float.greatestFiniteMagnitude)
        if baseLR > floatMax { throw bad("--base-lr must be at most \(floatMax) (the update is float32), got \(baseLR)") }
        if !(momentum >= 0 && momentum < 1) { throw bad("--momentum must be in [0, 1), got \(momentum)") }
        if !(weightDecay >= 0) || !weightDecay.isFinite { throw bad("--weight-decay must be a finite number >= 0, got \(weightDecay)") }
        if !(dropout >= 0 && dropout < 1) { throw bad("--dropout must be in [0, 1), got \(dropout)") }
        if !(power >= 0) || !power.isFinite { throw bad("--power must be a finite number >= 0, got \(power)") }
        if stepSize <= 0 { throw bad("--step-size must be positive, got \(stepSize)") }
        if !(gamma > 0 && gamma <= 1) { throw bad("--gamma must be in (0, 1] (the step policy's decay factor), got \(gamma)") }
        if let w = warmupIterations, w < 0 { throw bad("--warmup-iterations must be >= 0, got \(w)") }
        if logEvery <= 0 { throw bad("--log-every must be positive, got \(logEvery)") }
        if evalEvery < 0 { throw bad("--eval-every must be >= 0, got \(evalEvery)") }
        if !(bucketMB >= 0) || !bucketMB.isFinite { throw bad("--bucket-mb must be >= 0, got \(bucketMB)") }
        if let c = compression, let why = c.refusal(with: allreduce) { throw bad(why) }
        if let w = topkWarmupEpochs, w < 0 { throw bad("--topk-warmup-epochs must be >= 0, got \(w)") }
        if fineTuneCentroids {
            if initWeights == nil { throw bad("--fine-tune-centroids trains a compressed model's centroids: add --init-weights FILE.sqzc") }
            if prunes { throw bad("--fine-tune-centroids keeps the compressed model's pruning: drop --prune-sparsity / --prune-quality / --prune-layer-sparsity") }
            if let c = compression, c != .none { throw bad("--fine-tune-centroids with --compression \(c) is not implemented") }
        }
        if initWeights?.isEmpty == true { throw bad("--init-weights must name a weight file, got an empty path") }
        if let s = pruneSparsity, !(s > 0 && s < 1) { throw bad("--prune-sparsity must be in (0, 1), got \(s)") }
        if let q = pruneQuality, !(q > 0) || !q.isFinite { throw bad("--prune-quality must be a positive number (times each tensor's std), got \(q)") }
        if pruneSparsity != nil && pruneQuality != nil { throw bad("give --prune-sparsity or --prune-quality, not both") }
        if let l = pruneLayerSparsity?.first(where: { !($0.value >= 0 && $0.value < 1) }) {
            throw bad("--prune-layer-sparsity \(l.prefix)=\(l.value): a share must be in [0, 1)")
        }
        if prunes {
            let flag = pruneSparsity != nil ? "--prune-sparsity" : pruneQuality != nil ? "--prune-quality" : "--prune-layer-sparsity"
            if initWeights == nil && resume == nil { throw bad("\(flag) prunes trained weights: add --init-weights FILE") }
            if let c = compression, c != .none { throw bad("\(flag) with --compression \(c): a masked exchange of encoded values is not implemented") }
            if replay != nil { throw bad("\(flag) with --replay-compute: replayed compute has no weights to prune") }
        }
        if !(timeout >= 1) || !timeout.isFinite { throw bad("--timeout must be at least 1 second, got \(timeout)") }
        if checkpointEvery < 0 { throw bad("--checkpoint-every must be >= 0, got \(checkpointEvery)") }
        if keepCheckpoints < 0 { throw bad("--keep-checkpoints must be >= 0, got \(keepCheckpoints)") }
        if outputDirectory?.isEmpty == true { throw bad("--output must name a folder, got an empty path") }
        if trace?.isEmpty == true { throw bad("--trace must name a file, got an empty path") }
        if resume?.isEmpty == true { throw bad("--resume must name a checkpoint or 'latest', got an empty path") }
        if let r = resume, r == "latest" || r == "latest-valid", outputDirectory == nil {
            throw bad("--resume \(r) needs --output (the folder to look in)")
        }
        if extend && resume == nil { throw bad("--extend needs --resume (it continues a checkpoint's run to more iterations)") }
        if !(clipGradientNorm >= 0) || !clipGradientNorm.isFinite {
            throw bad("--clip-gradient-norm must be >= 0 (0: off), got \(clipGradientNorm)")
        }
        if !(classifierLRMult >= 0) || !classifierLRMult.isFinite {
            throw bad("--classifier-lr-mult must be >= 0, got \(classifierLRMult)")
        }
        if baseLR * classifierLRMult > floatMax {
            throw bad("--classifier-lr-mult \(classifierLRMult) times --base-lr \(baseLR) is beyond float32's range")
        }
        if !(classifierStd >= 0) || !classifierStd.isFinite {
            throw bad("--classifier-std must be >= 0, got \(classifierStd)")
        }
        if !classifierBias.isFinite { throw bad("--classifier-bias must be a finite number, got \(classifierBias)") }
        if augmentation.maxShift < 0 || augmentation.maxShift >= inputSize {
            throw bad("--max-shift must be in 0..<\(inputSize) (the input size), got \(augmentation.maxShift)")
        }
        if let l = trainLimit, l <= 0 { throw bad("--train-limit must be positive, got \(l)") }
        if let l = testLimit, l <= 0 { throw bad("--test-limit must be positive, got \(l)") }
        if inputSize < architecture.minimumInputSize {
            throw bad("--input-size \(inputSize) is too small for \(architecture.title): at least \(architecture.minimumInputSize)")
        }
        // Beyond this the layer shapes' element counts leave Int range long before memory runs out.
        if inputSize > Self.maximumInputSize {
            throw bad("--input-size must be at most \(Self.maximumInputSize), got \(inputSize)")
        }
        if let r = replay { try Self.validate(replay: r, of: self) }
        if let name = linkCounters, LinkCounters(interface: name).read() == nil {
            throw bad("--link-counters \(name): no readable /sys/class/net/\(name)/statistics (ip link lists the interfaces)")
        }
        // A wider head is allowed (the 1000-class layouts, to give Deep Compression trained
        // weights in their shape); its other outputs see no examples.
        if dataset == .fashionMNIST && classes < 10 && model.computes && replay == nil {
            throw bad("--classes must be at least 10 for fashion-mnist (its labels are 0-9), got \(classes)")
        }
        // After the replay checks (they name the real conflict): checkpoints go into the
        // output folder, and without one they would silently not be written.
        if outputDirectory == nil && checkpointEvery > 0 {
            throw bad("--checkpoint-every \(checkpointEvery) needs --output (the folder the checkpoints go to)")
        }
        if outputDirectory == nil && keepCheckpoints != Self.defaults.keepCheckpoints {
            throw bad("--keep-checkpoints \(keepCheckpoints) needs --output (the folder the checkpoints go to)")
        }
        if outputDirectory == nil && overwrite { throw bad("--overwrite needs --output (the folder whose files it replaces)") }
    }

    /// The image-file data sets' options: given only with them, and in range.
    func validateImageFiles() throws {
        func bad(_ s: String) -> TrainingError { .badInput(s) }
        let d = Self.defaults
        if !dataset.isImageFiles {
            for (given, flag) in [(transform != d.transform, "--transform"), (resizeSize != nil, "--resize"),
                                  (pixelMean != nil, "--pixel-mean"), (pixelStd != nil, "--pixel-std"),
                                  (decodeThreads != d.decodeThreads, "--decode-threads"),
                                  (prefetchBatches != d.prefetchBatches, "--prefetch-batches"),
                                  (skipBadImages, "--skip-bad-images")] where given {
                throw bad("\(flag) applies to JPEG data sets: add --dataset folder or --dataset list")
            }
        }
        if dataset != .list {
            for (given, flag) in [(trainList != nil, "--train-list"), (valList != nil, "--val-list"), (imageRoot != nil, "--root")] where given {
                throw bad("\(flag) applies to Caffe list files: add --dataset list")
            }
        }
        guard dataset.isImageFiles else { return }
        if dataset == .folder && dataDirectory == Self.defaults.dataDirectory {
            throw bad("--dataset folder needs --data-dir DIR (an image folder: DIR/train/<class>/*.jpg, DIR/val/<class>/*.jpg)")
        }
        if dataset == .list && trainList == nil { throw bad("--dataset list needs --train-list FILE (lines of 'path label')") }
        if augmentation.maxShift != 0 { throw bad("--max-shift is for in-memory data sets; JPEG data sets crop with --transform") }
        if let r = resizeSize, r < inputSize || r > Self.maximumInputSize * 2 {
            throw bad("--resize must be in \(inputSize)...\(Self.maximumInputSize * 2) (at least --input-size, the crop), got \(r)")
        }
        for (values, flag) in [(pixelMean, "--pixel-mean"), (pixelStd, "--pixel-std")] {
            guard let v = values else { continue }
            if v.count != 1 && v.count != 3 { throw bad("\(flag) takes 1 or 3 comma-separated numbers, got \(v.count)") }
            if v.contains(where: { !$0.isFinite }) || (flag == "--pixel-std" && v.contains { !($0 > 0) }) {
                throw bad("\(flag) must be finite\(flag == "--pixel-std" ? " and positive" : ""), got \(v.map { "\($0)" }.joined(separator: ","))")
            }
        }
        if !(1...64).contains(decodeThreads) { throw bad("--decode-threads must be in 1...64, got \(decodeThreads)") }
        if !(0...16).contains(prefetchBatches) { throw bad("--prefetch-batches must be in 0...16, got \(prefetchBatches)") }
    }

    /// The transform of the training (or validation) images.
    public func imageTransform(training: Bool) -> ImageTransform {
        func three(_ v: [Double]?) -> [Float]? { v.map { $0.count == 1 ? Array(repeating: Float($0[0]), count: 3) : $0.map(Float.init) } }
        return ImageTransform(convention: transform, size: inputSize, resize: resizeSize, mean: three(pixelMean),
                              std: three(pixelStd), training: training)
    }

    /// Replayed compute has no weights to keep, no data and no loss: what would need them is refused.
    static func validate(replay r: ReplaySettings, of o: TrainingOptions) throws {
        func bad(_ s: String) -> TrainingError { .badInput(s) }
        if !o.model.computes { throw bad("--replay-compute needs a model with layers; \(o.model.rawValue) has none") }
        if !(r.workerSpeedup > 0) || !r.workerSpeedup.isFinite || r.workerSpeedup > 1e6 {
            throw bad("--worker-speedup must be a positive number, got \(r.workerSpeedup)")
        }
        if !(r.timeDilation >= 1) || !r.timeDilation.isFinite || r.timeDilation > 1e4 {
            throw bad("--time-dilation must be at least 1, got \(r.timeDilation)")
        }
        if r.warmupIterations < 0 || r.warmupIterations >= o.iterations {
            throw bad("--replay-warmup must be at least 0 and less than --iterations (\(o.iterations)), got \(r.warmupIterations)")
        }
        for (given, name) in [(o.resume != nil, "--resume"), (o.checkpointEvery > 0, "--checkpoint-every"),
                              (o.epochs != nil, "--epochs"), (o.evalEvery > 0, "--eval-every")] where given {
            throw bad("\(name) cannot be used with --replay-compute (replayed compute trains no weights)")
        }
    }

    /// The global batch must split evenly across the ranks.
    public func check(ranks: Int) throws {
        if batchSize % ranks != 0 {
            throw TrainingError.badInput("--batch-size \(batchSize) is the global batch and must divide evenly across \(ranks) ranks")
        }
    }

    /// The global batch must fit in the training set (nil: a model without data).
    public func check(trainingImages: Int?) throws {
        if let n = trainingImages, n < batchSize {
            throw TrainingError.badInput("--batch-size \(batchSize) is larger than the \(n) training images")
        }
    }

    /// Options that need not agree across ranks: where output goes, and where the data is
    /// read from (ranks compare the data's content instead, so hosts may keep it elsewhere).
    static let rankLocal: Set<String> = ["outputDirectory", "dataDirectory", "trainList", "valList", "imageRoot",
                                         "decodeThreads", "prefetchBatches"]

    /// Command-line flags whose name is not the option's name in kebab case.
    static let flagNames = ["dataDirectory": "--data-dir", "convInit": "--weight-init", "outputDirectory": "--output",
                            "bucketMB": "--bucket-mb", "imageRoot": "--root", "resizeSize": "--resize"]

    /// The flag of a stored option: `flagNames`, else the kebab case of its name (baseLR: --base-lr).
    static func flag(_ name: String) -> String {
        if let f = flagNames[name] { return f }
        var out = "--", chars = Array(name)
        for (i, c) in chars.enumerated() {
            let upper = c.isUppercase
            let startsWord = i > 0 && upper && (!chars[i - 1].isUppercase || (i + 1 < chars.count && chars[i + 1].isLowercase))
            if startsWord { out += "-" }
            out += c.lowercased()
        }
        return out
    }

    /// Every option that must agree across ranks, as (flag, value), in declaration order
    /// (the same list on every rank): the startup agreement hashes each one, so a rank
    /// that differs is told which flags. `augmentation` and `replay` count flag by flag.
    public var agreementFields: [(flag: String, value: String)] {
        var out: [(flag: String, value: String)] = []
        for child in Mirror(reflecting: self).children {
            guard let label = child.label, !Self.rankLocal.contains(label) else { continue }
            switch label {
            case "augmentation": out += [("--mirror", "\(augmentation.mirror)"), ("--max-shift", "\(augmentation.maxShift)")]
            case "replay":
                out += [("--replay-compute", replay?.timelinePath ?? "none"), ("--worker-speedup", "\(replay?.workerSpeedup ?? 1)"),
                        ("--time-dilation", "\(replay?.timeDilation ?? 1)"), ("--replay-warmup", "\(replay?.warmupIterations ?? 0)")]
            default: out.append((Self.flag(label), String(describing: child.value)))
            }
        }
        return out
    }
}

extension GradientCodec {
    /// One line on what each codec is, for `--help`.
    public static let summaries: [(name: String, summary: String)] = [
        ("none", "float32, 4 bytes an element"),
        ("fp16", "IEEE half, 2 bytes an element, summed in float32 at every hop; ring, tree, ps or hierarchical"),
        ("bf16", "bfloat16, 2 bytes an element, float32's range; ring, tree, ps or hierarchical"),
        ("int8", "1 byte an element and a float32 scale per \(int8ChunkElements), nearest rounding, error feedback; ring, tree, ps or hierarchical"),
        ("topk:FRACTION", "the largest FRACTION of each bucket as (index, value) pairs by a ring allgather, error feedback, DGC's momentum correction and warm-up; ring"),
        ("powersgd:RANK", "each weight matrix as P Q^T of this rank (DDP's PowerSGD: error feedback, warm start, vectors uncompressed) through any allreduce"),
    ]

    /// Why this codec cannot run with `algorithm` (nil: it can).
    public func refusal(with algorithm: AllreduceAlgorithm) -> String? {
        let flag = "--compression \(self) with --allreduce \(algorithm.rawValue)"
        switch (self, algorithm) {
        case (.none, _), (.powersgd, _), (.topk, .ring), (.fp16, .ring), (.fp16, .tree), (.fp16, .ps), (.fp16, .hierarchical),
             (.bf16, .ring), (.bf16, .tree), (.bf16, .ps), (.bf16, .hierarchical), (.int8, .ring), (.int8, .tree), (.int8, .ps), (.int8, .hierarchical):
            return nil
        case (.topk, _):
            return "\(flag): top-k gathers (index, value) pairs around the ring whatever the allreduce; use --allreduce ring"
        case (_, .mpi):
            return "\(flag): MPI_Allreduce adds float32 only, it cannot add encoded values in float32 at each hop; use ring or tree"
        default:
            return "\(flag): not supported"
        }
    }
}
