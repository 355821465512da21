import Basics
import NeuralNet
import XCTest

final class SqueezeNetTests: XCTestCase {
    func testParameterCountsMatchThePaper() {
        XCTAssertEqual(SqueezeNet.make(.v1_0, classes: 1000, inputSize: 224, batch: 1).parameterCount, 1_248_424)
        XCTAssertEqual(SqueezeNet.make(.v1_1, classes: 1000, inputSize: 224, batch: 1).parameterCount, 1_235_496)
    }

    func testPerLayerCountsOfV10() {
        let net = SqueezeNet.make(.v1_0, classes: 1000, inputSize: 224, batch: 1)
        let expected = ["conv1": 14_208, "fire2": 11_920, "fire3": 12_432, "fire4": 45_344, "fire5": 49_440,
                        "fire6": 104_880, "fire7": 111_024, "fire8": 188_992, "fire9": 197_184, "conv10": 513_000]
        for (name, count) in expected {
            XCTAssertEqual(net.layers.first { $0.name == name }?.parameterCount, count, name)
        }
    }

    func testPaperTableOutputShapes() {
        let net = SqueezeNet.make(.v1_0, classes: 1000, inputSize: 224, batch: 1)
        func shape(_ name: String) -> Shape? { net.layers.first { $0.name == name }?.outputShape }
        XCTAssertEqual(shape("conv1"), Shape(n: 1, c: 96, h: 109, w: 109))
        XCTAssertEqual(shape("pool1"), Shape(n: 1, c: 96, h: 54, w: 54))
        XCTAssertEqual(shape("fire4"), Shape(n: 1, c: 256, h: 54, w: 54))
        XCTAssertEqual(shape("pool4"), Shape(n: 1, c: 256, h: 27, w: 27))
        XCTAssertEqual(shape("fire8"), Shape(n: 1, c: 512, h: 27, w: 27))
        XCTAssertEqual(shape("pool8"), Shape(n: 1, c: 512, h: 13, w: 13))
        XCTAssertEqual(shape("conv10"), Shape(n: 1, c: 1000, h: 13, w: 13))
        XCTAssertEqual(net.classes, 1000)
    }

    func testInitialisationIsCaffesAndReproducible() {
        let a = SqueezeNet.make(.v1_0, classes: 10, inputSize: 64, batch: 1, seed: 42)
        let b = SqueezeNet.make(.v1_0, classes: 10, inputSize: 64, batch: 1, seed: 42)
        let c = SqueezeNet.make(.v1_0, classes: 10, inputSize: 64, batch: 1, seed: 43)
        XCTAssertEqual(Array(a.store.values), Array(b.store.values))
        XCTAssertNotEqual(Array(a.store.values), Array(c.store.values))
        let conv1 = a.store.ref(named: "conv1.weight")!
        let bound = (3.0 / Float(3 * 7 * 7)).squareRoot()
        let w = UnsafeBufferPointer(start: a.store.value(conv1), count: conv1.count)
        XCTAssertLessThanOrEqual(w.map(abs).max()!, bound)
        XCTAssertGreaterThan(w.map(abs).max()!, 0.9 * bound)
        let bias = a.store.ref(named: "fire5.expand3x3.bias")!
        XCTAssertTrue(UnsafeBufferPointer(start: a.store.value(bias), count: bias.count).allSatisfy { $0 == 0 })
        let conv10 = a.store.ref(named: "conv10.weight")!
        let g = UnsafeBufferPointer(start: a.store.value(conv10), count: conv10.count).map(Double.init)
        let std = (g.map { $0 * $0 }.reduce(0, +) / Double(g.count)).squareRoot()
        XCTAssertEqual(std, 0.01, accuracy: 0.001)
    }

    func testParameterOrderIsLayerOrder() {
        let net = SqueezeNet.make(.v1_1, classes: 10, inputSize: 32, batch: 1)
        let names = net.store.refs.map(\.name)
        XCTAssertEqual(names.first, "conv1.weight")
        XCTAssertEqual(Array(names[2...7]), ["fire2.squeeze1x1.weight", "fire2.squeeze1x1.bias", "fire2.expand1x1.weight",
                                             "fire2.expand1x1.bias", "fire2.expand3x3.weight", "fire2.expand3x3.bias"])
        XCTAssertEqual(names.last, "conv10.bias")
        var offset = 0
        for ref in net.store.refs { XCTAssertEqual(ref.offset, offset); offset += ref.count }
        XCTAssertEqual(offset, net.store.count)
    }

    /// The whole v1.1 network (no reference dump exists for it) against central
    /// differences of the mean cross-entropy (`wholeNetworkGradientCheck`).
    func testWholeV11NetworkGradientByFiniteDifferences() {
        let net = SqueezeNet.make(.v1_1, classes: 5, inputChannels: 1, inputSize: 33, batch: 2, dropout: 0, seed: 3)
        let store = net.store
        var rng = SplitMix64(seed: 8)
        for ref in store.refs where ref.name.hasSuffix("bias") {
            for i in 0..<ref.count { store.value(ref)[i] = rng.nextUnitFloat() * 0.1 }
        }
        let x = Tensor(net.inputShape, values: (0..<net.inputShape.count).map { _ in rng.nextUnitFloat() * 2 - 1 })
        // h = 1e-3: at 5e-4 float32 rounding of the logits costs ~1e-2 of a small
        // tensor's largest gradient; larger steps cross kinks on most entries.
        let result = wholeNetworkGradientCheck(net, input: x, labels: [1, 4], h: 1e-3, rng: &rng)
        assertWholeNetworkGradients(result, tensors: store.refs.count, label: "v1.1")
    }
}

final class SqueezeNetSizeTests: XCTestCase {
    func testMinimumInputSizeBuildsAndOneLessDoesNot() {
        for v in SqueezeNet.Version.allCases {
            let m = SqueezeNet.minimumInputSize(v)
            let net = SqueezeNet.make(v, classes: 3, inputSize: m, batch: 1)
            XCTAssertEqual(net.layers.last!.outputShape, Shape(n: 1, c: 3, h: 1, w: 1))
            XCTAssertLessThan(m, 33, "the 32 px default must stay possible for v1.1")
        }
        XCTAssertEqual(SqueezeNet.minimumInputSize(.v1_0), 29)
    }
}
