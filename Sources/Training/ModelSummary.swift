import NeuralNet

/// The per-layer table printed by `--summary`.
public enum ModelSummary {
    public static func table(_ o: TrainingOptions) -> String {
        guard o.model.computes else {
            return "alexnet-payload: \(ModelKind.alexnetParameterCount) parameters (\(ModelKind.alexnetParameterCount * 4) gradient bytes), no layers: communication only"
        }
        let net = o.model.squeezeNetVersion.map {
            SqueezeNet.make($0, classes: o.classes, inputSize: o.inputSize, batch: 1, dropout: Float(o.dropout))
        } ?? AlexNet.make(classes: o.classes, inputSize: o.inputSize, batch: 1, dropout: Float(o.dropout))
        var lines = ["\(net.name), \(o.classes) classes, input 3x\(o.inputSize)x\(o.inputSize)",
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

#if canImport(Glibc)
import Glibc
#endif
import Foundation
