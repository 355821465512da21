import Foundation
import NeuralNet

/// Compares this implementation with a reference folder dumped from PyTorch
/// (manifest.json + one raw little-endian file per tensor, docs/formats.md):
/// activations, logits, loss, every gradient, and the weights after the SGD steps.
/// Architecture, class count, batch and input size all come from the manifest.
public enum ReferenceCheck {
    public struct TensorResult {
        public let name: String, role: String
        public let maxAbsDiff: Double, maxAbsRef: Double
        /// `maxAbsDiff / maxAbsRef` (relative to the tensor's scale, as the reference README suggests).
        public var relative: Double { maxAbsRef > 0 ? maxAbsDiff / maxAbsRef : maxAbsDiff }
        public let tolerance: Double
        public var passed: Bool { relative <= tolerance }
    }

    public struct Report {
        public let description: String
        public let results: [TensorResult]
        public var passed: Bool { results.allSatisfy(\.passed) }
        public var failures: [TensorResult] { results.filter { !$0.passed } }
    }

    /// Suggested tolerances from the reference README (max|a-ref| / max|ref| per tensor).
    public static let tolerances: [String: Double] = [
        "activation": 1e-4, "logits": 1e-4, "grad": 1e-4, "loss": 1e-5, "param_after_2_sgd_steps": 1e-5,
        "update_after_2_sgd_steps": 1e-3,
    ]

    struct Manifest: Decodable {
        struct Entry: Decodable { let name: String, role: String, shape: [Int], file: String, dtype: String }
        struct SGDSettings: Decodable { let lr: Double, momentum: Double, weight_decay: Double, steps: Int }
        let arch: String, num_classes: Int, batch: Int, input_hw: [Int]
        let sgd: SGDSettings?
        let tensors: [Entry]
    }

    public static func run(directory: String) throws -> Report {
        let dir = URL(fileURLWithPath: directory)
        let manifestURL = dir.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: manifestURL) else {
            throw TrainingError.badInput("\(manifestURL.path): cannot read the reference manifest")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw TrainingError.badInput("\(manifestURL.path): not a reference manifest (\(error))")
        }
        guard let model = ModelKind(rawValue: manifest.arch.replacingOccurrences(of: "_", with: ".")), model.computes else {
            throw TrainingError.badInput("\(manifestURL.path): unknown architecture '\(manifest.arch)'")
        }
        guard manifest.input_hw.count == 2, manifest.input_hw[0] == manifest.input_hw[1] else {
            throw TrainingError.badInput("\(manifestURL.path): only square inputs are supported, got \(manifest.input_hw)")
        }
        func entries(_ role: String) -> [Manifest.Entry] { manifest.tensors.filter { $0.role == role } }
        func load(_ e: Manifest.Entry) throws -> [Float] { try readFloats(dir.appendingPathComponent(e.file), count: e.shape.reduce(1, *)) }

        guard let inputEntry = entries("input").first, inputEntry.shape.count == 4,
              let labelEntry = entries("labels").first else {
            throw TrainingError.badInput("\(manifestURL.path): no 4-D input or no labels")
        }
        let inputShape = Shape(n: inputEntry.shape[0], c: inputEntry.shape[1], h: inputEntry.shape[2], w: inputEntry.shape[3])
        var configuration = ModelConfiguration(classes: manifest.num_classes, inputSize: inputShape.h, batch: inputShape.n)
        configuration.inputChannels = inputShape.c
        configuration.dropout = 0
        guard inputShape.h >= model.architecture.minimumInputSize, let net = model.architecture.build(configuration) else {
            throw TrainingError.badInput("\(manifestURL.path): input \(inputShape.h) px is too small for \(model.architecture.title)")
        }
        let store = net.store
        let initial = entries("param_init")
        for ref in store.refs {
            guard let e = initial.first(where: { $0.name == ref.name }) else {
                throw TrainingError.badInput("\(manifestURL.path): no initial value for parameter \(ref.name)")
            }
            guard e.shape.reduce(1, *) == ref.count else {
                throw TrainingError.badInput("\(e.file): \(ref.name) has shape \(e.shape), the model expects \(ref.shape)")
            }
            let values = try load(e)
            store.value(ref).update(from: values, count: ref.count)
        }
        let input = Tensor(inputShape, values: try load(inputEntry))
        let labels = try readInt32(dir.appendingPathComponent(labelEntry.file), count: labelEntry.shape.reduce(1, *))
        let loss = SoftmaxCrossEntropy(batch: inputShape.n, classes: manifest.num_classes)

        var results: [TensorResult] = []
        func compare(_ name: String, _ role: String, _ ours: UnsafeBufferPointer<Float>, _ ref: [Float]) {
            var maxDiff = 0.0, maxRef = 0.0
            for i in 0..<min(ours.count, ref.count) {
                maxDiff = max(maxDiff, abs(Double(ours[i]) - Double(ref[i])))
                maxRef = max(maxRef, abs(Double(ref[i])))
            }
            if ours.count != ref.count { maxDiff = .infinity }
            results.append(TensorResult(name: name, role: role, maxAbsDiff: maxDiff, maxAbsRef: maxRef,
                                        tolerance: tolerances[role] ?? 1e-4))
        }

        func forwardBackward() -> (logits: Tensor, loss: Double) {
            let logits = net.forward(input, training: true)
            let value = labels.withUnsafeBufferPointer { loss.forwardBackward(logits: logits, labels: $0).loss }
            store.zeroGradients()
            net.backward(loss.gradient)
            return (logits, value)
        }

        let first = forwardBackward()
        for e in entries("activation") {
            let layerName = e.name.replacingOccurrences(of: "_", with: ".")
            guard let act = net.activation(named: e.name) ?? net.activation(named: layerName) else {
                throw TrainingError.badInput("\(manifestURL.path): no layer named \(e.name) in \(net.name)")
            }
            compare(e.name, "activation", UnsafeBufferPointer(act.buffer), try load(e))
        }
        if let e = entries("logits").first { compare("logits", "logits", UnsafeBufferPointer(first.logits.buffer), try load(e)) }
        if let e = entries("loss").first {
            let ref = try load(e)
            results.append(TensorResult(name: "loss", role: "loss", maxAbsDiff: abs(first.loss - Double(ref[0])),
                                        maxAbsRef: abs(Double(ref[0])), tolerance: tolerances["loss"]!))
        }
        for e in entries("grad") {
            guard let ref = store.ref(named: e.name) else { throw TrainingError.badInput("no parameter \(e.name)") }
            compare(e.name, "grad", UnsafeBufferPointer(start: store.gradient(ref), count: ref.count), try load(e))
        }
        let after = entries("param_after_2_sgd_steps")
        if let sgd = manifest.sgd, !after.isEmpty {
            let optimizer = SGD(parameterCount: store.count, momentum: Float(sgd.momentum), weightDecay: Float(sgd.weight_decay))
            let before = Array(store.values)
            for step in 0..<sgd.steps {
                if step > 0 { _ = forwardBackward() }
                optimizer.step(parameters: store.values, gradients: store.gradients, learningRate: Float(sgd.lr))
            }
            for e in after {
                guard let ref = store.ref(named: e.name) else { throw TrainingError.badInput("no parameter \(e.name)") }
                let refAfter = try load(e)
                compare(e.name, "param_after_2_sgd_steps", UnsafeBufferPointer(start: store.value(ref), count: ref.count), refAfter)
                // The update itself (w_before - w_after), relative to the update's scale: the weights
                // move by ~1e-3 of their size, so a wrong update (weight decay dropped) stays inside
                // the weights' tolerance but not inside the update's.
                let w0 = before[ref.offset..<(ref.offset + ref.count)], w = store.value(ref)
                let ours = (0..<ref.count).map { w0[ref.offset + $0] - w[$0] }
                let theirs = zip(w0, refAfter).map { $0 - $1 }
                ours.withUnsafeBufferPointer { compare(e.name, "update_after_2_sgd_steps", $0, theirs) }
            }
        }
        let summary = "\(net.name), \(manifest.num_classes) classes, input \(inputShape), \(store.count) parameters"
        return Report(description: summary, results: results)
    }

    static func readBytes(_ url: URL, count: Int) throws -> Data {
        guard let data = try? Data(contentsOf: url) else { throw TrainingError.badInput("\(url.path): cannot read") }
        guard data.count == count * 4 else {
            throw TrainingError.badInput("\(url.path): \(data.count) bytes, expected \(count * 4) for \(count) values")
        }
        return data
    }

    static func readFloats(_ url: URL, count: Int) throws -> [Float] {
        let data = try readBytes(url, count: count)
        return data.withUnsafeBytes { raw in (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
    }

    static func readInt32(_ url: URL, count: Int) throws -> [Int32] {
        let data = try readBytes(url, count: count)
        return data.withUnsafeBytes { raw in (0..<count).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) } }
    }
}
