// Epoch order, sharding by rank, and the synthetic data set.

import Datasets
import XCTest

final class BatchScheduleTests: XCTestCase {
    func testShuffledOrderIsADeterministicPermutation() {
        let a = shuffledOrder(count: 1000, epoch: 0, seed: 42)
        XCTAssertEqual(a.sorted(), Array(0..<1000))
        XCTAssertEqual(a, shuffledOrder(count: 1000, epoch: 0, seed: 42))
        XCTAssertNotEqual(a, Array(0..<1000))
        XCTAssertNotEqual(a, shuffledOrder(count: 1000, epoch: 1, seed: 42))
        XCTAssertNotEqual(a, shuffledOrder(count: 1000, epoch: 0, seed: 43))
    }

    func testStepsPerEpochDropsIncompleteBatch() {
        XCTAssertEqual(stepsPerEpoch(count: 60_000, globalBatch: 512), 117)
        XCTAssertEqual(stepsPerEpoch(count: 1024, globalBatch: 512), 2)
    }

    /// For every step, the ranks' slices concatenated in rank order equal the
    /// batch of a single process, including when p does not divide B.
    func testShardUnionEqualsSingleProcessBatch() {
        let count = 1000, seed: UInt64 = 7
        for (batch, ranks) in [(64, 4), (60, 8), (10, 3)] {
            var single = BatchSchedule(count: count, globalBatch: batch, seed: seed)
            var schedules = (0..<ranks).map { BatchSchedule(count: count, globalBatch: batch, worldSize: ranks, rank: $0, seed: seed) }
            let steps = single.stepsPerEpoch
            for i in [0, 1, steps - 1, steps, steps + 3, 5 * steps + 2] {
                let union = (0..<ranks).flatMap { Array(schedules[$0].indices(forIteration: i)) }
                XCTAssertEqual(union, Array(single.indices(forIteration: i)), "B \(batch) p \(ranks) iteration \(i)")
                XCTAssertEqual((0..<ranks).map { schedules[$0].localBatch }.reduce(0, +), batch)
                XCTAssertEqual((0..<ranks).map { schedules[$0].firstInGlobalBatch },
                               (0..<ranks).map { r in (0..<r).map { schedules[$0].localBatch }.reduce(0, +) },
                               "each rank's offset in the global batch")
            }
            // The free function agrees with the schedule.
            let order = shuffledOrder(count: count, epoch: 1, seed: seed)
            XCTAssertEqual(shard(of: order, rank: ranks - 1, worldSize: ranks, globalBatch: batch, iteration: 2),
                           schedules[ranks - 1].indices(forIteration: steps + 2))
        }
    }

    /// One epoch visits each image at most once; steps beyond the epoch reshuffle.
    func testEpochsCoverDistinctImagesAndDiffer() {
        var schedule = BatchSchedule(count: 100, globalBatch: 32, seed: 1)
        XCTAssertEqual(schedule.stepsPerEpoch, 3)
        let epoch0 = (0..<3).flatMap { Array(schedule.indices(forIteration: $0)) }
        let epoch1 = (3..<6).flatMap { Array(schedule.indices(forIteration: $0)) }
        XCTAssertEqual(Set(epoch0).count, 96)
        XCTAssertEqual(Set(epoch1).count, 96)
        XCTAssertNotEqual(epoch0, epoch1)
        XCTAssertEqual(epoch0, Array(shuffledOrder(count: 100, epoch: 0, seed: 1).prefix(96)))
        XCTAssertEqual(Array(schedule.indices(forIteration: 1)), Array(epoch0[32..<64]))  // going back recomputes
    }

    func testUnshuffledScheduleIsSequential() {
        var schedule = BatchSchedule(count: 10, globalBatch: 4, worldSize: 2, rank: 1, seed: 9, shuffle: false)
        XCTAssertEqual(Array(schedule.indices(forIteration: 0)), [2, 3])
        XCTAssertEqual(Array(schedule.indices(forIteration: 3)), [6, 7])
    }

    func testSyntheticIsDeterministicAndClassDependent() throws {
        let a = try SyntheticDataset.make(count: 200, classes: 5, channels: 3, size: 16, seed: 11)
        let b = try SyntheticDataset.make(count: 200, classes: 5, channels: 3, size: 16, seed: 11)
        let c = try SyntheticDataset.make(count: 200, classes: 5, channels: 3, size: 16, seed: 12)
        XCTAssertEqual(a.sourcePixels, b.sourcePixels)
        XCTAssertEqual(a.labels, b.labels)
        XCTAssertNotEqual(a.sourcePixels, c.sourcePixels)
        XCTAssertEqual([a.count, a.channels, a.height, a.width, a.classes], [200, 3, 16, 16, 5])
        XCTAssertEqual(Set(a.labels), Set(0..<5))

        // Learnable: a nearest-class-mean classifier fitted on the first half
        // labels the second half far better than chance (20%).
        let d = a.imageFloats
        var means = [[Double]](repeating: [Double](repeating: 0, count: d), count: 5), counts = [Double](repeating: 0, count: 5)
        for i in 0..<100 {
            let (image, label) = a.sample(i)
            for j in 0..<d { means[Int(label)][j] += Double(image[j]) }
            counts[Int(label)] += 1
        }
        var correct = 0
        for i in 100..<200 {
            let (image, label) = a.sample(i)
            let distances = (0..<5).map { k in (0..<d).reduce(0.0) { $0 + pow(Double(image[$1]) - means[k][$1] / counts[k], 2) } }
            if distances.firstIndex(of: distances.min()!) == Int(label) { correct += 1 }
        }
        XCTAssertGreaterThan(correct, 90)
    }
}
