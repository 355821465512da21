import Basics
import NeuralNet
import XCTest

/// Finite-difference checks for every layer type.
final class LayerGradientTests: XCTestCase {
    func testConvolutionWithStridePaddingAndBias() {
        let store = ParameterStore()
        let conv = Conv2D("conv", input: Shape(n: 2, c: 3, h: 7, w: 6), outChannels: 4, kernel: 3, stride: 2, pad: 1, store: store)
        randomizeParameters(store)
        XCTAssertEqual(conv.outputShape, Shape(n: 2, c: 4, h: 4, w: 3))
        GradientCheck().check(conv, store: store, input: randomTensor(conv.inputShape))
    }

    func testPointwiseConvolution() {
        let store = ParameterStore()
        let conv = Conv2D("conv1x1", input: Shape(n: 3, c: 5, h: 4, w: 4), outChannels: 6, kernel: 1, store: store)
        randomizeParameters(store)
        GradientCheck().check(conv, store: store, input: randomTensor(conv.inputShape))
    }

    func testGroupedConvolution() {
        let store = ParameterStore()
        let conv = Conv2D("grouped", input: Shape(n: 2, c: 4, h: 5, w: 5), outChannels: 6, kernel: 3, pad: 1, groups: 2, store: store)
        randomizeParameters(store)
        XCTAssertEqual(conv.weight.shape, [6, 2, 3, 3])
        GradientCheck().check(conv, store: store, input: randomTensor(conv.inputShape))
    }

    /// Outputs of 256+ pixels take the image-at-a-time path (no column copies):
    /// finite differences there too, for 1x1, padded 3x3 with groups, and strided 7x7.
    func testImageAtATimeConvolutions() {
        for (input, out, kernel, stride, pad, groups) in [(Shape(n: 2, c: 3, h: 16, w: 16), 4, 1, 1, 0, 1),
                                                          (Shape(n: 2, c: 4, h: 16, w: 17), 6, 3, 1, 1, 2),
                                                          (Shape(n: 2, c: 3, h: 37, w: 37), 4, 7, 2, 0, 1)] {
            let store = ParameterStore()
            let conv = Conv2D("conv", input: input, outChannels: out, kernel: kernel, stride: stride, pad: pad,
                              groups: groups, store: store)
            randomizeParameters(store)
            XCTAssertTrue(conv.imageAtATime, "\(input) k\(kernel): expected the image-at-a-time path")
            GradientCheck().check(conv, store: store, input: randomTensor(conv.inputShape))
        }
    }

    /// Both paths compute the same forward and backward on one layer.
    func testImageAtATimeEqualsChunked() {
        for (kernel, stride, pad, groups) in [(1, 1, 0, 1), (3, 1, 1, 2), (7, 2, 3, 1)] {
            let store = ParameterStore()
            let conv = Conv2D("conv", input: Shape(n: 3, c: 4, h: 33, w: 32), outChannels: 6, kernel: kernel,
                              stride: stride, pad: pad, groups: groups, store: store)
            randomizeParameters(store)
            let x = randomTensor(conv.inputShape), dy = randomTensor(conv.outputShape, seed: 11)
            func run(_ direct: Bool) -> (y: [Float], dx: [Float], grads: [Float]) {
                conv.imageAtATime = direct
                let y = Array(conv.forward(x, training: true).buffer)
                store.zeroGradients()
                let dx = Array(conv.backward(x, dy)!.buffer)
                return (y, dx, Array(store.gradients))
            }
            let a = run(true), b = run(false)
            for (name, u, v) in [("y", a.y, b.y), ("dx", a.dx, b.dx), ("grads", a.grads, b.grads)] {
                let scale = v.reduce(0) { max($0, abs($1)) }
                let worst = zip(u, v).reduce(0) { max($0, abs($1.0 - $1.1)) }
                XCTAssertGreaterThan(scale, 0)
                XCTAssertLessThan(worst / scale, 1e-5, "k\(kernel) \(name): paths disagree")
            }
        }
    }

    /// y[o, oy, ox] = b[o] + sum_{c, ky, kx} w[o, c, ky, kx] x[c, oy*s - p + ky, ox*s - p + kx].
    /// im2col/col2im copy only the columns inside the image and pad the rest: edge cases
    /// where whole rows or columns of a kernel tap fall outside (pad >= kernel), strides
    /// that skip columns, kernels wider than the image, against a direct sum and by
    /// finite differences.
    func testPaddingAndStrideEdgeCasesMatchDirectSum() {
        for (h, w, kernel, stride, pad) in [(5, 4, 3, 2, 1), (6, 7, 2, 3, 3), (4, 3, 5, 1, 2), (9, 9, 7, 2, 0),
                                            (3, 8, 3, 3, 4)] {
            let store = ParameterStore()
            let conv = Conv2D("conv", input: Shape(n: 1, c: 2, h: h, w: w), outChannels: 3, kernel: kernel,
                              stride: stride, pad: pad, store: store)
            randomizeParameters(store)
            let x = randomTensor(conv.inputShape)
            let y = conv.forward(x, training: false)
            let wt = store.value(conv.weight), b = store.value(conv.bias)
            for o in 0..<3 { for oy in 0..<y.shape.h { for ox in 0..<y.shape.w {
                var sum = Double(b[o])
                for c in 0..<2 { for ky in 0..<kernel { for kx in 0..<kernel {
                    let iy = oy * stride - pad + ky, ix = ox * stride - pad + kx
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    sum += Double(wt[((o * 2 + c) * kernel + ky) * kernel + kx]) * Double(x.data[(c * h + iy) * w + ix])
                } } }
                XCTAssertEqual(Double(y.data[(o * y.shape.h + oy) * y.shape.w + ox]), sum, accuracy: 1e-5,
                               "h\(h) w\(w) k\(kernel) s\(stride) p\(pad) at \(o),\(oy),\(ox)")
            } } }
            GradientCheck().check(conv, store: store, input: randomTensor(conv.inputShape))
        }
    }

    func testReLU() {
        let relu = ReLU("relu", input: Shape(n: 2, c: 3, h: 4, w: 4))
        GradientCheck(h: 1e-3).check(relu, store: ParameterStore(), input: wellSeparatedTensor(relu.inputShape))
    }

    func testCeilModeMaxPoolWithWindowsOverTheEdge() {
        // 6x6, 3x3/2: floor mode gives 2x2; Caffe's ceil mode gives 3x3, the last
        // window covering only rows/columns 4..5.
        let pool = MaxPool2D("pool", input: Shape(n: 2, c: 3, h: 6, w: 6), kernel: 3, stride: 2)
        XCTAssertEqual(pool.outputShape, Shape(n: 2, c: 3, h: 3, w: 3))
        let x = wellSeparatedTensor(pool.inputShape)
        let y = pool.forward(x, training: true)
        let lastWindow = [4 * 6 + 4, 4 * 6 + 5, 5 * 6 + 4, 5 * 6 + 5].map { x.data[$0] }.max()!
        XCTAssertEqual(y.data[8], lastWindow, "last window must be clipped to the input")
        GradientCheck(h: 1e-3).check(pool, store: ParameterStore(), input: x)
    }

    /// The vectorized 3-wide path (stride 2 specialised, other strides generic) and the
    /// clipped edge windows against a plain loop over every window: values from a set of
    /// four so windows tie often (the first maximum in row-major order must win, as the
    /// gradient routing shows), padding, ceil-mode clipping, and a kernel other than 3.
    func testMaxPoolMatchesADirectLoopWithTies() {
        var rng = SplitMix64(seed: 11)
        for (h, w) in [(13, 13), (14, 9), (7, 20), (3, 3)] {
            for (kernel, stride, pad) in [(3, 2, 0), (3, 1, 0), (3, 3, 0), (3, 2, 1), (3, 1, 1), (2, 2, 0), (4, 3, 1)]
            where h + 2 * pad >= kernel && w + 2 * pad >= kernel {
                let shape = Shape(n: 2, c: 2, h: h, w: w)
                let pool = MaxPool2D("pool", input: shape, kernel: kernel, stride: stride, pad: pad)
                let x = Tensor(shape, values: (0..<shape.count).map { _ in Float(Int(rng.nextUnitFloat() * 4)) - 1 })
                let y = pool.forward(x, training: true)
                let o = pool.outputShape
                let dy = Tensor(o, values: (0..<o.count).map { Float($0 + 1) })
                let dx = pool.backward(x, dy)!
                var expectedY = [Float](repeating: 0, count: o.count)
                var expectedDx = [Float](repeating: 0, count: shape.count)
                for plane in 0..<(shape.n * shape.c) {
                    for oy in 0..<o.h {
                        for ox in 0..<o.w {
                            var best = -Float.infinity, at = -1
                            for iy in max(oy * stride - pad, 0)..<min(oy * stride - pad + kernel, h) {
                                for ix in max(ox * stride - pad, 0)..<min(ox * stride - pad + kernel, w) {
                                    let i = plane * h * w + iy * w + ix
                                    if x.data[i] > best { best = x.data[i]; at = i }
                                }
                            }
                            let j = plane * o.h * o.w + oy * o.w + ox
                            expectedY[j] = best
                            expectedDx[at] += dy.data[j]
                        }
                    }
                }
                let label = "\(h)x\(w) k\(kernel) s\(stride) p\(pad)"
                let wrongY = (0..<o.count).filter { y.data[$0] != expectedY[$0] }
                let wrongDx = (0..<shape.count).filter { dx.data[$0] != expectedDx[$0] }
                XCTAssertEqual(wrongY, [], "outputs differ at these indices: \(label)")
                XCTAssertEqual(wrongDx, [], "argmax (first maximum) differs, input indices: \(label)")
            }
        }
    }

    func testMaxPoolOutputSizes() {
        XCTAssertEqual(MaxPool2D.ceilOutputSize(109, kernel: 3, stride: 2, pad: 0), 54)  // SqueezeNet pool1 at 224
        XCTAssertEqual(MaxPool2D.ceilOutputSize(14, kernel: 3, stride: 2, pad: 0), 7)    // floor would give 6
        XCTAssertEqual(MaxPool2D.ceilOutputSize(13, kernel: 3, stride: 2, pad: 0), 6)
    }

    func testGlobalAveragePool() {
        let pool = GlobalAvgPool("gap", input: Shape(n: 2, c: 3, h: 3, w: 5))
        GradientCheck().check(pool, store: ParameterStore(), input: randomTensor(pool.inputShape))
    }

    func testDropoutTrainingAndEvaluation() {
        let drop = Dropout("drop", input: Shape(n: 4, c: 8, h: 3, w: 3), probability: 0.5)
        drop.seed = 11
        let x = randomTensor(drop.inputShape)
        let y = drop.forward(x, training: true)
        let zeros = (0..<y.count).filter { y.data[$0] == 0 }.count
        XCTAssertGreaterThan(zeros, y.count / 4)
        XCTAssertLessThan(zeros, 3 * y.count / 4)
        for i in 0..<y.count where y.data[i] != 0 { XCTAssertEqual(y.data[i], 2 * x.data[i]) }
        GradientCheck().check(drop, store: ParameterStore(), input: x, training: true)
        let again = Array(drop.forward(x, training: true).buffer)
        XCTAssertEqual(again, Array(y.buffer), "same seed must give the same mask")
        XCTAssertEqual(Array(drop.forward(x, training: false).buffer), Array(x.buffer), "identity in evaluation")
    }

    /// 5x5 takes the chunked convolution path, 16x16 the image-at-a-time one; both with
    /// the fused ReLUs and the expand outputs placed into the module's output.
    func testFireModule() {
        for side in [5, 16] { checkFire(side: side) }
    }

    func checkFire(side: Int) {
        let store = ParameterStore()
        let fire = Fire("fire", input: Shape(n: 2, c: 6, h: side, w: side), squeeze: 4, expand1x1: 4, expand3x3: 6, store: store)
        XCTAssertEqual(fire.squeeze.imageAtATime, side >= 16)
        // Small weights and biases of +-1 alternating by channel: every inner ReLU is
        // clearly on or off (margin > 0.5), so finite differences cross no kink while
        // both the live and the dead paths through the module are exercised.
        randomizeParameters(store)
        for ref in store.refs {
            let p = store.value(ref)
            if ref.name.hasSuffix("bias") {
                for i in 0..<ref.count { p[i] = i % 2 == 0 ? 1 : -1 }
            } else {
                for i in 0..<ref.count { p[i] *= 0.1 }
            }
        }
        XCTAssertEqual(fire.outputShape, Shape(n: 2, c: 10, h: side, w: side))
        let x = randomTensor(fire.inputShape)
        GradientCheck().check(fire, store: store, input: x)
        // Channels 0..<4 are ReLU(expand1x1(s)), 4..<10 ReLU(expand3x3(s)), s = ReLU(squeeze(x)): by hand.
        let y = Array(fire.forward(x, training: false).buffer)
        let s = Array(fire.squeeze.forward(x, training: false).buffer)
        let w1 = store.value(fire.expand1x1.weight), b1 = store.value(fire.expand1x1.bias)
        let hw = side * side
        for n in 0..<2 { for o in 0..<4 { for j in stride(from: 0, to: hw, by: 7) {
            var v = b1[o]
            for c in 0..<4 { v += w1[o * 4 + c] * s[(n * 4 + c) * hw + j] }
            XCTAssertEqual(y[(n * 10 + o) * hw + j], max(v, 0), accuracy: 1e-5)
        } } }
        XCTAssertTrue(s.allSatisfy { $0 >= 0 } && s.contains { $0 > 0 }, "squeeze output is after its ReLU")
    }

    func testConcatOrderAndSplit() {
        let concat = Concat("cat", inputs: [Shape(n: 2, c: 1, h: 1, w: 2), Shape(n: 2, c: 2, h: 1, w: 2)])
        let a = Tensor(Shape(n: 2, c: 1, h: 1, w: 2), values: [1, 2, 3, 4])
        let b = Tensor(Shape(n: 2, c: 2, h: 1, w: 2), values: [5, 6, 7, 8, 9, 10, 11, 12])
        let y = concat.forward([a, b])
        XCTAssertEqual(y.array, [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12])
        let parts = concat.backward(y)
        XCTAssertEqual(parts[0].array, a.array)
        XCTAssertEqual(parts[1].array, b.array)
    }

    func testSoftmaxCrossEntropy() {
        let loss = SoftmaxCrossEntropy(batch: 3, classes: 4)
        let logits = randomTensor(Shape(n: 3, c: 4, h: 1, w: 1))
        let labels: [Int32] = [2, 0, 3]
        func value() -> Double { labels.withUnsafeBufferPointer { loss.forwardBackward(logits: logits, labels: $0).loss } }
        // Hand-computed for the first sample: -log softmax(z)[2], averaged over 3 samples.
        let l = value()
        let analytic = loss.gradient.array
        var expected = 0.0
        for i in 0..<3 {
            let z = (0..<4).map { Double(logits.data[i * 4 + $0]) }
            expected += log(z.map { exp($0) }.reduce(0, +)) - z[Int(labels[i])]
        }
        XCTAssertEqual(l, expected / 3, accuracy: 1e-6)
        let h: Float = 1e-2
        for j in 0..<logits.count {
            let saved = logits.data[j]
            logits.data[j] = saved + h; let plus = value()
            logits.data[j] = saved - h; let minus = value()
            logits.data[j] = saved
            XCTAssertEqual((plus - minus) / Double(2 * h), Double(analytic[j]), accuracy: 1e-4)
        }
    }
}
