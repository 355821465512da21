import ArgumentParser
import CAllocator
import Foundation
import NeuralNet
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Single-process speed: training and inference images/s, per-layer times, sgemm share and peak, memory.")

    @Option(help: "Models, comma-separated: v1.0, v1.1, alexnet.") var models: String = "v1.0,v1.1,alexnet"
    @Option(help: "Batch sizes, comma-separated.") var batches: String = "16,32"
    @Option(help: "OpenBLAS thread counts, comma-separated.") var threads: String = "1,2"
    @Option(help: "Input size in pixels (default: each model's native size, 224 for SqueezeNet, 227 for AlexNet).")
    var inputSize: Int?
    @Option(help: "Timed iterations per configuration (the median is reported).") var iterations: Int = 5
    @Option(help: "Untimed warm-up iterations.") var warmup: Int = 2
    @Option(help: "Also write every result as JSON to this file.") var json: String?
    @Flag(help: "Print the per-layer table of each configuration.") var layers = false

    func run() throws {
        guard iterations >= 1, warmup >= 0, (inputSize ?? 1) > 0 else { fail("--iterations must be >= 1, --warmup >= 0, --input-size > 0") }
        let ints = { (s: String, name: String) -> [Int] in
            let v = s.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if v.isEmpty || v.contains(where: { $0 <= 0 }) { fail("--\(name) must be a comma-separated list of positive integers") }
            return v
        }
        var results: [Benchmark.Result] = []
        print("model    px  batch thr  train img/s  infer img/s  step GFLOP/s  sgemm share  sgemm GFLOP/s  sgemm peak  RSS MB  RSS growth B/iter  allocs/iter  alloc B/iter  sgemm calls/iter")
        for model in models.split(separator: ",").map(String.init) {
            for batch in ints(batches, "batches") {
                for t in ints(threads, "threads") {
                    guard let kind = ModelKind(rawValue: model), kind.computes else {
                        fail("--models: unknown model '\(model)' (\(ModelKind.allCases.filter(\.computes).map(\.rawValue).joined(separator: ", ")))")
                    }
                    let size = inputSize ?? kind.architecture.nativeInputSize
                    let r: Benchmark.Result
                    let counter = Benchmark.AllocationCounter(start: { malloc_count_start() }, stop: {
                        var bytes: Int64 = 0
                        let calls = malloc_count_stop(&bytes)
                        return (Int(calls), Int(bytes))
                    })
                    do { r = try Benchmark.run(.init(model: model, inputSize: size, batch: batch, threads: t,
                                                     iterations: iterations, warmup: warmup),
                                               allocations: counter) } catch { fail("\(error)") }
                    results.append(r)
                    print(model.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: " %4d %5d %3d %12.2f %12.2f %13.2f %11.1f%% %14.2f %11.2f %7.0f %17.0f %12.1f %13.0f %17.1f",
                                 size, batch, t, r.trainImagesPerSecond, r.inferenceImagesPerSecond,
                                 r.stepGFLOPS, 100 * r.sgemmShare, r.sgemmGFLOPS, r.sgemmPeakGFLOPS, r.peakResidentMB,
                                 r.heapGrowthBytesPerIteration, r.allocationsPerIteration ?? .nan,
                                 r.allocatedBytesPerIteration ?? .nan, r.sgemmCallsPerIteration))
                    fflush(stdout)
                    if layers {
                        for l in r.layers where l.forwardMs + l.backwardMs > 0.05 {
                            print("    " + l.name.padding(toLength: 14, withPad: " ", startingAt: 0)
                                  + String(format: "fwd %8.2f ms %7.2f GFLOP/s   bwd %8.2f ms %7.2f GFLOP/s",
                                           l.forwardMs, l.forwardGFLOPS, l.backwardMs, l.backwardGFLOPS))
                        }
                    }
                }
            }
        }
        print("medians of \(iterations) timed iterations after \(warmup) warm-up; sgemm peak: best of 10 1024^3 products, before and after the timed steps;")
        print("RSS MB: peak resident memory of this process so far (configurations run in the order shown, so a")
        print("figure covers its own and every earlier configuration); allocs: heap allocations per timed step")
        if let path = json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do { try atomicWrite(try encoder.encode(results), to: path) } catch { fail("\(error)") }
        }
    }
}
