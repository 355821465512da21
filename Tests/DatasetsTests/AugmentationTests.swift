import XCTest
import Datasets

final class AugmentationTests: XCTestCase {
    /// Four distinct 3x3 images (pixel value = 10*image + position + 1, so 0 is never a pixel).
    private func makeSet() throws -> ImageDataset {
        let side = 3
        let pixels = (0..<4).flatMap { n in (0..<(side * side)).map { UInt8(10 * n + $0 + 1) } }
        return try ImageDataset(pixels: pixels, labels: [0, 1, 2, 3], sourceHeight: side, sourceWidth: side, classes: 4,
                                preprocessing: Preprocessing(size: side, channels: 2, normalization: .unit))
    }

    private func fill(_ set: ImageDataset, _ indices: [Int], _ a: Augmentation, seed: UInt64) -> [Float] {
        var images = [Float](repeating: -1, count: indices.count * set.imageFloats)
        var labels = [Int32](repeating: 0, count: indices.count)
        images.withUnsafeMutableBufferPointer { i in
            labels.withUnsafeMutableBufferPointer { l in
                set.fillBatch(indices: indices[...], images: i.baseAddress!, labels: l.baseAddress!,
                              augmentation: a, augmentationSeed: seed)
            }
        }
        return images
    }

    func testMirrorAndShiftMoveEveryPixelAsDrawn() throws {
        let set = try makeSet(), a = Augmentation(mirror: true, maxShift: 1)
        var sawFlip = false, sawNoFlip = false, sawShift = false
        for seed in UInt64(0)..<40 {
            for index in 0..<4 {
                let t = a.draw(index: index, seed: seed)
                XCTAssert((-1...1).contains(t.dx) && (-1...1).contains(t.dy))
                if t.flip { sawFlip = true } else { sawNoFlip = true }
                if t.dx != 0 || t.dy != 0 { sawShift = true }
                let got = fill(set, [index], a, seed: seed)
                for c in 0..<2 {
                    for y in 0..<3 {
                        for x in 0..<3 {
                            let sy = y - t.dy, sx0 = x - t.dx
                            var expected: Float = 0  // background: raw 0 with unit normalisation
                            if (0..<3).contains(sy) && (0..<3).contains(sx0) {
                                let sx = t.flip ? 2 - sx0 : sx0
                                expected = Float(10 * index + sy * 3 + sx + 1) / 255
                            }
                            XCTAssertEqual(got[c * 9 + y * 3 + x], expected, accuracy: 1e-7,
                                           "seed \(seed) image \(index) c\(c) (\(y),\(x)) \(t)")
                        }
                    }
                }
            }
        }
        XCTAssert(sawFlip && sawNoFlip && sawShift, "the draws must vary")
    }

    func testDrawDependsOnlyOnSeedAndIndexSoAnySplitGivesTheSameBatch() throws {
        let set = try makeSet(), a = Augmentation(mirror: true, maxShift: 1)
        let whole = fill(set, [3, 1, 0, 2], a, seed: 7)
        let parts = fill(set, [3, 1], a, seed: 7) + fill(set, [0], a, seed: 7) + fill(set, [2], a, seed: 7)
        XCTAssertEqual(whole, parts)
        XCTAssertNotEqual(whole, fill(set, [3, 1, 0, 2], .none, seed: 7), "augmentation must change something")
        let otherSeeds = (8..<20).map { fill(set, [3, 1, 0, 2], a, seed: UInt64($0)) }
        XCTAssert(otherSeeds.contains { $0 != whole }, "another step's seed must draw differently")
    }

    func testNoneIsIdentity() throws {
        let set = try makeSet()
        XCTAssertEqual(fill(set, [0, 1, 2, 3], .none, seed: 3), fill(set, [0, 1, 2, 3], Augmentation(), seed: 99))
        XCTAssertEqual(fill(set, [2], .none, seed: 0), set.sample(2).image)
    }
}
