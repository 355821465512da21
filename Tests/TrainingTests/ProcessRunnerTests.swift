import Foundation
import TestSupport
import XCTest

/// A timed-out program must not leave anything running: mpirun's ranks left spinning
/// would slow every later test (and a waiting child once hung CI).
final class ProcessRunnerTests: XCTestCase {
    func testTimeoutEndsTheWholeProcessTree() throws {
        let dir = TestPaths.temporaryDirectory("tree")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pids = dir.appendingPathComponent("pids").path
        // One child in the program's process group, one that left it (setsid).
        let script = "sleep 300 & echo $! > \(pids); setsid sleep 301 & echo $! >> \(pids); wait"
        let r = try ProcessRunner.run("/bin/bash", ["-c", script], timeout: 1)
        XCTAssertTrue(r.timedOut)
        XCTAssertLessThan(r.seconds, 30, "the program and its children were ended at the timeout, not when they finished")
        let started = try String(contentsOfFile: pids, encoding: .utf8).split(separator: "\n").compactMap { pid_t($0) }
        XCTAssertEqual(started.count, 2)
        for pid in started {
            // Dead, or a zombie waiting for init to reap it.
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
                .split(separator: ")").last?.split(separator: " ").first
            XCTAssertTrue(state == nil || state == "Z", "pid \(pid) still running (state \(state.map(String.init) ?? "?"))")
        }
    }
}
