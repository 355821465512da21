// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747): 60,000 training
// and 10,000 test greyscale 28x28 images of 10 clothing classes, in MNIST's
// IDX format. https://github.com/zalandoresearch/fashion-mnist

import Foundation

/// Loader for the Fashion-MNIST IDX files.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let classes = 10
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public enum Split: String, CaseIterable {
        case train, test
        /// File name prefix: `train-...` or `t10k-...`.
        public var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Path of a split's image or label file in `directory`: the `.gz` name if it
    /// exists, else the uncompressed name if that exists, else the `.gz` name
    /// (so a missing-file error names the file we expected).
    public static func path(directory: String, split: Split, images: Bool) -> String {
        let base = directory + "/" + split.filePrefix + (images ? "-images-idx3-ubyte" : "-labels-idx1-ubyte")
        let exists = { (p: String) in FileManager.default.fileExists(atPath: p) }
        return !exists(base + ".gz") && exists(base) ? base : base + ".gz"
    }

    /// Loads one split, checking the files against each other.
    /// - Parameters:
    ///   - directory: folder holding `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`.
    ///   - limit: keep only the first `limit` images (the whole file is still
    ///     read and validated).
    ///   - preprocessing: output size, channels, resize mode, normalisation
    ///     (default 3 x 32 x 32, bilinear, Fashion-MNIST mean/std).
    /// - Throws: `DatasetError` naming the offending file.
    public static func load(directory: String = defaultDirectory, split: Split, limit: Int? = nil,
                            preprocessing: Preprocessing = Preprocessing()) throws -> ImageDataset {
        let imagesPath = path(directory: directory, split: split, images: true)
        let labelsPath = path(directory: directory, split: split, images: false)
        let images = try IDX.readImages(path: imagesPath)
        let labels = try IDX.readLabels(path: labelsPath)
        guard images.count == labels.count else {
            throw DatasetError.countMismatch(imagesPath: imagesPath, images: images.count,
                                             labelsPath: labelsPath, labels: labels.count)
        }
        if let bad = labels.firstIndex(where: { Int($0) >= classes }) {
            throw DatasetError.labelOutOfRange(path: labelsPath, index: bad, label: Int(labels[bad]), classes: classes)
        }
        let n = min(limit ?? images.count, images.count)
        let perImage = images.rows * images.columns
        let pixels = n == images.count ? images.pixels : Array(images.pixels[0 ..< n * perImage])
        return try ImageDataset(pixels: pixels, labels: labels[0..<n].map { Int32($0) },
                                sourceHeight: images.rows, sourceWidth: images.columns,
                                classes: classes, preprocessing: preprocessing, name: labelsPath)
    }
}
