import TensorEngine

// Shape legend: B batch, T (decoder) / S (encoder) lengths, D model width, F feed-forward width.

/// T5's feed-forward: gated GELU (v1.1), (gelu(x·Wi0) ⊙ x·Wi1)·Wo, or the original ReLU, relu(x·Wi)·Wo.
public struct T5FeedForward {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case gatedGELU = "gated-gelu"
        case relu
    }
    public var gate: Tensor     // [D, F]: Wi0 (gated) or Wi (ReLU)
    public var linear: Tensor?  // [D, F]: Wi1, gated only
    public var output: Tensor   // [F, D]

    public var kind: Kind { linear == nil ? .relu : .gatedGELU }

    public init(gate: Tensor, linear: Tensor, output: Tensor) {
        self.gate = gate; self.linear = linear; self.output = output
    }

    public init(relu input: Tensor, output: Tensor) {
        self.gate = input; self.linear = nil; self.output = output
    }

    public init(_ kind: Kind = .gatedGELU, dModel: Int, dFF: Int, using rng: inout SeededGenerator) {
        func inward() -> Tensor { Tensor.normal([dModel, dFF], std: 1 / Float(dModel).squareRoot(), using: &rng).requiringGrad() }
        let wi = inward()
        let wi1: Tensor? = kind == .gatedGELU ? inward() : nil
        self.gate = wi; self.linear = wi1
        self.output = Tensor.normal([dFF, dModel], std: 1 / Float(dFF).squareRoot(), using: &rng).requiringGrad()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard let linear else { return x.linear(gate).relu().linear(output) }
        return gatedGELU(x.linear(gate), x.linear(linear)).linear(output)
    }

    public func parameters(prefix: String) -> [(String, Tensor)] {
        guard let linear else { return [("\(prefix).wi", gate), ("\(prefix).wo", output)] }
        return [("\(prefix).wi0", gate), ("\(prefix).wi1", linear), ("\(prefix).wo", output)]
    }
}

/// Dropout settings threaded through a forward pass (residual branches and attention probabilities, as in T5 and
/// SASRec); `nil` context means evaluation (no dropout).
public final class DropoutContext {
    public let rate: Float
    public var rng: SeededGenerator
    public init(rate: Float, seed: UInt64) { self.rate = rate; self.rng = SeededGenerator(seed: seed) }
    func apply(_ x: Tensor) -> Tensor { x.dropout(rate, training: true, using: &rng) }
    /// Attention-probability dropout scales for `shape`, or nil when the rate is 0.
    func keep(_ shape: [Int]) -> Tensor? { rate > 0 ? Tensor.dropoutKeep(shape, rate, using: &rng) : nil }
}

extension Optional where Wrapped == DropoutContext {
    func apply(_ x: Tensor) -> Tensor { self?.apply(x) ?? x }
}

/// T5 encoder layer, pre-norm: h = x + Attn(RMSNorm(x)); out = h + FFN(RMSNorm(h)).
public struct T5EncoderLayer {
    public var attentionNorm: Tensor    // [D]
    public var attention: MultiHeadAttention
    public var feedForwardNorm: Tensor  // [D]
    public var feedForward: T5FeedForward
    public let epsilon: Float

    public init(attentionNorm: Tensor, attention: MultiHeadAttention, feedForwardNorm: Tensor,
                feedForward: T5FeedForward, epsilon: Float) {
        self.attentionNorm = attentionNorm; self.attention = attention
        self.feedForwardNorm = feedForwardNorm; self.feedForward = feedForward; self.epsilon = epsilon
    }

    public init(_ config: TransformerConfig, using rng: inout SeededGenerator) {
        self.init(attentionNorm: Tensor.filled([config.dModel], value: 1).requiringGrad(),
                  attention: MultiHeadAttention(dModel: config.dModel, heads: config.heads, headDim: config.headDim, using: &rng),
                  feedForwardNorm: Tensor.filled([config.dModel], value: 1).requiringGrad(),
                  feedForward: T5FeedForward(config.feedForward, dModel: config.dModel, dFF: config.dFF, using: &rng),
                  epsilon: config.normEpsilon)
    }

    /// x: [B, S, D]; positionBias: [H, S, S] (or per batch); mask: additive, e.g. key padding [B, 1, 1, S].
    public func callAsFunction(_ x: Tensor, positionBias: Tensor?, mask: Tensor?, dropout: DropoutContext? = nil) -> Tensor {
        let h = x + dropout.apply(attention(x.rmsNorm(weight: attentionNorm, eps: epsilon), positionBias: positionBias, mask: mask,
                                                 dropout: dropout))
        return h + dropout.apply(feedForward(h.rmsNorm(weight: feedForwardNorm, eps: epsilon)))
    }

    public func parameters(prefix: String) -> [(String, Tensor)] {
        [("\(prefix).attention_norm", attentionNorm)] + attention.parameters(prefix: "\(prefix).attention")
            + [("\(prefix).ffn_norm", feedForwardNorm)] + feedForward.parameters(prefix: "\(prefix).ffn")
    }
}

/// T5 decoder layer: causal self-attention, cross-attention over the encoder output, feed-forward; all pre-norm.
public struct T5DecoderLayer {
    public var selfAttentionNorm: Tensor
    public var selfAttention: MultiHeadAttention
    public var crossAttentionNorm: Tensor
    public var crossAttention: MultiHeadAttention
    public var feedForwardNorm: Tensor
    public var feedForward: T5FeedForward
    public let epsilon: Float

    public init(selfAttentionNorm: Tensor, selfAttention: MultiHeadAttention, crossAttentionNorm: Tensor,
                crossAttention: MultiHeadAttention, feedForwardNorm: Tensor, feedForward: T5FeedForward, epsilon: Float) {
        self.selfAttentionNorm = selfAttentionNorm; self.selfAttention = selfAttention
        self.crossAttentionNorm = crossAttentionNorm; self.crossAttention = crossAttention
        self.feedForwardNorm = feedForwardNorm; self.feedForward = feedForward; self.epsilon = epsilon
    }

    public init(_ config: TransformerConfig, using rng: inout SeededGenerator) {
        func ones() -> Tensor { Tensor.filled([config.dModel], value: 1).requiringGrad() }
        self.init(selfAttentionNorm: ones(),
                  selfAttention: MultiHeadAttention(dModel: config.dModel, heads: config.heads, headDim: config.headDim, using: &rng),
                  crossAttentionNorm: ones(),
                  crossAttention: MultiHeadAttention(dModel: config.dModel, heads: config.heads, headDim: config.headDim, using: &rng),
                  feedForwardNorm: ones(),
                  feedForward: T5FeedForward(config.feedForward, dModel: config.dModel, dFF: config.dFF, using: &rng),
                  epsilon: config.normEpsilon)
    }

    /// y: [B, T, D]; encoderOutput: [B, S, D]; selfMask: causal (+ padding) for [B, H, T, T]; crossMask: [B, 1, 1, S].
    public func callAsFunction(_ y: Tensor, encoderOutput: Tensor, positionBias: Tensor?, selfMask: Tensor?,
                               crossMask: Tensor?, dropout: DropoutContext? = nil) -> Tensor {
        let a = y + dropout.apply(selfAttention(y.rmsNorm(weight: selfAttentionNorm, eps: epsilon), positionBias: positionBias,
                                                         mask: selfMask, dropout: dropout))
        let c = a + dropout.apply(crossAttention(a.rmsNorm(weight: crossAttentionNorm, eps: epsilon), context: encoderOutput,
                                                          mask: crossMask, dropout: dropout))
        return c + dropout.apply(feedForward(c.rmsNorm(weight: feedForwardNorm, eps: epsilon)))
    }

    public func parameters(prefix: String) -> [(String, Tensor)] {
        [("\(prefix).self_attention_norm", selfAttentionNorm)] + selfAttention.parameters(prefix: "\(prefix).self_attention")
            + [("\(prefix).cross_attention_norm", crossAttentionNorm)] + crossAttention.parameters(prefix: "\(prefix).cross_attention")
            + [("\(prefix).ffn_norm", feedForwardNorm)] + feedForward.parameters(prefix: "\(prefix).ffn")
    }
}
