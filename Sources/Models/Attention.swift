import TensorEngine

// Shape legend: B batch, Tq query length, Tk key length, D model width, H heads, K head width.

/// Additive attention masks (0 = attend, `maskValue` = blocked), built once per batch and broadcast.
public enum AttentionMask {
    /// Large and finite, so a fully padded row still gives finite (uniform) probabilities, as in the reference.
    public static let maskValue: Float = -1e9

    /// From per-key padding flags [B, Tk] (1 = padding) to [B, 1, 1, Tk].
    public static func keyPadding(_ padding: Tensor) -> Tensor {
        precondition(padding.rank == 2, "padding must be [batch, keys]")
        return Tensor(shape: [padding.shape[0], 1, 1, padding.shape[1]], scalars: padding.scalars.map { $0 > 0.5 ? maskValue : 0 })
    }

    /// Queries may not look ahead: [1, 1, T, T].
    public static func causal(_ length: Int) -> Tensor {
        var values = [Float](repeating: 0, count: length * length)
        for q in 0..<length { for k in (q + 1)..<max(q + 1, length) { values[q * length + k] = maskValue } }
        return Tensor(shape: [1, 1, length, length], scalars: values)
    }
}

/// Multi-head attention built only from engine primitives (its gradient needs no rule of its own).
/// Projections have no biases (T5); `scale` is 1 for T5, whose initialisation absorbs 1/√K.
public struct MultiHeadAttention {
    public var query: Tensor    // [D, H·K]
    public var key: Tensor      // [D, H·K]
    public var value: Tensor    // [D, H·K]
    public var output: Tensor   // [H·K, D]
    public let heads: Int
    public let scale: Float

    public init(query: Tensor, key: Tensor, value: Tensor, output: Tensor, heads: Int, scale: Float) {
        precondition(query.shape[1] % heads == 0, "projection width \(query.shape[1]) not divisible by \(heads) heads")
        self.query = query; self.key = key; self.value = value; self.output = output
        self.heads = heads; self.scale = scale
    }

    /// T5's initialisation: N(0, (D·K)^-½) for queries, N(0, D^-½) for keys and values, N(0, (H·K)^-½) for the output.
    public init(dModel: Int, heads: Int, headDim: Int, scale: Float = 1, using rng: inout SeededGenerator) {
        let inner = heads * headDim
        self.init(query: Tensor.normal([dModel, inner], std: 1 / Float(dModel * headDim).squareRoot(), using: &rng).requiringGrad(),
                  key: Tensor.normal([dModel, inner], std: 1 / Float(dModel).squareRoot(), using: &rng).requiringGrad(),
                  value: Tensor.normal([dModel, inner], std: 1 / Float(dModel).squareRoot(), using: &rng).requiringGrad(),
                  output: Tensor.normal([inner, dModel], std: 1 / Float(inner).squareRoot(), using: &rng).requiringGrad(),
                  heads: heads, scale: scale)
    }

    /// x: [B, Tq, D]; context (keys/values, default x): [B, Tk, D]; positionBias: [H, Tq, Tk] or [B, H, Tq, Tk];
    /// mask: additive, broadcastable to [B, H, Tq, Tk]; dropout: drops attention probabilities while training.
    /// Returns [B, Tq, D]. Uses the fused attention primitive.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, positionBias: Tensor? = nil, mask: Tensor? = nil,
                               dropout: DropoutContext? = nil) -> Tensor {
        let source = context ?? x
        let keep = dropout?.keep([x.shape[0], heads, x.shape[1], source.shape[1]])
        let mixed = scaledDotProductAttention(query: x.linear(query), key: source.linear(key), value: source.linear(value),
                                              heads: heads, scale: scale, bias: positionBias, mask: mask, keep: keep)
        return mixed.linear(output)
    }

    /// The same computation from matmul/softmax/permute primitives: the reference the fused path is tested against.
    public func composite(_ x: Tensor, context: Tensor? = nil, positionBias: Tensor? = nil, mask: Tensor? = nil,
                          dropout: DropoutContext? = nil) -> Tensor {
        let source = context ?? x
        let (batch, tq, tk) = (x.shape[0], x.shape[1], source.shape[1])
        let headDim = query.shape[1] / heads
        func split(_ t: Tensor, _ length: Int) -> Tensor {                 // [B, T, H·K] → [B, H, T, K]
            t.reshaped([batch, length, heads, headDim]).permuted([0, 2, 1, 3])
        }
        let q = split(x.linear(query), tq), k = split(source.linear(key), tk), v = split(source.linear(value), tk)
        var scores = matmul(q, k, transposeB: true)                          // [B, H, Tq, Tk]
        if scale != 1 { scores = scores * scale }
        if let positionBias { scores = scores + positionBias }
        var probabilities = scores.softmax(mask: mask)
        if let keep = dropout?.keep([batch, heads, tq, tk]) { probabilities = probabilities * keep }
        let mixed = matmul(probabilities, v)                                 // [B, H, Tq, K]
        return mixed.permuted([0, 2, 1, 3]).reshaped([batch, tq, heads * headDim]).linear(output)
    }

    public func parameters(prefix: String) -> [(String, Tensor)] {
        [("\(prefix).q", query), ("\(prefix).k", key), ("\(prefix).v", value), ("\(prefix).o", output)]
    }
}
