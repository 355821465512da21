import Basics
import Collectives
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
                                            "timeout", "overwrite", "extend", "decodeThreads", "prefetchBatches"]

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

    /// The header's `hookState` entries for a hook's state: `name[count]`.
    static func entries(_ state: [HookState]) -> [String] { state.map { "\($0.name)[\($0.values.count)]" } }

    static func write(store: ParameterStore, momentum: UnsafeMutableBufferPointer<Float>, iteration: Int,
                      options: TrainingOptions, modelName: String, ranks: Int, dir: String, keep: Int,
                      hookState: [String] = [], hookValues: [[Float]] = []) throws {
        try Trainer.checkFinite(store, momentum: momentum, iteration: iteration, writing: path(dir, iteration: iteration))
        var header = WeightFile.Header(model: modelName, count: store.count,
                                       tensors: WeightFile.tensorList(of: store), iteration: iteration,
                                       options: encodeOptions(options),
                                       fingerprint: String(fnv1a(Array(encodeOptions(options).utf8)), radix: 16))
        header.ranks = ranks  // a resume names it; it must match only when hook state is stored
        if !hookState.isEmpty { header.hookState = hookState }
        FaultInjection.beforeCheckpoint(iteration: iteration)
        try WeightFile(header: header, values: Array(store.values), momentum: Array(momentum), hookState: hookValues)
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
    static let optionsAddedLater: [String: Any] = ["classifierStd": 0.01, "clipGradientNorm": 0, "classifierLRMult": 1,
                                                  "transform": "torchvision", "skipBadImages": false]

    /// A checkpoint a run resumes from, and what its log line says about it.
    struct Resume {
        let file: WeightFile
        let path: String
        /// The iterations of the run that wrote it, when this run continues it to more (`--extend`).
        let extendedFrom: Int?
        /// Newer checkpoints `--resume latest-valid` passed over, each with why.
        let passedOver: [String]
    }

    /// The keys a resumed run may change with `--extend`: the length, and the warm-up whose default follows it.
    static let lengthKeys: Set<String> = ["iterations", "warmupIterations"]

    /// Reads and validates a checkpoint for this run. `latest` picks the newest in the output
    /// folder and, when that one is unreadable, corrupt or truncated, names the newest valid
    /// one before it; `latest-valid` resumes from that one.
    static func load(_ spec: String, options: TrainingOptions, parameterCount: Int, tensors: [String],
                     modelName: String, hookState: [String] = [], ranks: Int = 1) throws -> Resume {
        func fits(_ file: WeightFile, _ path: String) throws -> Resume {
            try check(file, path: path, options: options, parameterCount: parameterCount, tensors: tensors, modelName: modelName,
                      hookState: hookState, ranks: ranks)
        }
        guard spec == "latest" || spec == "latest-valid" else { return try fits(WeightFile.read(from: spec), spec) }
        guard let dir = options.outputDirectory else { throw TrainingError.badInput("--resume \(spec) needs --output") }
        let all = list(dir)
        guard let newest = all.last else { throw TrainingError.badInput("\(dir): no checkpoint to resume from") }
        let fault: Error
        switch Result(catching: { try WeightFile.read(from: newest.path) }) {
        // Read intact but not fitting this run is the command's mistake, not the file's: no fallback.
        case .success(let file): return try fits(file, newest.path)
        case .failure(let error): fault = error
        }
        var passedOver = ["\(fault)"]
        for older in all.dropLast().reversed() {
            guard let file = try? WeightFile.read(from: older.path), let valid = try? fits(file, older.path) else {
                passedOver.append("\(older.path): not valid either")
                continue
            }
            if spec == "latest-valid" { return Resume(file: valid.file, path: older.path, extendedFrom: valid.extendedFrom, passedOver: passedOver) }
            throw TrainingError.badInput("\(fault); the previous checkpoint \(older.path) is valid: resume from it with --resume \(older.path) (or --resume latest-valid)")
        }
        throw TrainingError.badInput("\(fault); no earlier checkpoint in \(dir) is valid to resume from")
    }

    /// Holds a checkpoint that read intact to this run: optimizer state, model and tensors, options, iteration.
    static func check(_ file: WeightFile, path: String, options: TrainingOptions, parameterCount: Int, tensors: [String],
                      modelName: String, hookState: [String] = [], ranks: Int = 1) throws -> Resume {
        func bad(_ s: String) -> TrainingError { .badInput("\(path): \(s)") }
        guard file.momentum != nil, let saved = file.header.options else {
            throw bad("a weight file, not a checkpoint (no optimizer state)")
        }
        let count = file.header.count
        guard count == parameterCount, file.header.model == modelName else {
            throw bad("holds \(WeightFile.shown(file.header.model)) with \(count) parameters; this run is \(modelName) with \(parameterCount)")
        }
        if file.header.tensors != tensors {
            let i = zip(file.header.tensors, tensors).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(file.header.tensors.count, tensors.count)
            let theirs = i < file.header.tensors.count ? WeightFile.shown(file.header.tensors[i]) : "none", ours = i < tensors.count ? tensors[i] : "none"
            throw bad("its tensors differ from this run's \(modelName) at tensor \(i): \(theirs), this run has \(ours)")
        }
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
        // The run that wrote it: its length bounds the iteration (a later one is a corrupt header).
        guard let length = (a["iterations"] as? NSNumber)?.doubleValue, length >= 1, length <= Double(WeightFile.maxIteration) else {
            throw bad("corrupt header (its options hold no valid iterations)")
        }
        let savedIterations = Int(length)
        guard file.header.iteration <= savedIterations else {
            throw bad("corrupt header (iteration \(file.header.iteration) is past its run's \(savedIterations) iterations)")
        }
        let longer = differing.contains("iterations") && Set(differing).isSubset(of: lengthKeys) && options.iterations > savedIterations
        if !differing.isEmpty && !(longer && options.extend) {
            if longer {
                throw bad("written for a run of \(savedIterations) iterations, this one asks for \(options.iterations); add --extend to continue it to \(options.iterations) (the learning-rate schedule is then recomputed over \(options.iterations))")
            }
            let hint = differing.contains("iterations") ? " (--extend allows a larger --iterations, nothing else)" : ""
            throw bad("written with different options (\(differing.joined(separator: ", "))); resume with the same options\(hint)")
        }
        // A compressed run's residuals belong to its ranks: they resume only on as many.
        if (file.header.hookState ?? []) != hookState {
            if hookState.isEmpty || file.header.hookState == nil {
                throw bad(hookState.isEmpty ? "holds gradient-codec state (\(file.header.hookState!.joined(separator: ", "))) this run has no use for"
                                            : "holds no gradient-codec state; this run's codec needs \(hookState.joined(separator: ", "))")
            }
            throw bad("its gradient-codec state (\(file.header.hookState!.joined(separator: ", "))) differs from this run's (\(hookState.joined(separator: ", ")))")
        }
        if !hookState.isEmpty, let written = file.header.ranks, written != ranks {
            throw bad("holds the error-feedback state of \(written) ranks (one residual per rank); resume it with \(written) ranks, this run has \(ranks)")
        }
        guard file.header.iteration < options.iterations else {
            throw bad("already at iteration \(file.header.iteration) of \(options.iterations); nothing to resume (to train further: a larger --iterations with --extend)")
        }
        return Resume(file: file, path: path, extendedFrom: longer ? savedIterations : nil, passedOver: [])
    }

    /// The resume log line's tail: the file `latest` chose, what was passed over, and the
    /// learning-rate schedule from the first resumed iteration when the run is extended.
    static func describe(_ r: Resume, options o: TrainingOptions) -> String {
        var text = r.path == o.resume ? "" : "; checkpoint \(r.path)"
        if r.passedOver.count > 0 { text += "; passed over: \(r.passedOver.joined(separator: "; "))" }
        if let from = r.extendedFrom {
            let k = r.file.header.iteration
            let schedule = o.lrPolicy == .poly ? "the poly schedule is recomputed over \(o.iterations) iterations"
                                               : "the \(o.lrPolicy.rawValue) schedule does not depend on the length"
            text += "; extended from \(from) to \(o.iterations) iterations: \(schedule), learning rate "
                + String(format: "%.6g", o.learningRate(at: k)) + " at iteration \(k)"
        }
        return text
    }
}
