import TestSupport
import Training
import XCTest

/// The network against `shared/reference/squeezenet_v1_0_c10_64px` (PyTorch,
/// float64): activations, logits, loss, all 52 gradients, weights after 2 SGD steps,
/// within the tolerances its README suggests.
final class ReferenceTests: XCTestCase {
    func testMatchesTheSharedReference() throws {
        let dir = TestPaths.reference()
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("manifest.json").path),
                      "reference data missing at \(dir.path)")
        let report = try ReferenceCheck.run(directory: dir.path)
        let roles = Dictionary(grouping: report.results, by: \.role)
        XCTAssertEqual(roles["grad"]?.count, 52)
        XCTAssertEqual(roles["param_after_2_sgd_steps"]?.count, 52)
        XCTAssertEqual(roles["activation"]?.count, 5)
        XCTAssertEqual(roles["logits"]?.count, 1)
        XCTAssertEqual(roles["loss"]?.count, 1)
        for (role, results) in roles.sorted(by: { $0.key < $1.key }) {
            let worst = results.max { $0.relative < $1.relative }!
            print("reference \(role): worst \(worst.name) \(worst.relative) (tolerance \(worst.tolerance))")
        }
        for failure in report.failures {
            XCTFail("\(failure.name) (\(failure.role)): \(failure.relative) > \(failure.tolerance)")
        }
    }

    func testMissingFolderIsAClearError() {
        XCTAssertThrowsError(try ReferenceCheck.run(directory: "/nonexistent/reference")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/reference/manifest.json"), "\(error)")
        }
    }

    func testTruncatedTensorFileIsAClearError() throws {
        let copy = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: copy) }
        let source = TestPaths.reference()
        let files = try FileManager.default.contentsOfDirectory(atPath: source.path)
        for f in files { try FileManager.default.copyItem(at: source.appendingPathComponent(f), to: copy.appendingPathComponent(f)) }
        let target = copy.appendingPathComponent("params/conv1.bias.bin")
        let data = try Data(contentsOf: target)
        try data.prefix(data.count - 4).write(to: target)
        XCTAssertThrowsError(try ReferenceCheck.run(directory: copy.path)) { error in
            XCTAssertTrue("\(error)".contains("conv1.bias.bin"), "\(error)")
        }
    }
}
