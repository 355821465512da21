/// AlexNet as Caffe's `bvlc_alexnet` (Krizhevsky, Sutskever and Hinton, 2012,
/// "ImageNet Classification with Deep Convolutional Neural Networks"; layers,
/// groups and fillers from BVLC/caffe `models/bvlc_alexnet/train_val.prototxt`):
/// the baseline SqueezeNet is measured against, 60,965,224 parameters at 1000
/// classes and 227x227 input.
///
///     conv1 96 11x11/4          ReLU  norm1 (LRN 5, 1e-4, 0.75)  pool1 3/2
///     conv2 256 5x5 pad 2 g2    ReLU  norm2                      pool2 3/2
///     conv3 384 3x3 pad 1       ReLU
///     conv4 384 3x3 pad 1 g2    ReLU
///     conv5 256 3x3 pad 1 g2    ReLU                             pool5 3/2
///     fc6 4096 ReLU drop6   fc7 4096 ReLU drop7   fc8 classes
///
/// Fillers exactly as that train_val.prototxt: every conv weight gaussian std
/// 0.01; conv biases 0 (conv1, conv3) and 0.1 (conv2, conv4, conv5); fc6, fc7
/// gaussian std 0.005 with bias 0.1; fc8 gaussian std 0.01 with bias 0. (The
/// paper used bias 1; Caffe's readme says 0.1 was needed because 1 gave a flat loss.)
/// Pooling rounds up as Caffe's does; fc6's fan-in follows from pool5's shape, so
/// any input from `minimumInputSize` up builds (67 px gives pool5 1x1, fc6 K = 256).
public enum AlexNet {
    public static func make(classes: Int, inputChannels: Int = 3, inputSize: Int = 227, batch: Int,
                            dropout: Float = 0.5, seed: UInt64? = 42) -> Network {
        precondition(inputSize >= minimumInputSize, "AlexNet needs at least \(minimumInputSize)x\(minimumInputSize) input")
        var b = NetworkBuilder(input: Shape(n: batch, c: inputChannels, h: inputSize, w: inputSize))
        let conv = Initializer.gaussian(std: 0.01)
        b.conv("conv1", 96, kernel: 11, stride: 4, weightInit: conv, biasInit: .constant(0))
        b.lrn("norm1", localSize: 5, alpha: 1e-4, beta: 0.75)
        b.maxPool("pool1", kernel: 3, stride: 2)
        b.conv("conv2", 256, kernel: 5, pad: 2, groups: 2, weightInit: conv, biasInit: .constant(0.1))
        b.lrn("norm2", localSize: 5, alpha: 1e-4, beta: 0.75)
        b.maxPool("pool2", kernel: 3, stride: 2)
        b.conv("conv3", 384, kernel: 3, pad: 1, weightInit: conv, biasInit: .constant(0))
        b.conv("conv4", 384, kernel: 3, pad: 1, groups: 2, weightInit: conv, biasInit: .constant(0.1))
        b.conv("conv5", 256, kernel: 3, pad: 1, groups: 2, weightInit: conv, biasInit: .constant(0.1))
        b.maxPool("pool5", kernel: 3, stride: 2)
        b.fullyConnected("fc6", 4096, weightInit: .gaussian(std: 0.005), biasInit: .constant(0.1))
        b.dropout("drop6", dropout)
        b.fullyConnected("fc7", 4096, weightInit: .gaussian(std: 0.005), biasInit: .constant(0.1))
        b.dropout("drop7", dropout)
        b.fullyConnected("fc8", classes, weightInit: .gaussian(std: 0.01), biasInit: .constant(0), relu: false)
        return b.build(name: "alexnet", seed: seed)
    }

    /// Smallest square input that leaves every 3x3 max pool a full window:
    /// conv1 (11x11/4, no pad) then three ceil-mode pools (conv2..conv5 keep the size).
    public static var minimumInputSize: Int {
        (11...1024).first { size in
            var x = (size - 11) / 4 + 1
            for _ in 0..<3 {
                guard x >= 3 else { return false }
                x = MaxPool2D.ceilOutputSize(x, kernel: 3, stride: 2, pad: 0)
            }
            return true
        }!
    }
}
