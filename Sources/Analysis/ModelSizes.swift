// Exact parameter counts of the models we exchange gradients for.
// SqueezeNet: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
// parameters and <0.5MB model size" (2016), Table 1, weights + biases, 1000 classes.
// AlexNet: Caffe's models/bvlc_alexnet (groups of 2 in conv2/4/5).
import Foundation

/// One model's size as the communicator sees it: a flat block of fp32 gradients.
public struct ModelSize: Equatable, Sendable {
    public var name: String
    public var parameters: Int
    /// Bytes per gradient element (4 for fp32).
    public var bytesPerElement: Int

    public init(name: String, parameters: Int, bytesPerElement: Int = 4) {
        self.name = name
        self.parameters = parameters
        self.bytesPerElement = bytesPerElement
    }

    /// N in the communication formulas: bytes of one gradient exchange.
    public var gradientBytes: Int { parameters * bytesPerElement }
}

/// The constants of DESIGN.md section 1.
public enum ModelSizes {
    /// SqueezeNet v1.0, 1,248,424 parameters = 4,993,696 fp32 bytes.
    public static let squeezeNetV10 = ModelSize(name: "v1.0", parameters: 1_248_424)
    /// SqueezeNet v1.1, 1,235,496 parameters = 4,941,984 fp32 bytes.
    public static let squeezeNetV11 = ModelSize(name: "v1.1", parameters: 1_235_496)
    /// Caffe bvlc_alexnet, 60,965,224 parameters = 243,860,896 fp32 bytes.
    public static let alexNet = ModelSize(name: "alexnet", parameters: 60_965_224)
    /// torchvision's AlexNet (no groups, no LRN), for reference only.
    public static let torchvisionAlexNet = ModelSize(name: "alexnet-torchvision", parameters: 61_100_840)

    /// Caffe AlexNet / SqueezeNet v1.0 parameters: 48.83.
    public static var alexNetToSqueezeNetRatio: Double {
        Double(alexNet.parameters) / Double(squeezeNetV10.parameters)
    }

    public static let all: [ModelSize] = [squeezeNetV10, squeezeNetV11, alexNet, torchvisionAlexNet]

    /// Looks a model up by its CLI name ("v1.0", "squeezenet-v1.1", "alexnet",
    /// "alexnet-payload": the payload variant exchanges AlexNet-sized gradients).
    public static func named(_ name: String) -> ModelSize? {
        switch name.lowercased() {
        case "v1.0", "1.0", "squeezenet", "squeezenet-v1.0", "squeezenet1_0": return squeezeNetV10
        case "v1.1", "1.1", "squeezenet-v1.1", "squeezenet1_1": return squeezeNetV11
        case "alexnet", "alexnet-payload", "bvlc_alexnet": return alexNet
        case "alexnet-torchvision": return torchvisionAlexNet
        default: return nil
        }
    }
}
