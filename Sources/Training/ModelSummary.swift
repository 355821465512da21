import Foundation
import NeuralNet

/// The per-layer table printed by `--summary`.
public enum ModelSummary {
    /// The table of `model` at `classes` classes and `inputSize` pixels (nil: the
    /// architecture's native size).
    public static func table(model: ModelKind, classes: Int, inputSize: Int?) -> String {
        let architecture = model.architecture
        let size = inputSize ?? architecture.nativeInputSize
        guard let net = architecture.build(ModelConfiguration(classes: classes, inputSize: size, batch: 1)) else {
            let n = architecture.parameterCountAt1000Classes
            return "\(architecture.name): \(grouped(n)) parameters (\(grouped(n * 4)) gradient bytes), no layers: communication only"
        }
        var lines = ["\(net.name), \(classes) classes, input 3x\(size)x\(size)",
                     pad("layer", 10) + pad("output (CxHxW)", 18, left: false) + pad("parameters", 14, left: false) + pad("MMACs", 10, left: false)]
        for layer in net.layers where !(layer is ReLU) && !(layer is Dropout) {
            let s = layer.outputShape
            lines.append(pad(layer.name, 10) + pad("\(s.c)x\(s.h)x\(s.w)", 18, left: false)
                         + pad(grouped(layer.parameterCount), 14, left: false)
                         + pad(String(format: "%.1f", Double(layer.forwardMACsPerImage) / 1e6), 10, left: false))
        }
        lines.append(pad("total", 10) + pad("", 18) + pad(grouped(net.parameterCount), 14, left: false)
                     + pad(String(format: "%.1f", Double(net.forwardMACsPerImage) / 1e6), 10, left: false))
        lines.append("gradient bytes per exchange (fp32): \(grouped(net.parameterCount * 4))")
        return lines.joined(separator: "\n")
    }

    static func pad(_ s: String, _ n: Int, left: Bool = true) -> String {
        let fill = String(repeating: " ", count: max(0, n - s.count))
        return left ? s + fill : fill + s
    }

    static func grouped(_ n: Int) -> String {
        var s = String(n), out = ""
        while s.count > 3 { out = "," + s.suffix(3) + out; s.removeLast(3) }
        return s + out
    }
}
