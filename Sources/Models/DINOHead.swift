import TensorEngine

// Shape legend: n rows (CLS or patch tokens), D backbone width, H hidden width, Bn bottleneck, K prototypes.

/// DINOv2's projection head: an MLP (D → H → H → Bn, GELU between), L2 normalisation, and a weight-normalised last
/// layer without bias whose norm is fixed to 1 (norm_last_layer), so logits are cosines scaled by nothing: [n, K].
/// Names follow DINOv2's `DINOHead` (mlp.0, mlp.2, mlp.4, last_layer.weight_v).
public final class DINOHead {
    /// (weight [out, in], bias [out]) per MLP layer.
    public var layers: [(weight: Tensor, bias: Tensor)]
    /// [K, Bn]: the direction of each prototype (weight_v; weight_g ≡ 1 is not a parameter).
    public var lastLayer: Tensor
    /// Subtract the rows' mean from the bottleneck before the L2 normalisation (not in DINOv2; see `RQDINOConfig`).
    public var batchCentring = false

    public init(layers: [(weight: Tensor, bias: Tensor)], lastLayer: Tensor) {
        self.layers = layers; self.lastLayer = lastLayer
    }

    /// DINOv2's initialisation: truncated N(0, 0.02) weights, zero biases; the last layer as nn.Linear's default.
    public convenience init(inputDim: Int, hiddenDim: Int, bottleneckDim: Int, prototypes: Int, layerCount: Int = 3, seed: UInt64) {
        precondition(layerCount >= 1, "a DINO head needs at least one layer")
        var rng = SeededGenerator(seed: seed)
        var widths = [inputDim]
        if layerCount > 1 { widths += Array(repeating: hiddenDim, count: layerCount - 1) }
        widths.append(bottleneckDim)
        let layers = (0..<layerCount).map { i in
            (weight: Tensor.truncatedNormal([widths[i + 1], widths[i]], std: 0.02, using: &rng).requiringGrad(),
             bias: Tensor.zeros([widths[i + 1]], requiresGrad: true))
        }
        let bound = 1 / Float(bottleneckDim).squareRoot()
        self.init(layers: layers, lastLayer: Tensor.uniform([prototypes, bottleneckDim], low: -bound, high: bound, using: &rng).requiringGrad())
    }

    public var prototypes: Int { lastLayer.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor { logits(bottleneck: bottleneck(x)) }

    /// The MLP's output before the L2 normalisation, [n, Bn] (diagnostics read its spread across images).
    public func bottleneck(_ x: Tensor) -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() {
            h = fusedLinear(h, weight: layer.weight, bias: layer.bias, gelu: i < layers.count - 1)
        }
        return h
    }

    /// Cosines of the bottleneck's direction with each prototype's, [n, K].
    public func logits(bottleneck h: Tensor) -> Tensor {
        var h = h
        if batchCentring && h.shape[0] > 1 { h = h - h.mean(axis: 0, keepDim: true) }
        return matmul(h.l2Normalized(eps: 1e-12), lastLayer.l2Normalized(eps: 1e-12), transposeB: true)
    }

    public var namedParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for (i, layer) in layers.enumerated() { out += [("mlp.\(2 * i).weight", layer.weight), ("mlp.\(2 * i).bias", layer.bias)] }
        return out + [("last_layer.weight_v", lastLayer)]
    }
}
