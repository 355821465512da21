import Codecs
import Foundation
import XCTest

/// The gradient codecs against direct implementations on known data, and error
/// feedback's conservation: what is sent plus what is kept equals what came in.
final class CodecsTests: XCTestCase {
    /// Seeded values over many magnitudes, with exact ties, zeros and halfway cases.
    func sample(_ n: Int, seed: UInt64 = 7) -> [Float] {
        var state = seed
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 11 }
        return (0..<n).map { i in
            if i % 97 == 0 { return 0 }
            if i % 89 == 0 { return 0.5 }  // ties among magnitudes
            let mantissa = Float(next() % 1_000_000) / 1_000_000 - 0.5
            return mantissa * Float(pow(10, Double(Int(next() % 9)) - 6))
        }
    }

    /// IEEE half by round-to-nearest-even computed in Double, for normal and subnormal
    /// results, against the codec's (Swift's Float16 conversion).
    func testHalfEncodesLikeADirectRoundToNearestEven() {
        func direct(_ x: Float) -> UInt16 {
            let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
            let a = Double(abs(x))
            if a >= 65520 { return sign | 0x7C00 }           // rounds to infinity
            if a < 6.103515625e-05 {                           // subnormal: steps of 2^-24
                return sign | UInt16((a / 5.9604644775390625e-08).rounded(.toNearestOrEven))
            }
            var e = Int(floor(log2(a)))
            if a < pow(2, Double(e)) { e -= 1 }
            var m = (a / pow(2, Double(e)) - 1) * 1024
            m = m.rounded(.toNearestOrEven)
            if m == 1024 { m = 0; e += 1 }
            if e > 15 { return sign | 0x7C00 }
            return sign | UInt16(e + 15) << 10 | UInt16(m)
        }
        var values = sample(20_000) + [65504, 65519, 65520, 1e-8, 3e-8, 6.1e-5, -2.5, 1 + 1.0 / 2048, 1 + 3.0 / 2048]
        values += (0..<2000).map { Float($0) * 0.000731 - 0.7 }
        var codes = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in codes.withUnsafeMutableBufferPointer { HalfFormat.fp16.encode(v, into: $0) } }
        for (i, x) in values.enumerated() { XCTAssertEqual(codes[i], direct(x), "fp16 of \(x)") }
        var back = [Float](repeating: 0, count: values.count)
        codes.withUnsafeBufferPointer { c in back.withUnsafeMutableBufferPointer { HalfFormat.fp16.decode(c, into: $0) } }
        for (i, x) in values.enumerated() where abs(x) < 65504 && abs(x) > 6.2e-5 {
            XCTAssertLessThanOrEqual(abs(back[i] - x), abs(x) / 2048 * 1.0001, "half keeps 11 bits of \(x)")
        }
    }

    /// bfloat16 against a direct rounding of the float to 8 significant bits in Double.
    func testBFloat16EncodesLikeADirectRoundToNearestEven() {
        func direct(_ x: Float) -> UInt16 {
            guard x != 0, x.isFinite else { return UInt16(x.bitPattern >> 16) }
            let e = Double(x.exponent)                          // x = m 2^e, 1 <= |m| < 2
            let step = pow(2, e - 7)
            let rounded = Float((Double(x) / step).rounded(.toNearestOrEven) * step)
            return UInt16(rounded.bitPattern >> 16)
        }
        let values = sample(20_000) + [1 + 1.0 / 256, 1 + 3.0 / 256, -3.0e38, 1e-30]
        var codes = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in codes.withUnsafeMutableBufferPointer { HalfFormat.bf16.encode(v, into: $0) } }
        for (i, x) in values.enumerated() { XCTAssertEqual(codes[i], direct(x), "bf16 of \(x)") }
        var sum = [Float](repeating: 1, count: values.count)
        codes.withUnsafeBufferPointer { c in sum.withUnsafeMutableBufferPointer { HalfFormat.bf16.decodeAdding(c, into: $0) } }
        for (i, c) in codes.enumerated() { XCTAssertEqual(sum[i], 1 + Float(bitPattern: UInt32(c) << 16)) }
    }

    /// int8 with a scale per chunk against the formula element by element; the residual
    /// plus the decoded value gives the input back to float rounding.
    func testInt8QuantisesPerChunkAndItsResidualConserves() {
        let q = Int8Quantizer(chunkElements: 1000)
        let values = sample(4500)
        var codes = [Int8](repeating: 0, count: values.count), scales = [Float](repeating: 0, count: q.chunks(values.count))
        var residual = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in codes.withUnsafeMutableBufferPointer { c in scales.withUnsafeMutableBufferPointer { s in
            residual.withUnsafeMutableBufferPointer { q.encode(v, codes: c, scales: s, residual: $0) } } } }
        XCTAssertEqual(scales.count, 5)
        XCTAssertEqual(q.encodedBytes(values.count), 4500 + 5 * 4)
        for c in 0..<5 {
            let chunk = values[(c * 1000)..<min(c * 1000 + 1000, values.count)]
            XCTAssertEqual(scales[c], chunk.map { abs($0) }.max()! / 127)
            for i in chunk.indices {
                // Division and the codec's multiplication by 1 / s may differ in the last bit at a halfway point.
                XCTAssertLessThanOrEqual(abs(Int(codes[i]) - Int((values[i] / scales[c]).rounded(.toNearestOrAwayFromZero))), 1,
                                         "code of \(values[i])")
                XCTAssertLessThanOrEqual(abs(Float(codes[i]) * scales[c] - values[i]), scales[c] / 2 * 1.001)
                XCTAssertEqual(Float(codes[i]) * scales[c] + residual[i], values[i], accuracy: abs(values[i]) * 1e-6 + 1e-12)
            }
        }
        var decoded = [Float](repeating: 0, count: values.count)
        codes.withUnsafeBufferPointer { c in scales.withUnsafeBufferPointer { s in
            decoded.withUnsafeMutableBufferPointer { q.decode(codes: c, scales: s, into: $0) } } }
        for i in values.indices { XCTAssertEqual(decoded[i], Float(codes[i]) * scales[i / 1000]) }
    }

    /// The C conversion (F16C in blocks of 8, the integer rounding for the rest) gives
    /// Swift's Float16 bits for a million random float bit patterns and the boundaries,
    /// both paths: whole arrays (vector) and one value at a time (scalar). Every one of
    /// the 65,536 half codes decodes to Float(Float16(bitPattern:)).
    func testHalfConversionMatchesSwiftsFloat16BitForBit() {
        var state: UInt64 = 99
        func next() -> UInt32 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt32(truncatingIfNeeded: state >> 29) }
        var values = (0..<1_000_000).map { _ in Float(bitPattern: next()) }
        values += [0, -0, 65504, 65519.996, 65520, -65520, 6.1035156e-05, 6.097555e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08,
                   .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 1 + 1.0 / 2048, 1 + 3.0 / 2048]
        var vector = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in vector.withUnsafeMutableBufferPointer { HalfFormat.fp16.encode(v, into: $0) } }
        var mismatches = 0
        for (i, x) in values.enumerated() {
            let expected = Float16(x)
            var one: UInt16 = 0
            withUnsafePointer(to: x) { p in withUnsafeMutablePointer(to: &one) {
                HalfFormat.fp16.encode(UnsafeBufferPointer(start: p, count: 1), into: UnsafeMutableBufferPointer(start: $0, count: 1)) } }
            if x.isNaN {
                if !Float16(bitPattern: vector[i]).isNaN || !Float16(bitPattern: one).isNaN { mismatches += 1 }
            } else if vector[i] != expected.bitPattern || one != expected.bitPattern {
                mismatches += 1
                if mismatches < 5 { XCTFail("\(x) (\(String(x.bitPattern, radix: 16))): vector \(vector[i]), scalar \(one), Float16 \(expected.bitPattern)") }
            }
        }
        XCTAssertEqual(mismatches, 0)
        let codes = (0...UInt16.max).map { $0 }
        var decoded = [Float](repeating: 0, count: codes.count)
        codes.withUnsafeBufferPointer { c in decoded.withUnsafeMutableBufferPointer { HalfFormat.fp16.decode(c, into: $0) } }
        for c in codes {
            let expected = Float(Float16(bitPattern: c))
            XCTAssertTrue(expected.isNaN ? decoded[Int(c)].isNaN : decoded[Int(c)].bitPattern == expected.bitPattern, "code \(c)")
        }
    }

    /// The wire form (`ElementCodec`) the ring and tree send: int8's scales first, then
    /// the codes, exactly `encodedBytes` long, decoding to what the direct quantiser gives;
    /// fp16 as its 16-bit codes. Decoding with `adding` adds in float32.
    func testElementCodecBytesAreTheDirectEncoding() {
        let q = Int8Quantizer(chunkElements: 1000)
        let values = sample(2500)
        var codes = [Int8](repeating: 0, count: 2500), scales = [Float](repeating: 0, count: 3)
        values.withUnsafeBufferPointer { v in codes.withUnsafeMutableBufferPointer { c in scales.withUnsafeMutableBufferPointer { s in
            q.encode(v, codes: c, scales: s) } } }
        var wire = [UInt8](repeating: 0xAA, count: q.encodedBytes(2500))
        var residual = [Float](repeating: 0, count: 2500)
        values.withUnsafeBufferPointer { v in wire.withUnsafeMutableBytes { w in residual.withUnsafeMutableBufferPointer {
            q.encode(v, into: w, residual: $0) } } }
        XCTAssertEqual(wire.count, 2500 + 12)
        let wireScales = wire.withUnsafeBytes { Array($0.bindMemory(to: Float.self).prefix(3)) }
        XCTAssertEqual(wireScales, scales)
        XCTAssertEqual(wire[12...].map { Int8(bitPattern: $0) }, codes)
        var decoded = [Float](repeating: 1, count: 2500)
        wire.withUnsafeBytes { w in decoded.withUnsafeMutableBufferPointer { q.decode(w, into: $0, adding: true) } }
        for i in 0..<2500 {
            XCTAssertEqual(decoded[i], 1 + Float(codes[i]) * scales[i / 1000])
            XCTAssertEqual(Float(codes[i]) * scales[i / 1000] + residual[i], values[i], accuracy: abs(values[i]) * 1e-6 + 1e-12)
        }
        var half = [UInt8](repeating: 0, count: HalfFormat.fp16.encodedBytes(2500))
        values.withUnsafeBufferPointer { v in half.withUnsafeMutableBytes { HalfFormat.fp16.encode(v, into: $0, residual: nil) } }
        let halfCodes = half.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
        XCTAssertEqual(halfCodes, values.map { Float16($0).bitPattern })
    }

    /// The selection against a full sort (magnitude descending, index ascending on ties),
    /// at many sizes and fractions, with heavy ties.
    func testTopKSelectsWhatAFullSortSelects() {
        for (n, fraction) in [(1, 0.5), (10, 0.3), (1000, 0.001), (1000, 0.01), (4097, 0.1), (20_000, 0.001), (20_000, 0.25), (50, 1.0)] {
            var values = sample(n, seed: UInt64(n))
            for i in stride(from: 0, to: n, by: 7) { values[i] = values[i] < 0 ? -0.003 : 0.003 }  // ties
            let selector = TopKSelector(fraction: fraction)
            let k = selector.count(for: n)
            let magnitude: [Float] = values.map { abs($0) }
            func before(_ a: Int, _ b: Int) -> Bool { magnitude[a] != magnitude[b] ? magnitude[a] > magnitude[b] : a < b }
            let order: [Int] = (0..<n).sorted(by: before)
            let expected: [Int32] = order.prefix(k).sorted().map { Int32($0) }
            let got = values.withUnsafeBufferPointer { selector.select($0) }
            XCTAssertEqual(got, expected, "n \(n), fraction \(fraction)")
            XCTAssertEqual(got.count, Int((fraction * Double(n)).rounded(.up)).clamped(1, n))
        }
    }

    /// DGC's step: momentum correction, the top entries of the accumulated v sent, and
    /// sent + kept equal to the accumulation exactly; masking clears the velocity where sent.
    func testDGCStepConservesTheGradientExactly() {
        let n = 5000, selector = TopKSelector(fraction: 0.01)
        for momentum: Float in [0, 0.9] {
            let state = DGCState(count: n + 100, momentum: momentum)
            var u = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
            for step in 0..<4 {
                let g = sample(n, seed: UInt64(100 + step))
                for i in 0..<n {
                    if momentum != 0 { u[i] = momentum * u[i] + g[i]; v[i] += u[i] } else { v[i] += g[i] }
                }
                let (indices, values) = g.withUnsafeBufferPointer { state.step(gradient: $0, offset: 100, selector: selector) }
                XCTAssertEqual(indices, v.withUnsafeBufferPointer { selector.select($0) }, "the top entries of v")
                var rebuilt = Array(state.residual.slice(offset: 100, count: n))
                for (j, i) in indices.enumerated() {
                    XCTAssertEqual(rebuilt[Int(i)], 0)
                    rebuilt[Int(i)] = values[j]
                    XCTAssertEqual(state.velocity.residual[100 + Int(i)], 0, "momentum factor masking")
                }
                XCTAssertEqual(rebuilt.map(\.bitPattern), v.map(\.bitPattern), "sent + residual == v, bit for bit (momentum \(momentum), step \(step))")
                for i in indices { v[Int(i)] = 0; u[Int(i)] = 0 }
            }
            XCTAssertEqual(Array(state.residual.residual[0..<100]), [Float](repeating: 0, count: 100), "other buckets untouched")
        }
        XCTAssertEqual(DGCState.warmupFraction(epoch: 0, target: 0.001), 0.25)
        XCTAssertEqual(DGCState.warmupFraction(epoch: 2, target: 0.001), 0.015625)
        XCTAssertEqual(DGCState.warmupFraction(epoch: 9, target: 0.001), 0.001)
    }
}

extension Int {
    func clamped(_ lo: Int, _ hi: Int) -> Int { Swift.max(lo, Swift.min(hi, self)) }
}
