// A measured single-worker training step, phase by phase and layer by layer: what the
// scaling lab's ranks replay instead of computing (docs/scaling.md), and what the cost
// model overlaps buckets against. Written by `squeezenet-train timeline`.
import Foundation

/// One worker's step on the idle machine, medians over timed iterations. Every figure
/// is measured; replaying it is what makes the lab's compute "replayed".
public struct ComputeTimeline: Codable, Equatable, Sendable {
    public struct Layer: Codable, Equatable, Sendable {
        public var name: String
        /// Median seconds of this layer's backward.
        public var backwardSeconds: Double
        /// Element counts of the layer's parameter tensors, in buffer order (empty: none).
        public var tensorCounts: [Int]
        public init(name: String, backwardSeconds: Double, tensorCounts: [Int]) {
            self.name = name; self.backwardSeconds = backwardSeconds; self.tensorCounts = tensorCounts
        }
        enum CodingKeys: String, CodingKey {
            case name
            case backwardSeconds = "backward_seconds"
            case tensorCounts = "tensor_counts"
        }
    }

    /// A codec whose arithmetic is heavy enough to replay (PowerSGD's GEMMs), per gradient
    /// bucket in exchange order: the seconds before its first allreduce, between the two,
    /// after the second, and the two allreduces' float counts (`timeline --compression`).
    public struct CodecBucket: Codable, Equatable, Sendable {
        public var count: Int
        public var firstCount: Int, secondCount: Int
        public var beforeSeconds: Double, betweenSeconds: Double, afterSeconds: Double
        public var arithmeticSeconds: Double { beforeSeconds + betweenSeconds + afterSeconds }
        public init(count: Int, firstCount: Int, secondCount: Int, beforeSeconds: Double, betweenSeconds: Double, afterSeconds: Double) {
            self.count = count; self.firstCount = firstCount; self.secondCount = secondCount
            self.beforeSeconds = beforeSeconds; self.betweenSeconds = betweenSeconds; self.afterSeconds = afterSeconds
        }
        enum CodingKeys: String, CodingKey {
            case count
            case firstCount = "first_count"
            case secondCount = "second_count"
            case beforeSeconds = "before_seconds"
            case betweenSeconds = "between_seconds"
            case afterSeconds = "after_seconds"
        }
    }
    public struct CodecArithmetic: Codable, Equatable, Sendable {
        /// `--compression`'s spelling (`powersgd:2`).
        public var codec: String
        public var bucketMB: Double
        public var buckets: [CodecBucket]
        public init(codec: String, bucketMB: Double, buckets: [CodecBucket]) {
            self.codec = codec; self.bucketMB = bucketMB; self.buckets = buckets
        }
        enum CodingKeys: String, CodingKey {
            case codec, buckets
            case bucketMB = "bucket_mb"
        }
    }

    public static let currentVersion = 1
    public var version = ComputeTimeline.currentVersion
    public var model: String
    public var classes: Int
    public var inputSize: Int
    /// Images per worker per step.
    public var batch: Int
    public var blasThreads: Int
    /// The CPU list the measuring process was pinned to ("" when not pinned).
    public var cpus: String
    public var parameters: Int
    /// Timed iterations the medians are taken over (after untimed warm-up).
    public var iterations: Int
    /// From the step's start to the start of backward: the batch, forward, the loss.
    public var forwardSeconds: Double
    /// In network order (backward runs them last to first).
    public var layers: [Layer]
    /// Averaging the gradient, clipping and the SGD step.
    public var updateSeconds: Double
    /// Median of whole steps, measured separately (the parts' medians need not add up to it exactly).
    public var stepSeconds: Double
    /// Measured with a codec: its arithmetic per bucket, medians (nil: none).
    public var codec: CodecArithmetic?

    public init(model: String, classes: Int, inputSize: Int, batch: Int, blasThreads: Int, cpus: String,
                parameters: Int, iterations: Int, forwardSeconds: Double, layers: [Layer],
                updateSeconds: Double, stepSeconds: Double) {
        self.model = model; self.classes = classes; self.inputSize = inputSize; self.batch = batch
        self.blasThreads = blasThreads; self.cpus = cpus; self.parameters = parameters; self.iterations = iterations
        self.forwardSeconds = forwardSeconds; self.layers = layers; self.updateSeconds = updateSeconds
        self.stepSeconds = stepSeconds
    }

    public var backwardSeconds: Double { layers.reduce(0) { $0 + $1.backwardSeconds } }
    /// Forward + backward + update: one replayed step.
    public var replayedStepSeconds: Double { forwardSeconds + backwardSeconds + updateSeconds }
    /// Every parameter tensor's element count, in buffer order.
    public var tensorCounts: [Int] { layers.flatMap(\.tensorCounts) }

    enum CodingKeys: String, CodingKey {
        case version, model, classes, batch, cpus, parameters, iterations, layers
        case inputSize = "input_size"
        case blasThreads = "blas_threads"
        case forwardSeconds = "forward_seconds"
        case updateSeconds = "update_seconds"
        case stepSeconds = "step_seconds"
        case codec
    }

    /// Reads and checks a timeline file: one line of error naming the file on any problem.
    public static func load(_ path: String) throws -> ComputeTimeline {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw MetricsError.malformed("\(path): cannot read the timeline (\(error.localizedDescription))")
        }
        let t: ComputeTimeline
        do { t = try JSONDecoder().decode(ComputeTimeline.self, from: data) } catch {
            throw MetricsError.malformed("\(path): not a compute timeline (\(error))")
        }
        try t.check(source: path)
        return t
    }

    /// Every duration finite and >= 0, the counts positive and adding up to `parameters`.
    public func check(source: String) throws {
        func bad(_ s: String) -> MetricsError { .malformed("\(source): \(s)") }
        if version != Self.currentVersion { throw bad("timeline version \(version), this build reads \(Self.currentVersion)") }
        let durations = [forwardSeconds, updateSeconds, stepSeconds] + layers.map(\.backwardSeconds)
        if durations.contains(where: { !$0.isFinite || $0 < 0 || $0 > 3600 }) { throw bad("a duration is negative, not finite or over an hour") }
        if classes < 2 || inputSize < 1 || batch < 1 || iterations < 1 || layers.isEmpty { throw bad("impossible sizes in the header") }
        if tensorCounts.contains(where: { $0 <= 0 || $0 > 1 << 40 }) { throw bad("a tensor count is not positive") }
        if tensorCounts.reduce(0, +) != parameters { throw bad("tensor counts add up to \(tensorCounts.reduce(0, +)), not \(parameters) parameters") }
        if let c = codec {
            let b = c.buckets
            if b.isEmpty || b.reduce(0, { $0 + $1.count }) != parameters { throw bad("the codec's buckets do not cover the \(parameters) parameters") }
            if b.contains(where: { $0.count <= 0 || $0.firstCount < 0 || $0.secondCount < 0 || $0.firstCount + $0.secondCount > $0.count }) {
                throw bad("a codec bucket's counts are impossible")
            }
            if b.flatMap({ [$0.beforeSeconds, $0.betweenSeconds, $0.afterSeconds] }).contains(where: { !$0.isFinite || $0 < 0 || $0 > 3600 }) {
                throw bad("a codec duration is negative, not finite or over an hour")
            }
        }
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
