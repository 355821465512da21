import ArgumentParser
import Collectives
import Foundation
import Training

/// The paper's Table 2 for weight files measured here: bytes on disk, weights kept, bits,
/// the reduction against AlexNet's 32-bit bytes, and test top-1 evaluated from each file.
struct CompressionTable: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compression-table",
        abstract: "A table like SqueezeNet's Table 2 from weight files (weights.bin, checkpoints, .sqzc): approach, bits, weights kept, bytes (the file's size), reduction against AlexNet's 32-bit 243,860,896 bytes, and test top-1 evaluated from each file (measured).",
        discussion: """
        The model and data options are the training command's (every file must hold that model):
          squeezenet-train compression-table runs/dense/weights.bin runs/p50.sqzc runs/p45.sqzc
          squeezenet-train compression-table --model v1.0 --classes 1000 --size-only a.sqzc b.sqzc
        """)

    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Data") var data: DataOptions
    @Flag(help: "Sizes only: no evaluation (a layout whose data is not here, as the 1000-class models).") var sizeOnly = false
    @Flag(help: "Print the table as Markdown.") var markdown = false
    @Argument(help: "Weight files, one row each; the first is the baseline for the top-1 differences.") var files: [String]

    func run() throws {
        guard !files.isEmpty else { fail("give one or more weight files") }
        var options = TrainingOptions()
        model.apply(to: &options); data.apply(to: &options)
        if model.classes == nil && options.dataset.isImageFiles { options.classes = 0 }
        let summaries: [WeightFileSummary]
        do { summaries = try files.map { try WeightFileSummary(path: $0) } } catch { fail("\(error)") }
        var accuracy: [Double?] = Array(repeating: nil, count: files.count)
        if !sizeOnly {
            let comm: Communicator
            do { comm = try Communicator.initialize() } catch { fail("cannot start MPI: \(error)") }
            guard comm.size == 1 else { fail("compression-table evaluates in one process: run it without mpirun") }
            for (i, path) in files.enumerated() {
                var o = options
                o.initWeights = path
                do {
                    try o.validate()
                    let trainer = try Trainer(options: o, communicator: comm) { _ in }
                    accuracy[i] = try trainer.evaluateTestSet().accuracy
                } catch { fail("\(path): \(error)") }
            }
            try? comm.finalize()
        }
        let header = ["model", "approach", "bits", "weights kept", "bytes", "vs AlexNet 32-bit", "top-1", "vs first", "file"]
        let rows: [[String]] = summaries.enumerated().map { i, s in
            let top1 = accuracy[i].map { String(format: "%.2f%%", 100 * $0) } ?? "size only"
            let delta = accuracy[i].flatMap { a in accuracy[0].map { String(format: "%+.2f", 100 * (a - $0)) } } ?? "-"
            return [s.model, s.approach, s.bits.map(String.init).joined(separator: "/"),
                    String(format: "%.1f%%", 100 * Double(s.keptWeights) / Double(max(s.weights, 1))),
                    String(s.bytes), String(format: "%.0fx", Double(WeightFileSummary.alexNetBytes) / Double(s.bytes)),
                    top1, i == 0 ? "" : delta, s.path]
        }
        let measured = sizeOnly ? "bytes: the files' sizes (measured); no evaluation"
            : "bytes: the files' sizes; top-1: each file evaluated on the \(options.dataset) test set here (measured)"
        if markdown {
            func line(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }
            print(([line(header), "|" + header.map { _ in "---" }.joined(separator: "|") + "|"] + rows.map(line)).joined(separator: "\n"))
        } else {
            let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
            for r in [header] + rows {
                print(r.indices.map { $0 == r.count - 1 ? r[$0] : r[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
        }
        print("(\(measured); AlexNet's 32-bit reference: 60,965,224 parameters, \(WeightFileSummary.alexNetBytes) bytes)")
    }
}
