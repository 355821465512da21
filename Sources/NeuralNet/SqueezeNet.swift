/// SqueezeNet v1.0 and v1.1 (Iandola et al., 2016, "SqueezeNet: AlexNet-level
/// accuracy with 50x fewer parameters and <0.5MB model size", Table 1; v1.1 from
/// the DeepScale repository). Pooling rounds up as in Caffe; conv10 is 1x1 with
/// no padding, followed by ReLU and global average pooling.
public enum SqueezeNet {
    public enum Version: String, CaseIterable, Sendable { case v1_0 = "v1.0", v1_1 = "v1.1" }

    public static func make(_ version: Version, classes: Int, inputChannels: Int = 3, inputSize: Int,
                            batch: Int, dropout: Float = 0.5, seed: UInt64? = 42, convInit: ConvInit = .xavier,
                            classifierBias: Float = 0, classifierStd: Float = 0.01) -> Network {
        var b = NetworkBuilder(input: Shape(n: batch, c: inputChannels, h: inputSize, w: inputSize), convInit: convInit)
        switch version {
        case .v1_0:
            b.conv("conv1", 96, kernel: 7, stride: 2)
            b.maxPool("pool1")
            b.fire("fire2", squeeze: 16, expand: 64)
            b.fire("fire3", squeeze: 16, expand: 64)
            b.fire("fire4", squeeze: 32, expand: 128)
            b.maxPool("pool4")
            b.fire("fire5", squeeze: 32, expand: 128)
            b.fire("fire6", squeeze: 48, expand: 192)
            b.fire("fire7", squeeze: 48, expand: 192)
            b.fire("fire8", squeeze: 64, expand: 256)
            b.maxPool("pool8")
            b.fire("fire9", squeeze: 64, expand: 256)
        case .v1_1:
            b.conv("conv1", 64, kernel: 3, stride: 2)
            b.maxPool("pool1")
            b.fire("fire2", squeeze: 16, expand: 64)
            b.fire("fire3", squeeze: 16, expand: 64)
            b.maxPool("pool3")
            b.fire("fire4", squeeze: 32, expand: 128)
            b.fire("fire5", squeeze: 32, expand: 128)
            b.maxPool("pool5")
            b.fire("fire6", squeeze: 48, expand: 192)
            b.fire("fire7", squeeze: 48, expand: 192)
            b.fire("fire8", squeeze: 64, expand: 256)
            b.fire("fire9", squeeze: 64, expand: 256)
        }
        b.dropout("drop9", dropout)
        b.conv("conv10", classes, kernel: 1, weightInit: classifierStd > 0 ? .gaussian(std: classifierStd) : .constant(0), biasInit: .constant(classifierBias))
        b.add { s, _ in GlobalAvgPool("pool10", input: s) }
        return b.build(name: "squeezenet-\(version.rawValue)", seed: seed)
    }

    /// Smallest square input the architecture accepts: conv1 and each of the three
    /// 3x3 max pools need a full window.
    public static func minimumInputSize(_ version: Version) -> Int {
        (1...1024).first { size in
            let kernel = version == .v1_0 ? 7 : 3
            guard size >= kernel else { return false }
            var x = (size - kernel) / 2 + 1
            for _ in 0..<3 {
                guard x >= 3 else { return false }
                x = MaxPool2D.ceilOutputSize(x, kernel: 3, stride: 2, pad: 0)
            }
            return true
        }!
    }
}
