import CBLAS

/// Fully connected layer (Caffe's InnerProduct): each image (C, H, W) is read as
/// one row of K = C*H*W values, so `X` is (N, K) with no copy, and the output is
/// (N, out, 1, 1).
///
/// Weight `(out, K)` row-major, as Caffe and PyTorch store it (a checkpoint of
/// either maps element for element), bias `(out)`. Every product is one sgemm:
///
///     forward   Y  = X W^T + 1 b^T        (N, out)
///     backward  dW += dY^T X              (out, K)
///               db += dY^T 1              (out)
///               dX  = dY W                (N, K)
///
/// Forward caches nothing; backward reads the input it is given.
public final class FullyConnected: Layer {
    public let name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public var needsInputGradient = true
    public let weight: ParameterRef, bias: ParameterRef
    public var parameters: [ParameterRef] { [weight, bias] }
    unowned let store: ParameterStore

    let output: Tensor         // (N, out, 1, 1)
    let inputGradient: Tensor  // (N, C, H, W)
    let ones: UnsafeMutablePointer<Float>  // (N): all 1, for the bias terms

    /// `weightInit` defaults to Caffe's Xavier over the fan-in K.
    public init(_ name: String, input: Shape, outputs: Int, weightInit: Initializer? = nil,
                biasInit: Initializer = .constant(0), store: ParameterStore) {
        precondition(outputs > 0 && input.perImage > 0, "\(name): empty fully connected layer")
        self.name = name
        self.store = store
        inputShape = input
        outputShape = Shape(n: input.n, c: outputs, h: 1, w: 1)
        let k = input.perImage
        weight = store.register("\(name).weight", shape: [outputs, k], initializer: weightInit ?? .xavier(fanIn: k))
        bias = store.register("\(name).bias", shape: [outputs], initializer: biasInit)
        output = Tensor(outputShape)
        inputGradient = Tensor(input)
        ones = .allocate(capacity: max(input.n, 1))
        ones.initialize(repeating: 1, count: max(input.n, 1))
    }

    deinit { ones.deallocate() }

    public var forwardMACsPerImage: Int { outputShape.c * inputShape.perImage }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let n = input.shape.n, k = inputShape.perImage, o = outputShape.c
        output.setBatch(n)
        guard n > 0 else { return output }
        let b = store.value(bias)
        // Y = 1 b^T, then Y += X W^T
        for i in 0..<n { (output.data + i * o).update(from: b, count: o) }
        sgemm(transA: false, transB: true, m: n, n: o, k: k,
              a: input.data, lda: k, b: store.value(weight), ldb: k, beta: 1, c: output.data, ldc: o)
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        let n = input.shape.n, k = inputShape.perImage, o = outputShape.c
        if needsInputGradient { inputGradient.setBatch(n) }
        guard n > 0 else { return needsInputGradient ? inputGradient : nil }
        // dW (o x k) += dY^T (o x n) X (n x k)
        sgemm(transA: true, transB: false, m: o, n: k, k: n,
              a: dy.data, lda: o, b: input.data, ldb: k, beta: 1, c: store.gradient(weight), ldc: k)
        // db (o) += dY^T (o x n) 1 (n)
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(n), Int32(o), 1, dy.data, Int32(o), ones, 1,
                    1, store.gradient(bias), 1)
        guard needsInputGradient else { return nil }
        // dX (n x k) = dY (n x o) W (o x k)
        sgemm(transA: false, transB: false, m: n, n: k, k: o,
              a: dy.data, lda: o, b: store.value(weight), ldb: k, beta: 0, c: inputGradient.data, ldc: k)
        return inputGradient
    }
}
