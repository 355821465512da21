import DeepCompression
import Foundation
import XCTest

/// Deep Compression's pieces against direct implementations and adversarial inputs.
final class DeepCompressionTests: XCTestCase {
    func roundTrip(_ symbols: [Int], alphabet: Int, file: StaticString = #filePath, line: UInt = #line) {
        var counts = [Int](repeating: 0, count: alphabet)
        for s in symbols { counts[s] += 1 }
        let code = HuffmanCode(counts: counts)
        XCTAssertNotNil(HuffmanCode(lengths: code.lengths), "a valid prefix code", file: file, line: line)
        XCTAssertEqual(HuffmanCode(lengths: code.lengths), code, "canonical: the lengths give the codes back", file: file, line: line)
        var w = BitWriter()
        code.encode(symbols, into: &w)
        XCTAssertEqual(w.bitCount, code.bits(for: counts), file: file, line: line)
        var r = BitReader(w.finish())
        XCTAssertEqual(code.decode(symbols.count, from: &r), symbols, file: file, line: line)
    }

    func testHuffmanRoundTripsAdversarialInputs() {
        roundTrip(Array(repeating: 7, count: 100), alphabet: 256)               // one symbol only: 1 bit each
        roundTrip(Array(0..<256), alphabet: 256)                                // every symbol once: 8 bits each
        roundTrip([], alphabet: 4)
        var rng = SystemRandomNumberGenerator()
        roundTrip((0..<5000).map { _ in Int.random(in: 0..<16, using: &rng) }, alphabet: 16)
        // Fibonacci counts make an unlimited Huffman tree 39 deep: the limit must hold.
        var fib = [1, 1]
        while fib.count < 40 { fib.append(fib[fib.count - 1] + fib[fib.count - 2]) }
        let code = HuffmanCode(counts: fib)
        XCTAssertLessThanOrEqual(Int(code.lengths.max()!), HuffmanCode.maxLength)
        roundTrip(fib.indices.flatMap { Array(repeating: $0, count: min(fib[$0], 50)) }, alphabet: 40)
    }

    func testHuffmanIsOptimalOnAKnownExample() {
        // Counts 45, 13, 12, 16, 9, 5 (CLRS): lengths 1, 3, 3, 3, 4, 4; 224 bits.
        let code = HuffmanCode(counts: [45, 13, 12, 16, 9, 5])
        XCTAssertEqual(code.lengths, [1, 3, 3, 3, 4, 4])
        XCTAssertEqual(code.bits(for: [45, 13, 12, 16, 9, 5]), 224)
    }

    func testCorruptTablesAndBitsAreRejected() {
        XCTAssertNil(HuffmanCode(lengths: [1, 1, 1]), "over-full")
        XCTAssertNil(HuffmanCode(lengths: [25, 1]), "longer than the limit")
        let code = HuffmanCode(counts: [1, 1, 1, 1])
        var w = BitWriter()
        code.encode([0, 1, 2, 3], into: &w)
        let bytes = w.finish()
        var short = BitReader(Array(bytes.prefix(0)))
        XCTAssertNil(code.decode(4, from: &short), "truncated")
        let partial = HuffmanCode(lengths: [1, 2, 0, 0])!  // code 11 is not assigned
        var r = BitReader([0xFF])
        XCTAssertNil(partial.decode(1, from: &r), "bits that hit no code")
    }

    func testRelativeIndicesWithFillers() {
        // Gaps of 3 bits (up to 7): position 20 after 0 needs one filler (at 8) then gap 11 - 8 ... as Fig. 2.
        let positions = [0, 20, 21, 60]
        let e = RelativeIndex.encode(positions: positions, bits: 3)
        let all = RelativeIndex.positions(gaps: e.gaps, limit: 61)!
        XCTAssertEqual(zip(all, e.isFiller).filter { !$0.1 }.map(\.0), positions)
        XCTAssertTrue(e.gaps.allSatisfy { $0 >= 0 && $0 <= 7 })
        // Every gap overflowing: one weight at the end of a long empty layer.
        let far = RelativeIndex.encode(positions: [999], bits: 2)
        XCTAssertEqual(far.isFiller.filter { $0 }.count, 249)
        XCTAssertEqual(RelativeIndex.positions(gaps: far.gaps, limit: 1000)!.last, 999)
        XCTAssertNil(RelativeIndex.positions(gaps: far.gaps, limit: 999), "past the layer: corrupt")
        XCTAssertNil(RelativeIndex.positions(gaps: [-1], limit: 10))
    }

    func testPruningKeepsTheLargestAndTheThreshold() {
        let w: [Float] = [0.5, -0.1, 0.1, 2, -3, 0, 0.05, 1]
        XCTAssertEqual(Pruning.mask(w, sparsity: 0.5), [true, false, false, true, true, false, false, true])
        // Three pruned: 0, 0.05, and of the tie |-0.1| = |0.1| the higher index.
        XCTAssertEqual(Pruning.mask(w, sparsity: 0.375), [true, true, false, true, true, false, false, true])
        XCTAssertEqual(Pruning.mask(w, sparsity: 0.5).filter { !$0 }.count, 4)
        XCTAssertEqual(Pruning.mask(w, sparsity: 0).filter { !$0 }.count, 0)
        XCTAssertEqual(Pruning.mask(w, sparsity: 1).filter { $0 }.count, 0)
        let mean = w.reduce(0, +) / 8, std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 8).squareRoot()
        XCTAssertEqual(Pruning.mask(w, quality: 0.5), w.map { abs($0) >= 0.5 * std })
    }

    /// k-means with linear initialisation against a direct Lloyd iteration in Double.
    func testWeightSharingAgainstADirectKMeans() {
        var state: UInt64 = 5
        func next() -> Float { state = state &* 6364136223846793005 &+ 1442695040888963407; return Float(Int(state >> 40) % 20001 - 10000) / 10000 }
        let w = (0..<3000).map { _ in next() * next() }
        let mask = Pruning.mask(w, sparsity: 0.5)
        let shared = WeightSharing(weights: w, mask: mask, bits: 3, iterations: 50)
        // Direct: centroids linear over [min, max] of the survivors, Lloyd until stable.
        let alive = w.indices.filter { mask[$0] }
        let lo = Double(alive.map { w[$0] }.min()!), hi = Double(alive.map { w[$0] }.max()!)
        var c = (0..<8).map { lo + (hi - lo) * Double($0) / 7 }
        var assign = [Int](repeating: -1, count: w.count)
        for _ in 0..<50 {
            for i in alive {
                var best = 0
                for j in 1..<8 where abs(Double(w[i]) - c[j]) < abs(Double(w[i]) - c[best]) { best = j }
                assign[i] = best
            }
            for j in 0..<8 {
                let m = alive.filter { assign[$0] == j }
                if !m.isEmpty { c[j] = m.map { Double(w[$0]) }.reduce(0, +) / Double(m.count) }
            }
        }
        XCTAssertEqual(shared.assignment, assign)
        for j in 0..<8 { XCTAssertEqual(Double(shared.centroids[j]), c[j], accuracy: 1e-6) }
        let out = shared.weights
        for i in w.indices where !mask[i] { XCTAssertEqual(out[i].bitPattern, 0, "pruned stays exactly +0") }
        XCTAssertEqual(Set(alive.map { out[$0] }).count, 8)
        // Centroid gradients: the members' sums.
        let g = (0..<3000).map { Float($0 % 7) - 3 }
        let cg = shared.centroidGradients(g)
        for j in 0..<8 { XCTAssertEqual(cg[j], alive.filter { assign[$0] == j }.map { g[$0] }.reduce(0, +), accuracy: 1e-3) }
    }
}

/// The compressed model file: bit for bit round trips, and every corrupt or truncated file
/// a one-line error (fuzzed: flips with and without a recomputed checksum, truncations).
final class CompressedModelTests: XCTestCase {
    func sample() -> [CompressedTensor] {
        var state: UInt64 = 11
        func next() -> Float { state = state &* 6364136223846793005 &+ 1442695040888963407; return Float(Int(state >> 40) % 2001 - 1000) / 1000 }
        let w = (0..<4096).map { _ in next() }
        let mask = Pruning.mask(w, sparsity: 0.5)
        let shared = WeightSharing(weights: w, mask: mask, bits: 8, iterations: 10)
        let small = (0..<300).map { _ in next() }
        let smallShared = WeightSharing(weights: small, mask: Pruning.mask(small, sparsity: 0.9), bits: 2, iterations: 5)
        var lonely = [Int](repeating: -1, count: 5000); lonely[4999] = 1   // every gap overflows
        return [
            CompressedTensor(name: "conv1.weight", shape: [64, 4, 4, 4],
                             storage: .shared(bits: 8, indexBits: 4, codebook: shared.centroids, assignment: shared.assignment)),
            CompressedTensor(name: "conv1.bias", shape: [64], storage: .raw((0..<64).map { _ in next() })),
            CompressedTensor(name: "fc.weight", shape: [10, 30],
                             storage: .shared(bits: 2, indexBits: 1, codebook: smallShared.centroids, assignment: smallShared.assignment)),
            CompressedTensor(name: "empty.weight", shape: [50, 100],
                             storage: .shared(bits: 1, indexBits: 3, codebook: [0.25, -0.5], assignment: lonely)),
        ]
    }

    func testRoundTripIsBitForBit() throws {
        let tensors = sample()
        let bytes = CompressedModel.encode(model: "v1.0", tensors)
        let (model, back) = try CompressedModel.decode(bytes)
        XCTAssertEqual(model, "v1.0")
        XCTAssertEqual(back, tensors)
        for (a, b) in zip(back, tensors) { XCTAssertEqual(a.values.map(\.bitPattern), b.values.map(\.bitPattern), a.name) }
        // Smaller than float32 by far: 50% of 4096 at 8 bits + 4-bit gaps, Huffman-coded.
        let float = tensors.reduce(0) { $0 + 4 * $1.values.count }
        XCTAssertLessThan(Double(bytes.count), Double(float) / 5, "\(bytes.count) bytes against \(float)")
    }

    func testEveryCorruptOrTruncatedFileGetsAOneLineError() {
        let good = CompressedModel.encode(model: "v1.0", sample())
        func fixChecksum(_ b: [UInt8]) -> [UInt8] {
            var c = Array(b.dropLast(8))
            withUnsafeBytes(of: fnv(c).littleEndian) { c += $0 }
            return c
        }
        func fnv(_ b: [UInt8]) -> UInt64 { b.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 } }
        var rng = SystemRandomNumberGenerator()
        let start = Date()
        var errors = 0, decoded = 0
        func check(_ b: [UInt8]) {
            do { _ = try CompressedModel.decode(b); decoded += 1 } catch let e as CompressedModelError {
                errors += 1
                XCTAssertFalse(e.description.contains("\n"), e.description)
            } catch { XCTFail("not a CompressedModelError: \(error)") }
        }
        for _ in 0..<300 {
            var b = good
            let i = Int.random(in: 0..<b.count, using: &rng)
            b[i] ^= UInt8.random(in: 1...255, using: &rng)
            check(b)                   // the checksum catches it
            check(fixChecksum(b))      // the parser must
            check(Array(good.prefix(Int.random(in: 0..<good.count, using: &rng))))
            check(fixChecksum(Array(good.prefix(Int.random(in: 16..<good.count, using: &rng)))))
        }
        XCTAssertGreaterThan(errors, 900)
        XCTAssertLessThan(Date().timeIntervalSince(start), 60, "bounded time")
        XCTAssertThrowsError(try CompressedModel.decode(Array("SQZWGT01".utf8) + good.dropFirst(8))) {
            XCTAssertTrue("\($0)".contains("bad magic"), "\($0)")
        }
        var flipped = good
        flipped[40] ^= 1
        XCTAssertThrowsError(try CompressedModel.decode(flipped)) { XCTAssertTrue("\($0)".contains("checksum mismatch"), "\($0)") }
    }
}
