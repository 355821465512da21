import ArgumentParser
import Foundation
import Metrics
import NeuralNet
import Topology
import Training

/// Measures the single-worker step the scaling lab replays.
struct Timeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure one worker's training step, phase by phase and layer by layer, for --replay-compute.",
        discussion: """
        Run it on the otherwise idle machine, pinned to the cores one worker would have
        (for example taskset -c 1 ... --threads 1). Every figure is measured: medians over
        --iterations timed steps after --warmup untimed ones, on synthetic images.
        """)

    @Option(help: ArgumentHelp("Model: \(ModelRegistry.all.filter(\.computes).map(\.name).joined(separator: ", ")).", valueName: "name"))
    var model: ModelKind = .v1_0
    @Option(help: "Number of classes.") var classes: Int = 1000
    @Option(help: "Square input size (default: the model's native size, 224 for SqueezeNet, 227 for AlexNet).")
    var inputSize: Int?
    @Option(help: "Images per worker per step.") var batch: Int = 32
    @Option(help: "OpenBLAS threads.") var threads: Int = 1
    @Option(help: "Timed steps (medians are reported).") var iterations: Int = 5
    @Option(help: "Untimed warm-up steps.") var warmup: Int = 2
    @Option(help: "Write the timeline (JSON) here.") var output: String
    @Option(help: ArgumentHelp("Also time this codec's arithmetic per gradient bucket, for the lab to replay: powersgd:RANK (the only codec whose arithmetic is replayed; the others' is computed).", valueName: "codec"))
    var compression: String?
    @Option(help: "With --compression: the gradient bucket size the codec is timed on (MB; 0: one bucket).")
    var bucketMb: Double = 0

    func run() throws {
        var o = TrainingOptions()
        o.model = model; o.classes = classes; o.inputSize = inputSize ?? model.architecture.nativeInputSize
        o.bucketMB = bucketMb
        let t: ComputeTimeline
        do {
            if let c = compression {
                guard let codec = try? GradientCodec(parsing: c), case .powersgd = codec else {
                    throw ValidationError("--compression \(c): the timeline replays only powersgd:RANK's arithmetic")
                }
                o.compression = codec
            }
            t = try ComputeTimeline.measure(options: o, batch: batch, threads: threads, iterations: iterations, warmup: warmup)
            try t.write(to: output)
        } catch { fail("\(error)") }
        print(String(format: "timeline of %@ at %d px, %d classes, %d images, %d BLAS thread(s) on CPUs %@ (measured, medians of %d steps):",
                     t.model, t.inputSize, t.classes, t.batch, t.blasThreads, t.cpus.isEmpty ? "?" : t.cpus, t.iterations))
        print(String(format: "  forward %.1f ms, backward %.1f ms over %d layers, update %.1f ms; parts %.1f ms, whole steps %.1f ms",
                     1e3 * t.forwardSeconds, 1e3 * t.backwardSeconds, t.layers.count, 1e3 * t.updateSeconds,
                     1e3 * t.replayedStepSeconds, 1e3 * t.stepSeconds))
        if let c = t.codec {
            let a = c.buckets.reduce(0) { $0 + $1.arithmeticSeconds }
            print(String(format: "  %@ arithmetic over %d bucket(s) of %g MB: %.1f ms (before the first allreduce %.1f, between %.1f, after %.1f)",
                         c.codec, c.buckets.count, c.bucketMB, 1e3 * a, 1e3 * c.buckets.reduce(0) { $0 + $1.beforeSeconds },
                         1e3 * c.buckets.reduce(0) { $0 + $1.betweenSeconds }, 1e3 * c.buckets.reduce(0) { $0 + $1.afterSeconds }))
        }
        print("  written to \(output)")
    }
}
