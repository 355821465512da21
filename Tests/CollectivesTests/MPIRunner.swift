// Starts real `mpirun` jobs from a test, so that multi-rank
// behaviour is asserted on what the ranks report, never on a one-rank run.
// The launching itself is TestSupport's (launch/mpirun-local's flags, a time limit).
import Foundation
import TestSupport

extension ProcessResult {
    /// Every stdout line that parses as a JSON object.
    var jsonLines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"), let data = line.data(using: .utf8) else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }
    }
}

enum MPIRunner {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// `mpirun -np ranks <built program> arguments...`; a job still running after
    /// `timeout` seconds is killed and reported as a failure.
    static func run(ranks: Int, program: String, arguments: [String], timeout: Double = 120) throws -> ProcessResult {
        let binary = TestPaths.executable(program)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw Failure(description: "\(binary.path) not found (build it, or set SQUEEZENET_BIN_DIR)")
        }
        let result = try ProcessRunner.mpirun(ranks, binary.path, arguments, timeout: timeout)
        if result.timedOut { throw Failure(description: "mpirun -np \(ranks) \(program) timed out after \(timeout) s") }
        return result
    }
}
