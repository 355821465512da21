// swift-tools-version:5.10
import PackageDescription

let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "squeezenet-train",
    products: [
        .executable(name: "squeezenet-train", targets: ["squeezenet-train"]),
        // LD_PRELOAD'ed by the scaling lab: waiting MPI ranks sleep instead of spinning.
        .library(name: "squeezenet-polite-wait", type: .dynamic, targets: ["CPoliteWait"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: C bridges (module map + one header of inline shims each)
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .target(name: "CReduction"),  // the collectives' vector addition
        .target(name: "CHalf"),  // fp16 conversion for the codec (F16C when the CPU has it)
        .target(name: "CPoliteWait"),  // sched_yield() as a short sleep (LD_PRELOAD, the scaling lab)

        // MARK: Libraries (arrows point one way: Training sees all, the rest see only their bridge)
        // Dependency-free: the one random generator, hash and median.
        .target(name: "Basics", swiftSettings: optimize),
        // Dependency-free: the algorithm list, ring partition, binomial tree and byte formulas.
        .target(name: "Topology", swiftSettings: optimize),
        // Dependency-free: gradient codecs (16-bit floats, int8 with scales, top-k with DGC) and error feedback.
        .target(name: "Codecs", dependencies: ["Topology", "CHalf"], swiftSettings: optimize),
        .target(name: "NeuralNet", dependencies: ["CBLAS", "Basics"], swiftSettings: optimize),
        .target(name: "Datasets", dependencies: ["CZlib", "CTurboJPEG", "Basics"], swiftSettings: optimize),
        .target(name: "Collectives", dependencies: ["CMPI", "CReduction", "Topology", "Codecs", "Basics"], swiftSettings: optimize),
        // What the training loop records: iteration records, their IO, the trace.
        .target(name: "Metrics", swiftSettings: optimize),
        .target(name: "DeepCompression", dependencies: ["Basics"], swiftSettings: optimize),
        // What only `report` and `calibrate` need: cost model, scaling, plots, calibration fit.
        .target(name: "Analysis", dependencies: ["Metrics", "Topology", "Basics"], swiftSettings: optimize),
        .target(name: "Training",
                dependencies: ["Basics", "Topology", "NeuralNet", "Datasets", "Codecs", "Collectives", "Metrics", "DeepCompression"],
                swiftSettings: optimize),

        // MARK: Executables
        .target(name: "CAllocator"),  // the process allocator: counting for the benchmark, tuning (executable only)
        .executableTarget(name: "squeezenet-train",
                          dependencies: ["Training", "Analysis", "Topology", "DeepCompression", "CAllocator",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimize),
        // Runs every allreduce algorithm on known data under mpirun; used by the tests and as a benchmark.
        .executableTarget(name: "allreduce-check", dependencies: ["Basics", "Topology", "Codecs", "Collectives"],
                         swiftSettings: optimize),

        // MARK: Tests
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "BasicsTests", dependencies: ["Basics", "TestSupport"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology", "TestSupport"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "Basics", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
        .testTarget(name: "CollectivesTests", dependencies: ["Collectives", "Topology", "CReduction", "Codecs", "TestSupport"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "TestSupport"]),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs", "Topology"]),
        .testTarget(name: "DeepCompressionTests", dependencies: ["DeepCompression"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Metrics", "Topology", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "DeepCompression", "Basics", "NeuralNet", "Topology", "Metrics", "TestSupport"]),
    ]
)
