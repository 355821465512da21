// bfloat16 rounding against a direct implementation: of the two bfloat16 values
// around x (its upper 16 bits, and one step further from zero), the nearer, ties to
// the one whose last bit is 0.
import Codecs
import XCTest

final class BFloat16Tests: XCTestCase {
    func direct(_ x: Float) -> Float {
        let low = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
        let high = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
        let dl = abs(Double(x) - Double(low)), dh = abs(Double(high) - Double(x))
        if dl != dh { return dl < dh ? low : high }
        return (low.bitPattern >> 16) & 1 == 0 ? low : high
    }

    func testBFloat16RoundsToNearestEven() {
        var values: [Float] = [0, -0, 1, -1, 1.00390625, 1.005859375, 3.1415927, 65504, 1e-30, -2.5e12,
                               Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), .greatestFiniteMagnitude / 2]
        var state: UInt32 = 12345
        for _ in 0..<20_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            let x = Float(bitPattern: state)
            if x.isFinite && abs(x) < Float.greatestFiniteMagnitude / 2 { values.append(x) }
        }
        for x in values {
            XCTAssertEqual(BFloat16(x).float.bitPattern, direct(x).bitPattern, "\(x)")
        }
        XCTAssertTrue(BFloat16(Float.nan).float.isNaN)
        XCTAssertEqual(BFloat16(Float.infinity).float, .infinity)
        XCTAssertEqual(BFloat16(bitPattern: 0x3F80).float, 1)
    }
}
