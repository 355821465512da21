import Analysis
import Metrics
import Topology
import XCTest

/// The step model the scaling lab holds its points to, on a timeline small enough to do by hand.
final class StepModelTests: XCTestCase {
    /// Three layers: a (1 MB of parameters), b (none), c (2 MB); forward 100 ms, backward
    /// c 30 ms, b 20 ms, a 50 ms (run c, b, a), update 10 ms.
    let timeline = ComputeTimeline(
        model: "toy", classes: 10, inputSize: 8, batch: 4, blasThreads: 1, cpus: "0", parameters: 786_432,
        iterations: 3, forwardSeconds: 0.1,
        layers: [.init(name: "a", backwardSeconds: 0.05, tensorCounts: [262_144]),
                 .init(name: "b", backwardSeconds: 0.02, tensorCounts: []),
                 .init(name: "c", backwardSeconds: 0.03, tensorCounts: [524_288])],
        updateSeconds: 0.01, stepSeconds: 0.21)

    func testOneExchangeAfterBackward() {
        let m = StepModel(timeline: timeline, bucketBytes: 0)
        XCTAssertEqual(m.readyTimes().map(\.bytes), [786_432 * 4])
        XCTAssertEqual(m.readyTimes()[0].ready, 0.2, accuracy: 1e-12)
        let s = m.step { _ in 0.04 }
        XCTAssertEqual(s.computeSeconds, 0.21, accuracy: 1e-12)
        XCTAssertEqual(s.exposedSeconds, 0.04, accuracy: 1e-12)
        XCTAssertEqual(s.iterationSeconds, 0.25, accuracy: 1e-12)
    }

    func testBucketsLeaveWhenBackwardProducesThem() {
        // 1 MB first bucket: c alone (2 MB) closes it at 100 + 30 ms; a follows at 100 + 30 + 20 + 50.
        let m = StepModel(timeline: timeline, bucketBytes: 25 << 20)
        let r = m.readyTimes()
        XCTAssertEqual(r.map(\.bytes), [524_288 * 4, 262_144 * 4])
        XCTAssertEqual(r[0].ready, 0.13, accuracy: 1e-12)
        XCTAssertEqual(r[1].ready, 0.2, accuracy: 1e-12)
        // Bucket c takes 60 ms (0.13-0.19), a 30 ms from 0.2: the exchange ends 30 ms after backward.
        let s = m.step { $0 == 524_288 * 4 ? 0.06 : 0.03 }
        XCTAssertEqual(s.exposedSeconds, 0.03, accuracy: 1e-12)
        XCTAssertEqual(s.exchangeSeconds, 0.09, accuracy: 1e-12)
        // A long first bucket delays the second: c 0.13-0.28, a 0.28-0.31.
        XCTAssertEqual(m.step { $0 == 524_288 * 4 ? 0.15 : 0.03 }.exposedSeconds, 0.11, accuracy: 1e-12)
        // A faster worker divides the compute, not the exchange.
        let fast = StepModel(timeline: timeline, workerSpeedup: 10, bucketBytes: 25 << 20).step { _ in 0.03 }
        XCTAssertEqual(fast.computeSeconds, 0.021, accuracy: 1e-12)
        XCTAssertEqual(fast.exposedSeconds, 0.03 + 0.03 - (0.02 - 0.013), accuracy: 1e-12)
    }

    /// PowerSGD's step: each bucket costs its measured arithmetic over the worker speed-up
    /// plus its two float32 allreduces; one worker exchanges nothing; no codec: no step.
    func testPowerSGDStepAddsTheArithmeticAndTwoSmallAllreduces() {
        var t = timeline
        XCTAssertNil(StepModel(timeline: t, bucketBytes: 25 << 20).powerSGDStep(.ring, workers: 4, alpha: 1e-4, beta: 1e-8))
        t.codec = .init(codec: "powersgd:2", bucketMB: 25, buckets: [
            .init(count: 524_288, firstCount: 3000, secondCount: 1000, beforeSeconds: 0.004, betweenSeconds: 0.001, afterSeconds: 0.002),
            .init(count: 262_144, firstCount: 2000, secondCount: 500, beforeSeconds: 0.002, betweenSeconds: 0.001, afterSeconds: 0.001)])
        let a = 1e-4, b = 1e-8
        func ring(_ floats: Int) -> Double { AllreduceTime.seconds(.ring, workers: 4, bytes: 4 * floats, alpha: a, beta: b, pipelinedTree: false) }
        for f in [1.0, 10.0] {
            let m = StepModel(timeline: t, workerSpeedup: f, bucketBytes: 25 << 20)
            let s = m.powerSGDStep(.ring, workers: 4, alpha: a, beta: b)!
            let first = 0.007 / f + ring(3000) + ring(1000), second = 0.004 / f + ring(2000) + ring(500)
            XCTAssertEqual(s.exchangeSeconds, first + second, accuracy: 1e-12)
            // c's bucket leaves at (0.1 + 0.03)/f, a's at 0.2/f: the second waits for whichever is later.
            let end = max((0.13 / f) + first, 0.2 / f) + second
            XCTAssertEqual(s.exposedSeconds, end - 0.2 / f, accuracy: 1e-12)
            XCTAssertEqual(m.powerSGDStep(.ring, workers: 1, alpha: a, beta: b)!.exposedSeconds, 0)
        }
        // A timeline timed on other buckets does not model this cut.
        XCTAssertNil(StepModel(timeline: t, bucketBytes: 0).powerSGDStep(.ring, workers: 4, alpha: a, beta: b))
    }

    func testAlgorithmTimes() {
        let a = 1e-4, b = 1e-8, n = 4_000_000
        func t(_ alg: AllreduceAlgorithm, _ p: Int, pipelined: Bool = false) -> Double {
            AllreduceTime.seconds(alg, workers: p, bytes: n, alpha: a, beta: b, pipelinedTree: pipelined)
        }
        XCTAssertEqual(t(.ring, 16), 30 * a + 2 * 15.0 / 16 * 0.04, accuracy: 1e-12)
        XCTAssertEqual(t(.tree, 16), 8 * (a + 0.04), accuracy: 1e-12)
        XCTAssertEqual(t(.tree, 16, pipelined: true), 4 * 0.04 + 8 * (a + 131_072 * b), accuracy: 1e-12)
        XCTAssertEqual(t(.ps, 16), 30 * (a + 0.04), accuracy: 1e-12)
        XCTAssertEqual(t(.mpi, 16), OpenMPITuned.seconds(ranks: 16, bytes: n, alpha: a, beta: b))
        for alg in AllreduceAlgorithm.allCases { XCTAssertEqual(t(alg, 1), 0) }
        // The step model's algorithm form uses the whole-buffer tree inside buckets, the pipelined one without.
        let bucketed = StepModel(timeline: timeline, bucketBytes: 25 << 20).step(.tree, workers: 4, alpha: a, beta: b)
        let whole = StepModel(timeline: timeline, bucketBytes: 0).step(.tree, workers: 4, alpha: a, beta: b)
        XCTAssertEqual(whole.exchangeSeconds, AllreduceTime.seconds(.tree, workers: 4, bytes: 786_432 * 4, alpha: a, beta: b, pipelinedTree: true),
                       accuracy: 1e-12)
        XCTAssertEqual(bucketed.exchangeSeconds, 4 * (2 * a) + 4 * 786_432 * 4 * b, accuracy: 1e-12)
    }

    /// The both-ways beta prices a 2-rank ring (both ranks send to each other over one
    /// connection) and `mpi`'s pairwise rounds; a longer ring, the tree and the server
    /// send one way per connection and keep beta.
    func testPairBetaPricesOnlyPairwiseExchanges() {
        let a = 1e-4, b = 1e-8, pair = 1.6e-8, n = 4_000_000
        func t(_ alg: AllreduceAlgorithm, _ p: Int, _ pb: Double?) -> Double {
            AllreduceTime.seconds(alg, workers: p, bytes: n, alpha: a, beta: b, pairBeta: pb, pipelinedTree: false)
        }
        XCTAssertEqual(t(.ring, 2, pair), 2 * a + Double(n) * pair, accuracy: 1e-12)
        XCTAssertEqual(t(.ring, 4, pair), t(.ring, 4, nil), accuracy: 1e-15)
        XCTAssertEqual(t(.tree, 4, pair), t(.tree, 4, nil), accuracy: 1e-15)
        XCTAssertEqual(t(.ps, 4, pair), t(.ps, 4, nil), accuracy: 1e-15)
        XCTAssertEqual(t(.mpi, 4, pair), OpenMPITuned.seconds(ranks: 4, bytes: n, alpha: a, beta: b, pairBeta: pair), accuracy: 1e-15)
        XCTAssertGreaterThan(t(.mpi, 4, pair), t(.mpi, 4, nil))
        let m = StepModel(timeline: timeline, bucketBytes: 0)
        XCTAssertEqual(m.step(.ring, workers: 2, alpha: a, beta: b, pairBeta: pair).exchangeSeconds,
                       AllreduceTime.seconds(.ring, workers: 2, bytes: 786_432 * 4, alpha: a, beta: b, pairBeta: pair, pipelinedTree: true),
                       accuracy: 1e-12)
    }
}
