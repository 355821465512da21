import Foundation
import NeuralNet

/// What one rank will allocate: its data, the parameter buffers and
/// the layers' storage at its batch, from the model's shapes (a layout built at batch 0,
/// which allocates nothing). The trainer compares it with the host's available memory
/// before it loads the data and builds the replica, so a run that cannot fit is refused in a second, not
/// after minutes of allocation or by the OOM killer. Measured against peak RSS in
/// docs/faults.md.
public struct MemoryEstimate: Equatable {
    /// Parameters, gradients, momentum and one gradient-sized exchange buffer.
    public var parameterBytes: Double
    /// The layers' outputs, input gradients and scratch, the input batch and the loss gradient.
    public var activationBytes: Double
    /// Rank 0 encoding a checkpoint (copies of the weights and momentum, and the file's bytes).
    public var fileBytes: Double
    /// The training and test images as stored (8-bit originals; Fashion-MNIST's whole files are read).
    public var dataBytes: Double
    public var batch: Int
    public var inputSize: Int

    /// OpenBLAS's and MPI's own buffers, which come with the first GEMM and exchange
    /// (an allowance; the estimate is checked against measured peak RSS in docs/faults.md).
    public static let runtimeBytes = 32e6

    public var totalBytes: Double { parameterBytes + activationBytes + fileBytes + dataBytes + Self.runtimeBytes }

    /// The estimate for `options` (validated) at `localBatch` images per rank.
    public init(options o: TrainingOptions, localBatch: Int) {
        batch = localBatch; inputSize = o.inputSize
        let layoutOnly = o.replay != nil  // replayed compute builds its layers at batch 1, updates nothing
        var configuration = ModelConfiguration(classes: o.classes, inputSize: o.inputSize, batch: 0)
        configuration.seed = nil
        let layout = o.model.architecture.build(configuration)
        let parameters = Double(layout?.parameterCount ?? o.model.architecture.parameterCountAt1000Classes)
        // values (untouched zero pages when replayed), gradients, momentum, exchange scratch
        parameterBytes = 4 * parameters * (layoutOnly ? 2 : 4)
        let images = layoutOnly ? 1 : localBatch
        let perImage = layout.map { Double($0.inputShape.perImage + $0.classes) } ?? 0  // input batch, loss gradient
        activationBytes = (layout?.storageBytes(batch: images) ?? 0) + 4 * Double(images) * (perImage + 1)
        fileBytes = o.outputDirectory != nil && o.model.computes && !layoutOnly ? 4 * parameters * 4 : 0
        if !o.model.computes || layoutOnly {
            dataBytes = 0
        } else if o.dataset == .synthetic {
            let counts = Trainer.syntheticCounts(o)
            dataBytes = Double(counts.train + counts.test) * Double(3 * o.inputSize * o.inputSize)
        } else if o.dataset.isImageFiles {
            // Streamed: the prefetch queue's batches, and each decode thread's largest decoded image.
            dataBytes = Double(o.prefetchBatches * localBatch * 3 * o.inputSize * o.inputSize * 4)
                + Double(o.decodeThreads) * 3 * 1024 * 1024
        } else {
            dataBytes = 2 * 70_000 * 28 * 28  // both files read whole, then the images kept
        }
    }

    /// Throws the one-line refusal when `ranksOnHost` ranks of this estimate exceed
    /// `available` bytes (nil: unknown, never refused).
    public func check(ranksOnHost: Int, available: Double?) throws {
        guard let available, totalBytes * Double(ranksOnHost) > available else { return }
        let perRank = ranksOnHost > 1 ? " per rank x \(ranksOnHost) ranks on this host" : " per rank"
        let advice = activationBytes >= parameterBytes + fileBytes
            ? "lower --batch-size" + (ranksOnHost > 1 ? " or run fewer ranks per host" : "")
            : (ranksOnHost > 1 ? "run fewer ranks per host or a smaller model" : "choose a smaller model or --classes")
        throw TrainingError.badInput(
            "needs about \(Self.format(totalBytes))\(perRank) (activations \(Self.format(activationBytes)) at batch \(batch) of \(inputSize) px), \(Self.format(available)) available; \(advice)")
    }

    /// One line for the log: what this rank held before loading and what it adds.
    public func describe(resident: Double?, available: Double?) -> String {
        "memory: about \(Self.format(totalBytes)) per rank to allocate (estimated: activations \(Self.format(activationBytes)) at batch \(batch) of \(inputSize) px, parameters \(Self.format(parameterBytes + fileBytes)), data \(Self.format(dataBytes)))"
            + (resident.map { ", \(Self.format($0)) resident before" } ?? "")
            + (available.map { ", \(Self.format($0)) available" } ?? "")
    }

    public static func format(_ bytes: Double) -> String {
        bytes >= 1e9 ? String(format: "%.1f GB", bytes / 1e9) : String(format: "%.0f MB", bytes / 1e6)
    }

    /// Memory this process may still take: /proc/meminfo's MemAvailable, or less when
    /// the cgroup (v2) has a limit; nil where neither can be read.
    public static func availableBytes() -> Double? {
        func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
        var available: Double?
        if let info = read("/proc/meminfo"),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kB = Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") {
            available = kB * 1024
        }
        if let max = read("/sys/fs/cgroup/memory.max").flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
            let current = read("/sys/fs/cgroup/memory.current").flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            available = Swift.min(available ?? .infinity, Swift.max(max - current, 0))
        }
        return available
    }

    /// This process's resident bytes (`VmRSS`), or its peak (`VmHWM`); nil off Linux.
    public static func residentBytes(peak: Bool = false) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(peak ? "VmHWM:" : "VmRSS:") }),
              let kB = Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") else { return nil }
        return kB * 1024
    }
}
