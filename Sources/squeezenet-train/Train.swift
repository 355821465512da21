import ArgumentParser
import Collectives
import Foundation
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train SqueezeNet (the default subcommand); under mpirun every process is one worker.")

    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Optimizer and schedule") var optimizer: OptimizerOptions
    @OptionGroup(title: "Gradient exchange") var exchange: ExchangeOptions
    @OptionGroup(title: "Output") var output: OutputOptions
    @OptionGroup(title: "Replayed compute (the scaling lab)") var replay: ReplayOptions

    /// The options as the command line gives them, in one pass.
    var options: TrainingOptions {
        var o = TrainingOptions()
        model.apply(to: &o); data.apply(to: &o); optimizer.apply(to: &o); exchange.apply(to: &o); output.apply(to: &o)
        replay.apply(to: &o)
        return o
    }

    func run() throws {
        var options = self.options
        if model.summary {
            // The table needs no data: only the model options matter, at the model's own size by default.
            options.inputSize = model.inputSize ?? options.model.architecture.nativeInputSize
            options.dataset = .synthetic
            do { try options.validate() } catch { fail("\(error)") }
            print(ModelSummary.table(model: options.model, classes: options.classes, inputSize: options.inputSize))
            return
        }
        let hook: BucketHook?
        do {
            try options.validate()  // rank-independent: once, before MPI starts
            hook = try TestHooks.selected()
        } catch { fail("\(error)") }
        let comm: Communicator
        do { comm = try Communicator.initialize() } catch {
            fail("cannot start MPI: \(error)")
        }
        do {
            let trainer = try Trainer(options: options, communicator: comm, hook: hook) { print($0); fflush(stdout) }
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
