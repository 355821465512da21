// NCCL's watchdog and Horovod's stall inspector for one process: every blocking MPI
// call of this module (sends, receives, waits, collectives) is bracketed by
// `Watchdog.shared.begin/end`; a thread checks twice a second how long the current
// call has waited. Past `warnAfter` it reports a stall once per call, naming the call,
// the iteration and the ranks waited for; past `timeout` it reports the timeout and
// ends this process (the caller's `expire`), so no rank ever waits forever, whatever a
// peer or a link does. MPI is initialised MPI_THREAD_SERIALIZED: one thread at a time is
// inside MPI, so one record of "the call in progress" is enough.
import Basics
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class Watchdog {
    /// The process's one watchdog (MPI's calls are process-wide too).
    public static let shared = Watchdog()

    /// Whom a blocking call waits for.
    enum Peers {
        case one(Int)
        /// A collective over MPI_COMM_WORLD: MPI does not say which rank is late.
        case everyRank
        /// The peers of the transfers in `range` (MPI_Waitall).
        case transfers(Transfers, Range<Int>)
    }

    private let lock = NSLock()
    private var running = false
    private var since = 0.0
    private var call: StaticString = ""
    private var tag = -1
    private var peers = Peers.everyRank
    private var inCall = false
    private var warned = false
    private var iteration = -1
    /// When a stop was requested (SIGTERM): waits from then on end after `stopGrace`.
    private var stopRequestedAt: Double?
    private var settings = (timeout: 0.0, warnAfter: 0.0, stopGrace: 0.0, rank: 0)
    private var report: (String) -> Void = { _ in }
    private var expire: (String) -> Never = { _ in exit(1) }

    /// Starts the checking thread. `report` gets the stall warnings; `expire` the timeout
    /// message and must end the process (it is called on the watchdog's thread while another
    /// thread may be inside MPI, so it must not call MPI).
    public func start(rank: Int, timeout: Double, warnAfter: Double, stopGrace: Double,
                      report: @escaping (String) -> Void, expire: @escaping (String) -> Never) {
        lock.lock()
        settings = (timeout, warnAfter, stopGrace, rank)
        self.report = report; self.expire = expire
        let first = !running
        running = true
        lock.unlock()
        guard first else { return }
        let thread = Thread { [unowned self] in
            while true {
                Thread.sleep(forTimeInterval: min(0.5, max(0.05, timeout / 20)))
                check()
            }
        }
        thread.name = "watchdog"
        thread.start()
    }

    /// The iteration the loop is in, for the messages.
    public func enter(iteration: Int) {
        lock.lock(); self.iteration = iteration; lock.unlock()
    }

    /// A graceful stop was asked for: from now on a call that waits longer than the stop
    /// grace ends the process (a peer that is gone can no longer reach the boundary).
    public func stopRequested() {
        lock.lock(); if stopRequestedAt == nil { stopRequestedAt = monotonicSeconds() }; lock.unlock()
    }

    /// A blocking call starts (no allocation: the exchange makes these by the hundred).
    @inline(__always)
    func begin(_ call: StaticString, tag: Int, _ peers: Peers) {
        guard running else { return }
        lock.lock()
        self.call = call; self.tag = tag; self.peers = peers; since = monotonicSeconds(); inCall = true; warned = false
        lock.unlock()
    }

    @inline(__always)
    func end() {
        guard running else { return }
        lock.lock(); inCall = false; lock.unlock()
    }

    /// Brackets `body`, a blocking MPI call.
    @inline(__always)
    func watch<R>(_ call: StaticString, tag: Int = -1, _ peers: Peers, _ body: () throws -> R) rethrows -> R {
        begin(call, tag: tag, peers)
        defer { end() }
        return try body()
    }

    private func check() {
        lock.lock()
        guard inCall else { lock.unlock(); return }
        let waited = monotonicSeconds() - since
        let s = settings
        let stopping = stopRequestedAt.map { monotonicSeconds() - $0 > s.stopGrace } ?? false
        let what = describe(waited: waited)
        let warn = !warned && waited >= s.warnAfter
        if warn { warned = true }
        lock.unlock()
        if stopping && waited > s.stopGrace {
            expire("rank \(s.rank): stopping as asked, but \(what) for \(Int(s.stopGrace)) s more; ending without a checkpoint")
        }
        if waited >= s.timeout {
            expire("rank \(s.rank): \(what) (--timeout \(Self.format(s.timeout)) s); ending the job")
        }
        if warn {
            report("warning: rank \(s.rank): stalled: \(what); the job ends at --timeout \(Self.format(s.timeout)) s")
        }
    }

    /// "iteration 12: waited 61 s in MPI_Waitall for ranks 1, 3". Called with the lock held.
    private func describe(waited: Double) -> String {
        let whom: String
        switch peers {
        case .one(let r): whom = "rank \(r)"
        case .everyRank: whom = "every rank (a collective)"
        case .transfers(let t, let range):
            let ranks = Set(range.map { t.peers[$0] }).sorted()
            whom = (ranks.count == 1 ? "rank " : "ranks ") + ranks.map(String.init).joined(separator: ", ")
        }
        let at = iteration >= 0 ? "iteration \(iteration): " : "at startup: "
        return at + "waited \(Int(waited)) s in \(call)\(tag >= 0 ? "(tag \(tag))" : "") for \(whom)"
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%g", seconds)
    }
}

