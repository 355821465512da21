// Runs one algorithm on one kind of data, times it honestly (barrier before each
// call, slowest rank's time, median over calls) and checks it: the sum against
// an independently recomputed reference, against native MPI_Allreduce, the same
// bits on every rank and on every call, and the counted bytes against the formula.
import Basics
import Codecs
import Collectives
import Topology

/// Buffers for one data mode, allocated once and shared by every algorithm.
final class Workspace {
    let input: UnsafeMutableBufferPointer<Float>
    let buffer: UnsafeMutableBufferPointer<Float>
    /// Native MPI_Allreduce of `input`, when compared.
    let nativeResult: UnsafeMutableBufferPointer<Float>?

    init(count: Int, mode: DataMode, comm: Communicator, compareWithMPI: Bool) throws {
        input = .allocate(capacity: count)
        buffer = .allocate(capacity: count)
        fillInput(input, mode: mode, rank: comm.rank)
        if compareWithMPI {
            let native = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            _ = native.initialize(from: input)
            try comm.nativeAllreduceSum(native)
            nativeResult = native
        } else {
            nativeResult = nil
        }
    }

    deinit {
        input.deallocate()
        buffer.deallocate()
        nativeResult?.deallocate()
    }

    func reset() { _ = buffer.initialize(from: input) }
}

struct CheckResult {
    var algorithm: AllreduceAlgorithm
    var mode: DataMode
    var ranks: Int
    var count: Int
    var hosts = 1
    /// Bit hash of the first call's result (the same on every rank when identicalAcrossRanks).
    var resultHash: UInt64 = 0
    /// Calls of this algorithm made, warm-ups and both passes included.
    var calls = 0
    var maxAbsError = 0.0
    var maxRelError = 0.0
    var maxAbsDiffVsMPI: Double?
    /// The largest sum of |x| over ranks of one element (the int8 bound's scale).
    var maxMagnitude = 0.0
    /// Error feedback: max over elements of |result + sum of residuals - sum| / sum of |x|.
    var maxConservationError: Double?
    var identicalAcrossRanks = true
    var identicalAcrossCalls = true
    /// Per rank: bytes sent, bytes received, messages sent, messages received (one call).
    var perRank: [[UInt64]] = []
    var seconds: [Double] = []
    var failures: [String] = []

    var medianSeconds: Double {
        median(seconds) ?? 0
    }
}

func check(_ algorithm: AllreduceAlgorithm, mode: DataMode, workspace: Workspace, options: Options,
           comm: Communicator) throws -> CheckResult {
    var result = CheckResult(algorithm: algorithm, mode: mode, ranks: comm.size, count: options.count)
    result.hosts = comm.hostCount
    let reducer = options.make(algorithm)
    var firstHash: UInt64 = 0
    var counted: TrafficCounters?
    var countersVary = false
    for call in 0..<(options.warmup + options.iterations) {
        workspace.reset()
        _ = comm.takeCounters()
        try comm.barrier()
        let start = Communicator.wallTime()
        try reducer.allreduce(workspace.buffer, on: comm)
        let elapsed = Communicator.wallTime() - start
        if options.corruptRank == comm.rank, workspace.buffer.count > 0 {
            workspace.buffer[workspace.buffer.count / 2] += 1
        }
        var traffic = comm.takeCounters()
        traffic.seconds = 0
        let slowest = try comm.allreduceMax(elapsed)
        let hash = bitHash(workspace.buffer)
        if call == 0 {
            firstHash = hash
            result.resultHash = hash
            try checkValues(&result, workspace: workspace, hash: hash, comm: comm)
            if let hooked = reducer as? HookedAllreduce, let residual = hooked.hook.state.first?.values {
                let all = UnsafeMutableBufferPointer<Float>.allocate(capacity: residual.count)
                defer { all.deallocate() }
                _ = all.initialize(from: residual)
                try comm.nativeAllreduceSum(all)
                let e = referenceErrors(workspace.buffer, mode: mode, ranks: comm.size, adding: UnsafeBufferPointer(all))
                result.maxConservationError = try comm.allreduceMax(e.rel)
            }
        } else if hash != firstHash {
            result.identicalAcrossCalls = false
        }
        if call >= options.warmup { result.seconds.append(slowest) }
        result.calls += 1
        if let first = counted, first != traffic { countersVary = true }
        counted = counted ?? traffic
    }
    result.identicalAcrossCalls = try comm.allreduceMax(result.identicalAcrossCalls ? 0 : 1) == 0
    let mine = counted ?? .zero
    result.perRank = try comm.allgather([mine.bytesSent, mine.bytesReceived, mine.messagesSent,
                                         mine.messagesReceived].map { UInt64($0) })
    let anyVary = try comm.allreduceMax(countersVary ? 1 : 0) != 0
    judge(&result, countersVary: anyVary, comm: comm, options: options)
    return result
}

/// Times `algorithms` round-robin: `options.iterations` rounds after `options.warmup`,
/// round k starting at algorithm k mod n, each call on fresh input after a barrier,
/// the slowest rank's time kept. Returns the times per algorithm, in its order.
func interleavedTimes(_ algorithms: [AllreduceAlgorithm], workspace: Workspace, options: Options,
                      comm: Communicator) throws -> [[Double]] {
    let reducers = algorithms.map { options.make($0) }
    var times = Array(repeating: [Double](), count: algorithms.count)
    for round in 0..<(options.warmup + options.iterations) {
        for step in algorithms.indices {
            let i = (round + step) % algorithms.count
            workspace.reset()
            try comm.barrier()
            let start = Communicator.wallTime()
            try reducers[i].allreduce(workspace.buffer, on: comm)
            let slowest = try comm.allreduceMax(Communicator.wallTime() - start)
            if round >= options.warmup { times[i].append(slowest) }
        }
    }
    _ = comm.takeCounters()
    return times
}

/// Errors against the reference and native MPI, and cross-rank identity, reduced over ranks.
private func checkValues(_ result: inout CheckResult, workspace: Workspace, hash: UInt64,
                         comm: Communicator) throws {
    let errors = referenceErrors(workspace.buffer, mode: result.mode, ranks: comm.size)
    result.maxAbsError = try comm.allreduceMax(errors.abs)
    result.maxRelError = try comm.allreduceMax(errors.rel)
    result.maxMagnitude = try comm.allreduceMax(errors.magnitude)
    if let native = workspace.nativeResult {
        result.maxAbsDiffVsMPI = try comm.allreduceMax(maxAbsDifference(workspace.buffer, native))
    }
    let hashes = try comm.allgather([hash])
    result.identicalAcrossRanks = Set(hashes.map { $0[0] }).count == 1
}

/// Turns the measurements into failures; every rank reaches the same verdict.
private func judge(_ result: inout CheckResult, countersVary: Bool, comm: Communicator, options: Options) {
    let name = "\(result.algorithm.rawValue) \(result.mode.rawValue)"
    let p = comm.size
    // Recursive float summation of p terms: |error| <= (p - 1) u sum|x|, u = 2^-24. With a
    // 16-bit codec each of the p - 1 hops and the final rounding add one unit of the format;
    // int8's unit is relative to its chunk's largest value, so its bound is on the absolute
    // error: p encodings of at most (largest sum of |x|) / 254 each.
    let unit = options.codec.map { $0 == .fp16 ? 0x1p-11 : 0x1p-8 } ?? 0x1p-24
    let bound = Double(p) * unit * (options.codec == nil ? 1 : 1.01)
    switch result.mode {
    case .exact:
        if result.maxAbsError != 0 { result.failures.append("\(name): max_abs_error \(result.maxAbsError) != 0") }
        if let d = result.maxAbsDiffVsMPI, d != 0 {
            result.failures.append("\(name): differs from MPI_Allreduce by \(d)")
        }
    case .random where options.codec == .int8:
        let absBound = Double(p) * result.maxMagnitude / 254 * 1.01
        if !(result.maxAbsError <= absBound) {
            result.failures.append("\(name): max_abs_error \(result.maxAbsError) > \(absBound)")
        }
    case .random:
        if !(result.maxRelError <= bound) {
            result.failures.append("\(name): max_rel_error \(result.maxRelError) > \(bound)")
        }
    }
    // Error feedback: what the result lacks is in the residuals, to float32 rounding of
    // the p additions and of the residuals' own sum.
    if let c = result.maxConservationError, !(c <= 4 * Double(p) * 0x1p-24) {
        result.failures.append("\(name): result + residuals differs from the sum by \(c) of sum|x| (> \(4 * Double(p)) x 2^-24)")
    }
    let mustBeIdentical = result.algorithm.resultIsIdenticalByConstruction || result.mode == .exact || options.codec != nil
    if mustBeIdentical && !result.identicalAcrossRanks {
        result.failures.append("\(name): results differ between ranks")
    }
    if result.algorithm.resultIsIdenticalByConstruction && !result.identicalAcrossCalls {
        result.failures.append("\(name): results differ between calls")
    }
    if countersVary { result.failures.append("\(name): counted traffic differs between calls") }
    guard result.algorithm.bytesAreCounted else { return }
    for r in 0..<p {
        let coded = options.codec?.traffic(result.algorithm, rank: r, ranks: p, count: result.count).map { (sent: $0.bytesSent, received: $0.bytesReceived) }
        let twoLevel = result.algorithm == .hierarchical
            ? comm.hostSizes.flatMap { sizes in
                options.codec.map { $0.hierarchicalTraffic(rank: r, hostSizes: sizes, count: result.count) }
                    ?? AllreduceAlgorithm.hierarchicalTraffic(rank: r, hostSizes: sizes, count: result.count) }
                .map { (sent: $0.bytesSent, received: $0.bytesReceived) }
            : nil
        if result.algorithm == .hierarchical && comm.hostSizes == nil {
            result.failures.append("\(name): the ranks are not placed host after host (--map-by slot); no formula to check the bytes against")
        }
        guard let expected = coded ?? twoLevel ?? result.algorithm.countedBytes(rank: r, ranks: p, count: result.count) else { continue }
        let sent = Int(result.perRank[r][0])
        let received = Int(result.perRank[r][1])
        if sent != expected.sent || received != expected.received {
            result.failures.append("\(name): rank \(r) counted \(sent)/\(received) bytes sent/received, "
                                   + "expected \(expected.sent)/\(expected.received)")
        }
    }
}
