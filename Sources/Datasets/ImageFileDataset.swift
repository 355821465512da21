// A data set of JPEG files on disk (an ImageFolder or a Caffe list): images are read and
// decoded when a batch needs them, never all held in memory. A batch is split over
// `decodeThreads` threads, each with its own TurboJPEG decoder.
import Basics
import Foundation

public final class ImageFileDataset: Dataset {
    public let list: ImageList
    public let transform: ImageTransform
    public let threads: Int
    /// Replace an image that cannot be decoded by the next usable one in index order (and
    /// count it) instead of failing: for scraped data sets.
    public let skipBadImages: Bool
    private let decoders: [JPEGDecoder]
    private let lock = NSLock()
    /// Held for a whole fill: the decoders are per thread slot, so two fills at once
    /// (against the protocol's contract) wait for each other instead of sharing them.
    private let fillLock = NSLock()
    private var bad: [Int: String] = [:]
    /// Each decode thread's first error of the fill in progress (kept, so a fill allocates nothing for it).
    private var errors: [Error?]

    public var count: Int { list.entries.count }
    public var classes: Int { list.classes }
    public var imageShape: (channels: Int, height: Int, width: Int) { (3, transform.size, transform.size) }
    public let contentHash: UInt64
    public var streams: Bool { true }

    /// Reduce in the DCT domain when the region needs fewer pixels than the image has (the
    /// benchmark turns it off for its comparison).
    public let dctScaling: Bool

    public init(list: ImageList, transform: ImageTransform, decodeThreads: Int = 1, skipBadImages: Bool = false,
                dctScaling: Bool = true) throws {
        guard transform.size > 0, decodeThreads > 0 else {
            throw DatasetError.invalidArgument("an image data set needs a positive size and decode threads, got \(transform.size) and \(decodeThreads)")
        }
        guard transform.convention != .caffe || transform.resize >= transform.size else {
            throw DatasetError.invalidArgument("Caffe's transform crops \(transform.size) from images warped to \(transform.resize): the resize must be at least the crop")
        }
        guard transform.mean.count == 3, transform.std.count == 3, transform.std.allSatisfy({ $0 > 0 && $0.isFinite }),
              transform.mean.allSatisfy(\.isFinite) else {
            throw DatasetError.invalidArgument("the normalisation needs 3 finite means and 3 positive stds")
        }
        self.list = list
        self.transform = transform
        self.threads = decodeThreads
        self.skipBadImages = skipBadImages
        self.dctScaling = dctScaling
        decoders = (0..<decodeThreads).map { _ in JPEGDecoder() }
        errors = Array(repeating: nil, count: decodeThreads)
        contentHash = list.fingerprint
    }

    /// The images replaced so far because they could not be decoded (path and reason), by index.
    public var badImages: [Int: String] { lock.lock(); defer { lock.unlock() }; return bad }
    /// How many: read every step for the metrics, without copying the messages.
    public var badImageCount: Int { lock.lock(); defer { lock.unlock() }; return bad.count }

    public func fillBatch(indices: UnsafeBufferPointer<Int>, images: UnsafeMutablePointer<Float>,
                          labels: UnsafeMutablePointer<Int32>, augmentation: Augmentation, augmentationSeed: UInt64) throws {
        fillLock.lock(); defer { fillLock.unlock() }
        let perImage = 3 * transform.size * transform.size, n = indices.count
        for t in errors.indices { errors[t] = nil }
        errors.withUnsafeMutableBufferPointer { errs in
            let errs = errs
            let work = { (t: Int) in
                var i = t
                while i < n {
                    do {
                        labels[i] = try self.fill(index: indices[i], into: images + i * perImage, decoder: self.decoders[t],
                                                  mirror: augmentation.mirror, seed: augmentationSeed)
                    } catch { errs[t] = errs[t] ?? error; return }
                    i += self.threads
                }
            }
            if threads == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
        }
        if let e = errors.lazy.compactMap({ $0 }).first { throw e }
    }

    /// One image into `out`; returns its label. A bad image, with `skipBadImages`, is
    /// replaced by the next usable one (the same one on every rank and every run).
    private func fill(index: Int, into out: UnsafeMutablePointer<Float>, decoder: JPEGDecoder,
                      mirror: Bool, seed: UInt64) throws -> Int32 {
        precondition(index >= 0 && index < count, "image index \(index) outside 0..<\(count)")
        var k = index
        for _ in 0..<count {
            let entry = list.entries[k]
            do {
                var region: ImageTransform.Region?
                var size = (0, 0)
                let image = try decoder.decode(path: entry.path) { info in
                    let r = self.transform.region(width: info.width, height: info.height, index: index, seed: seed, mirror: mirror)
                    region = r; size = (info.width, info.height)
                    guard self.dctScaling else { return (Double(info.width), Double(info.height)) }
                    return (Double(info.width) * Double(self.transform.size) / r.width,
                            Double(info.height) * Double(self.transform.size) / r.height)
                }
                transform.apply(image, originalWidth: size.0, originalHeight: size.1, region: region!, into: out)
                return entry.label
            } catch let error as DatasetError {
                let located = entry.origin.map { o in DatasetError.badImage(path: entry.path, reason: "\(Self.reason(error)) (\(o))") } ?? error
                guard skipBadImages else { throw located }
                lock.lock(); bad[k] = "\(located)"; lock.unlock()
                k = (k + 1) % count
            }
        }
        throw DatasetError.badFolder(path: list.entries[index].path, reason: "no image of the \(count) could be decoded")
    }

    private static func reason(_ e: DatasetError) -> String {
        if case let .badImage(_, reason) = e { return reason }
        if case .missingFile = e { return "file not found" }
        return "\(e)"
    }
}
