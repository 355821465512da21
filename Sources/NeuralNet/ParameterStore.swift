import Basics
import Glibc

/// How a parameter tensor is initialised (Caffe's fillers).
public enum Initializer: Equatable {
    /// Caffe "xavier": uniform in +-sqrt(3 / fanIn).
    case xavier(fanIn: Int)
    /// He/Kaiming uniform (torchvision's SqueezeNet): uniform in +-sqrt(6 / fanIn).
    case kaiming(fanIn: Int)
    case gaussian(std: Float)
    case constant(Float)
}

/// A named slice of the flat parameter (and gradient) buffer.
public struct ParameterRef: Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let count: Int
    public let initializer: Initializer
}

/// All parameters in one contiguous Float buffer and all gradients in another,
/// so the communicator can reduce the gradients whole (or in contiguous buckets)
/// without knowing what a layer is. Layers register while the model is built;
/// `allocate()` then creates both buffers once.
public final class ParameterStore {
    public private(set) var refs: [ParameterRef] = []
    public private(set) var count = 0
    public private(set) var values: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0)
    public private(set) var gradients: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0)

    public init() {}

    deinit {
        free(values.baseAddress)
        free(gradients.baseAddress)
    }

    public func register(_ name: String, shape: [Int], initializer: Initializer) -> ParameterRef {
        precondition(values.baseAddress == nil, "register parameters before allocate()")
        precondition(!refs.contains { $0.name == name }, "duplicate parameter \(name)")
        let n = shape.reduce(1, *)
        let ref = ParameterRef(name: name, shape: shape, offset: count, count: n, initializer: initializer)
        refs.append(ref)
        count += n
        return ref
    }

    /// Both buffers zeroed by calloc: large ones come as untouched zero pages, so a
    /// store whose values are never read (replayed compute: 244 MB for AlexNet, on each of
    /// 16 ranks) costs no memory bandwidth and no resident memory for them.
    public func allocate() {
        precondition(values.baseAddress == nil, "allocate() called twice")
        values = Self.zeroed(max(count, 1))
        gradients = Self.zeroed(max(count, 1))
    }

    private static func zeroed(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
        guard let raw = calloc(n, MemoryLayout<Float>.stride) else { fatalError("out of memory: \(n) parameters") }
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: n), count: n)
    }

    @inline(__always) public func value(_ ref: ParameterRef) -> UnsafeMutablePointer<Float> { values.baseAddress! + ref.offset }
    @inline(__always) public func gradient(_ ref: ParameterRef) -> UnsafeMutablePointer<Float> { gradients.baseAddress! + ref.offset }

    public func ref(named name: String) -> ParameterRef? { refs.first { $0.name == name } }

    public func zeroGradients() { gradients.update(repeating: 0) }

    /// Fills every parameter in registration order from one seeded stream.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for ref in refs {
            let p = value(ref)
            switch ref.initializer {
            case .xavier(let fanIn):
                let bound = (3.0 / Float(fanIn)).squareRoot()
                for i in 0..<ref.count { p[i] = (rng.nextUnitFloat() * 2 - 1) * bound }
            case .kaiming(let fanIn):
                let bound = (6.0 / Float(fanIn)).squareRoot()
                for i in 0..<ref.count { p[i] = (rng.nextUnitFloat() * 2 - 1) * bound }
            case .gaussian(let std):
                for i in 0..<ref.count { p[i] = rng.nextGaussian() * std }
            case .constant(let c):
                p.update(repeating: c, count: ref.count)
            }
        }
    }
}
