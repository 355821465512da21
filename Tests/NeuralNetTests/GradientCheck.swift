import Basics
import NeuralNet
import XCTest

/// Central finite differences on a scalar loss L = sum(y * R) with a fixed random R,
/// so dL/dy = R. Checks dL/dx and dL/dparams of one layer at sampled entries.
/// Float32 layers: h = 1e-2 on inputs of order 1; the layers under test are
/// piecewise linear or smooth, so the tolerance only covers float rounding.
struct GradientCheck {
    var h: Float = 1e-2
    var tolerance = 3e-3  // |fd - analytic| / max|analytic| of the tensor
    var samples = 40

    func loss(_ y: Tensor, _ r: [Float]) -> Double {
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(r[i]) }
        return s
    }

    /// Returns the worst relative error over the input and every parameter tensor.
    @discardableResult
    func check(_ layer: Layer, store: ParameterStore, input x: Tensor, training: Bool = true,
               file: StaticString = #filePath, line: UInt = #line) -> Double {
        var rng = SplitMix64(seed: 99)
        let y = layer.forward(x, training: training)
        let r = (0..<y.count).map { _ in rng.nextUnitFloat() * 2 - 1 }
        let dy = Tensor(y.shape, values: r)
        store.zeroGradients()
        layer.needsInputGradient = true
        let dx = layer.backward(x, dy)!
        let analyticInput = Array(dx.buffer)
        let analyticParams = Array(store.gradients)

        func numeric(_ p: UnsafeMutablePointer<Float>) -> Double {
            let saved = p.pointee
            p.pointee = saved + h
            let plus = loss(layer.forward(x, training: training), r)
            p.pointee = saved - h
            let minus = loss(layer.forward(x, training: training), r)
            p.pointee = saved
            return (plus - minus) / (2 * Double(h))
        }

        var worst = 0.0
        func compare(_ label: String, count: Int, pointer: (Int) -> UnsafeMutablePointer<Float>, analytic: (Int) -> Float) {
            let scale = (0..<count).reduce(0.0) { max($0, abs(Double(analytic($1)))) }
            XCTAssertGreaterThan(scale, 0, "\(layer.name) \(label): gradient is identically zero", file: file, line: line)
            var indices = Set<Int>()
            while indices.count < min(samples, count) { indices.insert(Int(rng.next() % UInt64(count))) }
            var tensorWorst = 0.0
            for i in indices {
                let err = abs(numeric(pointer(i)) - Double(analytic(i))) / max(scale, 1e-12)
                tensorWorst = max(tensorWorst, err)
            }
            XCTAssertLessThanOrEqual(tensorWorst, tolerance, "\(layer.name) \(label): finite differences disagree",
                                     file: file, line: line)
            worst = max(worst, tensorWorst)
        }
        compare("input", count: x.count, pointer: { x.data + $0 }, analytic: { analyticInput[$0] })
        for ref in layer.parameters {
            compare(ref.name, count: ref.count, pointer: { store.value(ref) + $0 },
                    analytic: { analyticParams[ref.offset + $0] })
        }
        _ = layer.forward(x, training: training)
        return worst
    }
}

/// A tensor whose entries have distinct magnitudes spaced 2/count apart, at least
/// 0.05 from zero, with random signs: a finite difference with h < 1/count crosses
/// no ReLU kink and changes no max-pool winner.
func wellSeparatedTensor(_ shape: Shape, seed: UInt64 = 7) -> Tensor {
    var rng = SplitMix64(seed: seed)
    var ranks = Array(0..<shape.count)
    ranks.shuffle(using: &rng)
    let step = 2 / Float(shape.count)
    return Tensor(shape, values: ranks.map { k in
        let magnitude = 0.05 + Float(k) * step
        return rng.next() % 2 == 0 ? magnitude : -magnitude
    })
}

/// Normal-ish random values for smooth or linear layers.
func randomTensor(_ shape: Shape, seed: UInt64 = 3) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape, values: (0..<shape.count).map { _ in rng.nextUnitFloat() * 2 - 1 })
}

/// Parameters uniform in +-0.5 from a seed: layers under test need values of order 1.
func randomizeParameters(_ store: ParameterStore, seed: UInt64 = 5) {
    store.allocate()
    var rng = SplitMix64(seed: seed)
    for i in 0..<store.count { store.values[i] = (rng.nextUnitFloat() * 2 - 1) * 0.5 }
}

/// Central differences of a whole network's mean cross-entropy on the largest and
/// two random entries of every parameter tensor. A step that moves any ReLU or max
/// pool across its kink (the network's kink signature changes) says nothing about
/// the derivative and is skipped, as Caffe's GradientChecker skips kinks.
/// Errors are |fd - analytic| / max|analytic| of the entry's tensor.
func wholeNetworkGradientCheck(_ net: Network, input x: Tensor, labels: [Int32], h: Float,
                               rng: inout SplitMix64) -> (errors: [(Double, String)], skipped: Int) {
    let store = net.store
    let loss = SoftmaxCrossEntropy(batch: x.shape.n, classes: net.classes)
    func value() -> (Double, UInt64) {
        let l = labels.withUnsafeBufferPointer { loss.forwardBackward(logits: net.forward(x, training: true), labels: $0).loss }
        return (l, net.kinkSignature())
    }
    let base = value().1
    store.zeroGradients()
    net.backward(loss.gradient)
    let analytic = Array(store.gradients)
    var errors: [(Double, String)] = [], skipped = 0
    for ref in store.refs {
        let scale = (0..<ref.count).reduce(0.0) { max($0, abs(Double(analytic[ref.offset + $1]))) }
        XCTAssertGreaterThan(scale, 0, "\(ref.name): gradient is identically zero")
        let top = (0..<ref.count).max { abs(analytic[ref.offset + $0]) < abs(analytic[ref.offset + $1]) }!
        for i in [top, Int(rng.next() % UInt64(ref.count)), Int(rng.next() % UInt64(ref.count))] {
            let p = store.value(ref) + i, saved = p.pointee
            p.pointee = saved + h; let plus = value()
            p.pointee = saved - h; let minus = value()
            p.pointee = saved
            guard plus.1 == base && minus.1 == base else { skipped += 1; continue }
            let err = abs((plus.0 - minus.0) / Double(2 * h) - Double(analytic[ref.offset + i])) / max(scale, 1e-12)
            errors.append((err, "\(ref.name)[\(i)]"))
        }
    }
    return (errors.sorted { $0.0 < $1.0 }, skipped)
}

/// The assertions both whole-network checks make: every kink-free entry within 2%
/// of its tensor's largest gradient (float32 rounding), the median within 0.1%,
/// and at least one kink-free entry per tensor on average.
func assertWholeNetworkGradients(_ result: (errors: [(Double, String)], skipped: Int), tensors: Int, label: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
    let e = result.errors
    guard !e.isEmpty else { return XCTFail("\(label): every step crossed a kink", file: file, line: line) }
    print("\(label) whole-network finite differences: \(e.count) entries checked, \(result.skipped) skipped at kinks, median \(e[e.count / 2].0), worst \(e.last!.0) (\(e.last!.1))")
    for (err, name) in e where err >= 2e-2 { XCTFail("\(label) \(name): finite differences disagree by \(err)", file: file, line: line) }
    XCTAssertLessThan(e[e.count / 2].0, 1e-3, label, file: file, line: line)
    XCTAssertGreaterThanOrEqual(e.count, tensors, "\(label): too many steps crossed a kink to say anything", file: file, line: line)
}
