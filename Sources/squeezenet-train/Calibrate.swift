import Analysis
import ArgumentParser
import Collectives
import Foundation
import Metrics

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ping-pong between ranks 0 and 1 and fit latency (alpha) and seconds per byte (beta) for the cost model.",
        discussion: """
        Run it under mpirun with at least 2 ranks (others idle), on the same placement as the
        training runs, so the transport is the one the allreduce uses:
          launch/mpirun-local 2 squeezenet-train calibrate --output calibration.json
          squeezenet-train report runs/* --calibration calibration.json
        Fit: least squares of t(n)/2 = alpha + n beta on the median round trips, relative residuals.
        """)

    @Option(help: "Write the calibration (alpha, beta, points, transport) as JSON to this file (rank 0).")
    var output: String?
    @Option(help: "Smallest message in bytes (a multiple of 4).") var minBytes: Int = 4
    @Option(help: "Largest message in bytes (sizes go up by 4x from --min-bytes).") var maxBytes: Int = 64 << 20
    @Option(help: "Timed round trips per size (default: 200 small .. 7 for >= 16 MiB).") var repetitions: Int?
    @Option(help: "Untimed round trips per size before timing.") var warmup: Int = 10
    @Option(help: "Text describing the transport, stored in the JSON (default: hosts and Open MPI BTL list).")
    var transport: String?
    @Flag(help: "Ranks 0 and 1 send each size to each other at once (a pairwise exchange, as in Rabenseifner's allreduce) instead of in turn; the fit's one-way time is then the time a message takes while another crosses the other way.")
    var bothWays = false

    func validate() throws {
        guard minBytes >= 4, minBytes % 4 == 0 else { throw ValidationError("--min-bytes must be a positive multiple of 4, got \(minBytes)") }
        guard maxBytes >= minBytes else { throw ValidationError("--max-bytes must be at least --min-bytes, got \(maxBytes)") }
        if let r = repetitions, r < 1 { throw ValidationError("--repetitions must be positive, got \(r)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
    }

    func run() throws {
        let comm: Communicator
        do { comm = try Communicator.initialize() } catch { fail("cannot start MPI: \(error)") }
        guard comm.size >= 2 else {
            try? comm.finalize()
            fail("calibrate needs 2 ranks: run it as `launch/mpirun-local 2 squeezenet-train calibrate`")
        }
        var sizes: [Int] = []
        var s = minBytes
        while s <= maxBytes { sizes.append(s); s *= 4 }
        if sizes.last != maxBytes { sizes.append(maxBytes - maxBytes % 4) }
        let samples: [PingPongSample]
        let hosts: [[UInt8]]?
        do {
            let reps = repetitions
            samples = try PingPong.run(on: comm, sizes: sizes,
                                       repetitions: { reps ?? PingPong.defaultRepetitions(bytes: $0) }, warmup: warmup,
                                       bothWays: bothWays)
            hosts = try comm.gatherBytes(Array(comm.processorName.utf8), root: 0)
        } catch {
            printError("rank \(comm.rank): \(error)")
            comm.abort(code: 1)
        }
        if comm.rank == 0 {
            let names = (hosts ?? []).map { String(decoding: $0, as: UTF8.self) }
            let h0 = names.first ?? "?", h1 = names.count > 1 ? names[1] : "?"
            let btl = ProcessInfo.processInfo.environment["OMPI_MCA_btl"]
            var note = h0 == h1
                ? "Open MPI point-to-point between ranks 0 and 1 on the same host (\(h0)): shared memory (vader BTL), no network"
                : "Open MPI point-to-point between ranks 0 (\(h0)) and 1 (\(h1)) on different hosts: over the network BTL"
            if let btl = btl { note += "; OMPI_MCA_btl=\(btl)" }
            note += "; \(comm.size) ranks in the job"
            if bothWays { note += "; both ways at once (each one-way time with the same bytes crossing the other way)" }
            if let t = transport { note = t + " (" + note + ")" }
            do {
                let points = samples.map { PingPongPoint(bytes: $0.bytes, roundTrips: $0.roundTrips) }
                let calibration = try Calibration(points: points, transport: note)
                print(calibration.markdown(), terminator: "")
                if let path = output {
                    try calibration.json().write(to: URL(fileURLWithPath: path))
                    print("wrote \(path)")
                }
            } catch {
                printError("\(error)")
                try? comm.finalize()
                Foundation.exit(1)
            }
        }
        try? comm.finalize()
    }
}
