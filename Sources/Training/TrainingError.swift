/// Errors the trainer reports to the user as one line.
public enum TrainingError: Error, CustomStringConvertible {
    case badInput(String)
    case diverged(String)
    case disagreement(String)

    public var description: String {
        switch self {
        case .badInput(let s), .diverged(let s), .disagreement(let s): return s
        }
    }
}
