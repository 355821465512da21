// Latency/bandwidth presets for the alpha-beta cost model (Hockney 1994):
// sending m bytes point to point costs alpha + m * beta seconds.
// Values are assumptions, documented in docs/metrics.md; measure your own
// network with `squeezenet-train calibrate` and use `.calibrated`.

/// A network for the alpha-beta model: `alpha` seconds of latency per message,
/// `beta` seconds per byte (1 / bandwidth).
public enum NetworkPreset: Equatable, Sendable {
    /// 1 Gb/s Ethernet, kernel TCP: 50 us, 125 MB/s.
    case gigabitEthernet
    /// 10 Gb/s Ethernet, kernel TCP: 20 us, 1.25 GB/s.
    case tenGigabitEthernet
    /// 25 Gb/s Ethernet, kernel TCP: 10 us, 3.125 GB/s.
    case twentyFiveGigabitEthernet
    /// 56 Gb/s FDR InfiniBand with RDMA, the class of network FireCaffe (2016)
    /// called ideal: 1.5 us, 7 GB/s.
    case infiniBandFDR
    /// 100 Gb/s (EDR InfiniBand, or 100 GbE with RDMA): 1 us, 12.5 GB/s.
    case hundredGigabit
    /// Measured values: `alpha` seconds, `beta` seconds per byte.
    case calibrated(alpha: Double, beta: Double)

    /// The named presets, slowest first.
    public static let presets: [NetworkPreset] = [
        .gigabitEthernet, .tenGigabitEthernet, .twentyFiveGigabitEthernet, .infiniBandFDR, .hundredGigabit,
    ]

    /// Latency per message, seconds.
    public var alpha: Double {
        switch self {
        case .gigabitEthernet: return 50e-6
        case .tenGigabitEthernet: return 20e-6
        case .twentyFiveGigabitEthernet: return 10e-6
        case .infiniBandFDR: return 1.5e-6
        case .hundredGigabit: return 1e-6
        case let .calibrated(alpha, _): return alpha
        }
    }

    /// Seconds per byte: 8 / (nominal line rate in bits per second).
    public var beta: Double {
        switch self {
        case let .calibrated(_, beta): return beta
        default: return 8 / lineRateBitsPerSecond
        }
    }

    /// Bytes per second, 1 / beta.
    public var bandwidthBytesPerSecond: Double { 1 / beta }

    private var lineRateBitsPerSecond: Double {
        switch self {
        case .gigabitEthernet: return 1e9
        case .tenGigabitEthernet: return 10e9
        case .twentyFiveGigabitEthernet: return 25e9
        case .infiniBandFDR: return 56e9
        case .hundredGigabit: return 100e9
        case let .calibrated(_, beta): return 8 / beta
        }
    }

    /// Short name, also accepted by `init?(name:)`.
    public var name: String {
        switch self {
        case .gigabitEthernet: return "1gbe"
        case .tenGigabitEthernet: return "10gbe"
        case .twentyFiveGigabitEthernet: return "25gbe"
        case .infiniBandFDR: return "ib-fdr56"
        case .hundredGigabit: return "100g"
        case .calibrated: return "calibrated"
        }
    }

    /// What the numbers assume, for report footnotes.
    public var assumption: String {
        switch self {
        case .gigabitEthernet:
            return "1 Gb/s Ethernet, MPI over kernel TCP: alpha 50 us, beta at the nominal 125 MB/s"
        case .tenGigabitEthernet:
            return "10 Gb/s Ethernet, MPI over kernel TCP: alpha 20 us, beta at the nominal 1.25 GB/s"
        case .twentyFiveGigabitEthernet:
            return "25 Gb/s Ethernet, MPI over kernel TCP: alpha 10 us, beta at the nominal 3.125 GB/s"
        case .infiniBandFDR:
            return "56 Gb/s FDR InfiniBand, RDMA verbs: alpha 1.5 us, beta at the nominal 7 GB/s"
        case .hundredGigabit:
            return "100 Gb/s EDR InfiniBand or RoCE: alpha 1 us, beta at the nominal 12.5 GB/s"
        case let .calibrated(alpha, beta):
            return "calibrated: alpha \(alpha) s, beta \(beta) s/byte (\(1 / beta / 1e6) MB/s)"
        }
    }

    /// Parses a preset name ("1gbe", "10gbe", "25gbe", "ib-fdr56"/"ib56", "100g").
    public init?(name: String) {
        switch name.lowercased() {
        case "1gbe", "gbe", "1g": self = .gigabitEthernet
        case "10gbe", "10g": self = .tenGigabitEthernet
        case "25gbe", "25g": self = .twentyFiveGigabitEthernet
        case "ib-fdr56", "ib56", "fdr", "56g": self = .infiniBandFDR
        case "100g", "100gbe", "edr", "ib-edr100": self = .hundredGigabit
        default: return nil
        }
    }
}
