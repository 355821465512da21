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
    @Flag(help: "Evaluate --init-weights (a weights.bin, checkpoint or compressed model) on the test set, print its top-1 and exit: nothing is trained or written.")
    var evalOnly = false

    /// The options as the command line gives them, in one pass.
    var options: TrainingOptions {
        var o = TrainingOptions()
        model.apply(to: &o); data.apply(to: &o); optimizer.apply(to: &o); exchange.apply(to: &o); output.apply(to: &o)
        replay.apply(to: &o)
        if model.classes == nil && o.dataset.isImageFiles { o.classes = 0 }  // from the folder or the list
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
        let hook: TestHooks.Factory?
        if evalOnly {
            if options.initWeights == nil { fail("--eval-only evaluates a weight file: add --init-weights FILE") }
            if options.outputDirectory != nil { fail("--eval-only writes nothing: drop --output") }
        }
        do {
            try options.validate()  // rank-independent: once, before MPI starts
            hook = try TestHooks.selected()
        } catch { fail("\(error)") }
        // Before MPI starts, so a signal during startup is a stop request too, not a kill.
        StopSignals.shared.install { signo in
            printError("second \(StopSignals.name(signo)): ending now, without a checkpoint")
            _exit(128 + signo)
        }
        let comm: Communicator
        do { comm = try Communicator.initialize() } catch {
            fail("cannot start MPI: \(error)")
        }
        Watchdog.shared.start(rank: comm.rank, timeout: options.timeout, warnAfter: options.stallWarning,
                              stopGrace: min(5, options.timeout), report: { printLine($0) }) { message in
            // On the watchdog's thread, with the main thread stuck in MPI: no MPI here. mpirun
            // sees the rank end without MPI_Finalize and ends the others.
            printError(message)
            let signo = StopSignals.shared.requested
            _exit(signo != 0 ? 128 + signo : Train.timeoutExitCode)
        }
        do {
            let trainer = try Trainer(options: options, communicator: comm, hook: hook) { print($0); fflush(stdout) }
            if evalOnly {
                let e = try trainer.evaluateTestSet()
                if comm.rank == 0 { print(String(format: "test top-1 %.2f%% on %d images (%@)", 100 * e.accuracy, e.images, options.initWeights!)) }
                try comm.finalize()
                return
            }
            let result = try trainer.run()
            if let stop = result.stop {
                if comm.rank == 0 {
                    let saved = stop.checkpoint.map { "checkpoint \($0); to continue, run the same command with --resume latest" }
                        ?? (options.outputDirectory == nil ? "no --output, nothing saved" : "nothing to save (no weights)")
                    print("stopped on \(StopSignals.name(stop.signal)) after iteration \(result.iterations) of \(options.iterations): \(saved)")
                    fflush(stdout)
                }
                try comm.finalize()
                Foundation.exit(128 + stop.signal)
            }
            if comm.rank == 0 {
                let rate = options.model.computes ? String(format: " (%.1f img/s)", result.imagesPerSecond) : ""
                print(String(format: "done: %d iterations in %.1f s", result.iterations, result.wallSeconds)
                      + rate + (options.outputDirectory.map { ", output in \($0)" } ?? ""))
            }
            try comm.finalize()
        } catch let error as TrainingError where error.isSharedByEveryRank {
            // Taken on values every rank shares: all ranks stop alike; rank 0 speaks for them.
            if comm.rank == 0 { printError("\(error)") }
            try? comm.finalize()
            Foundation.exit(1)
        } catch {
            // One rank's own error (a write that failed, an MPI call): the others would wait
            // for it forever, so it ends the job; only this rank's line is printed.
            if comm.size == 1 {
                printError("\(error)")
                try? comm.finalize()
                Foundation.exit(1)
            }
            printError("rank \(comm.rank): \(error)")
            comm.abort(code: 1)
        }
    }

    /// The exit code of a rank the watchdog ended (as timeout(1)).
    static let timeoutExitCode: Int32 = 124
}

/// A line on stderr as it is (the watchdog's warnings), in one write.
func printLine(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

func fail(_ message: String) -> Never {
    printError(message)
    Foundation.exit(1)
}
