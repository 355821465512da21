// PowerSGD (Vogels, Karimireddy, Jaggi, NeurIPS 2019), as PyTorch DDP's powerSGD_hook
// runs it: each matrix-shaped gradient M (a layer's weights as out x (in kh kw)) is sent
// as two thin factors, P = M Q (rows x r) and Q = M^T P (cols x r), each summed over the
// ranks by the run's allreduce; one power iteration per step, warm-started from the last
// step's Q. Vectors (biases) and matrices too small to gain go through the allreduce
// uncompressed. Error feedback keeps M - (the mean's approximation) per rank. Before
// `startIteration` every bucket goes through the allreduce unchanged (DDP's
// start_powerSGD_iter), so the first steps, when the gradient changes fastest, are exact.
import Basics
import Codecs
import Collectives
import Metrics
import NeuralNet
import Topology

final class PowerSGDHook: BucketHook {
    let rank: Int
    let startIteration: Int
    /// DDP's min_compression_rate: a matrix is compressed only when rows x cols is more
    /// than this many times (rows + cols) x r (0: every matrix).
    let minCompressionRate: Double
    private struct Matrix { let offset: Int, rows: Int, cols: Int, r: Int, q: Int }  // q: offset in `qs`
    private let matrices: [Matrix]
    private let residual: ErrorFeedback
    /// Every compressed matrix's Q, one after another (warm start): the state checkpoints keep.
    private let qs: UnsafeMutableBufferPointer<Float>
    private var active = false
    private var first: [Float] = [], second: [Float] = [], original: [Float] = []
    private let timing = CodecTiming()
    /// Encoding: error feedback in, P = M Q, orthogonalisation, Q = M^T P, the residual
    /// out; decoding: P Q^T. The GEMMs are most of it.
    var codecTiming: CodecTiming? { timing }

    init(rank: Int, store: ParameterStore, startIteration: Int = 0, minCompressionRate: Double = 2, seed: UInt64 = 0x50535344) {
        self.rank = rank
        self.startIteration = startIteration
        self.minCompressionRate = minCompressionRate
        var found: [Matrix] = [], qCount = 0
        for m in PowerSGDPlan.matrices(tensors: store.refs.map { ($0.offset, $0.shape, $0.count) }, rank: rank,
                                       minCompressionRate: minCompressionRate) {
            found.append(Matrix(offset: m.offset, rows: m.rows, cols: m.cols, r: m.r, q: qCount))
            qCount += m.cols * m.r
        }
        matrices = found
        residual = ErrorFeedback(count: store.count)
        qs = .allocate(capacity: max(qCount, 1))
        // The same random Q on every rank (a fixed seed), orthonormal columns.
        var rng = SplitMix64(seed: seed)
        for i in 0..<qCount { qs[i] = Float(rng.nextGaussian()) }
        for m in found { Self.orthogonalize(qs.baseAddress! + m.q, rows: m.cols, cols: m.r) }
    }
    deinit { qs.deallocate() }

    var name: String { "powersgd-\(rank)-from\(startIteration)-rate\(minCompressionRate)" }
    var state: [HookState] { [HookState(name: "residual", values: residual.residual), HookState(name: "q", values: qs)] }
    func beginIteration(_ iteration: Int, epoch: Int) { active = iteration >= startIteration }

    /// The scaling lab's replay (`ComputeTimeline.codec`): per bucket, the arithmetic's
    /// measured seconds, waited (times `scale`) instead of computed, around two allreduces of
    /// the real sizes: the bytes and the MPI are real, the GEMMs replayed like the compute.
    var replayed: (buckets: [ComputeTimeline.CodecBucket], scale: Double)?

    func reduce(_ bucket: GradientBucket, with allreduce: GradientAllreduce, on comm: Communicator) throws {
        guard active, comm.size > 1 else { return try allreduce.allreduce(bucket.values, on: comm) }
        if let (buckets, scale) = replayed {
            let b = buckets[bucket.index]
            // A replay warm-up's prefix of the bucket: exchanged as it is.
            guard bucket.values.count == b.count else { return try allreduce.allreduce(bucket.values, on: comm) }
            if first.count < b.firstCount { first = Array(repeating: 0, count: b.firstCount) }
            if second.count < b.secondCount { second = Array(repeating: 0, count: b.secondCount) }
            // Booked as the codec's time (replayed), so the records show it as they would the real one.
            func wait(_ seconds: Double, _ kind: CodecTiming.Kind) {
                let t0 = monotonicSeconds()
                sleep(until: t0 + seconds * scale)
                timing.book(kind, from: t0, to: monotonicSeconds())
            }
            wait(b.beforeSeconds, .encode)
            try first.withUnsafeMutableBufferPointer { try allreduce.allreduce(UnsafeMutableBufferPointer(rebasing: $0[0..<b.firstCount]), on: comm) }
            wait(b.betweenSeconds, .encode)
            try second.withUnsafeMutableBufferPointer { try allreduce.allreduce(UnsafeMutableBufferPointer(rebasing: $0[0..<b.secondCount]), on: comm) }
            wait(b.afterSeconds, .decode)
            return
        }
        try step(bucket, ranks: comm.size) { try allreduce.allreduce($0, on: comm) }
    }

    /// Seconds of one bucket's arithmetic: before the first allreduce (error feedback in,
    /// P = M Q), between the two (orthogonalisation, Q = M^T P), after the second (P Q^T,
    /// the residual); and the two allreduces' float counts.
    struct Phases { var before = 0.0, between = 0.0, after = 0.0, firstCount = 0, secondCount = 0 }

    /// One bucket's PowerSGD step with `sum` as the allreduce (the timeline passes a no-op
    /// to time the arithmetic alone, on one worker).
    @discardableResult
    func step(_ bucket: GradientBucket, ranks: Int, sum: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows -> Phases {
        let g = bucket.values, lo = bucket.offset, hi = lo + g.count, p = Float(ranks)
        var phases = Phases()
        // Buckets are cut at tensor boundaries; a matrix not wholly inside (a replay
        // warm-up's prefix) goes uncompressed.
        let inside = matrices.filter { $0.offset >= lo && $0.offset + $0.rows * $0.cols <= hi }
        // M = g + residual over the bucket, kept for the error after.
        let e = UnsafeMutableBufferPointer(rebasing: residual.residual[lo..<hi])
        var mark = monotonicSeconds()
        @discardableResult
        func book(_ kind: CodecTiming.Kind) -> Double {
            let now = monotonicSeconds(), took = now - mark
            timing.book(kind, from: mark, to: now); mark = now
            return took
        }
        ErrorFeedback.addResidual(e, to: g)
        if original.count < g.count { original = Array(repeating: 0, count: g.count) }
        for i in 0..<g.count { original[i] = g[i] }
        var plain: [Range<Int>] = [], cursor = 0
        for m in inside {
            if m.offset - lo > cursor { plain.append(cursor..<(m.offset - lo)) }
            cursor = m.offset - lo + m.rows * m.cols
        }
        if cursor < g.count { plain.append(cursor..<g.count) }
        let plainCount = plain.reduce(0) { $0 + $1.count }
        let pCount = inside.reduce(0) { $0 + $1.rows * $1.r }, qCount = inside.reduce(0) { $0 + $1.cols * $1.r }
        if first.count < plainCount + pCount { first = Array(repeating: 0, count: plainCount + pCount) }
        if second.count < qCount { second = Array(repeating: 0, count: qCount) }
        let gp = g.baseAddress!
        try first.withUnsafeMutableBufferPointer { one in
            try second.withUnsafeMutableBufferPointer { two in
                // Round one: the uncompressed entries and every P = M Q, in one allreduce.
                let a = one.baseAddress!, b = two.baseAddress!
                var at = 0
                for r in plain { for i in r { a[at] = g[i]; at += 1 } }
                var pAt: [Int] = []
                for m in inside {
                    pAt.append(at)
                    sgemm(transA: false, transB: false, m: m.rows, n: m.r, k: m.cols, a: gp + (m.offset - lo), lda: m.cols,
                          b: qs.baseAddress! + m.q, ldb: m.r, beta: 0, c: a + at, ldc: m.r)
                    at += m.rows * m.r
                }
                phases.before = book(.encode); phases.firstCount = at
                try sum(UnsafeMutableBufferPointer(rebasing: one[0..<at]))
                mark = monotonicSeconds()
                at = 0
                for r in plain { for i in r { g[i] = a[at]; at += 1 } }
                // Round two: orthogonalise each summed P, Q = M^T P for this rank's M, sum the Qs.
                var qAt: [Int] = [], q = 0
                for (j, m) in inside.enumerated() {
                    Self.orthogonalize(a + pAt[j], rows: m.rows, cols: m.r)
                    qAt.append(q)
                    sgemm(transA: true, transB: false, m: m.cols, n: m.r, k: m.rows, a: gp + (m.offset - lo), lda: m.cols,
                          b: a + pAt[j], ldb: m.r, beta: 0, c: b + q, ldc: m.r)
                    q += m.cols * m.r
                }
                phases.between = book(.encode); phases.secondCount = q
                try sum(UnsafeMutableBufferPointer(rebasing: two[0..<q]))
                mark = monotonicSeconds()
                // The sum's approximation P Q^T; Q / p is the next step's warm start (DDP's).
                for (j, m) in inside.enumerated() {
                    sgemm(transA: false, transB: true, m: m.rows, n: m.cols, k: m.r, a: a + pAt[j], lda: m.r,
                          b: b + qAt[j], ldb: m.r, beta: 0, c: gp + (m.offset - lo), ldc: m.cols)
                    for i in 0..<(m.cols * m.r) { qs[m.q + i] = b[qAt[j] + i] / p }
                }
                phases.after = book(.decode)
            }
        }
        // Error feedback: this rank's M minus the mean's approximation (DDP's error_dict);
        // the uncompressed entries were sent exactly, so their residual is zero.
        for i in 0..<g.count { e[i] = 0 }
        for m in inside {
            let start = m.offset - lo
            for i in start..<(start + m.rows * m.cols) { e[i] = original[i] - g[i] / p }
        }
        phases.after += book(.encode)
        return phases
    }

    /// Orthonormal columns for a rows x cols row-major matrix, in place: modified
    /// Gram-Schmidt in Double, each column orthogonalised twice ("twice is enough":
    /// float32 Gram-Schmidt on an ill-conditioned P loses orthogonality in proportion to
    /// its condition number, and P Q^T then misses M even at full rank). A column with no
    /// norm left (M of lower rank than r) becomes zero (DDP adds epsilon 1e-8 instead).
    static func orthogonalize(_ a: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        var m = [Double](repeating: 0, count: rows * cols)
        for i in 0..<(rows * cols) { m[i] = Double(a[i]) }
        for j in 0..<cols {
            var original = 0.0
            for i in 0..<rows { original += m[i * cols + j] * m[i * cols + j] }
            for _ in 0..<2 {
                for k in 0..<j {
                    var dot = 0.0
                    for i in 0..<rows { dot += m[i * cols + k] * m[i * cols + j] }
                    for i in 0..<rows { m[i * cols + j] -= dot * m[i * cols + k] }
                }
            }
            var norm = 0.0
            for i in 0..<rows { norm += m[i * cols + j] * m[i * cols + j] }
            norm = norm.squareRoot()
            let inverse = norm > 1e-12 * max(original.squareRoot(), .leastNormalMagnitude) ? 1 / norm : 0
            for i in 0..<rows { m[i * cols + j] *= inverse }
        }
        for i in 0..<(rows * cols) { a[i] = Float(m[i]) }
    }
}
