/// Max pooling with Caffe's output rounding: `out = ceil((H + 2*pad - k) / stride) + 1`,
/// dropping a last window that would start in the padding, and clipping the last
/// window to the input. Forward caches the argmax of each window for backward;
/// ties go to the first element in row-major order.
public final class MaxPool2D: Layer {
    public let name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public var needsInputGradient = true
    public let kernel: Int, stride: Int, pad: Int
    let output: Tensor, inputGradient: Tensor
    let argmax: UnsafeMutablePointer<Int32>  // (N, C, outH, outW): index within the image channel

    /// Caffe/PyTorch ceil-mode size of one spatial dimension.
    public static func ceilOutputSize(_ size: Int, kernel: Int, stride: Int, pad: Int) -> Int {
        var out = (size + 2 * pad - kernel + stride - 1) / stride + 1
        if pad > 0 && (out - 1) * stride >= size + pad { out -= 1 }
        return out
    }

    public init(_ name: String, input: Shape, kernel: Int, stride: Int, pad: Int = 0) {
        precondition(input.h + 2 * pad >= kernel && input.w + 2 * pad >= kernel,
                     "\(name): input \(input.h)x\(input.w) is smaller than the \(kernel)x\(kernel) window")
        self.name = name
        self.kernel = kernel; self.stride = stride; self.pad = pad
        inputShape = input
        outputShape = Shape(n: input.n, c: input.c,
                            h: Self.ceilOutputSize(input.h, kernel: kernel, stride: stride, pad: pad),
                            w: Self.ceilOutputSize(input.w, kernel: kernel, stride: stride, pad: pad))
        output = Tensor(outputShape)
        inputGradient = Tensor(input)
        argmax = .allocate(capacity: outputShape.count)
        argmax.initialize(repeating: 0, count: outputShape.count)
    }

    deinit { argmax.deallocate() }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        output.setBatch(input.shape.n)
        let (h, w, oh, ow) = (inputShape.h, inputShape.w, outputShape.h, outputShape.w)
        let (xBase, yBase, argmax) = (input.data, output.data, argmax)
        let (kernel, stride, pad) = (kernel, stride, pad)
        Parallel.forEach(input.shape.n * inputShape.c, grain: max(1, (1 << 15) / (oh * ow))) { plane in
            let x = xBase + plane * h * w
            let y = yBase + plane * oh * ow
            let arg = argmax + plane * oh * ow
            for oy in 0..<oh {
                let y0 = max(oy * stride - pad, 0), y1 = min(oy * stride - pad + kernel, h)
                for ox in 0..<ow {
                    let x0 = max(ox * stride - pad, 0), x1 = min(ox * stride - pad + kernel, w)
                    var best = -Float.infinity, bestIndex = y0 * w + x0
                    for iy in y0..<y1 {
                        for ix in x0..<x1 where x[iy * w + ix] > best {
                            best = x[iy * w + ix]; bestIndex = iy * w + ix
                        }
                    }
                    y[oy * ow + ox] = best
                    arg[oy * ow + ox] = Int32(bestIndex)
                }
            }
        }
        return output
    }

    public func backward(_ input: Tensor, _ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.setBatch(input.shape.n)
        inputGradient.zero()
        let planeIn = inputShape.h * inputShape.w, planeOut = outputShape.h * outputShape.w
        let (dxBase, gBase, argmax) = (inputGradient.data, dy.data, argmax)
        Parallel.forEach(input.shape.n * inputShape.c, grain: max(1, (1 << 15) / planeOut)) { plane in
            let dx = dxBase + plane * planeIn
            let g = gBase + plane * planeOut, arg = argmax + plane * planeOut
            for j in 0..<planeOut { dx[Int(arg[j])] += g[j] }
        }
        return inputGradient
    }

    /// A hash of the winners of the last forward (see `ReLU.signature`).
    func signature(into h: inout UInt64) {
        for i in 0..<output.count { h = (h ^ UInt64(UInt32(bitPattern: argmax[i]))) &* 0x0000_0100_0000_01B3 }
    }
}
