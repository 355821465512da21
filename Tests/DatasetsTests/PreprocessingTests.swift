// Resizing, padding and channel handling on hand-made images.

import Datasets
import XCTest

final class PreprocessingTests: XCTestCase {
    /// std = 1/255 with mean 0 makes the output equal the raw byte value.
    let raw = Normalization(mean: 0, std: 1.0 / 255.0)

    func oneImage(_ pixels: [UInt8], side: Int, _ preprocessing: Preprocessing) throws -> [Float] {
        try ImageDataset(pixels: pixels, labels: [3], sourceHeight: side, sourceWidth: side, classes: 4,
                         preprocessing: preprocessing).sample(0).image
    }

    /// PyTorch: F.interpolate(tensor([[1., 2.], [3., 4.]])[None, None], size=4,
    /// mode="bilinear", align_corners=False), scaled by 10.
    func testBilinearTwoByTwoToFourByFour() throws {
        let out = try oneImage([10, 20, 30, 40], side: 2, Preprocessing(size: 4, channels: 1, normalization: raw))
        let expected: [Float] = [10.0, 12.5, 17.5, 20.0,
                                 15.0, 17.5, 22.5, 25.0,
                                 25.0, 27.5, 32.5, 35.0,
                                 30.0, 32.5, 37.5, 40.0]
        XCTAssertEqual(out.count, 16)
        for (a, b) in zip(out, expected) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    /// Halving averages 2x2 blocks under align_corners=false (src = 2*dst + 0.5).
    func testBilinearDownscaleByTwo() throws {
        let pixels: [UInt8] = [0, 40, 80, 120,
                               40, 80, 120, 160,
                               100, 100, 0, 0,
                               100, 100, 200, 200]
        let out = try oneImage(pixels, side: 4, Preprocessing(size: 2, channels: 1, normalization: raw))
        for (a, b) in zip(out, [40, 120, 100, 100] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testPaddingCentresImageOnBlack() throws {
        let norm = Normalization.fashionMNIST
        let out = try oneImage([255, 0, 0, 255], side: 2, Preprocessing(size: 5, channels: 2, resize: .pad, normalization: norm))
        let black = (0 - norm.mean) / norm.std, white = (1 - norm.mean) / norm.std
        var expected = [Float](repeating: black, count: 25)
        expected[1 * 5 + 1] = white   // margin (5 - 2) / 2 = 1
        expected[2 * 5 + 2] = white
        XCTAssertEqual(out.count, 50)
        for (a, b) in zip(out, expected + expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    func testPaddingToSmallerSizeIsRejected() {
        XCTAssertThrowsError(try oneImage([UInt8](repeating: 0, count: 9), side: 3,
                                          Preprocessing(size: 2, resize: .pad))) { error in
            guard case .invalidArgument? = error as? DatasetError else { return XCTFail("\(error)") }
        }
    }

    func testLabelOutOfRangeAndBadSizesAreRejected() {
        XCTAssertThrowsError(try ImageDataset(pixels: [0, 0], labels: [0, 4], sourceHeight: 1, sourceWidth: 1,
                                              classes: 4, name: "mine")) { error in
            XCTAssertEqual(error as? DatasetError, .labelOutOfRange(path: "mine", index: 1, label: 4, classes: 4))
        }
        XCTAssertThrowsError(try ImageDataset(pixels: [0, 0, 0], labels: [0, 1], sourceHeight: 1, sourceWidth: 1, classes: 4))
        XCTAssertThrowsError(try ImageDataset(pixels: [0, 0, 0, 0], labels: [0, 1], sourceChannels: 2,
                                              sourceHeight: 1, sourceWidth: 1, classes: 4,
                                              preprocessing: Preprocessing(size: 1, channels: 3)))
    }
}
