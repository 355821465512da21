import Training
import XCTest

/// Caffe's update with a per-range rate multiplier (lr_mult), element by element.
final class SGDTests: XCTestCase {
    func testRateMultiplierAppliesToItsRangeOnly() {
        let n = 10, lr: Float = 0.5, momentum: Float = 0.9, decay: Float = 0.01, factor: Float = 0.1
        let sgd = SGD(parameterCount: n, momentum: momentum, weightDecay: decay, rateMultipliers: [(6..<9, factor)])
        let w = UnsafeMutableBufferPointer<Float>.allocate(capacity: n), g = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { w.deallocate(); g.deallocate() }
        for i in 0..<n { w[i] = Float(i) * 0.3 - 1; g[i] = Float(n - i) * 0.07 }
        let w0 = Array(w)
        sgd.step(parameters: w, gradients: g, learningRate: lr)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n { v[i] = lr * (i >= 6 && i < 9 ? factor : 1) * (g[i] + decay * w0[i]) }
        let w1 = Array(w)
        // A second step checks that the velocity carries the multiplied rate.
        sgd.step(parameters: w, gradients: g, learningRate: lr)
        for i in 0..<n {
            XCTAssertEqual(w1[i], w0[i] - v[i], accuracy: 1e-6, "step 1, element \(i)")
            let rate = lr * (i >= 6 && i < 9 ? factor : 1)
            let v2 = momentum * v[i] + rate * (g[i] + decay * w1[i])
            XCTAssertEqual(w[i], w1[i] - v2, accuracy: 1e-6, "step 2, element \(i)")
            XCTAssertEqual(sgd.velocity[i], v2, accuracy: 1e-6)
        }
    }
}
