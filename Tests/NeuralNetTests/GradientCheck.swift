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
        var rng = SeededGenerator(seed: 99)
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
    var rng = SeededGenerator(seed: seed)
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
    var rng = SeededGenerator(seed: seed)
    return Tensor(shape, values: (0..<shape.count).map { _ in rng.nextUnitFloat() * 2 - 1 })
}
