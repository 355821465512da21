import ArgumentParser
import Datasets
import Foundation

/// Decode + transform speed of the JPEG pipeline on photograph-sized files the command
/// writes itself, with the DCT-domain reduction and, side by side, without it.
struct DataBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract: "JPEG pipeline speed: decode + transform images/s per thread for 500x375 photographs (written by the command) at 227 (caffe) and 224 (torchvision) crops, with and without DCT scaling.")

    @Option(help: "Photographs to write and decode per round.") var images: Int = 64
    @Option(help: "Width and height of the photographs.") var width: Int = 500
    @Option var height: Int = 375
    @Option(help: "Decode threads, comma-separated.") var threads: String = "1,2"
    @Option(help: "Timed rounds (the median is reported).") var rounds: Int = 5
    @Option(help: "Write the photographs as an image folder here (DIR/train/<class>/, DIR/val/<class>/, 2 classes) and keep it, for a training run; nothing is timed.")
    var makeFolder: String?

    func run() throws {
        guard images >= 2, width >= 16, height >= 16, rounds >= 1 else { fail("--images >= 2, --width/--height >= 16, --rounds >= 1") }
        let threadCounts = threads.split(separator: ",").compactMap { Int($0) }
        guard !threadCounts.isEmpty, threadCounts.allSatisfy({ (1...64).contains($0) }) else { fail("--threads: comma-separated counts in 1...64") }
        let keep = makeFolder != nil
        let root = makeFolder ?? NSTemporaryDirectory() + "bench-data-\(getpid())"
        if keep && FileManager.default.fileExists(atPath: root) { fail("\(root) exists; --make-folder writes a new folder") }
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        var bytes = 0, files = 0
        for split in ["train", "val"] {
            for c in 0..<2 {
                let dir = "\(root)/\(split)/class\(c)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for i in 0..<(split == "train" ? images : max(2, images / 4)) where i % 2 == c {
                    let jpeg = try JPEGEncoder.encode(SyntheticPhoto.rgb(width: width, height: height, seed: UInt64(i) + (split == "val" ? 1 << 32 : 0)),
                                                      width: width, height: height, layout: .rgb, quality: 90, subsampling420: true)
                    bytes += jpeg.count; files += 1
                    guard FileManager.default.createFile(atPath: "\(dir)/\(i).jpg", contents: Data(jpeg)) else { fail("\(dir)/\(i).jpg: cannot write") }
                }
            }
        }
        if keep {
            print("wrote \(images) training and \(max(2, images / 4)) validation \(width)x\(height) JPEGs (quality 90, 4:2:0, \(bytes) bytes) to \(root)")
            return
        }
        let list = try ImageList.folder(root + "/train")
        print("measured: \(list.entries.count) synthetic \(width)x\(height) JPEGs (quality 90, 4:2:0, mean \(bytes / max(1, files)) bytes), median of \(rounds) rounds, page cache warm")
        print("transform      crop  threads  dct-scaling   images/s   per thread   ms/image")
        for (convention, crop) in [(ImageTransform.Convention.caffe, 227), (.torchvision, 224)] {
            for t in threadCounts {
                var rates: [Double] = []
                for scaling in [true, false] {
                    let data = try ImageFileDataset(list: list, transform: ImageTransform(convention: convention, size: crop, training: true),
                                                    decodeThreads: t, dctScaling: scaling)
                    var out = [Float](repeating: 0, count: list.entries.count * 3 * crop * crop)
                    var labels = [Int32](repeating: 0, count: list.entries.count)
                    let indices = Array(0..<list.entries.count)
                    var times: [Double] = []
                    for round in 0...rounds {
                        let t0 = Date()
                        try indices.withUnsafeBufferPointer { idx in
                            try out.withUnsafeMutableBufferPointer { o in
                                try labels.withUnsafeMutableBufferPointer {
                                    try data.fillBatch(indices: idx, images: o.baseAddress!, labels: $0.baseAddress!,
                                                       augmentation: Augmentation(mirror: true), augmentationSeed: UInt64(round))
                                }
                            }
                        }
                        if round > 0 { times.append(Date().timeIntervalSince(t0)) }  // round 0 warms the page cache
                    }
                    let median = times.sorted()[times.count / 2]
                    let rate = Double(indices.count) / median
                    rates.append(rate)
                    print(convention.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                          + String(format: " %5d %8d %12@ %10.1f %12.1f %10.2f", crop, t, scaling ? "on" : "off",
                                   rate, rate / Double(t), 1000 * median / Double(indices.count)))
                }
                print(String(format: "    DCT scaling: %.2fx the full decode's rate (measured side by side; 1.00x where no reduction applies)", rates[0] / rates[1]))
            }
        }
    }
}
