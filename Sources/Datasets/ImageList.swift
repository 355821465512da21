// Which image files a data set holds and their labels, from torchvision's ImageFolder
// layout or a Caffe ImageData list file. Only names, sizes and labels are read here
// (a stat per file); pixels are decoded when a batch needs them.
import Basics
import Foundation

/// The files of one split and their labels.
public struct ImageList: Equatable {
    public struct Entry: Equatable {
        /// The path the file is opened by.
        public var path: String
        /// The path relative to the folder or the list's root (what the fingerprint hashes,
        /// so hosts may keep the data in different places).
        public var name: String
        public var label: Int32
        public var bytes: Int
        /// Where it came from, for error messages: "LIST line N", or nil for a folder.
        public var origin: String?
        public init(path: String, name: String, label: Int32, bytes: Int, origin: String? = nil) {
            self.path = path; self.name = name; self.label = label; self.bytes = bytes; self.origin = origin
        }
    }

    public var entries: [Entry]
    /// Class names in label order (a folder's sorted subfolders); nil for a list file.
    public var classNames: [String]?
    /// Labels are in `0..<classes`.
    public var classes: Int
    /// Files left out because they could not be used (`skipBad`), with the reason.
    public var skipped: [String] = []

    public init(entries: [Entry], classNames: [String]?, classes: Int) {
        self.entries = entries; self.classNames = classNames; self.classes = classes
    }

    /// Extensions taken as JPEG files (any case).
    public static let jpegExtensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif"]

    /// A hash of the names (relative to the folder or root), sizes and labels: ranks compare it at startup.
    public var fingerprint: UInt64 {
        var h = FNV1a()
        for e in entries {
            h.combine(bytes: Array(e.name.utf8)); h.combine(bytes: [0])
            h.combine(UInt64(e.bytes)); h.combine(UInt64(UInt32(bitPattern: e.label)))
        }
        h.combine(bytes: Array((classNames ?? []).joined(separator: "\n").utf8))
        return h.value
    }

    /// torchvision's ImageFolder: `dir/<class>/<file>`, classes in sorted (byte) order, files
    /// in sorted order within a class; hidden entries (starting with ".") are ignored.
    /// `classNames`: label the classes by this list (the training split's), so a split
    /// holding fewer classes keeps the training labels; a class outside it is an error.
    /// `skipBad`: a file that is not a JPEG by its extension is left out and listed in
    /// `skipped` instead of an error.
    public static func folder(_ dir: String, classNames given: [String]? = nil, skipBad: Bool = false) throws -> ImageList {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError.badFolder(path: dir, reason: "no such folder (an image folder holds one subfolder per class)")
        }
        let names = try sortedEntries(dir).filter { name in
            var d: ObjCBool = false
            return fm.fileExists(atPath: dir + "/" + name, isDirectory: &d) && d.boolValue
        }
        guard !names.isEmpty else { throw DatasetError.badFolder(path: dir, reason: "no class folders (expected DIR/<class>/<image>.jpg)") }
        let classNames = given ?? names
        let labelOf = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, Int32($0)) })
        var list = ImageList(entries: [], classNames: classNames, classes: classNames.count)
        for name in names {
            guard let label = labelOf[name] else {
                throw DatasetError.badFolder(path: dir + "/" + name, reason: "class folder not among the training split's \(classNames.count) classes")
            }
            let classDir = dir + "/" + name
            var count = 0
            for file in try sortedEntries(classDir) {
                let path = classDir + "/" + file
                let attributes = try? fm.attributesOfItem(atPath: path)
                guard let attributes, attributes[.type] as? FileAttributeType == .typeRegular else {
                    if skipBad { list.skipped.append("\(path): not a regular file"); continue }
                    throw DatasetError.badImage(path: path, reason: "not a regular file (a class folder holds image files only)")
                }
                let ext = (file as NSString).pathExtension.lowercased()
                guard jpegExtensions.contains(ext) else {
                    if skipBad { list.skipped.append("\(path): not a .jpg/.jpeg file"); continue }
                    throw DatasetError.badImage(path: path, reason: "not a JPEG file by its name (.jpg, .jpeg); remove it or pass --skip-bad-images")
                }
                list.entries.append(Entry(path: path, name: name + "/" + file, label: label, bytes: (attributes[.size] as? NSNumber)?.intValue ?? 0))
                count += 1
            }
            if count == 0 {
                throw DatasetError.badFolder(path: classDir, reason: "empty class folder (no images); a class without images cannot be learned")
            }
        }
        return list
    }

    /// Caffe's ImageData list: one `path label` per line, split at the last space (so paths
    /// may hold spaces), paths relative to `root` unless absolute; blank lines are ignored.
    /// `classes`: labels must be below it (nil: the largest label + 1). `skipBad`: a missing
    /// file is left out and listed in `skipped` instead of an error.
    public static func listFile(_ listPath: String, root: String?, classes: Int?, skipBad: Bool = false) throws -> ImageList {
        guard let data = FileManager.default.contents(atPath: listPath) else {
            throw DatasetError.missingFile(path: listPath)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError.badList(path: listPath, line: 1, reason: "not UTF-8 text")
        }
        var list = ImageList(entries: [], classNames: nil, classes: 0)
        var largest: Int32 = -1
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw[...]
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let origin = "\(listPath) line \(n + 1)"
            guard let space = line.lastIndex(where: { $0 == " " || $0 == "\t" }), space != line.startIndex else {
                throw DatasetError.badList(path: listPath, line: n + 1, reason: "no label (expected 'path label')")
            }
            let name = String(line[..<space]).trimmingCharacters(in: .whitespaces)
            let labelText = line[line.index(after: space)...]
            guard let label = Int32(labelText), label >= 0 else {
                throw DatasetError.badList(path: listPath, line: n + 1, reason: "label '\(labelText)' is not a whole number >= 0")
            }
            if let c = classes, label >= c {
                throw DatasetError.badList(path: listPath, line: n + 1, reason: "label \(label) is outside 0..<\(c) (--classes)")
            }
            let path = name.hasPrefix("/") || root == nil ? name : root! + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular else {
                if skipBad { list.skipped.append("\(path) (\(origin)): file not found"); continue }
                throw DatasetError.badImage(path: path, reason: "file not found (\(origin))")
            }
            largest = max(largest, label)
            list.entries.append(Entry(path: path, name: name, label: label, bytes: (attributes[.size] as? NSNumber)?.intValue ?? 0, origin: origin))
        }
        guard !list.entries.isEmpty else {
            throw DatasetError.badList(path: listPath, line: 1, reason: "no images listed")
        }
        list.classes = classes ?? Int(largest) + 1
        return list
    }

    /// `limit` entries spread evenly over the list (a folder's are sorted by class, so its
    /// first entries would be its first classes only); nil or more than the list: all of them.
    public func spread(_ limit: Int?) -> ImageList {
        guard let limit, limit < entries.count else { return self }
        var out = self
        out.entries = (0..<limit).map { entries[$0 * entries.count / limit] }
        return out
    }

    private static func sortedEntries(_ dir: String) throws -> [String] {
        do {
            // Byte order, as Python's sorted() on str for ASCII names (torchvision's ImageFolder).
            return try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }
                .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        } catch {
            throw DatasetError.badFolder(path: dir, reason: "cannot list: \(error.localizedDescription)")
        }
    }
}
