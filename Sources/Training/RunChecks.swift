import Foundation
import NeuralNet

// Checks that refuse a run before work starts (memory, paths) and a file before it is
// written (finite weights): each ends the run with one line instead of an OOM kill,
// a trace lost after training, or a weight file that cannot be used.

extension Trainer {
    /// Refuses the run when this host's ranks would not fit in its available memory;
    /// returns the estimate's log line. Called before the data is loaded and the replica built.
    static func checkMemory(_ o: TrainingOptions, localBatch: Int, ranksOnHost: Int) throws -> String {
        let estimate = MemoryEstimate(options: o, localBatch: localBatch)
        let available = MemoryEstimate.availableBytes()
        try estimate.check(ranksOnHost: ranksOnHost, available: available)
        return estimate.describe(resident: MemoryEstimate.residentBytes(), available: available)
    }

    /// Refuses a file path that cannot be written as `atomicWrite` will write it (a
    /// temporary file beside it, renamed): probed now, before training, not after it.
    static func checkWritable(_ path: String, flag: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw TrainingError.badInput("\(flag) \(path): is a folder, not a file")
        }
        let url = URL(fileURLWithPath: path)
        let probe = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw TrainingError.badInput("\(flag) \(path): cannot write there (\(String(cString: strerror(errno))))")
        }
        close(fd)
        unlink(probe)
    }

    /// Throws when a weight or momentum value is NaN or Inf, naming the tensor: such a file
    /// could only be resumed into NaN. Every rank holds the same weights, so every rank
    /// decides alike (the checkpoint observer calls this on all of them before writing).
    func checkFinite(iteration: Int, writing file: String) throws {
        try Self.checkFinite(replica.store, momentum: replay == nil ? optimizer.velocity : nil, iteration: iteration, writing: file)
    }

    static func checkFinite(_ store: ParameterStore, momentum: UnsafeMutableBufferPointer<Float>?, iteration: Int,
                            writing file: String) throws {
        for (buffer, what) in [(store.values, "weight"), (momentum, "momentum")] {
            guard let buffer, let bad = buffer.firstIndex(where: { !$0.isFinite }) else { continue }
            let tensor = store.refs.first { $0.offset <= bad && bad < $0.offset + $0.count }
            throw TrainingError.diverged(
                "iteration \(iteration): \(what) \(tensor.map { "\($0.name)[\(bad - $0.offset)]" } ?? "\(bad)") is \(buffer[bad]); not writing \(file); lower --base-lr")
        }
    }
}
