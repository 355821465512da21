/// Errors the trainer reports to the user as one line.
public enum TrainingError: Error, CustomStringConvertible {
    case badInput(String)
    case diverged(String)
    case disagreement(String)
    /// A rank failed to start; every rank learned it in the startup agreement.
    case startup(String)

    public var description: String {
        switch self {
        case .badInput(let s), .diverged(let s), .disagreement(let s), .startup(let s): return s
        }
    }

    /// Decided on values every rank shares, so every rank throws it at the same point and
    /// the ranks can end alike (MPI_Finalize). Any other error is one rank's own: the
    /// others would wait for it forever, so it must end the job (MPI_Abort).
    public var isSharedByEveryRank: Bool {
        switch self {
        case .diverged, .disagreement, .startup: return true
        case .badInput: return false
        }
    }
}
