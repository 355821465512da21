// allreduce-check: runs every gradient allreduce algorithm under mpirun on data
// whose sum is known, checks the results and the counted traffic, and reports
// the median time. The Collectives tests parse its --json output; it is also
// the collective benchmark (docs/collectives.md).
//
//   mpirun -np 4 allreduce-check --count 1248424 --algorithms tree,ring,mpi,ps --json
import Collectives
import Topology
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func printError(_ line: String) {
    fputs(line + "\n", stderr)
}

let comm: Communicator
do {
    comm = try Communicator.initialize()
} catch {
    printError("allreduce-check: \(error)")
    exit(1)
}

var options: Options
do {
    guard let parsed = try Options.parse(Array(CommandLine.arguments.dropFirst())) else {
        if comm.rank == 0 { print(Options.usage) }
        try? comm.finalize()
        exit(0)
    }
    options = parsed
    options.treeSchedule = options.treeSchedule ?? .automatic(for: comm)
    options.ringSegmentElements = options.ringSegmentElements ?? RingAllreduce.automaticSegmentElements(for: comm)
} catch {
    if comm.rank == 0 { printError("allreduce-check: \(error)\n\(Options.usage)") }
    try? comm.finalize()
    exit(2)
}
comm.maxMessageBytes = options.maxMessageBytes

var failures: [String] = []
do {
    if comm.rank == 0 && !options.json { print(Report.header) }
    for mode in options.modes {
        let workspace = try Workspace(count: options.count, mode: mode, comm: comm,
                                      compareWithMPI: options.compareWithMPI)
        var results = try options.algorithms.map {
            try check($0, mode: mode, workspace: workspace, options: options, comm: comm)
        }
        if options.interleave {
            let times = try interleavedTimes(options.algorithms, workspace: workspace, options: options, comm: comm)
            for i in results.indices {
                results[i].seconds = times[i]
                results[i].calls += options.warmup + options.iterations
            }
        }
        for result in results {
            if comm.rank == 0 {
                print(options.json ? Report.json(result, options: options) : Report.row(result))
                fflush(stdout)
            }
            failures += result.failures
        }
    }
} catch {
    // Other ranks may be blocked waiting for this one: end them all.
    printError("allreduce-check: \(error)")
    comm.abort(code: 1)
}

if !failures.isEmpty {
    if comm.rank == 0 { printError("allreduce-check: FAILED: " + failures.joined(separator: "; ")) }
    try? comm.finalize()
    exit(1)
}
do {
    try comm.finalize()
} catch {
    printError("allreduce-check: \(error)")
    exit(1)
}
