import Foundation
import TensorEngine

// Shape legend: B images, C = 3 channels, H×W pixels, P patch side, N = (H/P)·(W/P) patches, T = N + 1 tokens,
// D hidden width, G₀ the position table's grid side.

/// One pre-norm block: x += LayerScale₁(Attn(LN₁(x))); x += LayerScale₂(MLP(LN₂(x))). Weights in Hugging Face's
/// [out, in] orientation, so checkpoints load without transposes.
public struct ViTBlock {
    public var norm1Weight, norm1Bias: Tensor
    public var query, queryBias, key, keyBias, value, valueBias: Tensor
    public var output, outputBias: Tensor
    public var layerScale1: Tensor
    public var norm2Weight, norm2Bias: Tensor
    public var fc1, fc1Bias, fc2, fc2Bias: Tensor
    public var layerScale2: Tensor

    /// Parameters under their Hugging Face `Dinov2Model` names (hub spelling) within `encoder.layer.<i>.`.
    public var namedParameters: [(String, Tensor)] {
        [("norm1.weight", norm1Weight), ("norm1.bias", norm1Bias),
         ("attention.attention.query.weight", query), ("attention.attention.query.bias", queryBias),
         ("attention.attention.key.weight", key), ("attention.attention.key.bias", keyBias),
         ("attention.attention.value.weight", value), ("attention.attention.value.bias", valueBias),
         ("attention.output.dense.weight", output), ("attention.output.dense.bias", outputBias),
         ("layer_scale1.lambda1", layerScale1),
         ("norm2.weight", norm2Weight), ("norm2.bias", norm2Bias),
         ("mlp.fc1.weight", fc1), ("mlp.fc1.bias", fc1Bias), ("mlp.fc2.weight", fc2), ("mlp.fc2.bias", fc2Bias),
         ("layer_scale2.lambda1", layerScale2)]
    }
}

/// x·Wᵀ + b with W in [out, in] orientation, differentiable (the engine's fused primitive: bias inside the product).
@inline(__always)
func linearT(_ x: Tensor, _ weight: Tensor, _ bias: Tensor) -> Tensor { fusedLinear(x, weight: weight, bias: bias) }

/// A DINOv2 vision transformer on the engine: patch embedding, CLS token, position embeddings (bicubically
/// interpolated to the crop size), pre-norm blocks with LayerScale, final layer norm. Forward and backward.
public final class VisionTransformer {
    public let config: ViTConfig
    public var patchWeight: Tensor      // [D, C, P, P]
    public var patchBias: Tensor        // [D]
    public var clsToken: Tensor         // [1, 1, D]
    public var maskToken: Tensor        // [1, D]: replaces masked patches (iBOT)
    public var positions: Tensor        // [1, 1 + G₀², D]
    public var blocks: [ViTBlock]
    public var normWeight, normBias: Tensor

    public init(config: ViTConfig, patchWeight: Tensor, patchBias: Tensor, clsToken: Tensor, maskToken: Tensor, positions: Tensor,
                blocks: [ViTBlock], normWeight: Tensor, normBias: Tensor) {
        self.config = config; self.patchWeight = patchWeight; self.patchBias = patchBias; self.clsToken = clsToken
        self.maskToken = maskToken; self.positions = positions; self.blocks = blocks; self.normWeight = normWeight; self.normBias = normBias
    }

    /// DINOv2's initialisation: truncated N(0, 0.02) for weights and positions, zero biases, CLS N(0, 1e-6), mask 0.
    public convenience init(config: ViTConfig, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let d = config.hiddenSize, f = config.mlpWidth, p = config.patchSize
        func weight(_ shape: [Int]) -> Tensor { Tensor.truncatedNormal(shape, std: 0.02, using: &rng).requiringGrad() }
        func zeros(_ shape: [Int]) -> Tensor { Tensor.zeros(shape, requiresGrad: true) }
        func ones(_ n: Int, _ v: Float = 1) -> Tensor { Tensor.filled([n], value: v).requiringGrad() }
        let blocks = (0..<config.layers).map { _ in
            ViTBlock(norm1Weight: ones(d), norm1Bias: zeros([d]),
                     query: weight([d, d]), queryBias: zeros([d]), key: weight([d, d]), keyBias: zeros([d]),
                     value: weight([d, d]), valueBias: zeros([d]), output: weight([d, d]), outputBias: zeros([d]),
                     layerScale1: ones(d, config.layerScaleInit), norm2Weight: ones(d), norm2Bias: zeros([d]),
                     fc1: weight([f, d]), fc1Bias: zeros([f]), fc2: weight([d, f]), fc2Bias: zeros([d]),
                     layerScale2: ones(d, config.layerScaleInit))
        }
        let cls = Tensor.normal([1, 1, d], std: 1e-6, using: &rng).requiringGrad()
        self.init(config: config, patchWeight: weight([d, 3, p, p]), patchBias: zeros([d]), clsToken: cls,
                  maskToken: zeros([1, d]), positions: weight([1, 1 + config.gridSize * config.gridSize, d]),
                  blocks: blocks, normWeight: ones(d), normBias: zeros([d]))
    }

    /// Every parameter under its Hugging Face `Dinov2Model` name, in a fixed order.
    public var namedParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = [("embeddings.cls_token", clsToken), ("embeddings.mask_token", maskToken),
                                       ("embeddings.position_embeddings", positions),
                                       ("embeddings.patch_embeddings.projection.weight", patchWeight),
                                       ("embeddings.patch_embeddings.projection.bias", patchBias)]
        for (i, block) in blocks.enumerated() { out += block.namedParameters.map { ("encoder.layer.\(i).\($0.0)", $0.1) } }
        return out + [("layernorm.weight", normWeight), ("layernorm.bias", normBias)]
    }

    /// pixels: B·C·H·W normalised floats (planar per image); masked: B·N flags (true = replace the patch by the mask
    /// token) or nil. Returns the final-norm tokens [B, T, D]: CLS at 0, patches after (Dinov2Model's last_hidden_state).
    public func callAsFunction(pixels: [Float], batch: Int, height: Int, width: Int, masked: [Bool]? = nil) -> Tensor {
        var x = embeddings(pixels: pixels, batch: batch, height: height, width: width, masked: masked)
        for b in blocks { x = apply(b, x) }
        return x.layerNorm(weight: normWeight, bias: normBias, eps: config.layerNormEps)
    }

    /// The tokens before the first block, [B, T, D]: patch embedding, mask token, CLS, positions.
    func embeddings(pixels: [Float], batch: Int, height: Int, width: Int, masked: [Bool]?) -> Tensor {
        let d = config.hiddenSize, p = config.patchSize
        let (gh, gw) = (height / p, width / p), n = gh * gw
        let patches = Tensor(shape: [batch, n, 3 * p * p], scalars: Self.patchify(pixels, batch: batch, height: height, width: width, patch: p))
        var x = linearT(patches, patchWeight.reshaped([d, 3 * p * p]), patchBias)          // [B, N, D]
        if let masked {
            precondition(masked.count == batch * n, "mask has \(masked.count) flags for \(batch)×\(n) patches")
            let m = Tensor(shape: [batch, n, 1], scalars: masked.map { $0 ? 1 : 0 })
            let keep = Tensor(shape: [batch, n, 1], scalars: masked.map { $0 ? 0 : 1 })
            x = x * keep + maskToken * m
        }
        let cls = clsToken + Tensor.zeros([batch, 1, d])
        return concat([cls, x], axis: 1) + positionEmbeddings(gridHeight: gh, gridWidth: gw)
    }

    /// Multi-head self-attention of block `b` on its normed input h [B, T, D], before the output projection.
    func attention(_ b: ViTBlock, _ h: Tensor) -> Tensor {
        let d = config.hiddenSize, heads = config.heads
        return scaledDotProductAttention(query: linearT(h, b.query, b.queryBias), key: linearT(h, b.key, b.keyBias),
                                         value: linearT(h, b.value, b.valueBias), heads: heads, scale: 1 / Float(d / heads).squareRoot())
    }

    /// x += LayerScale₂(MLP(LN₂(x))), any leading shape.
    func mlp(_ b: ViTBlock, _ x: Tensor) -> Tensor {
        let h = x.layerNorm(weight: b.norm2Weight, bias: b.norm2Bias, eps: config.layerNormEps)
        return x + linearT(fusedLinear(h, weight: b.fc1, bias: b.fc1Bias, gelu: true), b.fc2, b.fc2Bias) * b.layerScale2
    }

    /// One whole block on [B, T, D].
    func apply(_ b: ViTBlock, _ x: Tensor) -> Tensor {
        let h = x.layerNorm(weight: b.norm1Weight, bias: b.norm1Bias, eps: config.layerNormEps)
        return mlp(b, x + linearT(attention(b, h), b.output, b.outputBias) * b.layerScale1)
    }

    /// The position table for a gh × gw patch grid, [1, 1 + gh·gw, D]: the stored one when it fits, else its patch
    /// part resampled by torch's bicubic interpolation (a = −0.75, align_corners = false) as one product with a
    /// constant matrix, so gradients reach the stored table.
    public func positionEmbeddings(gridHeight gh: Int, gridWidth gw: Int) -> Tensor {
        let g0 = config.gridSize, d = config.hiddenSize
        if gh == g0 && gw == g0 { return positions }
        let cls = positions.slice(axis: 1, start: 0, end: 1)
        let grid = positions.slice(axis: 1, start: 1, end: 1 + g0 * g0).reshaped([g0 * g0, d])
        let rows = Self.bicubicMatrix(from: g0, to: gh), columns = Self.bicubicMatrix(from: g0, to: gw)
        var kron = [Float](repeating: 0, count: gh * gw * g0 * g0)
        for i in 0..<gh { for j in 0..<gw { for a in 0..<g0 where rows[i * g0 + a] != 0 { for b in 0..<g0 {
            kron[((i * gw + j) * g0 + a) * g0 + b] = rows[i * g0 + a] * columns[j * g0 + b]
        } } } }
        let resampled = matmul(Tensor(shape: [gh * gw, g0 * g0], scalars: kron), grid).reshaped([1, gh * gw, d])
        return concat([cls, resampled], axis: 1)
    }

    /// [out, in] weights of torch's 1-D bicubic upsample/downsample (interpolate(mode="bicubic", align_corners=False,
    /// size=out)): source x = (i + ½)·in/out − ½, Keys' cubic with a = −0.75 on the four neighbours, indices clamped.
    public static func bicubicMatrix(from input: Int, to output: Int) -> [Float] {
        var m = [Float](repeating: 0, count: output * input)
        let scale = Double(input) / Double(output), a = -0.75
        func cubic1(_ x: Double) -> Double { ((a + 2) * x - (a + 3)) * x * x + 1 }          // |x| ≤ 1
        func cubic2(_ x: Double) -> Double { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }   // 1 < |x| < 2
        for i in 0..<output {
            let source = (Double(i) + 0.5) * scale - 0.5
            let floor = source.rounded(.down), t = source - floor
            let weights = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)]
            for k in 0..<4 {
                let index = min(max(Int(floor) - 1 + k, 0), input - 1)
                m[i * input + index] += Float(weights[k])
            }
        }
        return m
    }

    /// Non-overlapping P×P patches, row-major over the grid, each flattened as (c, y, x) like the conv weight
    /// [D, C, P, P]: the stride-P convolution becomes one product. Pixels beyond the last whole patch are dropped.
    public static func patchify(_ pixels: [Float], batch: Int, height: Int, width: Int, patch p: Int) -> [Float] {
        precondition(pixels.count == batch * 3 * height * width, "pixels: \(pixels.count) floats for \(batch)×3×\(height)×\(width)")
        let (gh, gw) = (height / p, width / p), per = 3 * p * p
        var out = [Float](repeating: 0, count: batch * gh * gw * per)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<batch { for i in 0..<gh { for j in 0..<gw {
                    let base = ((b * gh + i) * gw + j) * per
                    for c in 0..<3 { for y in 0..<p {
                        let row = ((b * 3 + c) * height + i * p + y) * width + j * p
                        for x in 0..<p { dst[base + (c * p + y) * p + x] = src[row + x] }
                    } }
                } } }
            }
        }
        return out
    }
}
