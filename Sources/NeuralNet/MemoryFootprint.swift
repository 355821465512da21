// What a network's layers allocate at a given batch, computed from their shapes, so a
// run can be refused before it allocates (Training/MemoryEstimate.swift). Build the
// network at batch 0 to get the shapes without any storage (`NetworkBuilder.build`).
// Each formula mirrors the layer's init: a layer that allocates more must say so here;
// `MemoryFootprintTests` holds the sum to what the allocator really hands out.

extension Network {
    /// Bytes the layers allocate when built for `batch` images (outputs, input gradients,
    /// masks, argmaxes, im2col scratch); the parameter store is not included.
    public func storageBytes(batch: Int) -> Double {
        layers.reduce(0) { $0 + $1.storageBytes(batch: batch) }
    }
}

extension Layer {
    /// Bytes this layer allocates when built for `batch` images of its per-image shapes.
    public func storageBytes(batch: Int) -> Double {
        let n = Double(batch), input = Double(inputShape.perImage), output = Double(outputShape.perImage)
        let float = 4.0
        switch self {
        case let fire as Fire:
            // The expand convolutions write into the module's output, but each keeps its own too.
            return fire.squeeze.storageBytes(batch: batch) + fire.expand1x1.storageBytes(batch: batch)
                + fire.expand3x3.storageBytes(batch: batch)
                + float * n * (output + Double(fire.squeeze.outputShape.perImage))
        case let conv as Conv2D:
            let rows = conv.inputShape.c * conv.kernel * conv.kernel, hw = conv.outputShape.h * conv.outputShape.w
            let images = batch == 0 ? 0 : Double(Conv2D.chunk(batch: batch, rows: rows, hw: hw))
            return float * (n * (output + input) + images * Double(hw) * Double(rows + conv.outputShape.c))
        case is Dropout, is LRN:
            // output, input gradient and the mask (dropout) or the scale (LRN); LRN's one-image ratio.
            return float * (3 * n * input + (self is LRN && batch > 0 ? input : 0))
        case is MaxPool2D:
            return float * n * (2 * output + input)  // argmax is Int32, one per output
        case is FullyConnected:
            return float * (n * (output + input) + Double(max(batch, 1)))
        default:
            return float * n * (output + input)  // output and input gradient (ReLU, pooling)
        }
    }
}
