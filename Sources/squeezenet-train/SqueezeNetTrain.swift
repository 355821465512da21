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
        subcommands: [Train.self, CheckReference.self, Diff.self, ReportCommand.self, Calibrate.self, Bench.self, Timeline.self, ScalingReport.self],
        defaultSubcommand: Train.self)
}
