import Collectives
import Foundation

/// Test-only gradient hooks, selected by the environment variable SQUEEZENET_TEST_HOOK
/// (as `FaultInjection` selects faults), so the tests can show that a hook placed at
/// the bucket seam changes what every rank sends and applies, under real mpirun.
/// Unset, the trainer uses `IdentityHook`.
///
///     SQUEEZENET_TEST_HOOK=identity      the default hook, explicitly
///     SQUEEZENET_TEST_HOOK=fp16-gather   `HalfGatherHook`: fp16 payloads, gathered and summed in rank order
public enum TestHooks {
    public static let all: [() -> BucketHook] = [{ IdentityHook() }, { HalfGatherHook() }]

    /// The hook the environment asks for, nil when it asks for none. An unknown name is
    /// an error: a test that meant a hook must not silently run without it.
    public static func selected() throws -> BucketHook? {
        guard let name = ProcessInfo.processInfo.environment["SQUEEZENET_TEST_HOOK"] else { return nil }
        for make in all {
            let hook = make()
            if hook.name == name { return hook }
        }
        throw TrainingError.badInput("SQUEEZENET_TEST_HOOK=\(name) is not a test hook (\(all.map { $0().name }.joined(separator: ", ")))")
    }
}
