/// A batch of images in NCHW order. `n` is the batch actually in use; the
/// storage is sized once for the largest batch so the training loop never allocates.
public struct Shape: Equatable, CustomStringConvertible {
    public var n: Int, c: Int, h: Int, w: Int
    public init(n: Int, c: Int, h: Int, w: Int) { self.n = n; self.c = c; self.h = h; self.w = w }
    public var perImage: Int { c * h * w }
    public var count: Int { n * perImage }
    public func with(n: Int) -> Shape { Shape(n: n, c: c, h: h, w: w) }
    public var description: String { "\(n)x\(c)x\(h)x\(w)" }
}

/// Owned, zero-initialised Float storage with a mutable batch size.
public final class Tensor {
    public private(set) var shape: Shape
    public let capacity: Int
    public let data: UnsafeMutablePointer<Float>

    /// Allocates room for `shape.n` images; `shape` is the initial (and largest) shape.
    public init(_ shape: Shape) {
        self.shape = shape
        self.capacity = max(shape.count, 1)
        data = .allocate(capacity: capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    public convenience init(_ shape: Shape, values: [Float]) {
        precondition(values.count == shape.count, "values do not fill \(shape)")
        self.init(shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { data.deallocate() }

    public var count: Int { shape.count }
    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: data, count: count) }
    public var array: [Float] { Array(buffer) }

    /// Uses the first `n` images of the storage; the layout of each image is unchanged.
    public func setBatch(_ n: Int) {
        precondition(n >= 0 && n * shape.perImage <= capacity, "batch \(n) exceeds capacity of \(shape)")
        shape.n = n
    }

    public func zero() { data.update(repeating: 0, count: count) }

    /// Pointer to image `i`.
    @inline(__always) public func image(_ i: Int) -> UnsafeMutablePointer<Float> { data + i * shape.perImage }
}
