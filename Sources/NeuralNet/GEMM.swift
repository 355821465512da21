import Basics
import CBLAS

/// Every matrix product of the layers goes through here, so a benchmark can
/// measure the share of time spent in sgemm against everything else (im2col,
/// pooling, ReLU, copies). Profiling is off unless a benchmark turns it on;
/// when off it costs one branch per call.
public enum GEMMProfile {
    public static var enabled = false
    public private(set) static var seconds = 0.0
    public private(set) static var flops = 0.0
    public private(set) static var calls = 0
    public static func reset() { seconds = 0; flops = 0; calls = 0 }

    static func add(seconds s: Double, m: Int, n: Int, k: Int) {
        seconds += s; flops += 2 * Double(m) * Double(n) * Double(k); calls += 1
    }
}

/// Sets OpenBLAS's thread count (the OPENBLAS_NUM_THREADS default applies otherwise).
public func setBLASThreads(_ n: Int) {
    openblas_set_num_threads(Int32(n))
    Parallel.threads = max(1, n)
}
public var blasThreads: Int { Int(openblas_get_num_threads()) }

/// Row-major C = alpha * op(A) * op(B) + beta * C.
@inline(__always)
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    let start = GEMMProfile.enabled ? monotonicSeconds() : 0
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    if GEMMProfile.enabled { GEMMProfile.add(seconds: monotonicSeconds() - start, m: m, n: n, k: k) }
}

/// C = A * B for n x n row-major matrices, untimed: the benchmark's peak reference.
public func rawSgemm(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, c, Int32(n))
}
