// swift-tools-version:5.10
import PackageDescription

let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "squeezenet-train",
    products: [
        .executable(name: "squeezenet-train", targets: ["squeezenet-train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: C bridges (module map + one header of inline shims each)
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CReduction"),  // the collectives' vector addition

        // MARK: Libraries (arrows point one way: Training sees all, the rest see only their bridge)
        .target(name: "NeuralNet", dependencies: ["CBLAS"], swiftSettings: optimize),
        .target(name: "Datasets", dependencies: ["CZlib"], swiftSettings: optimize),
        .target(name: "Collectives", dependencies: ["CMPI", "CReduction"], swiftSettings: optimize),
        .target(name: "Metrics", swiftSettings: optimize),
        .target(name: "Training",
                dependencies: ["NeuralNet", "Datasets", "Collectives", "Metrics"],
                swiftSettings: optimize),

        // MARK: Executables
        .target(name: "CAllocator"),  // the process allocator: counting for the benchmark, tuning (executable only)
        .executableTarget(name: "squeezenet-train",
                          dependencies: ["Training", "CAllocator",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimize),
        // Runs every allreduce algorithm on known data under mpirun; used by the tests and as a benchmark.
        .executableTarget(name: "allreduce-check", dependencies: ["Collectives"], swiftSettings: optimize),

        // MARK: Tests
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
        .testTarget(name: "CollectivesTests", dependencies: ["Collectives", "CReduction", "TestSupport"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"]),
    ]
)
