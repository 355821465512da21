import Foundation

/// Test-only faults, selected by the environment variable SQUEEZENET_FAULT, so
/// the fault tests inject real failures (a rank killed by SIGKILL in the middle
/// of an exchange; a crash half-way through writing a checkpoint) into the real
/// binary under real mpirun. Unset, nothing here does anything.
///
///     SQUEEZENET_FAULT=kill-rank:R:I        rank R kills itself (SIGKILL) before the allreduce of iteration I
///     SQUEEZENET_FAULT=crash-checkpoint:I   rank 0 dies half-way through writing the checkpoint of iteration I
///     SQUEEZENET_FAULT=inf-weight:I         every rank sets its last weight to +Inf after the update of iteration I
enum FaultInjection {
    static let spec: [Substring] = ProcessInfo.processInfo.environment["SQUEEZENET_FAULT"]?.split(separator: ":") ?? []
    static var crashInNextWrite = false

    static func beforeAllreduce(rank: Int, iteration: Int) {
        if spec.count == 3, spec[0] == "kill-rank", Int(spec[1]) == rank, Int(spec[2]) == iteration { die() }
    }

    static func beforeCheckpoint(iteration: Int) {
        crashInNextWrite = spec.count == 2 && spec[0] == "crash-checkpoint" && Int(spec[1]) == iteration
    }

    static func afterUpdate(iteration: Int, weights: UnsafeMutableBufferPointer<Float>) {
        if spec.count == 2, spec[0] == "inf-weight", Int(spec[1]) == iteration, !weights.isEmpty { weights[weights.count - 1] = .infinity }
    }

    static func die() -> Never {
        kill(getpid(), SIGKILL)
        fatalError("unreachable: SIGKILL did not end the process")
    }
}
