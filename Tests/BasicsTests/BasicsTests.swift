// The one generator, hash and median, against their published definitions.
import Basics
import XCTest

final class BasicsTests: XCTestCase {
    /// SplitMix64's published first outputs for seed 0 (Vigna's splitmix64.c), so orders
    /// and weights agree with any other implementation of the same generator.
    func testSplitMix64ReferenceValues() {
        var rng = SplitMix64(seed: 0)
        XCTAssertEqual(rng.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(rng.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(SplitMix64.mix(SplitMix64.golden), 0xE220_A839_7B1D_CDAF)
    }

    func testDerivedStreamsDifferByKey() {
        var a = SplitMix64(seed: 42, keys: 0), b = SplitMix64(seed: 42, keys: 1), c = SplitMix64(seed: 42, keys: 0)
        let x = a.next()
        XCTAssertNotEqual(x, b.next())
        XCTAssertEqual(x, c.next())
    }

    func testBoundedDrawsStayInRangeAndCoverIt() {
        var rng = SplitMix64(seed: 7)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let v = rng.next(below: 10)
            XCTAssertTrue((0..<10).contains(v))
            seen.insert(v)
        }
        XCTAssertEqual(seen.count, 10)
        for _ in 0..<1000 { XCTAssertTrue((0..<1).contains(rng.nextUnitFloat())) }
    }

    /// FNV-1a 64-bit test vectors (Fowler/Noll/Vo's reference list).
    func testFNV1aReferenceVectors() {
        XCTAssertEqual(fnv1a([UInt8]()), 0xCBF2_9CE4_8422_2325)
        XCTAssertEqual(fnv1a(Array("a".utf8)), 0xAF63_DC4C_8601_EC8C)
        XCTAssertEqual(fnv1a(Array("foobar".utf8)), 0x8594_4171_F739_67E8)
        var h = FNV1a()
        h.combine(bytes: Array("foo".utf8))
        h.combine(bytes: Array("bar".utf8))
        XCTAssertEqual(h.value, 0x8594_4171_F739_67E8, "incremental equals one pass")
    }

    func testMedian() {
        XCTAssertNil(median([]))
        XCTAssertEqual(median([3]), 3)
        XCTAssertEqual(median([5, 1, 3]), 3)
        XCTAssertEqual(median([4, 1, 3, 2]), 2.5)
    }
}
