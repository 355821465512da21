import Basics
import Foundation
import NeuralNet

/// Checkpoints: `<output>/checkpoint-<iteration>.ckpt` in the weight-file format
/// with the momentum section and the run's options. Written by rank 0 only,
/// atomically (temporary file, flush, rename); the last `keep` are kept.
///
/// What a resumed run needs and where it comes from: weights and momentum (the
/// file); the iteration (the header), from which the learning rate, the epoch,
/// the position in the epoch's shuffled order and every dropout seed follow, as
/// all are functions of (seed, iteration). So a resumed run repeats exactly the
/// steps the uninterrupted one would have taken, on any rank count that divides the
/// global batch (dropout is keyed by position in the global batch, not by rank).
enum Checkpoints {
    static let prefix = "checkpoint-", suffix = ".ckpt"

    static func path(_ dir: String, iteration: Int) -> String {
        (dir as NSString).appendingPathComponent(String(format: "%@%08d%@", prefix, iteration, suffix))
    }

    /// Complete checkpoints in `dir`, oldest first (temporary files are ignored).
    static func list(_ dir: String) -> [(iteration: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix),
                  let i = Int(name.dropFirst(prefix.count).dropLast(suffix.count)) else { return nil }
            return (i, (dir as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Options that do not change what a run computes, step by step: a resumed run may
    /// set them otherwise (the allreduce and its buckets change sums only in the last bits).
    static let freeOnResume: Set<String> = ["outputDirectory", "resume", "trace", "bucketMB", "checkpointEvery",
                                            "keepCheckpoints", "allreduce", "logEvery", "evalEvery", "testLimit", "epochs",
                                            "timeout", "overwrite"]

    /// The run's options as stored in a checkpoint: JSON with sorted keys, without the
    /// options free on resume (so the file does not depend on where the run wrote it).
    /// The options are resolved, so epochs are already iterations.
    static func encodeOptions(_ o: TrainingOptions) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: (try? encoder.encode(o)) ?? Data(), as: UTF8.self)
        let kept = (try? JSONSerialization.data(withJSONObject: resumeKey(json), options: [.sortedKeys])) ?? Data()
        return String(decoding: kept, as: UTF8.self)
    }

    /// The options that must match for a resumed run to continue the same run, by key.
    static func resumeKey(_ json: String) -> [String: Any] {
        var d = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
        for key in freeOnResume { d.removeValue(forKey: key) }
        return d
    }

    static func write(store: ParameterStore, momentum: UnsafeMutableBufferPointer<Float>, iteration: Int,
                      options: TrainingOptions, modelName: String, ranks: Int, dir: String, keep: Int) throws {
        try Trainer.checkFinite(store, momentum: momentum, iteration: iteration, writing: path(dir, iteration: iteration))
        var header = WeightFile.Header(model: modelName, count: store.count,
                                       tensors: store.refs.map { "\($0.name)\($0.shape)" }, iteration: iteration,
                                       options: encodeOptions(options),
                                       fingerprint: String(fnv1a(Array(encodeOptions(options).utf8)), radix: 16))
        header.ranks = ranks  // informational: a resume names it, nothing checks it
        FaultInjection.beforeCheckpoint(iteration: iteration)
        try WeightFile(header: header, values: Array(store.values), momentum: Array(momentum))
            .write(to: path(dir, iteration: iteration))
        // Only this run's past: never the checkpoint just written, never one of a later iteration.
        let all = list(dir).filter { $0.iteration <= iteration }
        if keep > 0 && all.count > keep {
            for old in all.prefix(all.count - keep) { try? FileManager.default.removeItem(atPath: old.path) }
        }
    }

    /// Options added after checkpoints were first written, with the value every run had
    /// before: an older checkpoint (whose options lack them) resumes when this run asks
    /// for that value.
    static let optionsAddedLater: [String: Any] = ["classifierStd": 0.01, "clipGradientNorm": 0, "classifierLRMult": 1]

    /// Reads and validates a checkpoint for this run; `latest` picks the newest in the output folder.
    static func load(_ spec: String, options: TrainingOptions, parameterCount: Int, modelName: String) throws -> WeightFile {
        var path = spec
        if spec == "latest" {
            guard let dir = options.outputDirectory else { throw TrainingError.badInput("--resume latest needs --output") }
            guard let newest = list(dir).last else { throw TrainingError.badInput("\(dir): no checkpoint to resume from") }
            path = newest.path
        }
        let file = try WeightFile.read(from: path)
        guard file.momentum != nil, let saved = file.header.options else {
            throw TrainingError.badInput("\(path): a weight file, not a checkpoint (no optimizer state)")
        }
        guard file.header.count == parameterCount, file.header.model == modelName else {
            throw TrainingError.badInput("\(path): holds \(file.header.model) with \(file.header.count) parameters; this run is \(modelName) with \(parameterCount)")
        }
        do {
            var a = resumeKey(saved)
            let b = resumeKey(encodeOptions(options))
            for (key, value) in optionsAddedLater where a[key] == nil { a[key] = value }
            // Compare canonical JSON per field: a nested object's description has no fixed key order.
            func canonical(_ value: Any?) -> String {
                guard let value else { return "none" }
                let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys])
                return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            }
            let differing = Set(a.keys).union(b.keys).filter { canonical(a[$0]) != canonical(b[$0]) }.sorted()
            if !differing.isEmpty { throw TrainingError.badInput("\(path): written with different options (\(differing.joined(separator: ", "))); resume with the same options") }
        }
        guard file.header.iteration < options.iterations else {
            throw TrainingError.badInput("\(path): already at iteration \(file.header.iteration) of \(options.iterations); nothing to resume")
        }
        return file
    }
}
