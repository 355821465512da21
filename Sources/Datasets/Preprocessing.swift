// Turning stored 8-bit images into the model's NCHW float input.
//
// Bilinear resizing uses the half-pixel convention (PyTorch
// `F.interpolate(mode: "bilinear", align_corners: False)`, OpenCV INTER_LINEAR):
//   src = (dst + 0.5) * (inSize / outSize) - 0.5, clamped below at 0,
//   i0 = floor(src), i1 = min(i0 + 1, inSize - 1), weight of i1 = src - i0.
// No antialiasing when shrinking (PyTorch's default `antialias=False`).

/// How a stored image is brought to the model's input size.
public enum Resize: Equatable {
    /// Bilinear interpolation, align_corners = false. Works for any size.
    case bilinear
    /// Place the image, unscaled, in the centre of a black (raw 0) canvas;
    /// the top/left margin is `(size - imageSize) / 2`, rounded down.
    /// Requires `size >= imageSize`.
    case pad
}

/// Per-channel normalisation `(x / 255 - mean) / std`, one pair for all channels.
public struct Normalization: Equatable {
    public var mean: Float
    public var std: Float
    public init(mean: Float, std: Float) { self.mean = mean; self.std = std }

    /// Fashion-MNIST training-set statistics of x/255: mean 0.2860, std 0.3530
    /// (the values torchvision users quote; computed over all 60,000 x 784 pixels).
    public static let fashionMNIST = Normalization(mean: 0.2860, std: 0.3530)
    /// Plain x/255 in [0, 1].
    public static let unit = Normalization(mean: 0, std: 1)
    /// Maps 0...255 to -1...1; used for synthetic data.
    public static let symmetric = Normalization(mean: 0.5, std: 0.5)

    /// Value of every raw byte after normalisation (a 256-entry table).
    func table() -> [Float] {
        (0..<256).map { (Float($0) / 255 - mean) / std }
    }
}

/// What the model expects: `channels` x `size` x `size` floats per image.
public struct Preprocessing: Equatable {
    /// Output height and width in pixels (e.g. 32, 64, 224).
    public var size: Int
    /// Output channels; a one-channel source is replicated into every channel.
    public var channels: Int
    public var resize: Resize
    public var normalization: Normalization

    public init(size: Int = 32, channels: Int = 3, resize: Resize = .bilinear,
                normalization: Normalization = .fashionMNIST) {
        self.size = size
        self.channels = channels
        self.resize = resize
        self.normalization = normalization
    }
}

/// Precomputed source taps for one axis: output position `o` reads
/// `(1 - weight[o]) * in[lower[o]] + weight[o] * in[upper[o]]`.
struct AxisTaps {
    let lower: [Int]
    let upper: [Int]
    let weight: [Float]

    init(bilinearFrom inSize: Int, to outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        var lower = [Int](), upper = [Int](), weight = [Float]()
        for o in 0..<outSize {
            let src = max(0, (Double(o) + 0.5) * scale - 0.5)
            let i0 = min(Int(src), inSize - 1)
            lower.append(i0)
            upper.append(min(i0 + 1, inSize - 1))
            weight.append(Float(src - Double(i0)))
        }
        self.lower = lower
        self.upper = upper
        self.weight = weight
    }
}

/// Everything `fillBatch` needs, computed once per data set.
struct ResizePlan {
    enum Kind { case copy, pad(top: Int, left: Int), bilinear(rows: AxisTaps, columns: AxisTaps) }
    let kind: Kind
    let inHeight: Int, inWidth: Int, outSize: Int
    /// Raw byte -> normalised float.
    let table: [Float]

    init(inHeight: Int, inWidth: Int, preprocessing p: Preprocessing) throws {
        guard p.size > 0, p.channels > 0 else {
            throw DatasetError.invalidArgument("output size \(p.size) and channels \(p.channels) must be positive")
        }
        guard p.normalization.std > 0 else {
            throw DatasetError.invalidArgument("normalisation std \(p.normalization.std) must be positive")
        }
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outSize = p.size
        self.table = p.normalization.table()
        if inHeight == p.size && inWidth == p.size {
            kind = .copy
        } else if p.resize == .pad {
            guard p.size >= inHeight, p.size >= inWidth else {
                throw DatasetError.invalidArgument(
                    "cannot pad \(inHeight)x\(inWidth) images to \(p.size)x\(p.size); use bilinear resize")
            }
            kind = .pad(top: (p.size - inHeight) / 2, left: (p.size - inWidth) / 2)
        } else {
            kind = .bilinear(rows: AxisTaps(bilinearFrom: inHeight, to: p.size),
                             columns: AxisTaps(bilinearFrom: inWidth, to: p.size))
        }
    }

    /// Floats of scratch space `apply` needs.
    var scratchCount: Int { inHeight * outSize }

    /// Writes one normalised `outSize` x `outSize` plane from one `inHeight` x
    /// `inWidth` byte plane. `scratch` holds `scratchCount` floats.
    func apply(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<Float>,
               scratch: UnsafeMutablePointer<Float>) {
        table.withUnsafeBufferPointer { lut in
            switch kind {
            case .copy:
                for i in 0..<(outSize * outSize) { dst[i] = lut[Int(src[i])] }
            case let .pad(top, left):
                dst.update(repeating: lut[0], count: outSize * outSize)
                for y in 0..<inHeight {
                    let row = dst + (top + y) * outSize + left, from = src + y * inWidth
                    for x in 0..<inWidth { row[x] = lut[Int(from[x])] }
                }
            case let .bilinear(rows, columns):
                bilinear(src, dst, scratch, lut, rows, columns)
            }
        }
    }

    /// Separable bilinear: every source row horizontally into `scratch`
    /// (inHeight, outSize), then output rows as blends of two scratch rows.
    private func bilinear(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>,
                          _ scratch: UnsafeMutablePointer<Float>, _ lut: UnsafeBufferPointer<Float>,
                          _ rows: AxisTaps, _ columns: AxisTaps) {
        let n = outSize
        columns.lower.withUnsafeBufferPointer { x0 in
        columns.upper.withUnsafeBufferPointer { x1 in
        columns.weight.withUnsafeBufferPointer { wx in
            for y in 0..<inHeight {
                let from = src + y * inWidth, row = scratch + y * n
                for x in 0..<n {
                    let a = lut[Int(from[x0[x]])], b = lut[Int(from[x1[x]])]
                    row[x] = a + wx[x] * (b - a)
                }
            }
        }}}
        for y in 0..<n {
            let a = scratch + rows.lower[y] * n, b = scratch + rows.upper[y] * n
            let w = rows.weight[y], out = dst + y * n
            for x in 0..<n { out[x] = a[x] + w * (b[x] - a[x]) }
        }
    }
}
