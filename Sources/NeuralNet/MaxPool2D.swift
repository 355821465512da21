import Basics

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
        // Interior windows (whole kernel inside the row) take a branch-free path the
        // compiler vectorizes across output columns; the clipped ones the general loop.
        let interiorStart = min(ow, (pad + stride - 1) / stride)
        let interiorEnd = max(interiorStart, min(ow, (w + pad - kernel) / stride + 1))
        Parallel.forEach(input.shape.n * inputShape.c, grain: max(1, (1 << 15) / (oh * ow))) { plane in
            let x = xBase + plane * h * w
            let y = yBase + plane * oh * ow
            let arg = argmax + plane * oh * ow
            for oy in 0..<oh {
                let y0 = max(oy * stride - pad, 0), y1 = min(oy * stride - pad + kernel, h)
                let yRow = y + oy * ow, argRow = arg + oy * ow
                // Row by row, each row's first maximum replacing the running one only when
                // strictly larger: the first maximum in row-major order, as in Caffe.
                for iy in y0..<y1 {
                    let row = x + iy * w, rowStart = iy * w
                    let first = iy == y0
                    func merge(_ ox: Int, _ best: Float, _ index: Int) {
                        let wins = first || best > yRow[ox]
                        yRow[ox] = wins ? best : yRow[ox]
                        argRow[ox] = wins ? Int32(truncatingIfNeeded: rowStart + index) : argRow[ox]
                    }
                    for ox in 0..<interiorStart { edgeWindow(ox) }
                    if kernel == 3 && stride == 2 {  // SqueezeNet's and AlexNet's pools
                        Self.interiorRow3(row, stride: 2, pad: pad, rowStart: rowStart, first: first,
                                          interiorStart, interiorEnd, yRow, argRow)
                    } else if kernel == 3 {
                        Self.interiorRow3(row, stride: stride, pad: pad, rowStart: rowStart, first: first,
                                          interiorStart, interiorEnd, yRow, argRow)
                    } else {
                        for ox in interiorStart..<interiorEnd { edgeWindow(ox) }
                    }
                    for ox in interiorEnd..<ow { edgeWindow(ox) }
                    func edgeWindow(_ ox: Int) {
                        let x0 = max(ox * stride - pad, 0), x1 = min(ox * stride - pad + kernel, w)
                        var best = -Float.infinity, index = x0
                        for ix in x0..<x1 where row[ix] > best { best = row[ix]; index = ix }
                        merge(ox, best, index)
                    }
                }
            }
        }
        return output
    }

    /// One input row's 3-wide windows whose columns are all inside the row, merged into
    /// the running maximum of output row `y` (replacing it when `first`). Written with
    /// selects on Int32 indices only, so it vectorizes; inlined with a constant stride.
    @inline(__always)
    static func interiorRow3(_ row: UnsafePointer<Float>, stride: Int, pad: Int, rowStart: Int, first: Bool,
                             _ start: Int, _ end: Int,
                             _ y: UnsafeMutablePointer<Float>, _ arg: UnsafeMutablePointer<Int32>) {
        let offset = Int32(truncatingIfNeeded: rowStart - pad)
        let s32 = Int32(truncatingIfNeeded: stride)
        if first {
            for ox in start..<end {
                let b = ox &* stride &- pad
                let v0 = row[b], v1 = row[b &+ 1], v2 = row[b &+ 2]
                let i = offset &+ Int32(truncatingIfNeeded: ox) &* s32
                var best = v0 > -Float.infinity ? v0 : -Float.infinity, index = i
                index = v1 > best ? i &+ 1 : index; best = v1 > best ? v1 : best
                index = v2 > best ? i &+ 2 : index; best = v2 > best ? v2 : best
                y[ox] = best; arg[ox] = index
            }
        } else {
            for ox in start..<end {
                let b = ox &* stride &- pad
                let v0 = row[b], v1 = row[b &+ 1], v2 = row[b &+ 2]
                let i = offset &+ Int32(truncatingIfNeeded: ox) &* s32
                var best = y[ox], index = arg[ox]
                index = v0 > best ? i : index; best = v0 > best ? v0 : best
                index = v1 > best ? i &+ 1 : index; best = v1 > best ? v1 : best
                index = v2 > best ? i &+ 2 : index; best = v2 > best ? v2 : best
                y[ox] = best; arg[ox] = index
            }
        }
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
    func signature(into h: inout FNV1a) {
        for i in 0..<output.count { h.combine(UInt64(UInt32(bitPattern: argmax[i]))) }
    }
}
