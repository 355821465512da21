import ArgumentParser
import Foundation
import Datasets
import Training

struct CheckReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-reference",
        abstract: "Compare forward, gradients and two SGD steps with a reference folder (manifest.json + raw tensors).")

    @Argument(help: "Reference folder (manifest.json and raw tensors dumped from PyTorch, docs/formats.md).") var directory: String
    @Flag(help: "Print only failures and the summary.") var quiet = false

    func run() throws {
        let report: ReferenceCheck.Report
        do { report = try ReferenceCheck.run(directory: directory) } catch { fail("\(error)") }
        print("reference: \(report.description)")
        print("tensor".padding(toLength: 36, withPad: " ", startingAt: 0) + " role                     max|diff|    max|ref|     rel        tol      ok")
        for r in report.results where !quiet || !r.passed {
            print(r.name.padding(toLength: 36, withPad: " ", startingAt: 0) + " "
                  + r.role.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + String(format: " %.3e  %.3e  %.3e  %.0e  %@", r.maxAbsDiff, r.maxAbsRef, r.relative, r.tolerance, r.passed ? "yes" : "NO"))
        }
        let worst = report.results.max { $0.relative < $1.relative }
        print("\(report.results.count) tensors, \(report.failures.count) out of tolerance; worst \(worst?.name ?? "-") at \(worst.map { String(format: "%.2e", $0.relative) } ?? "-")")
        if !report.passed { throw ExitCode(1) }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Largest absolute and relative difference between two weight files written by training.")

    @Argument(help: "First weight file (weights.bin).") var first: String
    @Argument(help: "Second weight file.") var second: String
    @Option(help: "Exit non-zero when max|a-b| / max|b| exceeds this.") var tolerance: Double?

    func run() throws {
        let a: WeightFile, b: WeightFile
        do { a = try WeightFile.read(from: first); b = try WeightFile.read(from: second) } catch { fail("\(error)") }
        guard a.header.count == b.header.count, a.header.tensors == b.header.tensors else {
            fail("\(first) (\(a.header.model), \(a.header.count) parameters) and \(second) (\(b.header.model), \(b.header.count)) hold different models")
        }
        var maxAbs = 0.0, maxRef = 0.0, index = 0, differing = 0
        for i in 0..<a.values.count {
            let d = abs(Double(a.values[i]) - Double(b.values[i]))
            if d > maxAbs { maxAbs = d; index = i }
            if a.values[i].bitPattern != b.values[i].bitPattern { differing += 1 }
            maxRef = max(maxRef, abs(Double(b.values[i])))
        }
        let relative = maxRef > 0 ? maxAbs / maxRef : maxAbs
        print(String(format: "%d parameters, %d differ bitwise; max|a-b| %.6e at index %d; max|a-b|/max|b| %.6e",
                     a.values.count, differing, maxAbs, index, relative))
        if let t = tolerance, relative > t { throw ExitCode(1) }
    }
}

struct MakeImageFolder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-image-folder",
        abstract: "Write Fashion-MNIST (or any IDX image/label pairs) as a JPEG image folder (DIR/train/<class>/*.jpg, DIR/val/<class>/*.jpg) with Caffe lists DIR/train.txt and DIR/val.txt, for --dataset folder or list.")

    @Argument(help: "The folder to create (refused if it exists; written whole or not at all).") var out: String
    @Option(help: "Folder with the IDX files ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]).")
    var dataDir: String = FashionMNIST.defaultDirectory
    @Option(help: "Class names in label order, comma-separated (default: Fashion-MNIST's); folders are named <label>-<name>.")
    var classNames: String?
    @Option(help: "About this many images per split, equal shares of each class (default: all).") var limit: Int?
    @Option(help: "JPEG quality, 1-100.") var quality: Int = 95

    func run() throws {
        let names = classNames.map { $0.split(separator: ",").map(String.init) } ?? FashionMNIST.classNames
        if names.count < 2 { fail("--class-names needs at least 2 names") }
        if let l = limit, l <= 0 { fail("--limit must be positive, got \(l)") }
        if !(1...100).contains(quality) { fail("--quality must be in 1...100, got \(quality)") }
        let files = { (split: FashionMNIST.Split) in
            (FashionMNIST.path(directory: dataDir, split: split, images: true), FashionMNIST.path(directory: dataDir, split: split, images: false))
        }
        let t0 = Date()
        do {
            let s = try ImageFolderWriter.write(train: files(.train), val: files(.test), classNames: names, to: out,
                                                quality: quality, limit: limit)
            print(String(format: "wrote %d training and %d validation JPEGs (%d bytes, quality %d) to %@ in %.1f s; train with --dataset folder --data-dir %@ (or --dataset list --train-list %@/train.txt --val-list %@/val.txt --root %@)",
                         s.train, s.val, s.bytes, quality, out, Date().timeIntervalSince(t0), out, out, out, out))
        } catch { fail("\(error)") }
    }
}
