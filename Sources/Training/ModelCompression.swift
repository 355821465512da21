// From a weight file to a Deep Compression file: prune (or keep the zeros of a masked
// retraining), share each weight tensor's survivors among 2^bits k-means centroids,
// Huffman-code values and relative indices; biases stay float32.
import DeepCompression
import Foundation

public enum ModelCompression {
    public struct Layer: Sendable {
        public let name: String, count: Int, kept: Int, bits: Int, indexBits: Int?, bytes: Int
    }

    /// `sparsity` nil: the weights' own zeros are the pruned ones (after masked retraining).
    /// `layerSparsity`: per layer (`conv1`, `fc6`, `fire2.expand3x3`: `LayerSetting`), overriding `sparsity`;
    /// `fcBits`: bits for fully connected (two-dimensional) weights, nil: `bits`;
    /// `layerBits`: per layer, overriding both. `quality`: Han et al.'s
    /// threshold (|w| < quality x std) instead of a share, where no `layerSparsity` applies.
    /// `indexBits` nil: per tensor, the relative-index width (1 to 8) whose encoding is
    /// smallest (sparse layers want wide gaps, dense ones narrow: the paper fixed 8 for
    /// conv and 5 for fc).
    public static func compress(_ file: WeightFile, sparsity: Double?, bits: Int, indexBits: Int?,
                                layerSparsity: [LayerSetting] = [], fcBits: Int? = nil,
                                layerBits: [LayerSetting] = [], quality: Double? = nil) throws -> (bytes: [UInt8], layers: [Layer], shared: WeightFile) {
        guard (1...8).contains(bits), (1...8).contains(indexBits ?? 1) else { throw TrainingError.badInput("--bits and --index-bits must be 1 to 8") }
        for s in [sparsity].compactMap({ $0 }) + layerSparsity.map(\.value) where !(s >= 0 && s < 1) {
            throw TrainingError.badInput("a sparsity must be in [0, 1), got \(s)")
        }
        if let b = fcBits, !(1...8).contains(b) { throw TrainingError.badInput("--fc-bits must be 1 to 8") }
        if let b = layerBits.first(where: { !(1...8).contains($0.value) || $0.value != $0.value.rounded() }) {
            throw TrainingError.badInput("--layer-bits \(b.prefix)=\(b.value): bits must be a whole number from 1 to 8")
        }
        if let q = quality, !(q > 0) || !q.isFinite { throw TrainingError.badInput("--quality must be a positive number, got \(q)") }
        let names = file.header.tensors.map { String($0.prefix { $0 != "[" }) }
        do {
            try LayerSetting.requireMatches(layerSparsity, names: names, flag: "--layer-sparsity")
            try LayerSetting.requireMatches(layerBits, names: names, flag: "--layer-bits")
        } catch { throw TrainingError.badInput("\(error)") }
        var tensors: [CompressedTensor] = [], layers: [Layer] = [], offset = 0, values: [Float] = []
        for entry in file.header.tensors {
            guard let n = WeightFile.elementCount(of: entry), let open = entry.firstIndex(of: "[") else { throw TrainingError.badInput("bad tensor \(entry)") }
            let name = String(entry[..<open])
            let shape = entry[entry.index(after: open)..<entry.index(before: entry.endIndex)].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            let w = Array(file.values[offset..<(offset + n)])
            offset += n
            if shape.count >= 2 {
                let bits = LayerSetting.value(for: name, in: layerBits).map { Int($0) } ?? (shape.count == 2 ? fcBits ?? bits : bits)
                let own = LayerSetting.value(for: name, in: layerSparsity)
                let mask = own.map { Pruning.mask(w, sparsity: $0) } ?? quality.map { Pruning.mask(w, quality: $0) }
                    ?? sparsity.map { Pruning.mask(w, sparsity: $0) } ?? w.map { $0 != 0 }
                // Already shared (a fine-tuned model): its own values are the codebook, exactly.
                let distinct = Set(w.indices.filter { mask[$0] }.map { w[$0].bitPattern }).map { Float(bitPattern: $0) }.sorted()
                var shared: WeightSharing
                if distinct.count <= 1 << bits {
                    var index: [UInt32: Int] = [:]
                    for (i, v) in distinct.enumerated() { index[v.bitPattern] = i }
                    let codebook = distinct + Array(repeating: distinct.last ?? 0, count: (1 << bits) - distinct.count)
                    shared = WeightSharing(centroids: codebook, assignment: w.indices.map { mask[$0] ? index[w[$0].bitPattern]! : -1 })
                } else {
                    shared = WeightSharing(weights: w, mask: mask, bits: bits)
                }
                let candidates = indexBits.map { [$0] } ?? Array(1...8)
                let tensor = candidates.map {
                    CompressedTensor(name: name, shape: shape, storage: .shared(bits: bits, indexBits: $0, codebook: shared.centroids, assignment: shared.assignment))
                }.map { ($0, CompressedModel.encodedSize($0)) }.min { $0.1 < $1.1 }!  // ties: the narrower width
                tensors.append(tensor.0)
                let width: Int? = { if case let .shared(_, b, _, _) = tensor.0.storage { return b } else { return nil } }()
                layers.append(Layer(name: name, count: n, kept: mask.filter { $0 }.count, bits: bits, indexBits: width, bytes: tensor.1))
            } else {
                let tensor = CompressedTensor(name: name, shape: shape, storage: .raw(w))
                tensors.append(tensor)
                layers.append(Layer(name: name, count: n, kept: n, bits: 32, indexBits: nil, bytes: CompressedModel.encodedSize(tensor)))
            }
            values += tensors.last!.values
        }
        let bytes = CompressedModel.encode(model: file.header.model, tensors)
        let header = WeightFile.Header(model: file.header.model, count: values.count, tensors: file.header.tensors, iteration: file.header.iteration)
        return (bytes, layers, WeightFile(header: header, values: values))
    }
}

/// What a weight file holds, for a table like the paper's Table 2: its size on disk,
/// how many weights are kept, and at how many bits they are stored.
public struct WeightFileSummary {
    public let path: String, model: String, bytes: Int, parameters: Int
    /// Weights of tensors with two or more dimensions, and how many of them are not zero.
    public let weights: Int, keptWeights: Int
    /// Bits per weight, largest first: [32] for float32, [8, 5] for 8-bit conv and 5-bit fc.
    public let bits: [Int]
    public let compressed: Bool
    public let file: WeightFile

    /// AlexNet's 60,965,224 float32 parameters: the paper's 1x.
    public static let alexNetBytes = 243_860_896

    public init(path: String) throws {
        file = try WeightFile.read(from: path)  // its errors first: one line each
        guard let data = FileManager.default.contents(atPath: path) else { throw TrainingError.badInput("\(path): cannot read the weight file") }
        self.path = path
        model = file.header.model; bytes = data.count; parameters = file.values.count
        compressed = data.starts(with: CompressedModel.magic)
        var bitSet: Set<Int> = compressed ? [] : [32]
        if compressed {
            for t in try CompressedModel.decode([UInt8](data)).tensors { if case let .shared(b, _, _, _) = t.storage { bitSet.insert(b) } }
        }
        bits = bitSet.sorted(by: >)
        var total = 0, kept = 0, offset = 0
        for entry in file.header.tensors {
            guard let n = WeightFile.elementCount(of: entry) else { throw TrainingError.badInput("\(path): bad tensor \(entry)") }
            if entry.contains(",") {  // two or more dimensions: a weight tensor, not a bias
                total += n
                kept += file.values[offset..<(offset + n)].filter { $0 != 0 }.count
            }
            offset += n
        }
        weights = total; keptWeights = kept
    }

    /// The paper's name for what was done to the weights.
    public var approach: String {
        let pruned = keptWeights < weights
        switch (compressed, pruned) {
        case (false, false): return "none"
        case (false, true): return "pruning"
        case (true, true): return "pruning + sharing + Huffman"
        case (true, false): return "sharing + Huffman"
        }
    }
}
