import Basics
import Foundation
import NeuralNet

/// Single-process speed of one model: training and inference images/s, per-layer
/// times, the share of time in sgemm, the sgemm peak measured in the same run,
/// and memory. Figures are medians over timed iterations after warm-up.
public enum Benchmark {
    public struct Config: Codable {
        public var model: String, inputSize: Int, batch: Int, threads: Int, iterations: Int, warmup: Int
        public init(model: String, inputSize: Int, batch: Int, threads: Int, iterations: Int = 5, warmup: Int = 2) {
            self.model = model; self.inputSize = inputSize; self.batch = batch; self.threads = threads
            self.iterations = iterations; self.warmup = warmup
        }
    }

    public struct LayerTiming: Codable {
        public var name: String, forwardMs: Double, backwardMs: Double, forwardGFLOPS: Double, backwardGFLOPS: Double
    }

    public struct Result: Codable {
        public var config: Config
        public var parameters: Int
        public var trainImagesPerSecond: Double
        public var inferenceImagesPerSecond: Double
        public var stepSecondsMedian: Double
        /// Useful FLOPs of a training step (forward + 2x forward for backward) per second.
        public var stepGFLOPS: Double
        public var sgemmShare: Double
        public var sgemmGFLOPS: Double
        public var sgemmPeakGFLOPS: Double
        public var layers: [LayerTiming]
        /// Peak resident memory of the process so far (ru_maxrss): covers earlier configurations too.
        public var peakResidentMB: Double
        /// Growth of resident bytes over the timed iterations, per iteration (0: no steady-state allocation).
        public var heapGrowthBytesPerIteration: Double
        /// Heap allocations (malloc and friends) per timed training step, and their bytes;
        /// nil when the program did not supply a counter.
        public var allocationsPerIteration: Double?
        public var allocatedBytesPerIteration: Double?
        /// sgemm calls per timed step (OpenBLAS's threaded driver allocates a job list per call).
        public var sgemmCallsPerIteration: Double
    }

    /// Counts heap allocations between `start` and `stop` (the executable supplies one).
    public struct AllocationCounter {
        public var start: () -> Void
        public var stop: () -> (calls: Int, bytes: Int)
        public init(start: @escaping () -> Void, stop: @escaping () -> (calls: Int, bytes: Int)) {
            self.start = start; self.stop = stop
        }
    }

    /// The 1000-class network of `model` with the architecture's own fillers.
    public static func makeNetwork(_ model: String, inputSize: Int, batch: Int) throws -> Network {
        guard let architecture = ModelRegistry.named(model), architecture.computes else {
            let computing = ModelRegistry.all.filter(\.computes).map(\.name)
            throw TrainingError.badInput("bench: unknown model '\(model)' (\(computing.joined(separator: ", ")))")
        }
        guard inputSize >= architecture.minimumInputSize else {
            throw TrainingError.badInput("bench: --input-size \(inputSize) is too small for \(architecture.title): at least \(architecture.minimumInputSize)")
        }
        return architecture.build(ModelConfiguration(classes: 1000, inputSize: inputSize, batch: batch))!
    }

    /// GFLOP/s of one large square sgemm (n = 1024), the best of 10 after a warm-up: the
    /// machine's practical peak. The best, not the median: noise only slows a run down, and a
    /// peak lowered by a slow spell would flatter every ratio against it.
    public static func sgemmPeak(n: Int = 1024) -> Double {
        let a = Tensor(Shape(n: 1, c: 1, h: n, w: n)), b = Tensor(Shape(n: 1, c: 1, h: n, w: n))
        let c = Tensor(Shape(n: 1, c: 1, h: n, w: n))
        for i in 0..<a.count { a.data[i] = Float(i % 7) * 0.1; b.data[i] = Float(i % 5) * 0.1 }
        var times: [Double] = []
        for _ in 0..<11 {
            let t0 = monotonicSeconds()
            rawSgemm(n, a.data, b.data, c.data)
            times.append(monotonicSeconds() - t0)
        }
        return 2 * pow(Double(n), 3) / times.dropFirst().min()! / 1e9
    }

    public static func run(_ config: Config, allocations: AllocationCounter? = nil) throws -> Result {
        setBLASThreads(config.threads)
        let peakBefore = sgemmPeak()
        let net = try makeNetwork(config.model, inputSize: config.inputSize, batch: config.batch)
        let store = net.store
        let input = Tensor(net.inputShape)
        var rng = SplitMix64(seed: 1)
        for i in 0..<input.count { input.data[i] = rng.nextUnitFloat() * 2 - 1 }
        let labels = (0..<config.batch).map { Int32($0 % 1000) }
        let loss = SoftmaxCrossEntropy(batch: config.batch, classes: 1000)
        let sgd = SGD(parameterCount: store.count, momentum: 0.9, weightDecay: 0.0002)

        func step() {
            let logits = net.forward(input, training: true)
            labels.withUnsafeBufferPointer { _ = loss.forwardBackward(logits: logits, labels: $0) }
            store.zeroGradients()
            net.backward(loss.gradient)
            sgd.step(parameters: store.values, gradients: store.gradients, learningRate: 1e-6)
        }
        for _ in 0..<config.warmup { step() }
        net.startProfilingLayers()
        GEMMProfile.reset(); GEMMProfile.enabled = true
        let heapBefore = heapInUse()
        var times = [Double](repeating: 0, count: config.iterations)
        allocations?.start()
        for i in 0..<config.iterations {
            let t0 = monotonicSeconds(); step(); times[i] = monotonicSeconds() - t0
        }
        let allocated = allocations?.stop()
        let heapAfter = heapInUse()
        GEMMProfile.enabled = false
        let sgemmCalls = GEMMProfile.calls
        let total = times.reduce(0, +)
        let sgemmShare = GEMMProfile.seconds / total, sgemmRate = GEMMProfile.flops / GEMMProfile.seconds / 1e9
        let profile = net.layerSeconds!
        net.layerSeconds = nil
        var inference: [Double] = []
        for _ in 0..<config.iterations {
            let t0 = monotonicSeconds(); net.forward(input, training: false); inference.append(monotonicSeconds() - t0)
        }
        let n = Double(config.iterations)
        let layers = net.layers.indices.map { i -> LayerTiming in
            let flops = 2 * Double(net.layers[i].forwardMACsPerImage * config.batch)
            let f = profile.forward[i] / n, b = profile.backward[i] / n
            return LayerTiming(name: net.layers[i].name, forwardMs: f * 1e3, backwardMs: b * 1e3,
                               forwardGFLOPS: f > 0 ? flops / f / 1e9 : 0, backwardGFLOPS: b > 0 ? 2 * flops / b / 1e9 : 0)
        }
        let peak = max(peakBefore, sgemmPeak())  // before and after the timed steps
        let stepMedian = median(times) ?? .nan
        let stepFlops = 3 * 2 * Double(net.forwardMACsPerImage * config.batch)
        return Result(config: config, parameters: store.count,
                      trainImagesPerSecond: Double(config.batch) / stepMedian,
                      inferenceImagesPerSecond: Double(config.batch) / (median(inference) ?? .nan),
                      stepSecondsMedian: stepMedian, stepGFLOPS: stepFlops / stepMedian / 1e9,
                      sgemmShare: sgemmShare, sgemmGFLOPS: sgemmRate, sgemmPeakGFLOPS: peak, layers: layers,
                      peakResidentMB: peakResidentMB(),
                      heapGrowthBytesPerIteration: Double(heapAfter - heapBefore) / n,
                      allocationsPerIteration: allocated.map { Double($0.calls) / n },
                      allocatedBytesPerIteration: allocated.map { Double($0.bytes) / n },
                      sgemmCallsPerIteration: Double(sgemmCalls) / n)
    }

}


/// Peak resident set size of this process (getrusage ru_maxrss, kilobytes on Linux).
func peakResidentMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Resident bytes of this process now (/proc/self/statm): growth over steady-state
/// iterations would show buffers allocated in the loop.
func heapInUse() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
          let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
