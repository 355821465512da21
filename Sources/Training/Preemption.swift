import Collectives
import Dispatch
import Foundation

/// Graceful preemption, as Slurm uses it (`--signal=TERM@60`, then SIGKILL): SIGTERM,
/// SIGINT or SIGUSR1 (which mpirun passes on at once) asks this rank to stop. The ranks
/// learn of any rank's request through `StopAgreement` and stop together at one iteration
/// boundary, where rank 0 writes a checkpoint. A second signal ends the rank at once.
public final class StopSignals {
    public static let shared = StopSignals()
    /// The signals that ask for a stop.
    public static let handled: [Int32] = [SIGTERM, SIGINT, SIGUSR1]

    private let lock = NSLock()
    private var received: Int32 = 0
    private var count = 0
    private var done = false
    private var sources: [DispatchSourceSignal] = []
    private var onSecond: (Int32) -> Never = { exit(128 + $0) }

    /// The first stop signal received (0: none).
    public var requested: Int32 { lock.lock(); defer { lock.unlock() }; return received }

    /// Handles the stop signals from now on (on a dispatch queue, not in a signal handler).
    /// `onSecond` runs when a second one arrives and must end the process.
    public func install(onSecond: @escaping (Int32) -> Never) {
        self.onSecond = onSecond
        let queue = DispatchQueue(label: "stop-signals")
        for signo in Self.handled {
            signal(signo, SIG_IGN)  // the dispatch source sees it; the default action must not end the process
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler { [unowned self] in self.take(signo) }
            source.resume()
            sources.append(source)
        }
    }

    /// The stop is complete (checkpoint written): later signals are ignored. mpirun, seeing
    /// a rank exit with 128+signal, signals the others while they finish; that is no second request.
    public func stopCompleted() {
        lock.lock(); done = true; lock.unlock()
    }

    /// Records a stop request as a signal would (tests, and the handler itself).
    public func take(_ signo: Int32) {
        lock.lock()
        if done { lock.unlock(); return }
        count += 1
        if received == 0 { received = signo }
        let second = count >= 2
        lock.unlock()
        if second { onSecond(signo) }
        Watchdog.shared.stopRequested()
    }

    /// "SIGTERM" for 15, and so on.
    public static func name(_ signo: Int32) -> String {
        switch signo {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGUSR1: return "SIGUSR1"
        default: return "signal \(signo)"
        }
    }
}

/// Every rank's stop request, combined without a blocking round trip: at the end of each
/// iteration a rank completes the MAX-allreduce it posted one iteration before and posts
/// its current request. So every rank sees the same answer at the same boundary, one
/// iteration after the first rank's signal, and stops there.
final class StopAgreement {
    private let control: ControlAllreduce
    private let signals: StopSignals

    init(comm: Communicator, signals: StopSignals = .shared) {
        control = ControlAllreduce(comm: comm)
        self.signals = signals
    }

    /// The agreed stop signal after this iteration (0: go on). Same on every rank.
    func afterIteration() throws -> Int32 {
        let agreed = control.pending ? try control.finish() : 0
        if agreed == 0 { try control.post(signals.requested) }
        return agreed
    }

    /// Completes the allreduce in flight, so MPI_Finalize finds nothing pending.
    func drain() throws {
        if control.pending { _ = try control.finish() }
    }
}
