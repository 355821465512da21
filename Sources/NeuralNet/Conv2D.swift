
/// 2-D convolution (cross-correlation, like Caffe and PyTorch) as im2col + sgemm,
/// with stride, zero padding, bias and groups.
///
/// Weights are OIHW `(out, in/groups, kh, kw)`, bias `(out)`. Images are processed
/// in chunks of `chunk` images whose column matrices sit side by side, so one
/// sgemm covers many small images (SqueezeNet's late layers are 3x3 or 1x1 at
/// 32 px, far too small for one GEMM each): `Y (out, m*HW) = W (out, K) * col (K, m*HW)`,
/// then scattered into NCHW with the bias. Backward recomputes `col` per chunk
/// instead of caching it for the whole batch, and reuses it for dcol.
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
    /// Images per GEMM: as many as fit a column buffer of about `columnBudget` floats.
    public let chunk: Int
    let columns: UnsafeMutablePointer<Float>  // (in*kh*kw, chunk*outH*outW)
    let staging: UnsafeMutablePointer<Float>  // (out, chunk*outH*outW): GEMM output / gathered dy
    static let columnBudget = 1 << 21

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
        let rows = input.c * kernel * kernel, hw = outH * outW
        chunk = max(1, min(input.n, Self.columnBudget / max(rows * hw, 1)))
        columns = .allocate(capacity: rows * hw * chunk)
        columns.initialize(repeating: 0, count: rows * hw * chunk)
        staging = .allocate(capacity: outChannels * hw * chunk)
        staging.initialize(repeating: 0, count: outChannels * hw * chunk)
    }

    deinit { columns.deallocate(); staging.deallocate() }

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
        let hw = spatialOut, k = groupK, og = groupOut, cout = outputShape.c
        for first in Swift.stride(from: 0, to: n, by: chunk) {
            let m = min(chunk, n - first), ld = m * hw
            for t in 0..<m { im2col(input.image(first + t), into: columns + t * hw, leading: ld) }
            for g in 0..<groups {
                sgemm(transA: false, transB: false, m: og, n: ld, k: k,
                      a: w + g * og * k, lda: k, b: columns + g * k * ld, ldb: ld, beta: 0, c: staging + g * og * ld, ldc: ld)
            }
            for t in 0..<m {
                let y = output.image(first + t)
                for c in 0..<cout {
                    let bc = b[c], src = staging + c * ld + t * hw, dst = y + c * hw
                    for j in 0..<hw { dst[j] = src[j] + bc }
                }
            }
        }
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        let n = input.shape.n
        let w = store.value(weight), dw = store.gradient(weight), db = store.gradient(bias)
        let hw = spatialOut, k = groupK, og = groupOut, cout = outputShape.c
        if needsInputGradient { inputGradient.setBatch(n) }
        for first in Swift.stride(from: 0, to: n, by: chunk) {
            let m = min(chunk, n - first), ld = m * hw
            for t in 0..<m {
                let dyi = dy.image(first + t)
                for c in 0..<cout {
                    let src = dyi + c * hw, dst = staging + c * ld + t * hw
                    var s: Float = 0
                    for j in 0..<hw { dst[j] = src[j]; s += src[j] }
                    db[c] += s
                }
                im2col(input.image(first + t), into: columns + t * hw, leading: ld)
            }
            for g in 0..<groups {
                // dW_g += dy_g (og x ld) * col_g^T (ld x k)
                sgemm(transA: false, transB: true, m: og, n: k, k: ld,
                      a: staging + g * og * ld, lda: ld, b: columns + g * k * ld, ldb: ld, beta: 1, c: dw + g * og * k, ldc: k)
            }
            guard needsInputGradient else { continue }
            for g in 0..<groups {
                // dcol_g (k x ld) = W_g^T (k x og) * dy_g (og x ld), over the columns no longer needed
                sgemm(transA: true, transB: false, m: k, n: ld, k: og,
                      a: w + g * og * k, lda: k, b: staging + g * og * ld, ldb: ld, beta: 0, c: columns + g * k * ld, ldc: ld)
            }
            for t in 0..<m { col2im(columns + t * hw, leading: ld, into: inputGradient.image(first + t)) }
        }
        return needsInputGradient ? inputGradient : nil
    }

    /// Writes image `x`'s column matrix (rows of length outH*outW) with row stride `leading`.
    func im2col(_ x: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>, leading: Int) {
        let (h, w, oh, ow) = (inputShape.h, inputShape.w, outputShape.h, outputShape.w)
        if kernel == 1 && stride == 1 && pad == 0 {
            for c in 0..<inputShape.c { (col + c * leading).update(from: x + c * h * w, count: h * w) }
            return
        }
        var row = 0
        for c in 0..<inputShape.c {
            let xc = x + c * h * w
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let dst = col + row * leading
                    for oy in 0..<oh {
                        let iy = oy * stride - pad + ky
                        let d = dst + oy * ow
                        if iy < 0 || iy >= h {
                            d.update(repeating: 0, count: ow)
                            continue
                        }
                        let src = xc + iy * w
                        if stride == 1 {
                            for ox in 0..<ow {
                                let ix = ox - pad + kx
                                d[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                            }
                        } else {
                            for ox in 0..<ow {
                                let ix = ox * stride - pad + kx
                                d[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Adds a column matrix (row stride `leading`) back into image gradient `dx` (overwritten).
    func col2im(_ col: UnsafePointer<Float>, leading: Int, into dx: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow) = (inputShape.h, inputShape.w, outputShape.h, outputShape.w)
        if kernel == 1 && stride == 1 && pad == 0 {
            for c in 0..<inputShape.c { (dx + c * h * w).update(from: col + c * leading, count: h * w) }
            return
        }
        dx.update(repeating: 0, count: inputShape.perImage)
        var row = 0
        for c in 0..<inputShape.c {
            let dxc = dx + c * h * w
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let src = col + row * leading
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
