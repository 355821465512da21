// Writes an IDX data set (Fashion-MNIST, or any IDX image/label pair) as JPEGs in
// torchvision's ImageFolder layout, with Caffe list files beside it, so the JPEG
// pipeline can be tried on data already on the machine. The folder appears whole or
// not at all: it is written under DIR.partial and renamed at the end.
import Foundation

public enum ImageFolderWriter {
    /// Class folder names: `<label>-<name>`, so the sorted order is the label order.
    public static func folderNames(_ names: [String]) -> [String] {
        let width = String(names.count - 1).count
        return names.enumerated().map { i, name in
            let slug = name.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
            let number = String(i), padded = String(repeating: "0", count: width - number.count) + number
            return padded + "-" + slug
        }
    }

    /// What was written.
    public struct Summary { public var train: Int; public var val: Int; public var bytes: Int }

    /// Writes `out/train/<class>/<index>.jpg`, `out/val/<class>/<index>.jpg`, and
    /// `out/train.txt`, `out/val.txt` (Caffe lists, paths relative to `out`), greyscale
    /// JPEGs at `quality`, from the IDX pair of each split. `limit`: about this many images
    /// per split, the first ones of each class in equal shares (so no class folder is
    /// empty). Refuses an existing `out`.
    public static func write(train: (images: String, labels: String), val: (images: String, labels: String),
                             classNames: [String], to out: String, quality: Int = 95, limit: Int? = nil) throws -> Summary {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: out) else {
            throw DatasetError.invalidArgument("\(out) exists; make-image-folder writes a new folder (remove it or choose another)")
        }
        let partial = out + ".partial"
        try? fm.removeItem(atPath: partial)
        let folders = folderNames(classNames)
        var summary = Summary(train: 0, val: 0, bytes: 0)
        do {
            for (split, files) in [("train", train), ("val", val)] {
                let images = try IDX.readImages(path: files.images), labels = try IDX.readLabels(path: files.labels)
                guard images.count == labels.count else {
                    throw DatasetError.countMismatch(imagesPath: files.images, images: images.count, labelsPath: files.labels, labels: labels.count)
                }
                if let bad = labels.firstIndex(where: { Int($0) >= classNames.count }) {
                    throw DatasetError.labelOutOfRange(path: files.labels, index: bad, label: Int(labels[bad]), classes: classNames.count)
                }
                for f in folders { try fm.createDirectory(atPath: "\(partial)/\(split)/\(f)", withIntermediateDirectories: true) }
                let per = images.rows * images.columns
                let share = limit.map { ($0 + classNames.count - 1) / classNames.count } ?? images.count
                var taken = [Int](repeating: 0, count: classNames.count), n = 0
                var list = ""
                let digits = String(images.count - 1).count
                for i in 0..<images.count where taken[Int(labels[i])] < share {
                    taken[Int(labels[i])] += 1; n += 1
                    let jpeg = try JPEGEncoder.encode(Array(images.pixels[i * per ..< (i + 1) * per]), width: images.columns,
                                                      height: images.rows, layout: .gray, quality: quality)
                    let number = String(i), name = String(repeating: "0", count: digits - number.count) + number
                    let relative = "\(split)/\(folders[Int(labels[i])])/\(name).jpg"
                    guard fm.createFile(atPath: partial + "/" + relative, contents: Data(jpeg)) else {
                        throw DatasetError.invalidArgument("\(partial)/\(relative): cannot write (disk full or not writable?)")
                    }
                    list += "\(relative) \(labels[i])\n"
                    summary.bytes += jpeg.count
                }
                guard fm.createFile(atPath: "\(partial)/\(split).txt", contents: Data(list.utf8)) else {
                    throw DatasetError.invalidArgument("\(partial)/\(split).txt: cannot write")
                }
                if split == "train" { summary.train = n } else { summary.val = n }
            }
            try fm.moveItem(atPath: partial, toPath: out)
        } catch {
            try? fm.removeItem(atPath: partial)
            throw error
        }
        return summary
    }
}
