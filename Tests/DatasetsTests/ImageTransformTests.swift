import Datasets
import Foundation
import TestSupport
import XCTest

/// The one-step region sampler against the two-step pipelines it stands for, written out
/// directly: Caffe's warp to R x R then crop, torchvision's crop then resize and its
/// resize-short-side then centre crop; mirroring; and DCT-scaled decoding close to full.
final class ImageTransformTests: XCTestCase {
    let w = 120, h = 90
    lazy var rgb = SyntheticPhoto.rgb(width: w, height: h, seed: 5)

    /// Half-pixel bilinear resize of an RGB image (PyTorch's align_corners=False, OpenCV's INTER_LINEAR).
    func resize(_ src: [Float], _ sw: Int, _ sh: Int, to dw: Int, _ dh: Int) -> [Float] {
        var out = [Float](repeating: 0, count: dw * dh * 3)
        func axis(_ i: Int, _ n: Int, _ m: Int) -> (Int, Int, Float) {
            let s = max((Double(i) + 0.5) * Double(n) / Double(m) - 0.5, 0)
            let i0 = min(Int(s), n - 1)
            return (i0, min(i0 + 1, n - 1), Float(s - Double(i0)))
        }
        for y in 0..<dh {
            let (y0, y1, wy) = axis(y, sh, dh)
            for x in 0..<dw {
                let (x0, x1, wx) = axis(x, sw, dw)
                for c in 0..<3 {
                    func p(_ yy: Int, _ xx: Int) -> Float { src[(yy * sw + xx) * 3 + c] }
                    let top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * wx, bottom = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * wx
                    out[(y * dw + x) * 3 + c] = top + (bottom - top) * wy
                }
            }
        }
        return out
    }

    func crop(_ src: [Float], _ sw: Int, x: Int, y: Int, w cw: Int, h ch: Int) -> [Float] {
        var out: [Float] = []
        for yy in y..<(y + ch) { for xx in x..<(x + cw) { for c in 0..<3 { out.append(src[(yy * sw + xx) * 3 + c]) } } }
        return out
    }

    /// HWC values to the transform's CHW output: channel order and normalisation.
    func planes(_ hwc: [Float], size: Int, _ t: ImageTransform) -> [Float] {
        var out = [Float](repeating: 0, count: 3 * size * size)
        let scale: Float = t.convention == .caffe ? 1 : 1 / 255
        for i in 0..<(size * size) {
            for c in 0..<3 {
                let s = t.bgr ? 2 - c : c
                out[c * size * size + i] = (hwc[i * 3 + s] * scale - t.mean[c]) / t.std[c]
            }
        }
        return out
    }

    func sample(_ t: ImageTransform, index: Int, seed: UInt64, mirror: Bool = false) -> (out: [Float], region: ImageTransform.Region) {
        let region = t.region(width: w, height: h, index: index, seed: seed, mirror: mirror)
        var out = [Float](repeating: 0, count: 3 * t.size * t.size)
        rgb.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer {
                t.apply(DecodedImage(width: w, height: h, pixels: p.baseAddress!), originalWidth: w, originalHeight: h,
                        region: region, into: $0.baseAddress!)
            }
        }
        return (out, region)
    }

    func testCaffeCropIsWarpThenCrop() {
        let source = rgb.map(Float.init)
        for training in [true, false] {
            let t = ImageTransform(convention: .caffe, size: 40, resize: 48, training: training)
            let warped = resize(source, w, h, to: 48, 48)
            for index in 0..<6 {
                let (out, region) = sample(t, index: index, seed: 11)
                let ox = Int((region.x * 48 / Double(w)).rounded()), oy = Int((region.y * 48 / Double(h)).rounded())
                if !training { XCTAssertEqual([ox, oy], [4, 4], "evaluation takes the centre crop") }
                let expected = planes(crop(warped, 48, x: ox, y: oy, w: 40, h: 40), size: 40, t)
                XCTAssertLessThan(zip(out, expected).map { abs($0 - $1) }.max()!, 1e-3, "index \(index)")
            }
        }
    }

    func testTorchvisionTrainingCropIsCropThenResize() {
        let source = rgb.map(Float.init)
        let t = ImageTransform(convention: .torchvision, size: 32, training: true)
        var shapes = Set<[Int]>()
        for index in 0..<8 {
            let (out, r) = sample(t, index: index, seed: 3)
            XCTAssertTrue(r.clampToRegion)
            let box = [Int(r.x), Int(r.y), Int(r.width), Int(r.height)]
            shapes.insert(box)
            let expected = planes(resize(crop(source, w, x: box[0], y: box[1], w: box[2], h: box[3]), box[2], box[3], to: 32, 32), size: 32, t)
            XCTAssertLessThan(zip(out, expected).map { abs($0 - $1) }.max()!, 1e-4, "index \(index) \(box)")
        }
        XCTAssertGreaterThan(shapes.count, 4, "the crops are random")
    }

    func testTorchvisionEvaluationIsResizeShortSideThenCentreCrop() {
        let source = rgb.map(Float.init)
        let t = ImageTransform(convention: .torchvision, size: 32, resize: 40, training: false)
        let (out, _) = sample(t, index: 0, seed: 1)
        // Resize(40): the short side (90) to 40, the long one to int(40 * 120 / 90) = 53; CenterCrop(32).
        let resized = resize(source, w, h, to: 53, 40)
        let left = Int((Double(53 - 32) / 2).rounded()), top = Int((Double(40 - 32) / 2).rounded())
        let expected = planes(crop(resized, 53, x: left, y: top, w: 32, h: 32), size: 32, t)
        XCTAssertLessThan(zip(out, expected).map { abs($0 - $1) }.max()!, 1e-4)
    }

    /// RandomResizedCrop's draws stay within its scale (0.08-1 of the area) and ratio (3/4-4/3) and inside the image.
    func testRandomResizedCropsStayInTheirBounds() {
        let t = ImageTransform(convention: .torchvision, size: 32, training: true)
        for index in 0..<2000 {
            let r = t.region(width: 500, height: 375, index: index, seed: 99, mirror: false)
            XCTAssertTrue(r.x >= 0 && r.y >= 0 && r.x + r.width <= 500 && r.y + r.height <= 375, "\(r)")
            let area = r.width * r.height / (500 * 375), ratio = r.width / r.height
            XCTAssertTrue(area >= 0.079 && area <= 1.0 && ratio >= 0.74 && ratio <= 1.36, "\(r)")
        }
    }

    func testMirrorFlipsTheColumnsOfTheSameCrop() {
        let t = ImageTransform(convention: .caffe, size: 40, resize: 48, training: true)
        var flipped = 0
        for index in 0..<16 {
            let plain = sample(t, index: index, seed: 8), mirrored = sample(t, index: index, seed: 8, mirror: true)
            XCTAssertEqual([plain.region.x, plain.region.y], [mirrored.region.x, mirrored.region.y], "mirroring does not move the crop")
            guard mirrored.region.flip else { XCTAssertEqual(plain.out, mirrored.out); continue }
            flipped += 1
            for c in 0..<3 { for y in 0..<40 { for x in 0..<40 {
                XCTAssertEqual(mirrored.out[c * 1600 + y * 40 + x], plain.out[c * 1600 + y * 40 + 39 - x])
            } } }
        }
        XCTAssertTrue((4...12).contains(flipped), "about half are mirrored: \(flipped) of 16")
        XCTAssertFalse(ImageTransform(convention: .caffe, size: 40, resize: 48, training: false)
            .region(width: w, height: h, index: 0, seed: 8, mirror: true).flip, "test images are never mirrored")
    }

    /// A 500x375 photograph read for a 64 px centre crop is decoded at 1/4 in the DCT
    /// domain; what comes out is the full decode's crop to within JPEG's own blur.
    func testDCTScaledDecodeMatchesTheFullDecode() throws {
        let dir = TestPaths.temporaryDirectory("dct-test")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("photo.jpg").path
        let photo = SyntheticPhoto.rgb(width: 500, height: 375, seed: 4)
        FileManager.default.createFile(atPath: path, contents: Data(try JPEGEncoder.encode(photo, width: 500, height: 375, layout: .rgb, quality: 95)))
        let list = ImageList(entries: [.init(path: path, name: "photo.jpg", label: 0, bytes: 0)], classNames: nil, classes: 2)
        for convention in ImageTransform.Convention.allCases {
            let t = ImageTransform(convention: convention, size: 64, training: false)
            let data = try ImageFileDataset(list: list, transform: t)
            var scaled = [Float](repeating: 0, count: 3 * 64 * 64), label: Int32 = 0
            try [0].withUnsafeBufferPointer { idx in
                try scaled.withUnsafeMutableBufferPointer { try data.fillBatch(indices: idx, images: $0.baseAddress!, labels: &label, augmentation: .none, augmentationSeed: 0) }
            }
            let decoder = JPEGDecoder()
            let full = try decoder.decode(path: path)
            var direct = [Float](repeating: 0, count: 3 * 64 * 64)
            direct.withUnsafeMutableBufferPointer {
                t.apply(full, originalWidth: 500, originalHeight: 375, region: t.region(width: 500, height: 375, index: 0, seed: 0, mirror: false), into: $0.baseAddress!)
            }
            let scale: Float = convention == .caffe ? 1 : 1 / 255 / 0.226
            let meanError = zip(scaled, direct).map { abs($0 - $1) }.reduce(0, +) / Float(scaled.count) / scale
            print("\(convention): DCT-scaled against full decode: mean |difference| \(meanError) of 255")
            XCTAssertLessThan(meanError, 6, "\(convention): the scaled region is the same part of the picture")
            XCTAssertGreaterThan(meanError, 0, "\(convention): the DCT scaling was used")
        }
    }
}
