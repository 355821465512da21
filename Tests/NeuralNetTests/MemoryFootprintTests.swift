import Foundation
import NeuralNet
import XCTest

/// `storageBytes(batch:)` is what the layers really allocate: the growth of resident
/// memory around a real build (every tensor is zero-filled, so all of it is touched;
/// the parameter store is calloc'ed and untouched), against the formula read off a
/// layout built at batch 0, which itself allocates (almost) nothing. Every network is
/// kept alive to the end, and memory freed by earlier tests is handed back to the kernel
/// first (malloc_trim), so no resident free memory is reused unseen.
final class MemoryFootprintTests: XCTestCase {
    /// glibc's malloc_trim, which Swift's Glibc module does not export.
    static let trim = dlsym(nil, "malloc_trim").map { unsafeBitCast($0, to: (@convention(c) (Int) -> Int32).self) }

    func allocated() -> Double {
        _ = Self.trim?(0)
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return 1024 * (Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0)
    }

    func testStorageBytesMatchWhatTheLayersAllocate() {
        var kept: [Network] = []
        defer { withExtendedLifetime(kept) {} }
        for (model, size, batch) in [(ModelKind.v1_0, 32, 64), (.v1_0, 128, 4), (.v1_1, 64, 48), (.alexnet, 131, 16)] {
            let architecture = model.architecture
            var layoutConfiguration = ModelConfiguration(classes: 10, inputSize: size, batch: 0)
            layoutConfiguration.seed = nil
            let before0 = allocated()
            let layout = architecture.build(layoutConfiguration)!
            let layoutBytes = allocated() - before0
            let predicted = layout.storageBytes(batch: batch)

            var configuration = ModelConfiguration(classes: 10, inputSize: size, batch: batch)
            configuration.seed = nil
            let before = allocated()
            let net = architecture.build(configuration)!
            let measured = allocated() - before
            print("\(model) \(size) px batch \(batch): predicted \(predicted), measured \(measured), layout \(layoutBytes)")
            XCTAssertEqual(layout.parameterCount, net.parameterCount)
            // Within 2% and 1 MB: pages, and the parameters' small calloc'ed stores that are touched.
            XCTAssertEqual(measured, predicted, accuracy: 0.02 * predicted + 1e6, "\(model) \(size) px batch \(batch)")
            XCTAssertLessThan(layoutBytes, 1e6, "batch 0 allocates no storage")
            kept += [layout, net]
        }
    }
}
