import Basics
import NeuralNet
import XCTest

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Caffe bvlc_alexnet: sizes, fillers, and finite-difference checks of the two
/// layer types it adds (FullyConnected, LRN) and of the whole network.
final class AlexNetTests: XCTestCase {
    /// Built once: 61M parameters take a while to fill.
    static let full = AlexNet.make(classes: 1000, inputSize: 227, batch: 1)

    func testParameterCountMatchesCaffe() {
        XCTAssertEqual(Self.full.parameterCount, 60_965_224)
        let expected = ["conv1": 34_944, "conv2": 307_456, "conv3": 885_120, "conv4": 663_936, "conv5": 442_624,
                        "fc6": 37_752_832, "fc7": 16_781_312, "fc8": 4_097_000]
        for (name, count) in expected {
            XCTAssertEqual(Self.full.layers.first { $0.name == name }?.parameterCount, count, name)
        }
        XCTAssertEqual(Self.full.layers.reduce(0) { $0 + $1.parameterCount }, 60_965_224)
    }

    func testOutputShapesAt227() {
        func shape(_ name: String) -> Shape? { Self.full.layers.first { $0.name == name }?.outputShape }
        XCTAssertEqual(shape("conv1"), Shape(n: 1, c: 96, h: 55, w: 55))
        XCTAssertEqual(shape("norm1"), Shape(n: 1, c: 96, h: 55, w: 55))
        XCTAssertEqual(shape("pool1"), Shape(n: 1, c: 96, h: 27, w: 27))
        XCTAssertEqual(shape("conv2"), Shape(n: 1, c: 256, h: 27, w: 27))
        XCTAssertEqual(shape("pool2"), Shape(n: 1, c: 256, h: 13, w: 13))
        XCTAssertEqual(shape("conv5"), Shape(n: 1, c: 256, h: 13, w: 13))
        XCTAssertEqual(shape("pool5"), Shape(n: 1, c: 256, h: 6, w: 6))
        XCTAssertEqual(shape("fc8"), Shape(n: 1, c: 1000, h: 1, w: 1))
        XCTAssertEqual(Self.full.store.ref(named: "fc6.weight")?.shape, [4096, 9216])
        XCTAssertEqual(Self.full.store.ref(named: "conv2.weight")?.shape, [256, 48, 5, 5])
        XCTAssertEqual(Self.full.layers.map(\.name),
                       ["conv1", "conv1.relu", "norm1", "pool1", "conv2", "conv2.relu", "norm2", "pool2",
                        "conv3", "conv3.relu", "conv4", "conv4.relu", "conv5", "conv5.relu", "pool5",
                        "fc6", "fc6.relu", "drop6", "fc7", "fc7.relu", "drop7", "fc8"])
    }

    func testSmallInputDerivesFc6FanIn() {
        let net = AlexNet.make(classes: 7, inputChannels: 1, inputSize: 67, batch: 2)
        func shape(_ name: String) -> Shape? { net.layers.first { $0.name == name }?.outputShape }
        XCTAssertEqual(shape("conv1"), Shape(n: 2, c: 96, h: 15, w: 15))
        XCTAssertEqual(shape("pool1"), Shape(n: 2, c: 96, h: 7, w: 7))
        XCTAssertEqual(shape("pool2"), Shape(n: 2, c: 256, h: 3, w: 3))
        XCTAssertEqual(shape("pool5"), Shape(n: 2, c: 256, h: 1, w: 1))
        XCTAssertEqual(net.store.ref(named: "fc6.weight")?.shape, [4096, 256])
        XCTAssertEqual(net.classes, 7)
        let m = AlexNet.minimumInputSize
        XCTAssertEqual(AlexNet.make(classes: 3, inputChannels: 1, inputSize: m, batch: 1).layers.last!.outputShape,
                       Shape(n: 1, c: 3, h: 1, w: 1))
        XCTAssertEqual(m, 55)
    }

    /// Fillers of BVLC/caffe models/bvlc_alexnet/train_val.prototxt.
    func testInitialisationFollowsTrainValPrototxt() {
        let store = Self.full.store
        func values(_ name: String) -> [Float] {
            let ref = store.ref(named: name)!
            return Array(UnsafeBufferPointer(start: store.value(ref), count: ref.count))
        }
        let biases: [String: Float] = ["conv1": 0, "conv2": 0.1, "conv3": 0, "conv4": 0.1, "conv5": 0.1,
                                       "fc6": 0.1, "fc7": 0.1, "fc8": 0]
        for (layer, b) in biases { XCTAssertTrue(values("\(layer).bias").allSatisfy { $0 == b }, layer) }
        let stds: [String: Double] = ["conv1": 0.01, "conv3": 0.01, "conv5": 0.01, "fc6": 0.005, "fc7": 0.005, "fc8": 0.01]
        for (layer, std) in stds {
            let w = values("\(layer).weight").prefix(200_000).map(Double.init)
            let measured = (w.map { $0 * $0 }.reduce(0, +) / Double(w.count)).squareRoot()
            XCTAssertEqual(measured, std, accuracy: std * 0.05, layer)
        }
    }

    /// One forward and backward at batch 1 on 227x227: runs end to end, and prints the time.
    func testFullSizeForwardBackwardRuns() {
        let net = Self.full
        var rng = SplitMix64(seed: 1)
        let x = Tensor(net.inputShape, values: (0..<net.inputShape.count).map { _ in rng.nextUnitFloat() * 2 - 1 })
        let loss = SoftmaxCrossEntropy(batch: 1, classes: 1000)
        let labels: [Int32] = [17]
        net.setDropoutSeed(5)
        let start = DispatchTime.now().uptimeNanoseconds
        let l = labels.withUnsafeBufferPointer { loss.forwardBackward(logits: net.forward(x, training: true), labels: $0).loss }
        net.store.zeroGradients()
        net.backward(loss.gradient)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("AlexNet 227x227 batch 1 forward+backward: \(seconds) s (measured once, this machine)")
        XCTAssertEqual(l, log(1000), accuracy: 1, "Caffe's small fillers start near ln C")
        XCTAssertTrue(net.store.gradients.allSatisfy { $0.isFinite })
        XCTAssertGreaterThan(net.store.gradients.reduce(0) { max($0, abs($1)) }, 0)
    }

    func testFullyConnectedGradient() {
        let store = ParameterStore()
        let fc = FullyConnected("fc", input: Shape(n: 3, c: 4, h: 2, w: 2), outputs: 5, store: store)
        randomizeParameters(store)
        XCTAssertEqual(fc.weight.shape, [5, 16])
        XCTAssertEqual(fc.outputShape, Shape(n: 3, c: 5, h: 1, w: 1))
        GradientCheck().check(fc, store: store, input: randomTensor(fc.inputShape))
    }

    func testFullyConnectedMatchesDirectSum() {
        // y[i, o] = b[o] + sum_k W[o, k] x[i, k], W row-major (out, K) as Caffe/PyTorch
        let store = ParameterStore()
        let fc = FullyConnected("fc", input: Shape(n: 2, c: 3, h: 1, w: 2), outputs: 4, store: store)
        randomizeParameters(store)
        let x = randomTensor(fc.inputShape)
        let y = fc.forward(x, training: false)
        let w = store.value(fc.weight), b = store.value(fc.bias)
        for i in 0..<2 { for o in 0..<4 {
            var s = Double(b[o])
            for k in 0..<6 { s += Double(w[o * 6 + k]) * Double(x.data[i * 6 + k]) }
            XCTAssertEqual(Double(y.data[i * 4 + o]), s, accuracy: 1e-5)
        } }
        // A smaller batch than the layer was built for uses the first images only.
        x.setBatch(1)
        XCTAssertEqual(fc.forward(x, training: false).array, Array(y.array.prefix(4)))
    }

    /// alpha = 1, k = 2 and inputs of order 1: the normalisation is far from the
    /// identity, so a wrong cross-channel term would show.
    func testLRNGradient() {
        let lrn = LRN("lrn", input: Shape(n: 2, c: 7, h: 3, w: 3), localSize: 5, alpha: 1, beta: 0.75, k: 2)
        let x = randomTensor(lrn.inputShape, seed: 12)
        for i in 0..<x.count { x.data[i] *= 2 }
        GradientCheck().check(lrn, store: ParameterStore(), input: x)
        let narrow = LRN("lrn3", input: Shape(n: 1, c: 4, h: 2, w: 1), localSize: 3, alpha: 2, beta: 0.5, k: 1)
        GradientCheck().check(narrow, store: ParameterStore(), input: randomTensor(narrow.inputShape, seed: 4))
    }

    /// Hand-computed: 3 channels, local size 3, alpha 3 (alpha/n = 1), beta 0.5, k 1.
    /// Pixel 0, x = (1, 0, 2): scale = (1+1+0, 1+1+0+4, 1+0+4) = (2, 6, 5).
    /// Pixel 1, x = (2, 1, -1): scale = (1+4+1, 1+4+1+1, 1+1+1) = (6, 7, 3).
    func testLRNForwardByHand() {
        let lrn = LRN("lrn", input: Shape(n: 1, c: 3, h: 1, w: 2), localSize: 3, alpha: 3, beta: 0.5, k: 1)
        let x = Tensor(lrn.inputShape, values: [1, 2, 0, 1, 2, -1])  // (C, H, W): channel-major
        let y = lrn.forward(x, training: false).array
        let expected: [Float] = [1 / sqrtf(2), 2 / sqrtf(6), 0, 1 / sqrtf(7), 2 / sqrtf(5), -1 / sqrtf(3)]
        for i in 0..<6 { XCTAssertEqual(y[i], expected[i], accuracy: 1e-6, "entry \(i)") }
        // Caffe's defaults on small activations are close to the identity.
        let caffe = LRN("norm", input: Shape(n: 1, c: 8, h: 2, w: 2))
        let small = randomTensor(caffe.inputShape)
        let out = caffe.forward(small, training: false)
        for i in 0..<small.count { XCTAssertEqual(out.data[i], small.data[i], accuracy: 1e-4) }
    }

    /// The whole network on 67x67 (pool5 1x1) against central differences of the
    /// mean cross-entropy, on the largest and two random entries of every tensor.
    /// Weights are redrawn at He scale (std sqrt(2 / fanIn)) so activations stay of
    /// order 1; dropout is on with a fixed mask. The step 2e-3 balances float32
    /// rounding in the 4096-wide layers (which grows as 1/h: at 1e-4 the median is
    /// 4e-3) against ReLU and max-pool kinks (which grow with h); steps that cross a
    /// kink are skipped (`wholeNetworkGradientCheck`). Doubling only the fc bias
    /// gradients fails it.
    func testWholeNetworkGradientByFiniteDifferences() {
        let net = AlexNet.make(classes: 5, inputChannels: 2, inputSize: 67, batch: 2, dropout: 0.5, seed: 3)
        net.setDropoutSeed(21)
        let store = net.store
        var rng = SplitMix64(seed: 8)
        for ref in store.refs {
            let p = store.value(ref)
            if ref.name.hasSuffix("bias") {
                for i in 0..<ref.count { p[i] = rng.nextUnitFloat() * 0.1 }
            } else {
                let std = (2 / Float(ref.count / ref.shape[0])).squareRoot()
                for i in 0..<ref.count { p[i] = rng.nextGaussian() * std }
            }
        }
        let x = Tensor(net.inputShape, values: (0..<net.inputShape.count).map { _ in rng.nextUnitFloat() * 2 - 1 })
        let result = wholeNetworkGradientCheck(net, input: x, labels: [1, 4], h: 2e-3, rng: &rng)
        assertWholeNetworkGradients(result, tensors: store.refs.count, label: "AlexNet")
    }
}
