import Basics


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
    /// ReLU applied in the bias pass and its mask applied while reading dy: saves a
    /// separate layer's two passes over the activations (Fire uses it).
    public let fusedReLU: Bool
    /// Where the output goes: this layer's own tensor, or a channel range of another
    /// layer's (Fire's expand convolutions write straight into the concatenated output
    /// and read their dy from the same place, so no concat copies are needed).
    var placement: (tensor: Tensor, offset: Int)?

    let output: Tensor         // (N, out, outH, outW)
    let inputGradient: Tensor  // (N, in, H, W)
    /// Images per GEMM: as many as fit a column buffer of about `columnBudget` floats.
    public let chunk: Int
    let columns: UnsafeMutablePointer<Float>  // (in*kh*kw, chunk*outH*outW)
    let staging: UnsafeMutablePointer<Float>  // (out, chunk*outH*outW): GEMM output / gathered dy
    static let columnBudget = 1 << 21

    public init(_ name: String, input: Shape, outChannels: Int, kernel: Int, stride: Int = 1, pad: Int = 0,
                groups: Int = 1, weightInit: Initializer? = nil, biasInit: Initializer = .constant(0),
                fusedReLU: Bool = false, store: ParameterStore) {
        precondition(input.c % groups == 0 && outChannels % groups == 0, "\(name): channels not divisible by groups")
        let outH = (input.h + 2 * pad - kernel) / stride + 1
        let outW = (input.w + 2 * pad - kernel) / stride + 1
        precondition(outH > 0 && outW > 0, "\(name): input \(input.h)x\(input.w) is smaller than the \(kernel)x\(kernel) kernel")
        self.name = name
        self.kernel = kernel; self.stride = stride; self.pad = pad; self.groups = groups
        self.store = store
        self.fusedReLU = fusedReLU
        inputShape = input
        outputShape = Shape(n: input.n, c: outChannels, h: outH, w: outW)
        let fanIn = input.c / groups * kernel * kernel
        weight = store.register("\(name).weight", shape: [outChannels, input.c / groups, kernel, kernel],
                                initializer: weightInit ?? .xavier(fanIn: fanIn))
        bias = store.register("\(name).bias", shape: [outChannels], initializer: biasInit)
        output = Tensor(outputShape)
        inputGradient = Tensor(input)
        let rows = input.c * kernel * kernel, hw = outH * outW
        chunk = Self.chunk(batch: input.n, rows: rows, hw: hw)
        // Batch 0 is a layout (`NetworkBuilder.build`): no scratch.
        let images = input.n == 0 ? 0 : chunk
        columns = .allocate(capacity: rows * hw * images)
        columns.initialize(repeating: 0, count: rows * hw * images)
        staging = .allocate(capacity: outChannels * hw * images)
        staging.initialize(repeating: 0, count: outChannels * hw * images)
    }

    deinit { columns.deallocate(); staging.deallocate() }

    /// Images per GEMM at `batch` for a column matrix of `rows` x `hw` per image.
    static func chunk(batch: Int, rows: Int, hw: Int) -> Int { max(1, min(batch, columnBudget / max(rows * hw, 1))) }

    public var forwardMACsPerImage: Int {
        outputShape.perImage * (inputShape.c / groups) * kernel * kernel
    }

    var spatialOut: Int { outputShape.h * outputShape.w }
    var groupK: Int { inputShape.c / groups * kernel * kernel }
    var groupOut: Int { outputShape.c / groups }

    /// Large outputs (SqueezeNet's early layers at 224 px) go one image per GEMM,
    /// straight from the input (1x1) or im2col into the output and back: no side-by-side
    /// column copies, no staging scatter, no gather of dy. Small outputs are chunked.
    /// Settable so tests can compare the two paths on one layer.
    public lazy var imageAtATime: Bool = spatialOut >= 256
    var pointwise: Bool { kernel == 1 && stride == 1 && pad == 0 }

    /// Writes this layer's output into channels `[channelOffset, channelOffset + out)` of
    /// `tensor` (same batch and spatial size) instead of its own tensor.
    func place(into tensor: Tensor, channelOffset: Int) {
        precondition(tensor.shape.h == outputShape.h && tensor.shape.w == outputShape.w
                     && channelOffset + outputShape.c <= tensor.shape.c, "\(name): placement does not fit")
        placement = (tensor, channelOffset * spatialOut)
    }
    /// Image i of the output (inside the placement target if there is one).
    @inline(__always) func outputImage(_ i: Int) -> UnsafeMutablePointer<Float> {
        if let p = placement { return p.tensor.image(i) + p.offset }
        return output.image(i)
    }
    /// Image i of this layer's part of dy (laid out like the placement target if there is one).
    @inline(__always) func gradientImage(_ dy: Tensor, _ i: Int) -> UnsafeMutablePointer<Float> {
        dy.image(i) + (placement?.offset ?? 0)
    }
    /// Copies image i's dy (cout x hw) to `dst` with row stride `ld`, zeroing where the
    /// fused ReLU's output was not positive.
    @inline(__always) func gatherGradient(_ dy: Tensor, image i: Int, into dst: UnsafeMutablePointer<Float>, leading ld: Int) {
        let src = gradientImage(dy, i), hw = spatialOut
        if fusedReLU {
            let y = outputImage(i)
            for c in 0..<outputShape.c {
                let s = src + c * hw, o = y + c * hw, d = dst + c * ld
                for j in 0..<hw { let g = s[j]; d[j] = o[j] > 0 ? g : 0 }
            }
        } else {
            for c in 0..<outputShape.c { (dst + c * ld).update(from: src + c * hw, count: hw) }
        }
    }

    /// Hash of the fused ReLU's on/off pattern (see `Network.kinkSignature`).
    func signature(into h: inout FNV1a) {
        guard fusedReLU else { return }
        for i in 0..<(placement?.tensor.shape.n ?? output.shape.n) {
            let y = outputImage(i)
            for j in 0..<outputShape.perImage { h.combine(y[j] > 0 ? 1 : 0) }
        }
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let n = input.shape.n
        output.setBatch(n)
        placement?.tensor.setBatch(n)
        let w = store.value(weight), b = store.value(bias)
        let hw = spatialOut, k = groupK, og = groupOut, cout = outputShape.c, relu = fusedReLU
        if imageAtATime {
            for i in 0..<n {
                let y = outputImage(i)
                let col = columnsOf(input.image(i))
                for g in 0..<groups {
                    sgemm(transA: false, transB: false, m: og, n: hw, k: k,
                          a: w + g * og * k, lda: k, b: col + g * k * hw, ldb: hw, beta: 0, c: y + g * og * hw, ldc: hw)
                }
                Parallel.forEach(cout, grain: max(1, (1 << 15) / hw)) { c in
                    let bc = b[c], row = y + c * hw
                    if relu { for j in 0..<hw { row[j] = max(row[j] + bc, 0) } } else { for j in 0..<hw { row[j] += bc } }
                }
            }
            return placement?.tensor ?? output
        }
        for first in Swift.stride(from: 0, to: n, by: chunk) {
            let m = min(chunk, n - first), ld = m * hw
            let columns = columns, perImage = groupK * groups * hw
            Parallel.forEach(m, grain: max(1, (1 << 15) / perImage)) { t in
                self.im2col(input.image(first + t), into: columns + t * hw, leading: ld)
            }
            for g in 0..<groups {
                sgemm(transA: false, transB: false, m: og, n: ld, k: k,
                      a: w + g * og * k, lda: k, b: columns + g * k * ld, ldb: ld, beta: 0, c: staging + g * og * ld, ldc: ld)
            }
            let staging = staging
            Parallel.forEach(m, grain: max(1, (1 << 15) / (cout * hw))) { t in
                let y = self.outputImage(first + t)
                for c in 0..<cout {
                    let bc = b[c], src = staging + c * ld + t * hw, dst = y + c * hw
                    if relu { for j in 0..<hw { dst[j] = max(src[j] + bc, 0) } } else { for j in 0..<hw { dst[j] = src[j] + bc } }
                }
            }
        }
        return placement?.tensor ?? output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        let n = input.shape.n
        let w = store.value(weight), dw = store.gradient(weight), db = store.gradient(bias)
        let hw = spatialOut, k = groupK, og = groupOut, cout = outputShape.c
        if needsInputGradient { inputGradient.setBatch(n) }
        if imageAtATime {
            for i in 0..<n {
                var dyi = gradientImage(dy, i)
                if fusedReLU {  // dy masked by the ReLU's output
                    gatherGradient(dy, image: i, into: staging, leading: hw)
                    dyi = staging
                }
                for c in 0..<cout { db[c] += sum(dyi + c * hw, count: hw) }
                let col = columnsOf(input.image(i))
                for g in 0..<groups {
                    sgemm(transA: false, transB: true, m: og, n: k, k: hw,
                          a: dyi + g * og * hw, lda: hw, b: col + g * k * hw, ldb: hw, beta: 1, c: dw + g * og * k, ldc: k)
                }
                guard needsInputGradient else { continue }
                // 1x1: dx is the column matrix itself; otherwise dcol overwrites the columns, then col2im.
                let dcol = pointwise ? inputGradient.image(i) : columns
                for g in 0..<groups {
                    sgemm(transA: true, transB: false, m: k, n: hw, k: og,
                          a: w + g * og * k, lda: k, b: dyi + g * og * hw, ldb: hw, beta: 0, c: dcol + g * k * hw, ldc: hw)
                }
                if !pointwise {
                    let dx = inputGradient.image(i)
                    dx.update(repeating: 0, count: inputShape.perImage)
                    Parallel.forRanges(inputShape.c, grain: max(1, (1 << 15) / (kernel * kernel * hw))) { r in
                        self.col2im(dcol, leading: hw, into: dx, channels: r)
                    }
                }
            }
            return needsInputGradient ? inputGradient : nil
        }
        for first in Swift.stride(from: 0, to: n, by: chunk) {
            let m = min(chunk, n - first), ld = m * hw
            let (columns, staging, perImage) = (columns, staging, groupK * groups * hw)
            Parallel.forEach(m, grain: max(1, (1 << 15) / (perImage + cout * hw))) { t in
                self.gatherGradient(dy, image: first + t, into: staging + t * hw, leading: ld)
                self.im2col(input.image(first + t), into: columns + t * hw, leading: ld)
            }
            // Bias gradient in image order, as the serial loop summed it.
            for c in 0..<cout {
                let row = staging + c * ld
                for t in 0..<m { db[c] += sum(row + t * hw, count: hw) }
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
            let inputGradient = inputGradient
            Parallel.forEach(m, grain: max(1, (1 << 15) / perImage)) { t in
                self.col2im(columns + t * hw, leading: ld, into: inputGradient.image(first + t))
            }
        }
        return needsInputGradient ? inputGradient : nil
    }

    /// Image `x` as a column matrix of row stride `outH*outW`: `x` itself for 1x1
    /// convolutions, else im2col into `columns` (channels split across threads).
    func columnsOf(_ x: UnsafePointer<Float>) -> UnsafePointer<Float> {
        if pointwise { return x }
        let (columns, hw) = (columns, spatialOut)
        Parallel.forRanges(inputShape.c, grain: max(1, (1 << 15) / (kernel * kernel * hw))) { r in
            self.im2col(x, into: columns, leading: hw, channels: r)
        }
        return UnsafePointer(columns)
    }

    /// Writes image `x`'s column matrix (rows of length outH*outW) with row stride `leading`,
    /// for the rows of input channels `channels` (all by default).
    func im2col(_ x: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>, leading: Int,
                channels: Range<Int>? = nil) {
        let (h, w, oh, ow) = (inputShape.h, inputShape.w, outputShape.h, outputShape.w)
        let channels = channels ?? 0..<inputShape.c
        if pointwise {
            for c in channels { (col + c * leading).update(from: x + c * h * w, count: h * w) }
            return
        }
        var row = channels.lowerBound * kernel * kernel
        for c in channels {
            let xc = x + c * h * w
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let dst = col + row * leading
                    // Columns ox in lo..<hi read inside the row; the rest are padding.
                    let (lo, hi) = validColumns(kx)
                    for oy in 0..<oh {
                        let iy = oy * stride - pad + ky
                        let d = dst + oy * ow
                        if iy < 0 || iy >= h {
                            d.update(repeating: 0, count: ow)
                            continue
                        }
                        if lo > 0 { d.update(repeating: 0, count: lo) }
                        if hi < ow { (d + hi).update(repeating: 0, count: ow - hi) }
                        guard lo < hi else { continue }
                        let src = xc + iy * w + (lo * stride - pad + kx)
                        if stride == 1 {
                            (d + lo).update(from: src, count: hi - lo)
                        } else {
                            let s = stride
                            for i in 0..<(hi - lo) { d[lo + i] = src[i * s] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// The output columns ox whose input column ox * stride - pad + kx lies inside the
    /// image, as lo..<hi (empty when none does): the copy loops need no bounds test.
    @inline(__always)
    func validColumns(_ kx: Int) -> (Int, Int) {
        let (w, ow) = (inputShape.w, outputShape.w)
        // ox * stride >= pad - kx  and  ox * stride <= w - 1 + pad - kx
        let first = pad - kx
        let lo = first <= 0 ? 0 : (first + stride - 1) / stride
        let last = w - 1 + pad - kx
        let hi = last < 0 ? 0 : min(ow, last / stride + 1)
        return (min(lo, ow), max(min(lo, ow), hi))
    }

    /// Adds a column matrix (row stride `leading`) back into image gradient `dx`. With
    /// `channels` nil, `dx` is overwritten; with a range, only those channels are
    /// accumulated into (the caller zeroes them first).
    func col2im(_ col: UnsafePointer<Float>, leading: Int, into dx: UnsafeMutablePointer<Float>,
                channels: Range<Int>? = nil) {
        let (h, w, oh, ow) = (inputShape.h, inputShape.w, outputShape.h, outputShape.w)
        if pointwise {
            for c in channels ?? 0..<inputShape.c { (dx + c * h * w).update(from: col + c * leading, count: h * w) }
            return
        }
        if channels == nil { dx.update(repeating: 0, count: inputShape.perImage) }
        let channels = channels ?? 0..<inputShape.c
        var row = channels.lowerBound * kernel * kernel
        for c in channels {
            let dxc = dx + c * h * w
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let src = col + row * leading
                    let (lo, hi) = validColumns(kx)
                    for oy in 0..<oh where lo < hi {
                        let iy = oy * stride - pad + ky
                        if iy < 0 || iy >= h { continue }
                        let d = dxc + iy * w + (lo * stride - pad + kx), s = src + oy * ow + lo
                        let step = stride
                        for i in 0..<(hi - lo) { d[i * step] += s[i] }
                    }
                    row += 1
                }
            }
        }
    }
}
