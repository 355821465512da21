import ArgumentParser

/// squeezenet-train: data-parallel SqueezeNet training over MPI, and the tools around it.
@main
struct SqueezeNetTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "squeezenet-train",
        abstract: "Data-parallel SqueezeNet training over MPI (run it under mpirun for several workers).",
        discussion: """
        Examples:
          squeezenet-train --iterations 200        (one process, Fashion-MNIST)
          mpirun -np 8 squeezenet-train --allreduce tree
          squeezenet-train --model v1.0 --classes 1000 --summary
          squeezenet-train check-reference REFERENCE/squeezenet_v1_0_c10_64px
          squeezenet-train train --help            (every training option)
        """,
        subcommands: [Train.self, CheckReference.self, Diff.self, ReportCommand.self, Calibrate.self, Bench.self, Timeline.self, ScalingReport.self, CodecsCommand.self, CompressCommand.self, CompressionTable.self, MakeImageFolder.self, DataBench.self],
        defaultSubcommand: Train.self)

    /// ArgumentParser's own, but a bad command line ends with one `error: ...` line
    /// (as every other error does) instead of its message, usage and help hint.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            printError(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message)
            exit(withError: ExitCode(exitCode(for: error).rawValue))
        }
    }
}
