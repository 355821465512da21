import Collectives
import Foundation
import NeuralNet

/// Test-only gradient hooks, selected by the environment variable SQUEEZENET_TEST_HOOK
/// (as `FaultInjection` selects faults), so the tests can show that a hook placed at
/// the bucket seam changes what every rank sends and applies, under real mpirun.
/// Unset, the trainer uses `IdentityHook`.
///
///     SQUEEZENET_TEST_HOOK=identity      the default hook, explicitly
///     SQUEEZENET_TEST_HOOK=fp16-gather   `HalfGatherHook`: fp16 payloads, gathered and summed in rank order
///     SQUEEZENET_TEST_HOOK=powersgd-full PowerSGD at full rank on every matrix from the first
///                                        step: equals the float32 allreduce to rounding
///     SQUEEZENET_TEST_HOOK=masked-unpacked masked retraining's exchange without packing: the
///                                        whole bucket, pruned entries zero
public enum TestHooks {
    public typealias Factory = (ParameterStore) -> BucketHook
    public static let all: [(name: String, make: Factory)] = [
        ("identity", { _ in IdentityHook() }),
        ("fp16-gather", { _ in HalfGatherHook() }),
        ("powersgd-full", { PowerSGDHook(rank: Int.max, store: $0, startIteration: 0, minCompressionRate: 0) }),
        ("masked-unpacked", { MaskedHook(count: $0.count, packs: false) }),
    ]

    /// The hook the environment asks for (made once the model's store exists), nil when it
    /// asks for none. An unknown name is an error: a test that meant a hook must not
    /// silently run without it.
    public static func selected() throws -> Factory? {
        guard let name = ProcessInfo.processInfo.environment["SQUEEZENET_TEST_HOOK"] else { return nil }
        guard let entry = all.first(where: { $0.name == name }) else {
            throw TrainingError.badInput("SQUEEZENET_TEST_HOOK=\(name) is not a test hook (\(all.map(\.name).joined(separator: ", ")))")
        }
        return entry.make
    }
}
