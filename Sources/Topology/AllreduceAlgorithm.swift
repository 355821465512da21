// The gradient allreduce algorithms, declared once: the CLI parses them, the
// collectives implement them, the metrics count and model them. Adding one:
// a case here, its traffic in Traffic.swift, its implementation in Collectives
// (docs/architecture.md, "How to add an allreduce algorithm").

/// The gradient allreduce algorithms, by their command-line names.
public enum AllreduceAlgorithm: String, CaseIterable, Codable, Sendable {
    /// FireCaffe reduction tree: binomial reduce to rank 0, binomial broadcast back.
    case tree
    /// Reduce-scatter then allgather around a ring (Patarasuk & Yuan; Baidu).
    case ring
    /// Native MPI_Allreduce, in place.
    case mpi
    /// Parameter server: everything to rank 0 and back.
    case ps
    /// Two levels: each host sums into its lowest rank, the host leaders run the ring
    /// across the network, each leader hands the total back (Horovod's hierarchical allreduce).
    case hierarchical

    /// One line for `--help` and reports.
    public var summary: String {
        switch self {
        case .tree: return "FireCaffe's binomial reduction tree"
        case .ring: return "reduce-scatter + allgather around a ring"
        case .mpi: return "native MPI_Allreduce"
        case .ps: return "parameter server on rank 0"
        case .hierarchical: return "a tree on each host, a ring of the host leaders"
        }
    }

    /// Whether the counters see this algorithm's bytes. False for `mpi`:
    /// MPI_Allreduce moves data inside the library, invisible to the counters.
    public var bytesAreCounted: Bool { self != .mpi }

    /// Whether the result is bit-identical on every rank by construction (one
    /// rank's reduced values are copied to the others). `mpi` depends on the
    /// library's algorithm: Open MPI's are in practice, but MPI does not promise it.
    public var resultIsIdenticalByConstruction: Bool { self != .mpi }

    /// The algorithms a bare worker count models (one rank per host): every one but
    /// `hierarchical`, which with one rank per host is the ring.
    public static let flat: [AllreduceAlgorithm] = [.tree, .ring, .mpi, .ps]

    /// The names, for messages: "tree, ring, mpi, ps, hierarchical".
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
