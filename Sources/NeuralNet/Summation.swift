/// Sum of `count` floats in a fixed order: 32 running partial sums (four SIMD8
/// vectors) over the bulk, combined lane by lane, then the tail in order. A single
/// running sum is bound by the latency of each addition (the bias gradients of v1.0
/// at batch 32 add about 139 million floats per step, counted from the layer shapes);
/// the partial sums vectorize. The order depends only on `count`, so results do not
/// depend on threads or alignment.
@inline(__always)
func sum(_ p: UnsafePointer<Float>, count: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let raw = UnsafeRawPointer(p), stride = MemoryLayout<SIMD8<Float>>.stride
    var j = 0
    while j + 32 <= count {
        let base = raw + j * MemoryLayout<Float>.stride
        a0 += base.loadUnaligned(as: SIMD8<Float>.self)
        a1 += (base + stride).loadUnaligned(as: SIMD8<Float>.self)
        a2 += (base + 2 * stride).loadUnaligned(as: SIMD8<Float>.self)
        a3 += (base + 3 * stride).loadUnaligned(as: SIMD8<Float>.self)
        j += 32
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while j < count { s += p[j]; j += 1 }
    return s
}
