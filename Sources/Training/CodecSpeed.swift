// How long each codec's arithmetic takes per element on this machine, measured on a
// gradient-sized buffer: what the codec cost model adds to the wire time.
import Basics
import Codecs
import NeuralNet
import Topology

public enum CodecSpeed {
    public struct Result: Sendable {
        public let codec: String
        /// Nanoseconds per element: encoding (with the residual where the codec keeps one),
        /// and decoding added into float32. Top-k: DGC's step with the selection, and the
        /// sparse add of p x k received pairs counted per gradient element.
        public let encodeNanoseconds: Double
        public let decodeNanoseconds: Double
    }

    /// Median over `repeats` timed calls (after one untimed) on `count` seeded values.
    public static func measure(count: Int, repeats: Int, topkFraction: Double = 0.001) -> [Result] {
        var rng = SplitMix64(seed: 17)
        let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        let residual = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { values.deallocate(); residual.deallocate(); sums.deallocate() }
        for i in 0..<count { values[i] = rng.nextGaussian() * 1e-3 }
        sums.update(repeating: 0)
        func time(_ body: () -> Void) -> Double {
            body()
            var t: [Double] = []
            for _ in 0..<repeats {
                let t0 = monotonicSeconds(); body(); t.append(monotonicSeconds() - t0)
            }
            return (median(t) ?? 0) / Double(count) * 1e9
        }
        var out: [Result] = []
        let codecs: [ElementCodec] = [HalfFormat.fp16, HalfFormat.bf16, Int8Quantizer()]
        for codec in codecs {
            var bytes = [UInt8](repeating: 0, count: codec.encodedBytes(count))
            let feedback = codec is Int8Quantizer ? residual : nil
            let e = bytes.withUnsafeMutableBytes { b in time { codec.encode(UnsafeBufferPointer(values), into: b, residual: feedback) } }
            let d = bytes.withUnsafeBytes { b in time { codec.decode(b, into: sums, adding: true) } }
            out.append(Result(codec: codec.name, encodeNanoseconds: e, decodeNanoseconds: d))
        }
        let dgc = DGCState(count: count, momentum: 0.9), selector = TopKSelector(fraction: topkFraction)
        var scratch: [Float] = [], indices: [Int32] = [], picked: [Float] = []
        let e = time { dgc.step(gradient: UnsafeBufferPointer(values), offset: 0, selector: selector,
                                scratch: &scratch, indices: &indices, values: &picked) }
        let d = time {
            for i in 0..<count { sums[i] = 0 }
            for (j, i) in indices.enumerated() { sums[Int(i)] += picked[j] }
        }
        out.append(Result(codec: "\(GradientCodec.topk(fraction: topkFraction))", encodeNanoseconds: e, decodeNanoseconds: d))
        return out
    }
}
