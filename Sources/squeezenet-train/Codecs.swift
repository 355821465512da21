import ArgumentParser
import Analysis
import DeepCompression
import Foundation
import NeuralNet
import Topology
import Training

/// Every codec side by side for SqueezeNet and AlexNet: bytes per rank (the formulas the
/// counters are held to), the encode/decode arithmetic measured here, and the modelled
/// exchange time on named networks.
struct CodecsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codecs",
        abstract: "Gradient codecs for SqueezeNet v1.0 and AlexNet (1000 classes): bytes per rank per iteration, measured encode/decode speed, modelled exchange time.")

    @Option(help: "Ranks (one per host) for the bytes and the model.") var ranks: Int = 8
    @Option(help: "Timed repeats of each codec's arithmetic (the median is reported).") var repeats: Int = 5
    @Option(help: "Top-k fraction shown.") var topk: Double = 0.001
    @Option(help: "PowerSGD ranks shown, comma-separated.") var powersgd: String = "2,4"

    func run() throws {
        guard ranks >= 2, repeats >= 1, topk > 0, topk <= 1 else { fail("--ranks must be >= 2, --repeats >= 1, --topk in (0, 1]") }
        let psgd = powersgd.split(separator: ",").compactMap { Int($0) }
        guard !psgd.isEmpty, psgd.allSatisfy({ $0 >= 1 }) else { fail("--powersgd expects positive integers, as 2,4") }
        let p = ranks
        print("Measured here (\(repeats) repeats, median, on 1,248,424 floats, one thread): ns per element")
        let speed = CodecSpeed.measure(count: 1_248_424, repeats: repeats, topkFraction: topk)
        for s in speed { print(String(format: "  %-12@ encode %6.2f  decode+add %6.2f", s.codec as NSString, s.encodeNanoseconds, s.decodeNanoseconds)) }
        let models: [(name: String, kind: ModelKind)] = [("SqueezeNet v1.0", .v1_0), ("AlexNet", .alexnet)]
        let codecs: [GradientCodec] = [.none, .fp16, .bf16, .int8, .topk(fraction: topk)] + psgd.map { .powersgd(rank: $0) }
        print("\nPer rank per iteration at \(p) ranks, ring (bytes: formula, equal to the counted bytes, CompressionTests; time: modelled, alpha-beta + the measured arithmetic, PowerSGD's GEMMs not included)")
        print("model            codec          bytes/rank   vs float32  vs AlexNet float32   1 Gbit/s ms   10 Gbit/s ms")
        let alexCount = ModelKind.alexnet.architecture.parameterCountAt1000Classes
        let alexFloat = Double(GradientCodec.none.traffic(.ring, rank: 0, ranks: p, count: alexCount)!.bytesSent)
        for m in models {
            var configuration = ModelConfiguration(classes: 1000, inputSize: m.kind.architecture.nativeInputSize, batch: 1)
            configuration.seed = nil
            guard let net = m.kind.architecture.build(configuration) else { continue }
            let store = net.store, n = store.count
            let matrices = { (r: Int) in PowerSGDPlan.matrices(tensors: store.refs.map { ($0.offset, $0.shape, $0.count) }, rank: r, minCompressionRate: 2) }
            var lines: [String] = []
            for codec in codecs {
                let bytes: Int
                switch codec {
                case .topk(let f): bytes = GradientCodec.topkTraffic(ranks: p, count: n, fraction: f).bytesSent
                case .powersgd(let r): bytes = PowerSGDPlan.traffic(.ring, rank: 0, ranks: p, bucket: 0..<n, matrices: matrices(r)).bytesSent
                default: bytes = codec.traffic(.ring, rank: 0, ranks: p, count: n)!.bytesSent
                }
                let float = Double(GradientCodec.none.traffic(.ring, rank: 0, ranks: p, count: n)!.bytesSent)
                let s = speed.first { $0.codec == codec.description }
                let matricesOf: [PowerSGDPlan.Matrix] = { if case let .powersgd(r) = codec { return matrices(r) } else { return [] } }()
                let t = [NetworkPreset.gigabitEthernet, .tenGigabitEthernet].map {
                    CodecCost.seconds(codec, .ring, ranks: p, count: n, network: $0, encode: s?.encodeNanoseconds ?? 0,
                                      decode: s?.decodeNanoseconds ?? 0, matrices: matricesOf).map { String(format: "%12.1f", $0 * 1000) } ?? "           -"
                }
                lines.append(m.name.padding(toLength: 16, withPad: " ", startingAt: 0) + " " + codec.description.padding(toLength: 12, withPad: " ", startingAt: 0)
                             + String(format: " %12d %10.1fx %18.1fx", bytes, float / Double(bytes), alexFloat / Double(bytes)) + "  " + t.joined(separator: "   "))
            }
            print(lines.joined(separator: "\n"))
        }
    }
}

/// Deep Compression of a weight file: pruning, k-means weight sharing, Huffman coding.
struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Deep Compression of a weight file into a .sqzc file (pruned, weight-shared, Huffman-coded; docs/formats.md), and its size against AlexNet's 32-bit 243,860,896 bytes.")

    @Argument(help: "A weights.bin or checkpoint.") var weights: String
    @Option(help: "Write the compressed model here.") var output: String
    @Option(help: "Prune this share of every weight tensor by magnitude (default: keep the file's own zeros, as after --prune-sparsity retraining).") var sparsity: Double?
    @Option(help: "Bits per shared weight (2^bits centroids per tensor).") var bits: Int = 8
    @Option(help: "Bits per relative index, 1 to 8 (gaps larger get filler entries); default: per tensor, the width whose encoding is smallest.") var indexBits: Int?
    @Option(help: "Per-layer sparsity overriding --sparsity, by layer name (a tensor's name or its leading dotted parts): conv1=0.16,fc6=0.91,fire2.expand3x3=0.7,...") var layerSparsity: String?
    @Option(help: "Bits for fully connected weights (default: --bits; the paper used 5 for AlexNet's).") var fcBits: Int?
    @Option(help: "Per-layer bits overriding --bits and --fc-bits, by layer name: conv1=8,fire2=6,...") var layerBits: String?
    @Option(help: "Han et al.'s threshold instead of --sparsity: prune |w| < Q x the standard deviation of each weight tensor.") var quality: Double?
    @Flag(help: "Print each tensor's elements, kept share, bits, index width and bytes.") var layers = false

    func run() throws {
        do {
            let file = try WeightFile.read(from: weights)
            if sparsity != nil && quality != nil { fail("give --sparsity or --quality, not both") }
            let perLayerSparsity = try LayerSetting.parse(layerSparsity ?? "", flag: "--layer-sparsity")
            let perLayerBits = try LayerSetting.parse(layerBits ?? "", flag: "--layer-bits")
            let t0 = Date()
            let r = try ModelCompression.compress(file, sparsity: sparsity, bits: bits, indexBits: indexBits, layerSparsity: perLayerSparsity, fcBits: fcBits,
                                                  layerBits: perLayerBits, quality: quality)
            let encoded = Date().timeIntervalSince(t0)
            try atomicWrite(Data(r.bytes), to: output)
            // Read back as training would (decode + the weight file's checks), timed: the file is
            // only reported once it decodes.
            let t1 = Date()
            _ = try WeightFile.read(from: output)
            let decoded = Date().timeIntervalSince(t1)
            let kept = r.layers.reduce(0) { $0 + $1.kept }, total = r.layers.reduce(0) { $0 + $1.count }
            if layers {
                print("tensor                         elements     kept  bits  index bits       bytes")
                for l in r.layers {
                    print(l.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                          + String(format: " %11d %7.1f%% %5@ %11@ %11d", l.count, 100 * Double(l.kept) / Double(max(l.count, 1)),
                                   (l.bits == 32 ? "f32" : "\(l.bits)") as NSString, (l.indexBits.map { "\($0)" } ?? "-") as NSString, l.bytes))
                }
            }
            let widths = Set(r.layers.compactMap(\.indexBits)).sorted()
            let indices = indexBits.map { "\($0)-bit indices" } ?? "indices \(widths.map(String.init).joined(separator: "/"))-bit (per tensor, the smallest)"
            print(String(format: "%@: %d parameters, %.1f%% kept, %d-bit shared weights, %@: %d bytes (measured: the file's size), %.1fx smaller than its 32-bit %d, %.0fx smaller than AlexNet's 243,860,896",
                         output as NSString, total, 100 * Double(kept) / Double(total), bits, indices as NSString, r.bytes.count,
                         Double(4 * total) / Double(r.bytes.count), 4 * total, 243_860_896 / Double(r.bytes.count))
                  + String(format: "; encoded in %.2f s, read back in %.3f s (measured)", encoded, decoded))
        } catch { fail("\(error)") }
    }
}
