import Foundation

/// Runs a program to completion with a time limit, capturing its output, so a
/// test can assert on what every rank reported and a hang becomes a failure.
public struct ProcessResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public let timedOut: Bool
    public let seconds: Double
}

public enum ProcessRunner {
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: Double = 120) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = TestPaths.temporaryDirectory("proc")
        defer { try? FileManager.default.removeItem(at: out) }
        let outURL = out.appendingPathComponent("stdout"), errURL = out.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                terminateTree(process.processIdentifier)
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus,
                             stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
                             timedOut: timedOut, seconds: Date().timeIntervalSince(start))
    }

    /// Ends a timed-out program and everything it started: mpirun's ranks and
    /// anything they forked would otherwise keep spinning on the two cores and
    /// slow every later test. Foundation starts the child in its own process
    /// group; descendants that left the group are found through /proc.
    static func terminateTree(_ root: pid_t) {
        let tree = [root] + descendants(of: root)
        kill(-root, SIGTERM)
        for pid in tree { kill(pid, SIGTERM) }
        Thread.sleep(forTimeInterval: 2)
        kill(-root, SIGKILL)
        for pid in tree { kill(pid, SIGKILL) }
    }

    /// Every live descendant of `root`, from the parent pids in /proc/PID/stat.
    static func descendants(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the command name: state, ppid, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = pid_t(fields[1]) { children[ppid, default: []].append(pid) }
        }
        var found: [pid_t] = [], queue = [root]
        while let next = queue.popLast() {
            for child in children[next] ?? [] { found.append(child); queue.append(child) }
        }
        return found
    }

    /// `mpirun -np N program args` through launch/mpirun-local (root and oversubscription flags as needed).
    public static func mpirun(_ ranks: Int, _ program: String, _ arguments: [String], timeout: Double = 180) throws -> ProcessResult {
        let launcher = TestPaths.packageRoot.appendingPathComponent("launch/mpirun-local").path
        return try run("/bin/bash", [launcher, String(ranks), program] + arguments, timeout: timeout)
    }

    /// Several programs in one MPI job (mpirun's MPMD form: `-np 1 a : -np 1 b`).
    public static func mpirunMPMD(_ apps: [[String]], timeout: Double = 120) throws -> ProcessResult {
        var args = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1",
                    "--mca", "btl", "self,vader,tcp", "-x", "OPENBLAS_NUM_THREADS=1"]
        for (i, app) in apps.enumerated() {
            if i > 0 { args.append(":") }
            args += ["-np", "1"] + app
        }
        return try run("/usr/bin/mpirun", args, timeout: timeout)
    }
}
