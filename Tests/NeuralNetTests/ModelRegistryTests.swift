import Foundation
import NeuralNet
import XCTest

/// Every registered model builds through the registry and holds to its metadata.
final class ModelRegistryTests: XCTestCase {
    func testEveryModelHasItsPublishedParameterCountAtItsNativeSize() {
        for architecture in ModelRegistry.all {
            let config = ModelConfiguration(classes: 1000, inputSize: architecture.nativeInputSize, batch: 1)
            guard let net = architecture.build(config) else {
                XCTAssertFalse(ModelKind(rawValue: architecture.name)!.computes, architecture.name)
                continue
            }
            XCTAssertEqual(net.parameterCount, architecture.parameterCountAt1000Classes, architecture.name)
            for layer in architecture.classifierLayers {
                XCTAssertNotNil(net.store.ref(named: layer + ".weight"), "\(architecture.name): \(layer)")
            }
        }
    }

    /// Every computing model builds at its stated minimum input size.
    func testMinimumInputSizeBuilds() {
        for architecture in ModelRegistry.all where ModelKind(rawValue: architecture.name)!.computes {
            let m = architecture.minimumInputSize
            XCTAssertNotNil(architecture.build(ModelConfiguration(classes: 10, inputSize: m, batch: 1)), architecture.name)
            XCTAssertGreaterThan(m, 1)
        }
    }

    func testKindsByNameAndInFiles() throws {
        XCTAssertEqual(ModelKind.allCases.map(\.rawValue), ["v1.0", "v1.1", "alexnet", "alexnet-payload"])
        XCTAssertEqual(Set(ModelRegistry.all.map(\.name)).count, ModelRegistry.all.count, "names are unique")
        XCTAssertNil(ModelKind(rawValue: "resnet"))
        let encoded = try JSONEncoder().encode([ModelKind.v1_1])
        XCTAssertEqual(String(decoding: encoded, as: UTF8.self), "[\"v1.1\"]", "stored as its name, as before the registry")
        XCTAssertEqual(try JSONDecoder().decode([ModelKind].self, from: encoded), [.v1_1])
        XCTAssertThrowsError(try JSONDecoder().decode([ModelKind].self, from: Data("[\"resnet\"]".utf8)))
        XCTAssertEqual(Double(ModelKind.alexnet.architecture.parameterCountAt1000Classes)
                       / Double(ModelKind.v1_0.architecture.parameterCountAt1000Classes), 48.83, accuracy: 0.005,
                       "the paper's 50x fewer parameters")
        XCTAssertEqual(ModelKind.alexnetPayload.architecture.parameterCountAt1000Classes,
                       ModelKind.alexnet.architecture.parameterCountAt1000Classes)
        XCTAssertFalse(ModelKind.alexnetPayload.computes)
        XCTAssertTrue(ModelKind.alexnet.computes)
    }
}
