/// Caffe's learning-rate policies (solver.prototxt `lr_policy`).
public enum LearningRatePolicy: Equatable, Codable {
    case fixed
    /// `base_lr * (1 - iter/max_iter)^power`.
    case poly(power: Double, maxIterations: Int)
    /// `base_lr * gamma^floor(iter/step_size)`.
    case step(gamma: Double, stepSize: Int)

    public func rate(base: Double, iteration: Int) -> Double {
        switch self {
        case .fixed:
            return base
        case let .poly(power, maxIterations):
            let progress = min(Double(iteration) / Double(max(maxIterations, 1)), 1)
            return base * pow(1 - progress, power)
        case let .step(gamma, stepSize):
            return base * pow(gamma, Double(iteration / max(stepSize, 1)))
        }
    }
}

/// Stochastic gradient descent with momentum and L2 weight decay exactly as Caffe
/// applies it to every parameter (weights and biases alike):
/// `v = momentum * v + lr * lr_mult * (g + weightDecay * w);  w -= v`, where `lr_mult`
/// is 1 except in the ranges given `rateMultipliers` (Caffe's per-layer `lr_mult`).
/// The momentum lives in one flat buffer aligned with the parameter buffer.
public final class SGD {
    public let momentum: Float
    public let weightDecay: Float
    public let velocity: UnsafeMutableBufferPointer<Float>
    /// Parameter ranges (disjoint) whose learning rate is multiplied by the factor.
    public let rateMultipliers: [(range: Range<Int>, factor: Float)]

    public init(parameterCount: Int, momentum: Float, weightDecay: Float,
                rateMultipliers: [(range: Range<Int>, factor: Float)] = []) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        let sorted = rateMultipliers.sorted { $0.range.lowerBound < $1.range.lowerBound }
        precondition(zip(sorted, sorted.dropFirst()).allSatisfy { $0.range.upperBound <= $1.range.lowerBound }
                     && sorted.allSatisfy { $0.range.lowerBound >= 0 && $0.range.upperBound <= parameterCount },
                     "rate multiplier ranges must be disjoint and inside the parameters")
        self.rateMultipliers = sorted
        velocity = .allocate(capacity: max(parameterCount, 1))
        velocity.initialize(repeating: 0)
    }

    deinit { velocity.deallocate() }

    public func step(parameters w: UnsafeMutableBufferPointer<Float>, gradients g: UnsafeMutableBufferPointer<Float>,
                     learningRate: Float) {
        precondition(w.count == g.count && w.count <= velocity.count, "buffers do not match the optimizer")
        var done = 0
        for (range, factor) in rateMultipliers {
            update(w, g, done..<range.lowerBound, rate: learningRate)
            update(w, g, range, rate: learningRate * factor)
            done = range.upperBound
        }
        update(w, g, done..<w.count, rate: learningRate)
    }

    private func update(_ w: UnsafeMutableBufferPointer<Float>, _ g: UnsafeMutableBufferPointer<Float>,
                        _ range: Range<Int>, rate lr: Float) {
        let v = velocity.baseAddress!, wp = w.baseAddress!, gp = g.baseAddress!
        let m = momentum, wd = weightDecay
        for i in range {
            let vi = m * v[i] + lr * (gp[i] + wd * wp[i])
            v[i] = vi
            wp[i] -= vi
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
