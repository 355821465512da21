import CBLAS

/// 2-D convolution (cross-correlation, like Caffe and PyTorch) as im2col + sgemm,
/// with stride, zero padding, bias and groups.
///
/// Weights are OIHW `(out, in/groups, kh, kw)`, bias `(out)`. Per image the
/// forward pass is `y = W * col(x) + b` with `col(x)` of shape `(in*kh*kw, outH*outW)`;
/// backward recomputes `col(x)` instead of caching it for the whole batch.
/// A 1x1, stride-1, unpadded convolution skips im2col: the image is its own column matrix.
public final class Conv2D: Layer {
    public let name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public var needsInputGradient = true
    public let kernel: Int, stride: Int, pad: Int, groups: Int
    public let weight: ParameterRef, bias: ParameterRef
    public var parameters: [ParameterRef] { [weight, bias] }
    unowned let store: ParameterStore

    let output: Tensor         // (N, out, outH, outW)
    let inputGradient: Tensor  // (N, in, H, W)
    let columns: UnsafeMutablePointer<Float>  // (in*kh*kw, outH*outW) for one image
    let isPointwise: Bool

    public init(_ name: String, input: Shape, outChannels: Int, kernel: Int, stride: Int = 1, pad: Int = 0,
                groups: Int = 1, weightInit: Initializer? = nil, biasInit: Initializer = .constant(0),
                store: ParameterStore) {
        precondition(input.c % groups == 0 && outChannels % groups == 0, "\(name): channels not divisible by groups")
        let outH = (input.h + 2 * pad - kernel) / stride + 1
        let outW = (input.w + 2 * pad - kernel) / stride + 1
        precondition(outH > 0 && outW > 0, "\(name): input \(input.h)x\(input.w) is smaller than the \(kernel)x\(kernel) kernel")
        self.name = name
        self.kernel = kernel; self.stride = stride; self.pad = pad; self.groups = groups
        self.store = store
        inputShape = input
        outputShape = Shape(n: input.n, c: outChannels, h: outH, w: outW)
        let fanIn = input.c / groups * kernel * kernel
        weight = store.register("\(name).weight", shape: [outChannels, input.c / groups, kernel, kernel],
                                initializer: weightInit ?? .xavier(fanIn: fanIn))
        bias = store.register("\(name).bias", shape: [outChannels], initializer: biasInit)
        output = Tensor(outputShape)
        inputGradient = Tensor(input)
        isPointwise = kernel == 1 && stride == 1 && pad == 0
        let colCount = isPointwise ? 1 : input.c * kernel * kernel * outH * outW
        columns = .allocate(capacity: colCount)
        columns.initialize(repeating: 0, count: colCount)
    }

    deinit { columns.deallocate() }

    public var forwardMACsPerImage: Int {
        outputShape.perImage * (inputShape.c / groups) * kernel * kernel
    }

    var spatialOut: Int { outputShape.h * outputShape.w }
    var groupK: Int { inputShape.c / groups * kernel * kernel }
    var groupOut: Int { outputShape.c / groups }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let n = input.shape.n
        output.setBatch(n)
        let w = store.value(weight), b = store.value(bias)
        let hw = spatialOut, k = groupK, og = groupOut
        for i in 0..<n {
            let col = columnMatrix(of: input.image(i))
            let y = output.image(i)
            for g in 0..<groups {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(og), Int32(hw), Int32(k),
                            1, w + g * og * k, Int32(k), col + g * k * hw, Int32(hw), 0, y + g * og * hw, Int32(hw))
            }
            for c in 0..<outputShape.c {
                let bc = b[c], row = y + c * hw
                for j in 0..<hw { row[j] += bc }
            }
        }
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        let n = input.shape.n
        let w = store.value(weight), dw = store.gradient(weight), db = store.gradient(bias)
        let hw = spatialOut, k = groupK, og = groupOut
        if needsInputGradient { inputGradient.setBatch(n) }
        for i in 0..<n {
            let dyi = dy.image(i)
            for c in 0..<outputShape.c {
                var s: Float = 0
                let row = dyi + c * hw
                for j in 0..<hw { s += row[j] }
                db[c] += s
            }
            let col = columnMatrix(of: input.image(i))
            for g in 0..<groups {
                // dW_g += dy_g (og x hw) * col_g^T (hw x k)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(og), Int32(k), Int32(hw),
                            1, dyi + g * og * hw, Int32(hw), col + g * k * hw, Int32(hw), 1, dw + g * og * k, Int32(k))
            }
            guard needsInputGradient else { continue }
            let dx = inputGradient.image(i)
            let dcol = isPointwise ? dx : columns
            for g in 0..<groups {
                // dcol_g = W_g^T (k x og) * dy_g (og x hw)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(hw), Int32(og),
                            1, w + g * og * k, Int32(k), dyi + g * og * hw, Int32(hw), 0, dcol + g * k * hw, Int32(hw))
            }
            if !isPointwise { col2im(columns, into: dx) }
        }
        return needsInputGradient ? inputGradient : nil
    }

    /// The image itself for pointwise convolutions, otherwise its im2col in `columns`.
    func columnMatrix(of image: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        if isPointwise { return image }
        im2col(image, into: columns)
        return columns
    }

    func im2col(_ x: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow) = (inputShape.h, inputShape.w, outputShape.h, outputShape.w)
        var row = 0
        for c in 0..<inputShape.c {
            let xc = x + c * h * w
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let dst = col + row * oh * ow
                    for oy in 0..<oh {
                        let iy = oy * stride - pad + ky
                        let d = dst + oy * ow
                        if iy < 0 || iy >= h {
                            d.update(repeating: 0, count: ow)
                            continue
                        }
                        let src = xc + iy * w
                        for ox in 0..<ow {
                            let ix = ox * stride - pad + kx
                            d[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    func col2im(_ col: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow) = (inputShape.h, inputShape.w, outputShape.h, outputShape.w)
        dx.update(repeating: 0, count: inputShape.perImage)
        var row = 0
        for c in 0..<inputShape.c {
            let dxc = dx + c * h * w
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let src = col + row * oh * ow
                    for oy in 0..<oh {
                        let iy = oy * stride - pad + ky
                        if iy < 0 || iy >= h { continue }
                        let d = dxc + iy * w, s = src + oy * ow
                        for ox in 0..<ow {
                            let ix = ox * stride - pad + kx
                            if ix >= 0 && ix < w { d[ix] += s[ox] }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
