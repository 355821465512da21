import TestSupport
import Training
import XCTest

/// The SGD update against the shared reference, on its own scale. Two steps move a
/// weight by about 1e-3 of its size, so comparing only the weights after the steps
/// (tolerance 1e-5 of max|w|) lets a wrong update through (weight decay dropped: 8e-6).
/// The update w_before - w_after of every tensor must match the reference's within
/// 1e-3 of the largest reference update of that tensor.
final class ReferenceUpdateTests: XCTestCase {
    func testSGDUpdateMatchesTheReferenceUpdate() throws {
        let report = try ReferenceCheck.run(directory: TestPaths.reference().path)
        let updates = report.results.filter { $0.role == "update_after_2_sgd_steps" }
        XCTAssertEqual(updates.count, 52, "one update per parameter tensor")
        XCTAssertTrue(updates.allSatisfy { $0.maxAbsRef > 0 }, "every tensor moves in the reference")
        if let worst = updates.max(by: { $0.relative < $1.relative }) {
            print("reference update: worst \(worst.name) \(worst.relative) (tolerance \(worst.tolerance))")
        }
        for u in updates where !u.passed {
            XCTFail("\(u.name): update differs from the reference's by \(u.relative) of its scale > \(u.tolerance)")
        }
    }
}
