import Foundation
import TensorEngine

// Shape legend: B texts in a batch, T padded length, H hidden width, N heads, F MLP width.

/// The transformer encoder (BERT or MPNet) on the engine: token ids → last hidden states.
public struct TransformerEncoder: Sendable {
    public let config: EncoderConfig
    let weights: EncoderWeights

    public static func load(_ directory: ModelDirectory) throws -> TransformerEncoder {
        let config = try EncoderConfig.load(directory)
        return TransformerEncoder(config: config, weights: try EncoderWeights.load(directory, config: config))
    }

    /// ids: B·T row-major, right-padded; lengths[b] real tokens of row b. Returns [B, T, H].
    public func hiddenStates(ids: [Int32], lengths: [Int], paddedLength t: Int) -> Tensor {
        let b = lengths.count, h = config.hiddenSize
        precondition(ids.count == b * t && lengths.allSatisfy { $0 >= 1 && $0 <= t }, "ids/lengths do not match [\(b), \(t)]")
        precondition(t <= config.positionLimit, "sequence length \(t) exceeds the position table")
        var x = embedding(weights.wordEmbeddings, indices: ids, indexShape: [b, t])
        x = x + embedding(weights.positionEmbeddings, indices: positionIDs(ids, paddedLength: t), indexShape: [b, t])
        if let types = weights.tokenTypeEmbeddings { x = x + types.slice(axis: 0, start: 0, end: 1).reshaped([h]) }
        x = x.layerNorm(weight: weights.embeddingNorm.weight, bias: weights.embeddingNorm.bias, eps: config.layerNormEps)

        // Padded keys are removed by a large negative additive mask (exp underflows to exactly 0, as torch's finfo.min).
        var mask = [Float](repeating: 0, count: b * t)
        for (row, length) in lengths.enumerated() where length < t {
            for j in length..<t { mask[row * t + j] = -1e30 }
        }
        let keyMask = Tensor(shape: [b, 1, 1, t], scalars: mask)
        let bias = weights.relativeAttentionBias.map { relativeBias(table: $0, length: t) }
        let scale = 1 / Float(config.headDim).squareRoot()
        for layer in weights.layers {
            let context = scaledDotProductAttention(query: layer.query(x), key: layer.key(x), value: layer.value(x),
                                                    heads: config.heads, scale: scale, bias: bias, mask: keyMask)
            x = (layer.attentionOutput(context) + x)
                .layerNorm(weight: layer.attentionNorm.weight, bias: layer.attentionNorm.bias, eps: config.layerNormEps)
            let inner = layer.intermediate(x).geluErfFast()
            x = (layer.output(inner) + x)
                .layerNorm(weight: layer.outputNorm.weight, bias: layer.outputNorm.bias, eps: config.layerNormEps)
        }
        return x
    }

    /// Position ids. BERT: 0…T−1. MPNet (torch's create_position_ids_from_input_ids): padding_idx + the running count of
    /// non-padding tokens, and padding_idx itself for a padding id — also for a literal "<pad>" inside a text.
    func positionIDs(_ ids: [Int32], paddedLength t: Int) -> [Int32] {
        guard config.architecture == .mpnet else { return (0..<ids.count).map { Int32($0 % t) } }
        let pad = Int32(config.padTokenID)
        var out = [Int32](repeating: pad, count: ids.count)
        for row in 0..<(ids.count / t) {
            var seen: Int32 = 0
            for j in 0..<t where ids[row * t + j] != pad {
                seen += 1
                out[row * t + j] = pad + seen
            }
        }
        return out
    }

    /// MPNet's [N, T, T] bias: bias[n, i, j] = table[bucket(j − i), n].
    func relativeBias(table: Tensor, length t: Int) -> Tensor {
        let heads = config.heads
        var out = [Float](repeating: 0, count: heads * t * t)
        let p = table.data
        for i in 0..<t {
            for j in 0..<t {
                let bucket = Self.relativePositionBucket(j - i, buckets: config.relativeBuckets)
                for n in 0..<heads { out[(n * t + i) * t + j] = p[bucket * heads + n] }
            }
        }
        return Tensor(shape: [heads, t, t], scalars: out)
    }

    /// MPNet's bucket of a relative position (memory − context): exact below a quarter of the buckets, logarithmic up
    /// to `maxDistance`, the sign in the upper half. torch computes ⌊8·log₁₆(n/8)⌋ in float; here the same boundary is
    /// found in integers (n ≥ 8·2^(k/2) ⇔ n² ≥ 64·2^k), which agrees with torch at the exact boundaries 16, 32, 64, 128.
    public static func relativePositionBucket(_ relative: Int, buckets: Int = 32, maxDistance: Int = 128) -> Int {
        let half = buckets / 2
        var result = relative > 0 ? half : 0
        let n = abs(relative)
        let maxExact = half / 2
        if n < maxExact { return result + n }
        // The general form: the largest k with n ≥ maxExact·(maxDistance/maxExact)^(k/(half−maxExact)).
        let steps = half - maxExact
        var k = 0
        let ratio = Double(maxDistance) / Double(maxExact)
        if maxExact == 8 && maxDistance == 128 && steps == 8 {
            while k + 1 < steps + 1 && n * n >= 64 << (k + 1) { k += 1 }
        } else {
            k = Int(Foundation.log(Double(n) / Double(maxExact)) / Foundation.log(ratio) * Double(steps))
        }
        result += min(maxExact + k, half - 1)
        return result
    }
}
