// What training and evaluation need of a data set, and nothing more: a count,
// the classes, the shape of one image as the model sees it, and a way to fill a
// batch for given indices. Fashion-MNIST and the synthetic set are in-memory
// `ImageDataset`s; JPEG folders and list files are `ImageFileDataset`s, read from disk
// as batches need them (docs/architecture.md, "How to add a dataset").

/// A labelled image set the trainer draws batches from.
///
/// Contract: `fillBatch` writes `indices.count` images, (N, C, H, W) with the shape
/// `imageShape`, and their labels in `0..<classes`; the result depends only on the
/// indices, the augmentation and its seed, so any split of a batch across ranks
/// gives the same images. It may be called from one thread at a time. It throws for an
/// image it cannot read (a file data set); in-memory sets never throw.
public protocol Dataset: AnyObject {
    /// Images in the set; indices are `0..<count`.
    var count: Int { get }
    var classes: Int { get }
    /// One image as the model sees it.
    var imageShape: (channels: Int, height: Int, width: Int) { get }
    func fillBatch(indices: UnsafeBufferPointer<Int>, images: UnsafeMutablePointer<Float>,
                   labels: UnsafeMutablePointer<Int32>, augmentation: Augmentation, augmentationSeed: UInt64) throws
    /// Reads from disk as batches are filled (so the trainer fills the next batch in the
    /// background while the current one trains); in-memory sets need not.
    var streams: Bool { get }
    /// A hash of the images and labels (not of the preprocessing, which the options
    /// give): ranks compare it at startup, so ranks reading different data refuse to train.
    var contentHash: UInt64 { get }
}

extension Dataset {
    public var streams: Bool { false }

    /// `fillBatch` for a slice of an index array (e.g. `BatchSchedule.indices`).
    public func fillBatch(indices: ArraySlice<Int>, images: UnsafeMutablePointer<Float>,
                          labels: UnsafeMutablePointer<Int32>,
                          augmentation: Augmentation = .none, augmentationSeed: UInt64 = 0) throws {
        try indices.withUnsafeBufferPointer {
            try fillBatch(indices: $0, images: images, labels: labels,
                      augmentation: augmentation, augmentationSeed: augmentationSeed)
        }
    }
}
