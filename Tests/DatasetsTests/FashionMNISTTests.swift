// Loads the real Fashion-MNIST files installed by Debian's dataset-fashion-mnist.

import Datasets
import XCTest

final class FashionMNISTTests: XCTestCase {
    static let directory = FashionMNIST.defaultDirectory
    /// Loaded once: gunzipping the training images takes a noticeable fraction of a second.
    static let train = Result { try FashionMNIST.load(directory: directory, split: .train) }
    static let test = Result { try FashionMNIST.load(directory: directory, split: .test) }

    func testCountsAndShape() throws {
        let train = try Self.train.get(), test = try Self.test.get()
        XCTAssertEqual(train.count, 60_000)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(train.classes, 10)
        XCTAssertEqual([train.sourceChannels, train.sourceHeight, train.sourceWidth], [1, 28, 28])
        XCTAssertEqual([train.channels, train.height, train.width], [3, 32, 32])  // default preprocessing
        XCTAssertEqual(train.sourcePixels.count, 60_000 * 784)
    }

    /// Fashion-MNIST is exactly balanced: 6,000 per class in train, 1,000 in test.
    func testLabelHistogramIsBalanced() throws {
        for (ds, perClass) in [(try Self.train.get(), 6_000), (try Self.test.get(), 1_000)] {
            var histogram = [Int](repeating: 0, count: 10)
            for label in ds.labels { histogram[Int(label)] += 1 }
            XCTAssertEqual(histogram, [Int](repeating: perClass, count: 10))
        }
    }

    /// Values cross-checked with Python's gzip module reading the same files.
    func testFirstLabelsAndPixelsMatchIndependentReader() throws {
        let train = try Self.train.get(), test = try Self.test.get()
        XCTAssertEqual(Array(train.labels.prefix(10)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
        XCTAssertEqual(Array(test.labels.prefix(10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        XCTAssertEqual(Array(train.sourcePixels[14 * 28 ..< 15 * 28]),
                       [0, 0, 1, 4, 6, 7, 2, 0, 0, 0, 0, 0, 237, 226, 217, 223, 222, 219, 222, 221,
                        216, 223, 229, 215, 218, 255, 77, 0])
    }

    /// At native size the normalised training set has mean ~0 and std ~1, and
    /// every value lies in [-mean/std, (1-mean)/std].
    func testNormalisationConstants() throws {
        let ds = try Self.train.get().withPreprocessing(Preprocessing(size: 28, channels: 1))
        let batch = 1000
        var images = [Float](repeating: 0, count: batch * 784), labels = [Int32](repeating: 0, count: batch)
        var sum = 0.0, sumSquares = 0.0, low = Float.infinity, high = -Float.infinity
        for start in stride(from: 0, to: ds.count, by: batch) {
            let indices = Array(start ..< start + batch)
            ds.fillBatch(indices: indices[...], images: &images, labels: &labels)
            for v in images { sum += Double(v); sumSquares += Double(v) * Double(v) }
            low = min(low, images.min()!); high = max(high, images.max()!)
            XCTAssertEqual(labels, Array(ds.labels[start ..< start + batch]))
        }
        let n = Double(ds.count * 784), mean = sum / n
        XCTAssertEqual(mean, 0, accuracy: 0.001)
        XCTAssertEqual((sumSquares / n - mean * mean).squareRoot(), 1, accuracy: 0.001)
        XCTAssertEqual(low, -0.2860 / 0.3530, accuracy: 1e-5)
        XCTAssertEqual(high, (1 - 0.2860) / 0.3530, accuracy: 1e-5)
    }

    /// Bilinear upscaling to 64 px with 3 channels stays within the pixel range
    /// and replicates grey into identical channels.
    func testResizedBatchRangeAndChannelReplication() throws {
        let ds = try Self.test.get().withPreprocessing(Preprocessing(size: 64))
        let plane = 64 * 64
        var images = [Float](repeating: .nan, count: 16 * 3 * plane), labels = [Int32](repeating: -1, count: 16)
        ds.fillBatch(indices: Array(100..<116)[...], images: &images, labels: &labels)
        XCTAssertEqual(labels, Array(ds.labels[100..<116]))
        XCTAssertTrue(images.allSatisfy { $0 >= -0.2860 / 0.3530 - 1e-5 && $0 <= (1 - 0.2860) / 0.3530 + 1e-5 })
        for n in 0..<16 {
            let base = n * 3 * plane
            XCTAssertEqual(images[base ..< base + plane], images[base + plane ..< base + 2 * plane])
            XCTAssertEqual(images[base ..< base + plane], images[base + 2 * plane ..< base + 3 * plane])
        }
    }

    func testLimitKeepsPrefix() throws {
        let ds = try FashionMNIST.load(split: .test, limit: 500)
        XCTAssertEqual(ds.count, 500)
        XCTAssertEqual(ds.labels, Array(try Self.test.get().labels.prefix(500)))
        XCTAssertEqual(ds.sourcePixels, Array(try Self.test.get().sourcePixels.prefix(500 * 784)))
    }
}
