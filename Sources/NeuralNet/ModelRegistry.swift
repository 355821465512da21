// Every model the project trains or exchanges gradients for, in one list. Each
// architecture builds itself and carries its metadata; the trainer, `--summary`,
// `bench` and the reference check all build models through `ModelKind`.
// Adding a model: a type conforming to `ModelArchitecture` (in its own file) and
// one line in `ModelRegistry.all` (docs/architecture.md, "How to add a model").

/// What a run may set when it builds a model. The defaults are the architectures'
/// own (Caffe's fillers); the trainer passes its options.
public struct ModelConfiguration {
    public var classes: Int
    public var inputChannels = 3
    public var inputSize: Int
    /// Largest batch the layers are built for.
    public var batch: Int
    public var dropout: Float = 0.5
    /// The weight filler's seed; nil leaves the parameters at zero (replayed compute
    /// uses only the layout, and filling AlexNet's 61 M weights on 16 ranks takes seconds).
    public var seed: UInt64? = 42
    public var convInit: ConvInit = .xavier
    /// Initial bias and weight std of the `classifierLayers` (where the model has any).
    public var classifierBias: Float = 0
    public var classifierStd: Float = 0.01

    public init(classes: Int, inputSize: Int, batch: Int) {
        self.classes = classes
        self.inputSize = inputSize
        self.batch = batch
    }
}

/// One model: how to build it and what every command needs to know about it.
public protocol ModelArchitecture: Sendable {
    /// The command-line name (`--model`), also stored in weight files and metrics.
    var name: String { get }
    /// The human name, for messages: "SqueezeNet v1.0".
    var title: String { get }
    /// What it is, for `--help`.
    var summary: String { get }
    /// The input size the architecture was designed for (`--summary`'s default).
    var nativeInputSize: Int { get }
    /// The smallest square input every layer accepts.
    var minimumInputSize: Int { get }
    /// Layers the classifier options (`--classifier-bias`, `--classifier-std`,
    /// `--classifier-lr-mult`) act on; empty where they do not apply.
    var classifierLayers: [String] { get }
    /// Parameters with 1000 classes, as the paper (or Caffe's model) gives it; a test
    /// holds the built model to it.
    var parameterCountAt1000Classes: Int { get }
    /// Whether it has layers to compute; false for a communication-only payload.
    var computes: Bool { get }
    /// The network; nil exactly when `computes` is false.
    func build(_ configuration: ModelConfiguration) -> Network?
}

extension ModelArchitecture {
    public var computes: Bool { true }
}

/// The models, by `--model` name.
public enum ModelRegistry {
    public static let all: [any ModelArchitecture] = [
        SqueezeNetArchitecture(version: .v1_0),
        SqueezeNetArchitecture(version: .v1_1),
        AlexNetArchitecture(),
        AlexNetPayload(),
    ]

    public static func named(_ name: String) -> (any ModelArchitecture)? { all.first { $0.name == name } }

    /// The names, for messages: "v1.0, v1.1, alexnet, alexnet-payload".
    public static var names: String { all.map(\.name).joined(separator: ", ") }
}

/// A registered model, by name: what options, files and metrics store.
public struct ModelKind: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Nil for a name that is not in the registry.
    public init?(rawValue: String) {
        guard ModelRegistry.named(rawValue) != nil else { return nil }
        self.rawValue = rawValue
    }

    public var architecture: any ModelArchitecture { ModelRegistry.named(rawValue)! }
    /// Whether the replica computes (forward and backward on data).
    public var computes: Bool { architecture.computes }
    public var description: String { rawValue }

    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let kind = ModelKind(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown model '\(name)' (\(ModelRegistry.names))"))
        }
        self = kind
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static var allCases: [ModelKind] { ModelRegistry.all.map { ModelKind(rawValue: $0.name)! } }
    public static let v1_0 = ModelKind(rawValue: "v1.0")!
    public static let v1_1 = ModelKind(rawValue: "v1.1")!
    public static let alexnet = ModelKind(rawValue: "alexnet")!
    public static let alexnetPayload = ModelKind(rawValue: "alexnet-payload")!
}

/// SqueezeNet v1.0 or v1.1 (`SqueezeNet.make`).
public struct SqueezeNetArchitecture: ModelArchitecture {
    public let version: SqueezeNet.Version
    public var name: String { version.rawValue }
    public var title: String { "SqueezeNet \(version.rawValue)" }
    public var summary: String {
        version == .v1_0 ? "the paper's Table 1" : "DeepScale's, 2.4x fewer MACs"
    }
    public var nativeInputSize: Int { 224 }
    public var minimumInputSize: Int { SqueezeNet.minimumInputSize(version) }
    public var classifierLayers: [String] { ["conv10"] }
    public var parameterCountAt1000Classes: Int { version == .v1_0 ? 1_248_424 : 1_235_496 }
    public func build(_ c: ModelConfiguration) -> Network? {
        SqueezeNet.make(version, classes: c.classes, inputChannels: c.inputChannels, inputSize: c.inputSize,
                        batch: c.batch, dropout: c.dropout, seed: c.seed, convInit: c.convInit,
                        classifierBias: c.classifierBias, classifierStd: c.classifierStd)
    }
}

/// Caffe's bvlc_alexnet (`AlexNet.make`). Its fc8 keeps Caffe's filler and rate: the
/// classifier options were made for SqueezeNet's conv10, behind a ReLU (docs/training.md).
public struct AlexNetArchitecture: ModelArchitecture {
    public var name: String { "alexnet" }
    public var title: String { "AlexNet" }
    public var summary: String { "Caffe's bvlc_alexnet, grouped convolutions and LRN" }
    public var nativeInputSize: Int { 227 }
    public var minimumInputSize: Int { AlexNet.minimumInputSize }
    public var classifierLayers: [String] { [] }
    public var parameterCountAt1000Classes: Int { 60_965_224 }
    public func build(_ c: ModelConfiguration) -> Network? {
        AlexNet.make(classes: c.classes, inputChannels: c.inputChannels, inputSize: c.inputSize, batch: c.batch,
                     dropout: c.dropout, seed: c.seed)
    }
}

/// AlexNet's gradient size with no layers, so the exchange of bvlc_alexnet can be run
/// without its compute. Its sizes are AlexNet's own.
public struct AlexNetPayload: ModelArchitecture {
    private let alexnet = AlexNetArchitecture()
    public var name: String { "alexnet-payload" }
    public var title: String { "the AlexNet payload" }
    public var summary: String { "AlexNet-sized gradients, no compute" }
    public var nativeInputSize: Int { alexnet.nativeInputSize }
    public var minimumInputSize: Int { 1 }
    public var classifierLayers: [String] { [] }
    public var parameterCountAt1000Classes: Int { alexnet.parameterCountAt1000Classes }
    public var computes: Bool { false }
    public func build(_ c: ModelConfiguration) -> Network? { nil }
}
