// Starts real `mpirun` jobs from a test, as STYLE.md habit 9 asks: multi-rank
// behaviour is asserted on what the ranks report, never on a one-rank run.
// Self-contained on purpose (the shared TestSupport target belongs to others).
import Foundation
import XCTest

/// What one `mpirun` job produced.
struct MPIRun {
    let status: Int32
    let stdout: String
    let stderr: String
    let seconds: Double

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

    /// Directory holding the package's executables: $SQUEEZENET_BIN_DIR, else the
    /// build directory the test bundle was run from (walking up from the bundle).
    static func binary(_ name: String) throws -> URL {
        let fm = FileManager.default
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["SQUEEZENET_BIN_DIR"] {
            candidates.append(URL(fileURLWithPath: dir))
        }
        for start in [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]),
                      Bundle(for: BundleToken.self).bundleURL] {
            var dir = start.deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(dir)
                dir = dir.deletingLastPathComponent()
            }
        }
        for dir in candidates {
            let url = dir.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               fm.isExecutableFile(atPath: url.path) {
                return url
            }
        }
        throw Failure(description: "\(name) not found (build it, or set SQUEEZENET_BIN_DIR); looked in "
                      + candidates.map(\.path).joined(separator: ", "))
    }

    static func mpirun() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let dirs = path.split(separator: ":").map { String($0) } + ["/usr/bin", "/usr/local/bin"]
        for dir in dirs {
            let url = URL(fileURLWithPath: dir).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw Failure(description: "mpirun not found on PATH")
    }

    /// Runs `mpirun -np ranks <program> arguments...` with the flags this machine
    /// needs (root, more ranks than cores, ranks yielding when idle), killing the
    /// job after `timeout` seconds.
    static func run(ranks: Int, program: String, arguments: [String], timeout: Double = 120) throws -> MPIRun {
        let process = Process()
        process.executableURL = try mpirun()
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                             "--mca", "mpi_yield_when_idle", "1", "-np", String(ranks),
                             try binary(program).path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        environment["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        process.environment = environment
        // Files, not pipes: a chatty job cannot fill a pipe buffer and stall.
        let tmp = FileManager.default.temporaryDirectory
            .appendingPathComponent("mpirun-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let outURL = tmp.appendingPathComponent("stdout")
        let errURL = tmp.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                process.terminate()  // mpirun forwards the signal to its ranks
                process.waitUntilExit()
                throw Failure(description: "mpirun -np \(ranks) \(program) timed out after \(timeout) s")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        try out.close()
        try err.close()
        return MPIRun(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
                      seconds: Date().timeIntervalSince(start))
    }
}

private final class BundleToken {}
