// A labelled image set kept as compact 8-bit originals and expanded to the
// model's NCHW float input on demand.
//
// Why not precompute floats: 60,000 x 3 x 64 x 64 floats is 2.9 GB. The 8-bit
// originals are 47 MB; resizing with precomputed bilinear taps costs about
// S*S*2 multiply-adds per image, far less than a forward pass. For the same
// reason `contentHash` hashes the originals, not the floats a model sees.

import Basics

/// A labelled image set with a fixed preprocessing.
///
/// Invariants: `labels.count == count`; every label is in `0..<classes`;
/// `sourceChannels` is 1 (replicated into every output channel) or equal to
/// `channels`. Immutable after init, so it may be shared between threads.
public final class ImageDataset: Dataset {
    public let count: Int
    public let classes: Int
    /// Output layout of one image: (channels, height, width), height == width == preprocessing.size.
    public let channels: Int
    public let height: Int
    public let width: Int
    public let labels: [Int32]
    public let preprocessing: Preprocessing

    /// Stored originals: (count, sourceChannels, sourceHeight, sourceWidth), raw 0...255.
    public let sourcePixels: [UInt8]
    public let sourceChannels: Int
    public let sourceHeight: Int
    public let sourceWidth: Int

    /// FNV-1a (by 64-bit words) of the sizes, labels and 8-bit originals, computed once at init.
    public let contentHash: UInt64

    private let plan: ResizePlan

    public var imageShape: (channels: Int, height: Int, width: Int) { (channels, height, width) }

    /// Floats per output image: channels * height * width.
    public var imageFloats: Int { channels * height * width }

    /// - Parameters:
    ///   - pixels: (count, sourceChannels, sourceHeight, sourceWidth) raw bytes.
    ///   - labels: one per image, each in `0..<classes`.
    ///   - name: used in error messages (e.g. the label file's path).
    /// - Throws: `DatasetError.invalidArgument` for inconsistent sizes,
    ///   `.labelOutOfRange` for a bad label.
    public init(pixels: [UInt8], labels: [Int32], sourceChannels: Int = 1,
                sourceHeight: Int, sourceWidth: Int, classes: Int,
                preprocessing: Preprocessing = Preprocessing(), name: String = "labels") throws {
        let perImage = sourceChannels * sourceHeight * sourceWidth
        guard sourceChannels > 0, sourceHeight > 0, sourceWidth > 0, classes > 0 else {
            throw DatasetError.invalidArgument(
                "channels \(sourceChannels), size \(sourceHeight)x\(sourceWidth), classes \(classes) must be positive")
        }
        guard pixels.count == labels.count * perImage else {
            throw DatasetError.invalidArgument(
                "\(pixels.count) pixel bytes for \(labels.count) images of \(perImage) bytes")
        }
        guard sourceChannels == 1 || sourceChannels == preprocessing.channels else {
            throw DatasetError.invalidArgument(
                "cannot map \(sourceChannels) stored channels to \(preprocessing.channels) output channels")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            throw DatasetError.labelOutOfRange(path: name, index: bad, label: Int(labels[bad]), classes: classes)
        }
        self.plan = try ResizePlan(inHeight: sourceHeight, inWidth: sourceWidth, preprocessing: preprocessing)
        self.count = labels.count
        self.classes = classes
        self.channels = preprocessing.channels
        self.height = preprocessing.size
        self.width = preprocessing.size
        self.labels = labels
        self.preprocessing = preprocessing
        self.sourcePixels = pixels
        self.sourceChannels = sourceChannels
        self.sourceHeight = sourceHeight
        self.sourceWidth = sourceWidth
        var h = FNV1a()
        for v in [labels.count, classes, sourceChannels, sourceHeight, sourceWidth] { h.combine(UInt64(v)) }
        labels.withUnsafeBytes { h.combine(words: $0) }
        pixels.withUnsafeBytes { h.combine(words: $0) }
        contentHash = h.value
    }

    /// The same images and labels with another preprocessing (the pixel
    /// storage is shared, not copied).
    public func withPreprocessing(_ preprocessing: Preprocessing) throws -> ImageDataset {
        try ImageDataset(pixels: sourcePixels, labels: labels, sourceChannels: sourceChannels,
                         sourceHeight: sourceHeight, sourceWidth: sourceWidth, classes: classes,
                         preprocessing: preprocessing)
    }

    /// The first `n` images (or all, if fewer).
    public func prefix(_ n: Int) throws -> ImageDataset {
        let n = max(0, min(n, count)), perImage = sourceChannels * sourceHeight * sourceWidth
        return try ImageDataset(pixels: Array(sourcePixels[0 ..< n * perImage]), labels: Array(labels[0..<n]),
                                sourceChannels: sourceChannels, sourceHeight: sourceHeight,
                                sourceWidth: sourceWidth, classes: classes, preprocessing: preprocessing)
    }

    /// Writes the images at `indices` as one NCHW batch and their labels.
    /// Allocates nothing on the heap.
    /// - Parameters:
    ///   - images: room for `indices.count * imageFloats` floats, (N, C, H, W).
    ///   - labels: room for `indices.count` labels.
    ///   - augmentation: applied per image with a draw that depends only on
    ///     (`augmentationSeed`, image index), so any split of a batch gives the same images.
    public func fillBatch(indices: UnsafeBufferPointer<Int>, images: UnsafeMutablePointer<Float>,
                          labels: UnsafeMutablePointer<Int32>,
                          augmentation: Augmentation, augmentationSeed: UInt64) {
        let plane = height * width, perImage = sourceChannels * sourceHeight * sourceWidth
        let sourcePlane = sourceHeight * sourceWidth
        let background = plan.table[0]
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(plan.scratchCount, plane, 1)) { scratch in
            sourcePixels.withUnsafeBufferPointer { pixels in
                for (n, index) in indices.enumerated() {
                    precondition(index >= 0 && index < count, "image index \(index) outside 0..<\(count)")
                    labels[n] = self.labels[index]
                    let src = pixels.baseAddress! + index * perImage
                    let dst = images + n * channels * plane
                    let t = augmentation.isIdentity ? (flip: false, dx: 0, dy: 0)
                        : augmentation.draw(index: index, seed: augmentationSeed)
                    for c in 0..<channels {
                        if sourceChannels == 1 && c > 0 {
                            (dst + c * plane).update(from: dst, count: plane)  // replicate grey
                        } else {
                            plan.apply(src + (sourceChannels == 1 ? 0 : c * sourcePlane),
                                       into: dst + c * plane, scratch: scratch.baseAddress!)
                            Augmentation.apply(flip: t.flip, dx: t.dx, dy: t.dy, plane: dst + c * plane, size: width,
                                               background: background, scratch: scratch.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// `fillBatch` for a slice of indices; in memory, it cannot fail.
    public func fillBatch(indices: ArraySlice<Int>, images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>,
                          augmentation: Augmentation = .none, augmentationSeed: UInt64 = 0) {
        indices.withUnsafeBufferPointer {
            fillBatch(indices: $0, images: images, labels: labels, augmentation: augmentation, augmentationSeed: augmentationSeed)
        }
    }

    /// One preprocessed image (C, H, W) and its label. Allocates; meant for
    /// tests and inspection, not the training loop.
    public func sample(_ index: Int) -> (image: [Float], label: Int32) {
        var image = [Float](repeating: 0, count: imageFloats)
        var label: Int32 = 0
        image.withUnsafeMutableBufferPointer { buffer in
            [index].withUnsafeBufferPointer {
                fillBatch(indices: $0, images: buffer.baseAddress!, labels: &label, augmentation: .none, augmentationSeed: 0)
            }
        }
        return (image, label)
    }
}
