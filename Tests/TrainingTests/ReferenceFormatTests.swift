import Basics
import Foundation
import NeuralNet
import TestSupport
import Training
import XCTest

/// `check-reference` reads architecture, classes and input size from the manifest:
/// a v1.1 folder with 7 classes at 40 px, written in the shared format from this
/// implementation's own forward/backward, must pass, and the same folder with one
/// gradient file disturbed must fail with that tensor named and a non-zero exit.
final class ReferenceFormatTests: XCTestCase {
    func write(_ values: [Float], _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try values.withUnsafeBytes { try Data($0).write(to: url) }
    }

    func makeFolder(_ dir: URL) throws {
        let net = SqueezeNet.make(.v1_1, classes: 7, inputSize: 40, batch: 2, dropout: 0, seed: 5)
        let store = net.store
        var rng = SplitMix64(seed: 2)
        let input = (0..<net.inputShape.count).map { _ in rng.nextUnitFloat() * 2 - 1 }
        let labels: [Int32] = [3, 6]
        var tensors: [[String: Any]] = []
        func add(_ name: String, _ role: String, _ shape: [Int], _ file: String, _ values: [Float]) throws {
            try write(values, dir.appendingPathComponent(file))
            tensors.append(["name": name, "role": role, "shape": shape, "file": file, "dtype": "float32_le"])
        }
        for ref in store.refs {
            try add(ref.name, "param_init", ref.shape, "params/\(ref.name).bin", Array(UnsafeBufferPointer(start: store.value(ref), count: ref.count)))
        }
        try add("input", "input", [2, 3, 40, 40], "input.bin", input)
        try labels.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("labels.bin")) }
        tensors.append(["name": "labels", "role": "labels", "shape": [2], "file": "labels.bin", "dtype": "int32_le"])
        let x = Tensor(net.inputShape, values: input)
        let loss = SoftmaxCrossEntropy(batch: 2, classes: 7)
        let logits = net.forward(x, training: true)
        let l = labels.withUnsafeBufferPointer { loss.forwardBackward(logits: logits, labels: $0).loss }
        let fire5 = net.activation(named: "fire5")!
        try add("fire5", "activation", [fire5.shape.n, fire5.shape.c, fire5.shape.h, fire5.shape.w],
                "activations/fire5.bin", fire5.array)
        try add("logits", "logits", [2, 7], "logits.bin", logits.array)
        try add("loss", "loss", [], "loss.bin", [Float(l)])
        store.zeroGradients()
        net.backward(loss.gradient)
        for ref in store.refs {
            try add(ref.name, "grad", ref.shape, "grads/\(ref.name).bin", Array(UnsafeBufferPointer(start: store.gradient(ref), count: ref.count)))
        }
        let manifest: [String: Any] = ["arch": "v1_1", "num_classes": 7, "batch": 2, "input_hw": [40, 40], "tensors": tensors]
        try JSONSerialization.data(withJSONObject: manifest).write(to: dir.appendingPathComponent("manifest.json"))
    }

    func testAnyArchitectureClassCountAndSizeFromTheManifest() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try makeFolder(dir)
        let binary = TestPaths.executable("squeezenet-train").path
        let good = try ProcessRunner.run(binary, ["check-reference", dir.path])
        XCTAssertEqual(good.status, 0, good.stdout + good.stderr)
        XCTAssertTrue(good.stdout.contains("squeezenet-v1.1, 7 classes, input 2x3x40x40"), good.stdout)
        XCTAssertTrue(good.stdout.contains("conv10.weight"), good.stdout)

        let target = dir.appendingPathComponent("grads/fire3.expand3x3.weight.bin")
        var data = try Data(contentsOf: target)
        data.withUnsafeMutableBytes { $0.bindMemory(to: Float.self)[0] += 1 }
        try data.write(to: target)
        let bad = try ProcessRunner.run(binary, ["check-reference", dir.path, "--quiet"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stdout.contains("fire3.expand3x3.weight") && bad.stdout.contains("NO"), bad.stdout)
        XCTAssertTrue(bad.stdout.contains("1 out of tolerance"), bad.stdout)
    }
}
