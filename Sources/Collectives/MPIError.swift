// Every MPI call in this module goes through `mpiCheck`, as swift-nio wraps every
// syscall: a failure becomes a thrown `MPIError` naming the call, the rank and
// MPI's own message. MPI_COMM_WORLD is switched to MPI_ERRORS_RETURN at start-up,
// so failures come back as codes instead of aborting the job.
import CMPI

/// A failed MPI call: which call, on which rank, and what MPI says went wrong.
public struct MPIError: Error, CustomStringConvertible, Equatable {
    /// The MPI function (and, where useful, what it was doing), e.g. "MPI_Send(tree up)".
    public let call: String
    /// Rank in MPI_COMM_WORLD, or -1 if MPI was not initialized when the call failed.
    public let rank: Int
    /// The raw MPI error code (MPI_SUCCESS is 0).
    public let code: Int32
    /// MPI_Error_string of `code`, or a description of the misuse for `code == MPI_ERR_ARG`.
    public let message: String

    public init(call: String, rank: Int, code: Int32, message: String) {
        self.call = call
        self.rank = rank
        self.code = code
        self.message = message
    }

    public var description: String {
        "\(call) failed on rank \(rank): \(message) (MPI error \(code))"
    }
}

/// Throws `MPIError` unless `code` is MPI_SUCCESS. The one place return codes are checked.
@inline(__always)
func mpiCheck(_ code: Int32, _ call: @autoclosure () -> String) throws {
    if code != MPI_SUCCESS {
        throw MPIError(call: call(), rank: worldRankIfInitialized(), code: code,
                       message: mpiErrorString(code))
    }
}

/// An argument error detected before calling MPI (mismatched lengths, bad root, overflow).
func usageError(_ call: String, _ message: String) -> MPIError {
    MPIError(call: call, rank: worldRankIfInitialized(), code: Int32(MPI_ERR_ARG), message: message)
}

func worldRankIfInitialized() -> Int {
    var initialized: Int32 = 0
    var finalized: Int32 = 0
    MPI_Initialized(&initialized)
    MPI_Finalized(&finalized)
    guard initialized != 0, finalized == 0 else { return -1 }
    var rank: Int32 = -1
    MPI_Comm_rank(cmpi_comm_world(), &rank)
    return Int(rank)
}

func mpiErrorString(_ code: Int32) -> String {
    var chars = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
    var length: Int32 = 0
    guard MPI_Error_string(code, &chars, &length) == MPI_SUCCESS else {
        return "unknown MPI error"
    }
    return String(decoding: chars.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
