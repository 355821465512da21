// A deterministic, learnable stand-in for a real data set: each class has its
// own pattern (per-channel brightness plus an oriented stripe of its own
// frequency), each image is its class pattern plus Gaussian noise. A small
// network separates the classes within a few hundred steps, so a smoke
// training run shows the loss falling without any files.
import Basics
import Foundation

/// Builds synthetic `ImageDataset`s.
public enum SyntheticDataset {
    /// - Parameters:
    ///   - count: number of images; labels cycle 0, 1, ..., classes-1, 0, ...
    ///     (balanced; training order comes from `BatchSchedule`).
    ///   - size: stored and output height/width (no resizing).
    ///   - noise: standard deviation of the per-pixel noise, in raw 0...255 units.
    ///   - seed: the same seed gives byte-identical images on every machine.
    /// Memory: count * channels * size * size bytes.
    public static func make(count: Int, classes: Int = 10, channels: Int = 3, size: Int = 32,
                            seed: UInt64 = 42, noise: Float = 40,
                            normalization: Normalization = .symmetric) throws -> ImageDataset {
        guard count >= 0, classes > 0, channels > 0, size > 0 else {
            throw DatasetError.invalidArgument(
                "synthetic count \(count), classes \(classes), channels \(channels), size \(size)")
        }
        let plane = size * size, perImage = channels * plane
        let patterns = classPatterns(classes: classes, channels: channels, size: size, seed: seed)
        var pixels = [UInt8](repeating: 0, count: count * perImage)
        var labels = [Int32](repeating: 0, count: count)
        var rng = SplitMix64(seed: seed ^ 0x5EED_DA7A_5E7)
        for i in 0..<count {
            let label = i % classes
            labels[i] = Int32(label)
            for p in 0..<perImage {
                let v = patterns[label * perImage + p] + noise * rng.nextGaussian()
                pixels[i * perImage + p] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        let preprocessing = Preprocessing(size: size, channels: channels, resize: .bilinear,
                                          normalization: normalization)
        return try ImageDataset(pixels: pixels, labels: labels, sourceChannels: channels,
                                sourceHeight: size, sourceWidth: size, classes: classes,
                                preprocessing: preprocessing, name: "synthetic")
    }

    /// (classes, channels, size, size) mean images in raw units, within 40...215.
    static func classPatterns(classes: Int, channels: Int, size: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var out = [Float]()
        out.reserveCapacity(classes * channels * size * size)
        for k in 0..<classes {
            let angle = Float.pi * Float(k) / Float(classes) + 0.3 * rng.nextUnitFloat()
            let frequency = 2 * Float.pi * (1 + Float(k % 4)) / Float(size)
            let (dx, dy) = (cos(angle) * frequency, sin(angle) * frequency)
            for _ in 0..<channels {
                let brightness = 70 + 110 * rng.nextUnitFloat(), phase = 2 * Float.pi * rng.nextUnitFloat()
                for y in 0..<size {
                    for x in 0..<size {
                        out.append(brightness + 35 * sin(dx * Float(x) + dy * Float(y) + phase))
                    }
                }
            }
        }
        return out
    }
}
