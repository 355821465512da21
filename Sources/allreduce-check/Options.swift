// Command-line options of allreduce-check (hand-parsed: this tool depends only
// on Collectives, so it stays small and quick to build for the tests).
import Codecs
import Collectives
import Topology

struct Options {
    var count = 100_003
    var algorithms = AllreduceAlgorithm.flat
    var modes = DataMode.allCases
    var iterations = 5
    var warmup = 1
    var json = false
    var maxMessageBytes = 64 << 20
    var compareWithMPI = true
    /// Time the algorithms round-robin (one call of each per round, order rotating)
    /// instead of one after another, so machine noise falls on all of them alike.
    var interleave = false
    /// nil: chosen from the hosts the ranks run on (main.swift resolves it after MPI starts).
    var treeSchedule: TreeAllreduce.Schedule?
    /// Floats per ring pipeline segment (Int.max: each chunk as one message); nil: chosen
    /// from the hosts the ranks run on (main.swift resolves it after MPI starts).
    var ringSegmentElements: Int?
    /// Test hook: this rank perturbs its result after every call, so the checks must fail.
    var corruptRank: Int?
    /// Encoded values on the wire: `CodecRingHook`, `CodecTreeHook`, `CodecServerHook`, `CodecHierarchicalHook`.
    var codec: GradientCodec?
    /// With int8: keep error-feedback residuals (zeroed before each call) and check that
    /// the result plus every rank's residual gives the sum back.
    var errorFeedback = false

    static let usage = """
        usage: mpirun -np P allreduce-check [options]
          --count N              floats per rank (default 100003; SqueezeNet v1.0: 1248424, AlexNet: 60965224)
          --algorithms LIST      comma-separated subset of tree,ring,mpi,ps,hierarchical (default: all
                                 but hierarchical, which on one host is a tree)
          --mode exact|random|both  input data (default both)
          --iterations K         timed calls per algorithm and mode (default 5; the median is reported)
          --warmup W             untimed calls first (default 1)
          --max-message-bytes B  split point-to-point messages above B bytes (default 67108864)
          --no-compare-mpi       skip the native MPI_Allreduce reference (saves one buffer)
          --tree-schedule S      auto, shared-memory, network or unsegmented (default auto: network
                                 when the ranks span several hosts); the tree's segments and phase overlap
          --ring-segment-elements E  floats per ring pipeline segment, 0 for one message per chunk,
                                 or auto (default: 65536 when the ranks span several hosts, else 0)
          --interleave           after the checks, time the algorithms round-robin, K rounds with the
                                 order rotating each round, and report those medians (for comparisons)
          --json                 one JSON line per algorithm and mode on rank 0's stdout
          --codec fp16|bf16|int8 encoded values on the wire, summed in float32 at every hop (ring, tree, ps, hierarchical;
                                 random data); error bound per element: p x 2^-11 (fp16) or p x 2^-8 (bf16)
                                 of its sum of |x|; int8: p x (the largest sum of |x|) / 254
          --error-feedback       with int8: residuals kept (zeroed before each call); checks that the
                                 result plus the residuals of all ranks equals the sum
          --corrupt-rank R       (for testing the checks) rank R perturbs its result; the run must fail
        Exits 1 on every rank if any check fails, 2 on a usage error.
        """

    struct UsageError: Error, CustomStringConvertible { let description: String }

    /// Parses `arguments` (without the program name). Returns nil for --help.
    static func parse(_ arguments: [String]) throws -> Options? {
        var options = Options()
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let v = rest.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            return v
        }
        func integer(_ flag: String, minimum: Int) throws -> Int {
            let text = try value(flag)
            guard let n = Int(text.filter { $0 != "_" }), n >= minimum else {
                throw UsageError(description: "\(flag) expects an integer >= \(minimum), got '\(text)'")
            }
            return n
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--count": options.count = try integer(flag, minimum: 0)
            case "--iterations": options.iterations = try integer(flag, minimum: 1)
            case "--warmup": options.warmup = try integer(flag, minimum: 0)
            case "--max-message-bytes":
                options.maxMessageBytes = try integer(flag, minimum: 4)
                guard options.maxMessageBytes % 4 == 0 else {
                    throw UsageError(description: "--max-message-bytes must be a multiple of 4")
                }
            case "--algorithms":
                options.algorithms = try value(flag).split(separator: ",").map { name in
                    guard let a = AllreduceAlgorithm(rawValue: String(name)) else {
                        throw UsageError(description: "unknown algorithm '\(name)' (\(AllreduceAlgorithm.names))")
                    }
                    return a
                }
            case "--mode": options.modes = try modes(value(flag))
            case "--no-compare-mpi": options.compareWithMPI = false
            case "--interleave": options.interleave = true
            case "--tree-schedule": options.treeSchedule = try treeSchedule(value(flag))
            case "--ring-segment-elements":
                if rest.first == "auto" {
                    _ = try value(flag); options.ringSegmentElements = nil
                } else {
                    let e = try integer(flag, minimum: 0)
                    options.ringSegmentElements = e == 0 ? Int.max : e
                }
            case "--corrupt-rank": options.corruptRank = try integer(flag, minimum: 0)
            case "--json": options.json = true
            case "--codec":
                let name = try value(flag)
                guard let codec = try? GradientCodec(parsing: name), [.fp16, .bf16, .int8].contains(codec) else {
                    throw UsageError(description: "--codec expects fp16, bf16 or int8, got '\(name)'")
                }
                options.codec = codec
            case "--error-feedback": options.errorFeedback = true
            case "--help", "-h": return nil
            default: throw UsageError(description: "unknown option '\(flag)'")
            }
        }
        if options.codec != nil {
            guard options.algorithms.allSatisfy({ $0 != .mpi }) else {
                throw UsageError(description: "--codec runs on ring, tree, ps and hierarchical (MPI_Allreduce adds float32 only): add --algorithms ring,tree,ps,hierarchical")
            }
            options.modes = [.random]  // the exact data's values are not encoded numbers
        }
        if options.errorFeedback && options.codec != .int8 {
            throw UsageError(description: "--error-feedback needs --codec int8")
        }
        return options
    }

    static func modes(_ text: String) throws -> [DataMode] {
        if text == "both" { return DataMode.allCases }
        guard let mode = DataMode(rawValue: text) else {
            throw UsageError(description: "--mode expects exact, random or both, got '\(text)'")
        }
        return [mode]
    }

    /// nil: the tree's automatic choice.
    static func treeSchedule(_ text: String) throws -> TreeAllreduce.Schedule? {
        switch text {
        case "auto": return nil
        case "shared-memory": return .sharedMemory
        case "network": return .network
        case "unsegmented": return .unsegmented
        default:
            throw UsageError(description: "--tree-schedule expects auto, shared-memory, network or unsegmented, got '\(text)'")
        }
    }
}

extension Options {
    /// A new instance of `algorithm` with this run's tree schedule and ring segments.
    func make(_ algorithm: AllreduceAlgorithm) -> GradientAllreduce {
        let reducer = algorithm.make()
        (reducer as? TreeAllreduce)?.schedule = treeSchedule
        (reducer as? RingAllreduce)?.segmentElements = ringSegmentElements
        guard let codec else { return reducer }
        let element: ElementCodec = codec == .int8 ? Int8Quantizer() : (codec == .fp16 ? HalfFormat.fp16 : HalfFormat.bf16)
        let feedback = errorFeedback ? count : nil
        let hook: BucketHook
        switch algorithm {
        case .tree: hook = CodecTreeHook(codec: element, feedbackCount: feedback)
        case .ps: hook = CodecServerHook(codec: element, feedbackCount: feedback)
        case .hierarchical: hook = CodecHierarchicalHook(codec: element, feedbackCount: feedback)
        default: hook = CodecRingHook(codec: element, feedbackCount: feedback)
        }
        return HookedAllreduce(hook: hook, base: reducer)
    }
}

/// A bucket hook as an allreduce: the whole buffer as one bucket.
final class HookedAllreduce: GradientAllreduce {
    let hook: BucketHook, base: GradientAllreduce
    init(hook: BucketHook, base: GradientAllreduce) { self.hook = hook; self.base = base }
    var algorithm: AllreduceAlgorithm { base.algorithm }
    func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, on comm: Communicator) throws {
        for s in hook.state { s.values.update(repeating: 0) }  // every call starts from no residual
        try hook.reduce(GradientBucket(index: 0, offset: 0, values: buffer), with: base, on: comm)
    }
}
