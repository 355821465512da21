// Output of allreduce-check: a JSON line per (algorithm, mode) for scripts and
// tests, or a plain table for people.
import Codecs
import Collectives
import Topology

enum Report {
    /// Bus bandwidth as NCCL defines it for allreduce: 2 (p-1)/p N / t, the rate
    /// each rank's link must sustain, comparable across p and algorithms.
    static func busBandwidth(_ r: CheckResult) -> Double {
        let seconds = r.medianSeconds
        guard r.ranks > 1, seconds > 0 else { return 0 }
        let bytes = Double(r.count * MemoryLayout<Float>.stride)
        return 2 * Double(r.ranks - 1) / Double(r.ranks) * bytes / seconds
    }

    static func json(_ r: CheckResult, options: Options) -> String {
        let counted = r.algorithm.bytesAreCounted
        func column(_ k: Int) -> String {
            counted ? "[" + r.perRank.map { String($0[k]) }.joined(separator: ",") + "]" : "null"
        }
        let fields: [(String, String)] = [
            ("algorithm", quoted(r.algorithm.rawValue)),
            ("mode", quoted(r.mode.rawValue)),
            ("ranks", "\(r.ranks)"),
            ("count", "\(r.count)"),
            ("bytes_per_element", "\(options.codec == nil ? 4 : (options.codec == .int8 ? 1 : 2))"),  // int8: plus a scale per 4096
            ("codec", options.codec.map { "\"\($0)\"" } ?? "null"),
            ("error_feedback", "\(options.errorFeedback)"),
            ("max_conservation_error", r.maxConservationError.map(number) ?? "null"),
            ("max_message_bytes", "\(options.maxMessageBytes)"),
            ("max_abs_error", number(r.maxAbsError)),
            ("max_rel_error", number(r.maxRelError)),
            ("max_abs_diff_vs_mpi", r.maxAbsDiffVsMPI.map(number) ?? "null"),
            ("identical_across_ranks", "\(r.identicalAcrossRanks)"),
            ("identical_across_calls", "\(r.identicalAcrossCalls)"),
            ("bytes_counted", "\(counted)"),
            ("bytes_sent", column(0)),
            ("bytes_received", column(1)),
            ("messages_sent", column(2)),
            ("messages_received", column(3)),
            ("iterations", "\(r.seconds.count)"),
            ("calls", "\(r.calls)"),
            ("tree_segment_elements", options.treeSchedule.map { "\($0.segmentElements)" } ?? "null"),
            ("tree_down_lag", options.treeSchedule?.downLag.map { "\($0)" } ?? "null"),
            ("ring_segment_elements", options.ringSegmentElements.flatMap { $0 == Int.max ? nil : "\($0)" } ?? "null"),
            ("hosts", "\(r.hosts)"),
            ("result_hash", quoted(String(r.resultHash, radix: 16))),
            ("timing", options.interleave ? "\"interleaved\"" : "\"sequential\""),
            ("median_seconds", number(r.medianSeconds)),
            ("min_seconds", number(r.seconds.min() ?? 0)),
            ("bus_bandwidth", number(busBandwidth(r))),
            ("passed", "\(r.failures.isEmpty)"),
        ]
        return "{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    static let header = "algorithm mode    ranks      count  max_abs_err  max_rel_err  same_bits  "
        + "sent_rank0_B  median_ms  bus_GB/s  ok"

    static func row(_ r: CheckResult) -> String {
        let sent = r.algorithm.bytesAreCounted ? String(r.perRank.first?[0] ?? 0) : "n/a"
        return [pad(r.algorithm.rawValue, 9), pad(r.mode.rawValue, 7), pad("\(r.ranks)", 5),
                pad("\(r.count)", 10), pad(number(r.maxAbsError), 12), pad(number(r.maxRelError), 12),
                pad("\(r.identicalAcrossRanks)", 9), pad(sent, 13),
                pad(fixed(r.medianSeconds * 1000, 3), 10), pad(fixed(busBandwidth(r) / 1e9, 3), 9),
                r.failures.isEmpty ? "yes" : "NO"].joined(separator: " ")
    }

    private static func quoted(_ s: String) -> String { "\"" + s + "\"" }

    /// JSON has no inf/nan; Swift's shortest round-trip form is valid JSON otherwise.
    private static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

    private static func fixed(_ x: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let v = (x * scale).rounded() / scale
        return "\(v)"
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}
