import CReduction
import XCTest

/// The vector reduction step must give the same bits as one scalar IEEE addition per
/// element, at every length (vector body, 8-wide remainder, scalar tail) and alignment.
final class ReductionTests: XCTestCase {
    func testVectorAdditionMatchesScalarAdditionBitForBit() {
        var generator = SystemRandomNumberGenerator()
        let capacity = 4099
        // Magnitudes spread over many binades, so roundings differ element by element.
        let src = (0..<capacity).map { _ in Float.random(in: -1...1, using: &generator) * Float(1 << Int.random(in: 0..<20, using: &generator)) }
        let start = (0..<capacity).map { _ in Float.random(in: -1...1, using: &generator) }
        for count in Array(0...70) + [1000, 4093] {
            for offset in 0..<3 {
                var dst = start
                src.withUnsafeBufferPointer { s in
                    dst.withUnsafeMutableBufferPointer { d in
                        creduction_add_float(d.baseAddress! + offset, s.baseAddress! + offset, count)
                    }
                }
                for i in 0..<capacity {
                    let expected = (offset..<(offset + count)).contains(i) ? start[i] + src[i] : start[i]
                    if dst[i].bitPattern != expected.bitPattern {
                        XCTFail("count \(count), offset \(offset): element \(i) is \(dst[i]), expected \(expected)")
                        return
                    }
                }
            }
        }
    }
}
