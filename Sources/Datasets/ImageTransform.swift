// How a decoded photograph becomes the model's input, in the two conventions users
// bring: Caffe's data layer (warp to R x R, random crop, mirror, BGR minus the mean
// 104, 117, 123) and torchvision's (RandomResizedCrop and flip for training; resize the
// short side to R and centre-crop for evaluation; RGB, (x/255 - mean) / std). `resize`
// warps the whole image to the output size (what the IDX reader does), for comparisons.
//
// Every transform is "a region of the source resampled to size x size" (bilinear with
// half-pixel centres, as F.interpolate(align_corners=False) and OpenCV's INTER_LINEAR):
// warping to R then cropping at (ox, oy) samples exactly the region (ox W/R, oy H/R,
// size W/R, size H/R) with the taps clamped to the image; torchvision's crop-then-resize
// clamps them to the crop. So the region can be read from an image already reduced in
// the DCT domain, and a 500x375 photograph is never decoded whole for a 227 crop.
import Basics
import Foundation

public struct ImageTransform: Equatable, Codable {
    public enum Convention: String, CaseIterable, Codable {
        case caffe, torchvision, resize
    }

    public var convention: Convention
    /// Output side (Caffe's crop_size; torchvision's crop).
    public var size: Int
    /// Caffe: the side images are warped to before cropping; torchvision: the short side
    /// at evaluation (Resize(R) then CenterCrop(size)); unused by `resize`.
    public var resize: Int
    /// Per output channel, in output order (Caffe: B, G, R), in the convention's units:
    /// Caffe's in 0...255, torchvision's of x/255.
    public var mean: [Float]
    public var std: [Float]
    /// Random crops (training) or the centre crop (evaluation).
    public var training: Bool

    /// `resize`, `mean`, `std` nil: the convention's (R = size x 256/227 for Caffe, x 256/224
    /// for torchvision, rounded; Caffe's BGR means 104, 117, 123; ImageNet's mean and std).
    public init(convention: Convention, size: Int, resize: Int? = nil, mean: [Float]? = nil, std: [Float]? = nil,
                training: Bool) {
        self.convention = convention
        self.size = size
        self.resize = resize ?? Self.defaultResize(convention, size: size)
        self.mean = mean ?? Self.defaultMean(convention)
        self.std = std ?? Self.defaultStd(convention)
        self.training = training
    }

    public static func defaultResize(_ c: Convention, size: Int) -> Int {
        switch c {
        case .caffe: return Int((Double(size) * 256 / 227).rounded())
        case .torchvision: return Int((Double(size) * 256 / 224).rounded())
        case .resize: return size
        }
    }
    public static func defaultMean(_ c: Convention) -> [Float] { c == .caffe ? [104, 117, 123] : [0.485, 0.456, 0.406] }
    public static func defaultStd(_ c: Convention) -> [Float] { c == .caffe ? [1, 1, 1] : [0.229, 0.224, 0.225] }
    /// Caffe's channels are B, G, R (OpenCV's order); the others R, G, B.
    public var bgr: Bool { convention == .caffe }
    /// Caffe subtracts the mean from raw 0...255 values; torchvision scales to [0, 1] first.
    var pixelScale: Float { convention == .caffe ? 1 : 1 / 255 }

    /// The part of a `width` x `height` source that becomes the output, in source pixels.
    public struct Region: Equatable {
        public var x: Double, y: Double, width: Double, height: Double
        /// Taps stay inside the region (crop, then resize) instead of the image (resize, then crop).
        public var clampToRegion: Bool
        public var flip: Bool
    }

    /// The region of image `index` under `seed` (the step's augmentation seed); the draw
    /// depends only on them, never on the rank or the position in the batch.
    public func region(width w: Int, height h: Int, index: Int, seed: UInt64, mirror: Bool) -> Region {
        var rng = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0x9FB2_1C65_1E98_DF25))
        let coin = (rng.next() >> 63) == 1  // drawn always, so mirroring never moves the crop
        let flip = training && mirror && coin
        let W = Double(w), H = Double(h), s = Double(size)
        switch convention {
        case .resize:
            return Region(x: 0, y: 0, width: W, height: H, clampToRegion: false, flip: flip)
        case .caffe:
            let r = resize, room = max(r - size, 0)
            let ox = training ? rng.next(below: room + 1) : room / 2
            let oy = training ? rng.next(below: room + 1) : room / 2
            let fx = W / Double(r), fy = H / Double(r)
            return Region(x: Double(ox) * fx, y: Double(oy) * fy, width: s * fx, height: s * fy, clampToRegion: false, flip: flip)
        case .torchvision:
            if training {
                let c = Self.randomResizedCrop(width: w, height: h, rng: &rng)
                return Region(x: Double(c.x), y: Double(c.y), width: Double(c.w), height: Double(c.h), clampToRegion: true, flip: flip)
            }
            // Resize(R): the short side to R, the long one to int(R * long / short); CenterCrop(size).
            let (nw, nh) = w <= h ? (resize, Int(Double(resize) * H / W)) : (Int(Double(resize) * W / H), resize)
            let left = (Double(nw - size) / 2).rounded(), top = (Double(nh - size) / 2).rounded()
            let fx = W / Double(nw), fy = H / Double(nh)
            return Region(x: left * fx, y: top * fy, width: s * fx, height: s * fy, clampToRegion: false, flip: flip)
        }
    }

    /// torchvision's RandomResizedCrop.get_params with scale (0.08, 1) and ratio (3/4, 4/3):
    /// ten tries at a random area and log-uniform aspect, else the centre crop of the clamped ratio.
    static func randomResizedCrop(width w: Int, height h: Int, rng: inout SplitMix64) -> (x: Int, y: Int, w: Int, h: Int) {
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(rng.next() >> 11) * 0x1p-53 }
        let area = Double(w * h), logLow = log(3.0 / 4), logHigh = log(4.0 / 3)
        for _ in 0..<10 {
            let target = area * uniform(0.08, 1)
            let aspect = exp(uniform(logLow, logHigh))
            let cw = Int((target * aspect).squareRoot().rounded()), ch = Int((target / aspect).squareRoot().rounded())
            if cw > 0 && cw <= w && ch > 0 && ch <= h {
                let y = rng.next(below: h - ch + 1), x = rng.next(below: w - cw + 1)
                return (x, y, cw, ch)
            }
        }
        let ratio = Double(w) / Double(h)
        var cw = w, ch = h
        if ratio < 3.0 / 4 { ch = Int((Double(w) / (3.0 / 4)).rounded()) } else if ratio > 4.0 / 3 { cw = Int((Double(h) * 4 / 3).rounded()) }
        return ((w - cw) / 2, (h - ch) / 2, cw, ch)
    }

    /// Samples `region` (in the original's `originalWidth` x `originalHeight` pixels) of
    /// `image` (possibly reduced in the DCT domain) into `out`: 3 planes of size x size floats.
    public func apply(_ image: DecodedImage, originalWidth: Int, originalHeight: Int, region: Region,
                      into out: UnsafeMutablePointer<Float>) {
        let sx = Double(image.width) / Double(originalWidth), sy = Double(image.height) / Double(originalHeight)
        withUnsafeTemporaryAllocation(of: Tap.self, capacity: 2 * size) { taps in
            Self.taps(start: region.x * sx, length: region.width * sx, extent: image.width, clamp: region.clampToRegion,
                      count: size, into: taps.baseAddress!)
            Self.taps(start: region.y * sy, length: region.height * sy, extent: image.height, clamp: region.clampToRegion,
                      count: size, into: taps.baseAddress! + size)
            let xs = taps.baseAddress!, ys = taps.baseAddress! + size
            let plane = size * size, rowBytes = image.width * 3
            let scale = pixelScale
            // On the stack: this runs once per image.
            let order = bgr ? SIMD3<Int>(2, 1, 0) : SIMD3<Int>(0, 1, 2)
            let m = SIMD3<Float>(mean[0], mean[1], mean[2]), inv = 1 / SIMD3<Float>(std[0], std[1], std[2])
            for y in 0..<size {
                let t = ys[y]
                let r0 = image.pixels + t.i0 * rowBytes, r1 = image.pixels + t.i1 * rowBytes
                let wy = t.w
                for x in 0..<size {
                    let u = xs[region.flip ? size - 1 - x : x]
                    let a = u.i0 * 3, b = u.i1 * 3, wx = u.w
                    for c in 0..<3 {
                        let s = order[c]
                        let top = Float(r0[a + s]) + (Float(r0[b + s]) - Float(r0[a + s])) * wx
                        let bottom = Float(r1[a + s]) + (Float(r1[b + s]) - Float(r1[a + s])) * wx
                        let v = top + (bottom - top) * wy
                        out[c * plane + y * size + x] = (v * scale - m[c]) * inv[c]
                    }
                }
            }
        }
    }

    struct Tap { var i0: Int; var i1: Int; var w: Float }

    /// Half-pixel bilinear taps for `count` outputs over [start, start + length) of an
    /// axis of `extent` pixels: src = start + (i + 0.5) length / count - 0.5, clamped
    /// below at the low bound, upper tap clamped to the high one (the image's last pixel,
    /// or the region's with `clamp`).
    static func taps(start: Double, length: Double, extent: Int, clamp: Bool, count: Int, into t: UnsafeMutablePointer<Tap>) {
        let low = clamp ? min(max(start, 0), Double(extent - 1)) : 0
        let high = clamp ? min(max(Int((start + length).rounded(.up)) - 1, 0), extent - 1) : extent - 1
        let step = length / Double(count)
        for i in 0..<count {
            let src = max(start + (Double(i) + 0.5) * step - 0.5, low)
            let i0 = min(Int(src), high), i1 = min(i0 + 1, high)
            t[i] = Tap(i0: i0, i1: i1, w: Float(src - Double(i0)))
        }
    }
}
