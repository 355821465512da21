// Training-time augmentation as Caffe's data layer and torchvision users do it:
// a random horizontal mirror (Caffe's `mirror: true`) and a random translation
// of up to `maxShift` pixels with background fill (the "pad and random crop" of
// CIFAR/Fashion-MNIST recipes).
//
// The draw for an image depends only on (seed, image index), never on which
// rank or batch position it lands in, so p ranks see exactly the images one
// process would: the distributed-equals-single-process property survives.
import Basics


/// What to apply to each training image; `.none` leaves images untouched.
public struct Augmentation: Equatable, Codable {
    /// Flip left-right with probability 1/2.
    public var mirror: Bool
    /// Translate by dx, dy drawn uniformly from -maxShift...maxShift; uncovered pixels are background.
    public var maxShift: Int

    public init(mirror: Bool = false, maxShift: Int = 0) {
        self.mirror = mirror
        self.maxShift = maxShift
    }

    public static let none = Augmentation()
    public var isIdentity: Bool { !mirror && maxShift == 0 }

    /// The transform of image `index` under `seed`: (flip, dx, dy).
    public func draw(index: Int, seed: UInt64) -> (flip: Bool, dx: Int, dy: Int) {
        var rng = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0x9FB2_1C65_1E98_DF25))
        let flip = mirror && (rng.next() >> 63) == 1
        guard maxShift > 0 else { return (flip, 0, 0) }
        let span = 2 * maxShift + 1
        return (flip, rng.next(below: span) - maxShift, rng.next(below: span) - maxShift)
    }

    /// Applies (flip, dx, dy) to one `size` x `size` plane in place; `scratch` holds size*size floats.
    /// Output pixel (y, x) is input pixel (y - dy, x' - dx) with x' the mirrored column, or `background`.
    static func apply(flip: Bool, dx: Int, dy: Int, plane: UnsafeMutablePointer<Float>, size: Int,
                      background: Float, scratch: UnsafeMutablePointer<Float>) {
        guard flip || dx != 0 || dy != 0 else { return }
        scratch.update(from: plane, count: size * size)
        for y in 0..<size {
            let out = plane + y * size
            let sy = y - dy
            guard sy >= 0 && sy < size else { out.update(repeating: background, count: size); continue }
            let row = scratch + sy * size
            for x in 0..<size {
                let sx = x - dx
                out[x] = sx >= 0 && sx < size ? row[flip ? size - 1 - sx : sx] : background
            }
        }
    }
}
