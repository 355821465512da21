import Datasets
import Foundation
import TestSupport
import XCTest

/// Image folders and list files made by the suite from Fashion-MNIST: the two readers
/// agree, the pixels are the IDX reader's up to JPEG's rounding, bad inputs are one-line
/// errors naming the file, `skipBadImages` counts what it replaces, the prefetch queue
/// gives the batches a direct fill gives, and the shards of an epoch cover it once.
final class ImageFileDatasetTests: XCTestCase {
    static var root: URL!

    /// 200 training and 100 test images of Fashion-MNIST at quality 100, once for the class.
    override class func setUp() {
        root = TestPaths.temporaryDirectory("image-folder-test")
        try? FileManager.default.removeItem(at: root)
        let fm = FashionMNIST.self
        _ = try! ImageFolderWriter.write(
            train: (fm.path(directory: fm.defaultDirectory, split: .train, images: true), fm.path(directory: fm.defaultDirectory, split: .train, images: false)),
            val: (fm.path(directory: fm.defaultDirectory, split: .test, images: true), fm.path(directory: fm.defaultDirectory, split: .test, images: false)),
            classNames: fm.classNames, to: root.path, quality: 100, limit: 200)
    }
    override class func tearDown() { try? FileManager.default.removeItem(at: root) }

    var work: URL!
    override func setUp() { work = TestPaths.temporaryDirectory("image-folder-case") }
    override func tearDown() { try? FileManager.default.removeItem(at: work) }

    func fill(_ d: Dataset, _ indices: [Int], augmentation: Augmentation = .none, seed: UInt64 = 0) throws -> (images: [Float], labels: [Int32]) {
        let shape = d.imageShape
        var images = [Float](repeating: .nan, count: indices.count * shape.channels * shape.height * shape.width)
        var labels = [Int32](repeating: -1, count: indices.count)
        try indices.withUnsafeBufferPointer { idx in
            try images.withUnsafeMutableBufferPointer { im in
                try labels.withUnsafeMutableBufferPointer {
                    try d.fillBatch(indices: idx, images: im.baseAddress!, labels: $0.baseAddress!, augmentation: augmentation, augmentationSeed: seed)
                }
            }
        }
        return (images, labels)
    }

    let resize32 = ImageTransform(convention: .resize, size: 32, mean: [0.2860, 0.2860, 0.2860], std: [0.3530, 0.3530, 0.3530], training: false)

    func testFolderAndListReadTheSameImages() throws {
        let folder = try ImageList.folder(Self.root.path + "/train")
        let list = try ImageList.listFile(Self.root.path + "/train.txt", root: Self.root.path, classes: nil)
        XCTAssertEqual(folder.classes, 10); XCTAssertEqual(list.classes, 10)
        XCTAssertEqual(folder.classNames?.first, "0-t-shirt-top")
        XCTAssertEqual(folder.entries.count, 200); XCTAssertEqual(list.entries.count, 200)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: folder.entries.map { ($0.path, $0.label) }),
                       Dictionary(uniqueKeysWithValues: list.entries.map { ($0.path, $0.label) }), "same files, same labels")
        let a = try ImageFileDataset(list: folder, transform: resize32, decodeThreads: 2)
        let b = try ImageFileDataset(list: list, transform: resize32)
        let position = Dictionary(uniqueKeysWithValues: folder.entries.enumerated().map { ($1.path, $0) })
        let order = list.entries.map { position[$0.path]! }
        XCTAssertEqual(try fill(a, order).images, try fill(b, Array(0..<200)).images, "bit for bit, in list order")
        XCTAssertNotEqual(a.contentHash, try ImageFileDataset(list: try ImageList.folder(Self.root.path + "/val"), transform: resize32).contentHash)
    }

    /// The folder's images through `resize` are the IDX reader's to within JPEG's rounding at quality 100.
    func testFolderImagesAreTheIDXImages() throws {
        let idx = try FashionMNIST.load(split: .train, preprocessing: Preprocessing(size: 32, channels: 3))
        let folder = try ImageList.folder(Self.root.path + "/train")
        let data = try ImageFileDataset(list: folder, transform: resize32)
        let indices = folder.entries.prefix(40).map { Int(($0.path as NSString).lastPathComponent.prefix(5))! }
        let mine = try fill(data, Array(0..<40)), theirs = try fill(idx, indices)
        XCTAssertEqual(mine.labels, theirs.labels)
        let worst = zip(mine.images, theirs.images).map { abs($0 - $1) }.max()! * 0.3530 * 255
        print("folder (JPEG q100) against IDX at 32 px: worst difference \(worst) of 255")
        XCTAssertLessThan(worst, 4)
    }

    func testBadInputsAreOneLineErrorsNamingTheFile() throws {
        let fm = FileManager.default
        func folder(_ setup: (String) throws -> Void) throws -> String {
            let d = work.appendingPathComponent(UUID().uuidString).path
            try fm.copyItem(atPath: Self.root.path + "/train", toPath: d)
            try setup(d)
            return d
        }
        func expect(_ message: String, naming path: String, _ body: () throws -> Void) {
            XCTAssertThrowsError(try body()) { e in
                XCTAssertTrue("\(e)".contains(message) && "\(e)".contains(path), "expected '\(message)' naming \(path): \(e)")
                XCTAssertFalse("\(e)".contains("\n"))
            }
        }
        // An empty class folder, a non-image file in a class folder.
        var d = try folder { try fm.createDirectory(atPath: $0 + "/z-empty", withIntermediateDirectories: false) }
        expect("empty class folder", naming: d + "/z-empty") { _ = try ImageList.folder(d) }
        d = try folder { fm.createFile(atPath: $0 + "/1-trouser/notes.txt", contents: Data("x".utf8)) }
        expect("not a JPEG file by its name", naming: d + "/1-trouser/notes.txt") { _ = try ImageList.folder(d) }
        XCTAssertEqual(try ImageList.folder(d, skipBad: true).skipped.count, 1)
        // List lines: no label, a label out of range, a missing file.
        let lines = try String(contentsOfFile: Self.root.path + "/train.txt", encoding: .utf8).split(separator: "\n")
        for (edit, message) in [("train/9-ankle-boot/00000.jpg", "line 3: no label"), ("train/9-ankle-boot/00000.jpg 12", "line 3: label 12 is outside 0..<10"),
                                ("train/9-ankle-boot/gone.jpg 9", "file not found (")] {
            var l = lines.map(String.init); l[2] = edit
            let path = work.appendingPathComponent("list.txt").path
            try l.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            expect(message, naming: message.hasPrefix("file") ? Self.root.path + "/train/9-ankle-boot/gone.jpg" : path) {
                _ = try ImageList.listFile(path, root: Self.root.path, classes: 10)
            }
        }
        // A corrupt JPEG is found when its batch is filled, and named with its list line.
        let corrupt = try folder { d in
            let p = d + "/3-dress/" + (try fm.contentsOfDirectory(atPath: d + "/3-dress")).sorted()[0]
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
            try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: p))
        }
        let list = try ImageList.folder(corrupt)
        let bad = list.entries.firstIndex { $0.path.contains("/3-dress/") }!
        let data = try ImageFileDataset(list: list, transform: resize32)
        expect("corrupt or truncated JPEG", naming: list.entries[bad].path) { _ = try fill(data, [0, bad, 1]) }
        let text = list.entries.map { "\($0.path) \($0.label)" }.joined(separator: "\n")
        let listPath = work.appendingPathComponent("corrupt.txt").path
        try text.write(toFile: listPath, atomically: true, encoding: .utf8)
        let fromList = try ImageFileDataset(list: try ImageList.listFile(listPath, root: nil, classes: nil), transform: resize32)
        expect("(\(listPath) line \(bad + 1))", naming: list.entries[bad].path) { _ = try fill(fromList, [bad]) }
    }

    /// Three unreadable files: each replaced by the next readable image, each counted once.
    func testSkipBadImagesReplacesAndCounts() throws {
        let d = work.appendingPathComponent("skip").path
        try FileManager.default.copyItem(atPath: Self.root.path + "/train", toPath: d)
        let list = try ImageList.folder(d)
        let victims = [5, 6, 50]
        for v in victims { try Data("not a jpeg".utf8).write(to: URL(fileURLWithPath: list.entries[v].path)) }
        let strict = try ImageFileDataset(list: list, transform: resize32)
        XCTAssertThrowsError(try fill(strict, Array(0..<200)))
        let lenient = try ImageFileDataset(list: list, transform: resize32, decodeThreads: 2, skipBadImages: true)
        let all = try fill(lenient, Array(0..<200))
        XCTAssertEqual(lenient.badImages.count, 3)
        XCTAssertEqual(Set(lenient.badImages.keys), Set(victims))
        _ = try fill(lenient, Array(0..<200))
        XCTAssertEqual(lenient.badImages.count, 3, "a file is counted once")
        let per = 3 * 32 * 32
        let seven = try fill(strict, [7]), fiftyOne = try fill(strict, [51])
        XCTAssertEqual(Array(all.images[5 * per ..< 6 * per]), seven.images, "5 and 6 are replaced by 7")
        XCTAssertEqual(Array(all.images[6 * per ..< 7 * per]), seven.images)
        XCTAssertEqual(all.labels[50], fiftyOne.labels[0])
    }

    /// The queue hands out exactly what direct fills give, iteration by iteration, across a
    /// restart at another iteration, and rethrows a fill's error for its own iteration.
    func testPrefetcherGivesTheDirectFillsBatches() throws {
        let t = ImageTransform(convention: .caffe, size: 24, resize: 28, training: true)
        let data = try ImageFileDataset(list: try ImageList.folder(Self.root.path + "/train"), transform: t, decodeThreads: 2)
        let reference = try ImageFileDataset(list: try ImageList.folder(Self.root.path + "/train"), transform: t)
        var schedule = BatchSchedule(count: data.count, globalBatch: 16, worldSize: 2, rank: 1, seed: 5)
        let requestSchedule = schedule
        var ahead = requestSchedule
        let aug = Augmentation(mirror: true)
        let queue = BatchPrefetcher(dataset: data, batch: 8, depth: 2, augmentation: aug, start: 0, end: 30) { i in
            (Array(ahead.indices(forIteration: i)), UInt64(i) &* 977)
        }
        defer { queue.stop() }
        var images = [Float](repeating: 0, count: 8 * 3 * 24 * 24), labels = [Int32](repeating: 0, count: 8)
        for i in [0, 1, 2, 3, 20, 21, 4, 5] {
            let n = try images.withUnsafeMutableBufferPointer { im in
                try labels.withUnsafeMutableBufferPointer { try queue.take(iteration: i, images: im.baseAddress!, labels: $0.baseAddress!) }
            }
            XCTAssertEqual(n, 8)
            let direct = try fill(reference, Array(schedule.indices(forIteration: i)), augmentation: aug, seed: UInt64(i) &* 977)
            XCTAssertEqual(images, direct.images, "iteration \(i)")
            XCTAssertEqual(labels, direct.labels, "iteration \(i)")
        }
    }

    func testAFillErrorReachesTheIterationThatNeedsIt() throws {
        let d = work.appendingPathComponent("err").path
        try FileManager.default.copyItem(atPath: Self.root.path + "/train", toPath: d)
        let list = try ImageList.folder(d)
        try Data("bad".utf8).write(to: URL(fileURLWithPath: list.entries[10].path))
        let data = try ImageFileDataset(list: list, transform: resize32)
        let queue = BatchPrefetcher(dataset: data, batch: 4, depth: 3, augmentation: .none, start: 0, end: 10) { i in
            (Array((4 * i)..<(4 * i + 4)), 0)
        }
        defer { queue.stop() }
        var images = [Float](repeating: 0, count: 4 * 3 * 32 * 32), labels = [Int32](repeating: 0, count: 4)
        func take(_ i: Int) throws -> Int {
            try images.withUnsafeMutableBufferPointer { im in
                try labels.withUnsafeMutableBufferPointer { try queue.take(iteration: i, images: im.baseAddress!, labels: $0.baseAddress!) }
            }
        }
        XCTAssertEqual(try take(0), 4); XCTAssertEqual(try take(1), 4)
        XCTAssertThrowsError(try take(2)) { XCTAssertTrue("\($0)".contains(list.entries[10].path), "\($0)") }
        XCTAssertEqual(try take(3), 4, "the next iteration is unaffected")
    }

    /// Every rank's shards of one epoch together cover the epoch's images exactly once.
    func testShardsCoverEachImageOncePerEpoch() throws {
        let data = try ImageFileDataset(list: try ImageList.folder(Self.root.path + "/train"), transform: resize32)
        for ranks in [1, 2, 3, 4] {
            let batch = 12
            var seen: [Int] = []
            for r in 0..<ranks {
                var s = BatchSchedule(count: data.count, globalBatch: batch, worldSize: ranks, rank: r, seed: 1)
                for i in 0..<s.stepsPerEpoch { seen += s.indices(forIteration: i + s.stepsPerEpoch) }  // epoch 1
            }
            XCTAssertEqual(seen.count, (data.count / batch) * batch)
            XCTAssertEqual(Set(seen).count, seen.count, "\(ranks) ranks: no image twice in an epoch")
        }
    }
}
