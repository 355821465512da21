import DeepCompression
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
