import NeuralNet
import XCTest

/// Dropout at probabilities other than 0.5 (where 1/p and 1/(1-p) agree), and the ReLU
/// masks at an input of exactly 0 (where `>` and `>=` differ; the gradient checks use
/// inputs well away from 0, so they cannot tell the two apart).
final class DropoutReLUTests: XCTestCase {
    /// Inverted dropout at p = 0.3 and p = 0.8: every output is 0 or x/(1-p), about a
    /// fraction p is dropped, and backward routes dy through the same mask and scale.
    func testDropoutScalesSurvivorsByOneOverOneMinusP() {
        let shape = Shape(n: 4, c: 16, h: 8, w: 8)  // 4,096 values: the dropped fraction's sd is under 0.01
        // Nonzero inputs (a dropped value must be told from a kept zero), of both signs.
        let x = Tensor(shape, values: (0..<shape.count).map { Float($0 % 13 + 1) * ($0 % 2 == 0 ? 0.25 : -0.5) })
        let dy = Tensor(shape, values: (0..<shape.count).map { Float($0 % 7 + 1) * 0.1 })
        for p: Float in [0.3, 0.8] {
            let drop = Dropout("drop", input: shape, probability: p)
            drop.seed = 17
            let y = Array(drop.forward(x, training: true).buffer)
            let dx = Array(drop.backward(x, dy)!.buffer)
            let scale: Float = 1 / (1 - p)
            var dropped = 0, wrongOutputs = 0, wrongGradients = 0
            for i in 0..<shape.count {
                if y[i] == 0 {
                    dropped += 1
                    if dx[i] != 0 { wrongGradients += 1 }
                } else {
                    if abs(y[i] - x.data[i] * scale) > 1e-5 * abs(x.data[i] * scale) { wrongOutputs += 1 }
                    if abs(dx[i] - dy.data[i] * scale) > 1e-5 * abs(dy.data[i] * scale) { wrongGradients += 1 }
                }
            }
            XCTAssertEqual(wrongOutputs, 0, "p = \(p): outputs that are neither 0 nor x/(1-p) = x*\(scale); e.g. y = \(y.first { $0 != 0 } ?? 0) for x = \(x.data[y.firstIndex { $0 != 0 } ?? 0])")
            XCTAssertEqual(wrongGradients, 0, "p = \(p): dx must be dy*\(scale) where kept and 0 where dropped")
            XCTAssertEqual(Double(dropped) / Double(shape.count), Double(p), accuracy: 0.05, "p = \(p): fraction dropped")
            // The expectation is preserved: mean(y)/mean(x) near 1 over positive inputs.
            let kept = (0..<shape.count).filter { x.data[$0] > 0 }
            let ratio = kept.reduce(0.0) { $0 + Double(y[$1]) } / kept.reduce(0.0) { $0 + Double(x.data[$1]) }
            XCTAssertEqual(ratio, 1, accuracy: 0.15, "p = \(p): E[y] = x")
        }
    }

    /// A batch split anywhere draws the same masks: each image's mask depends on the seed
    /// and its position in the global batch only (so 4 ranks, 2 ranks and one process
    /// train alike), and backward uses the mask its own forward drew.
    func testSplitBatchesDrawTheSameMasksAsTheWholeBatch() {
        let whole = Shape(n: 6, c: 4, h: 3, w: 3), perImage = whole.perImage
        let x = Tensor(whole, values: (0..<whole.count).map { Float($0 % 11 + 1) })
        let dy = Tensor(whole, values: (0..<whole.count).map { Float($0 % 5 + 1) })
        func run(first: Int, count: Int) -> (y: [Float], dx: [Float]) {
            let shape = Shape(n: count, c: whole.c, h: whole.h, w: whole.w)
            let part = { (t: Tensor) in Tensor(shape, values: Array(t.array[first * perImage ..< (first + count) * perImage])) }
            let drop = Dropout("drop", input: shape, probability: 0.5)
            drop.seed = 23
            drop.firstSample = first
            let xs = part(x)
            let y = Array(drop.forward(xs, training: true).buffer)
            return (y, Array(drop.backward(xs, part(dy))!.buffer))
        }
        let reference = run(first: 0, count: 6)
        for split in [[3, 3], [2, 2, 2], [1, 5], [6]] {
            var first = 0, y: [Float] = [], dx: [Float] = []
            for count in split {
                let r = run(first: first, count: count)
                y += r.y; dx += r.dx
                first += count
            }
            XCTAssertEqual(y, reference.y, "split \(split): forward masks differ from the whole batch's")
            XCTAssertEqual(dx, reference.dx, "split \(split): backward masks differ from the whole batch's")
        }
        let masks = (0..<6).map { n in reference.y[n * perImage ..< (n + 1) * perImage].map { $0 == 0 } }
        XCTAssertEqual(Set(masks).count, 6, "every image draws its own mask")
    }

    /// ReLU at exactly 0: output 0 and gradient 0 (Caffe and PyTorch take the subgradient 0).
    func testReLUGradientIsZeroWhereTheInputIsExactlyZero() {
        let shape = Shape(n: 2, c: 3, h: 4, w: 4)
        let pattern: [Float] = [0, -1, 0.5, 0, 2, -0.25, 0, 1]
        let x = Tensor(shape, values: (0..<shape.count).map { pattern[$0 % pattern.count] })
        let dy = Tensor(shape, values: (0..<shape.count).map { Float($0 + 1) })
        let relu = ReLU("relu", input: shape)
        let y = Array(relu.forward(x, training: true).buffer)
        let dx = Array(relu.backward(x, dy)!.buffer)
        XCTAssertEqual(y, x.array.map { max($0, 0) })
        let zeros = (0..<shape.count).filter { x.data[$0] == 0 }
        XCTAssertFalse(zeros.isEmpty)
        XCTAssertEqual(zeros.filter { dx[$0] != 0 }, [], "ReLU passed the gradient at these indices where the input is exactly 0")
        for i in 0..<shape.count {
            XCTAssertEqual(dx[i], x.data[i] > 0 ? dy.data[i] : 0, "index \(i), x = \(x.data[i])")
        }
    }

    /// The convolution's fused ReLU (Fire's squeeze and expand layers) at a pre-activation
    /// of exactly 0: all-zero weights and biases 0, +1, -1 by channel give outputs exactly
    /// 0, 1 and 0, so only the +1 channels may pass dy to the bias and weight gradients,
    /// on both the chunked and the image-at-a-time path.
    func testFusedReLUGradientIsZeroWherePreActivationIsExactlyZero() {
        for (side, direct) in [(5, false), (16, true)] {
            let store = ParameterStore()
            let conv = Conv2D("conv", input: Shape(n: 2, c: 2, h: side, w: side), outChannels: 3, kernel: 3, pad: 1,
                              fusedReLU: true, store: store)
            store.allocate()
            conv.imageAtATime = direct
            let b = store.value(conv.bias)
            b[0] = 0; b[1] = 1; b[2] = -1  // the weights stay 0
            let x = randomTensor(conv.inputShape)
            let y = conv.forward(x, training: true)
            let hw = side * side
            for n in 0..<2 { for c in 0..<3 { for j in 0..<hw {
                XCTAssertEqual(y.data[(n * 3 + c) * hw + j], c == 1 ? 1 : 0)
            } } }
            let dy = Tensor(conv.outputShape, values: (0..<conv.outputShape.count).map { Float($0 % 5 + 1) })
            store.zeroGradients()
            let dx = conv.backward(x, dy)!
            let db = store.gradient(conv.bias), dw = store.gradient(conv.weight)
            let label = direct ? "image-at-a-time" : "chunked"
            XCTAssertEqual(db[0], 0, "\(label): bias gradient of the channel whose pre-activation is exactly 0")
            XCTAssertEqual(db[2], 0, "\(label): bias gradient of the channel whose pre-activation is -1")
            var expected: Float = 0
            for n in 0..<2 { for j in 0..<hw { expected += dy.data[(n * 3 + 1) * hw + j] } }
            XCTAssertEqual(db[1], expected, accuracy: 1e-3, "\(label): the live channel passes all of dy")
            let perOut = 2 * 9
            XCTAssertEqual((0..<perOut).filter { dw[$0] != 0 }, [], "\(label): weight gradient of the exactly-0 channel")
            XCTAssertTrue((perOut..<(2 * perOut)).contains { dw[$0] != 0 }, "\(label): the live channel has a weight gradient")
            XCTAssertEqual((2 * perOut..<(3 * perOut)).filter { dw[$0] != 0 }, [], "\(label): weight gradient of the -1 channel")
            XCTAssertEqual(dx.array.filter { $0 != 0 }, [], "\(label): all-zero weights pass no input gradient")
        }
    }
}
