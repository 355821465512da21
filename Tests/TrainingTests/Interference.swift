import Foundation
import TestSupport

/// Does something to a running job at a chosen moment (stops a rank, cuts a link, sends a
/// signal) and times how long the job takes to end after it.
enum Interference {
    /// Starts `command`, waits until `file` has `lines` lines (or the command ended), runs
    /// the shell `action` (with $job the command's pid and `environment` set), then waits.
    /// The last stdout line is "interfered-ms N": milliseconds from the action to the end.
    static let driver = #"""
    file=$1; lines=$2; action=$3; shift 3
    "$@" &
    job=$!
    for _ in $(seq 2400); do
      [ -f "$file" ] && [ "$(grep -c . "$file")" -ge "$lines" ] && break
      kill -0 "$job" 2>/dev/null || break
      sleep 0.05
    done
    t0=$(date +%s%N)
    eval "$action"
    wait "$job"; status=$?
    echo "interfered-ms $(( ($(date +%s%N) - t0) / 1000000 ))"
    exit $status
    """#

    /// The job's result and the seconds from the action to its end (infinity if the driver
    /// never got that far).
    static func run(_ command: [String], when file: URL, has lines: Int, action: String,
                    environment: [String: String], timeout: Double) throws -> (result: ProcessResult, seconds: Double) {
        let r = try ProcessRunner.run("/bin/bash", ["-c", driver, "driver", file.path, String(lines), action] + command,
                                      environment: environment, timeout: timeout)
        let ms = r.stdout.split(separator: "\n").last { $0.hasPrefix("interfered-ms ") }.flatMap { Double($0.dropFirst(14)) }
        return (r, (ms ?? .infinity) / 1000)
    }
}
