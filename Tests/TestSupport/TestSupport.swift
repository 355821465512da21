import Foundation

/// Shared helpers for the test targets: where the package, the shared reference
/// data and the built executables are.
public enum TestPaths {
    /// The package root, found from this file's location.
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `../shared/reference/<name>` beside the checkout, or `$SQUEEZENET_REFERENCE_DIR/<name>`.
    public static func reference(_ name: String = "squeezenet_v1_0_c10_64px") -> URL {
        if let dir = ProcessInfo.processInfo.environment["SQUEEZENET_REFERENCE_DIR"] {
            return URL(fileURLWithPath: dir).appendingPathComponent(name)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/\(name)")
    }

    /// The folder holding the built products (the test bundle's folder), or `$SQUEEZENET_BIN_DIR`.
    public static var binaryDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["SQUEEZENET_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        var url = Bundle.main.bundleURL
        while url.path != "/" {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("squeezenet-train").path) { return url }
            url.deleteLastPathComponent()
        }
        return Bundle.main.bundleURL.deletingLastPathComponent()
    }

    public static func executable(_ name: String) -> URL { binaryDirectory.appendingPathComponent(name) }

    /// A new empty temporary folder.
    public static func temporaryDirectory(_ prefix: String = "squeezenet-test") -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Largest |a - b| / max|b| over two equally long sequences (the reference README's metric).
public func relativeMaxDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> Double
where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
    var diff = 0.0, scale = 0.0
    for (x, y) in zip(a, b) {
        diff = max(diff, abs(Double(x) - Double(y)))
        scale = max(scale, abs(Double(y)))
    }
    return scale > 0 ? diff / scale : diff
}
