import Foundation
import MSCCore
import SafeTensors
import TensorEngine

// Shape legend: B batch, L max length, d width, F feed-forward width, n items (ids 1…n; 0 is padding), N = B·L positions.

/// One pre-norm SASRec block: x + Attn(LN(x)), then x + FFN(LN(x)) with a ReLU point-wise feed-forward.
public struct SASRecBlock {
    public var attentionNorm: (weight: Tensor, bias: Tensor)
    public var attention: MultiHeadAttention
    public var feedForwardNorm: (weight: Tensor, bias: Tensor)
    public var w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor

    func callAsFunction(_ x: Tensor, mask: Tensor, epsilon: Float, dropout: DropoutContext?) -> Tensor {
        let a = x.layerNorm(weight: attentionNorm.weight, bias: attentionNorm.bias, eps: epsilon)
        let h = x + dropout.apply(attention(a, mask: mask, dropout: dropout))
        let f = h.layerNorm(weight: feedForwardNorm.weight, bias: feedForwardNorm.bias, eps: epsilon)
        return h + dropout.apply(f.linear(w1, bias: b1).relu().linear(w2, bias: b2))
    }

    func parameters(prefix p: String) -> [(String, Tensor)] {
        [("\(p).attn_norm.weight", attentionNorm.weight), ("\(p).attn_norm.bias", attentionNorm.bias)]
            + attention.parameters(prefix: "\(p).attn")
            + [("\(p).ffn_norm.weight", feedForwardNorm.weight), ("\(p).ffn_norm.bias", feedForwardNorm.bias),
               ("\(p).ffn.w1", w1), ("\(p).ffn.b1", b1), ("\(p).ffn.w2", w2), ("\(p).ffn.b2", b2)]
    }
}

/// SASRec (Kang & McAuley 2018) in pre-norm form, scoring items by inner product with its own (tied) item table.
/// Also MSCGRec's source of collaborative item embeddings (`itemEmbeddings`).
public struct SASRec {
    public let config: SASRecConfig
    public var itemEmbedding: Tensor       // [n+1, d], row 0 padding (no gradient)
    public var positionEmbedding: Tensor   // [L, d]
    public var blocks: [SASRecBlock]
    public var finalNorm: (weight: Tensor, bias: Tensor)

    /// Random initialisation: truncated N(0, 1/√rows) for matrices and N(0, 1/√d) for item embeddings (padding row
    /// zero), truncated N(0, 0.02) for positions, ones/zeros for norms.
    public init(_ config: SASRecConfig, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let d = config.dim
        func matrix(_ rows: Int, _ cols: Int) -> Tensor { Tensor.truncatedNormal([rows, cols], std: 1 / Float(rows).squareRoot(), using: &rng).requiringGrad() }
        func ones() -> Tensor { Tensor.filled([d], value: 1).requiringGrad() }
        func zeros() -> Tensor { Tensor.zeros([d], requiresGrad: true) }
        let table = Tensor.truncatedNormal([config.items + 1, d], std: 1 / Float(d).squareRoot(), using: &rng)
        for j in 0..<d { table.data[j] = 0 }
        self.config = config
        itemEmbedding = table.requiringGrad()
        positionEmbedding = Tensor.truncatedNormal([config.maxLength, d], std: 0.02, using: &rng).requiringGrad()
        blocks = (0..<config.layers).map { _ in
            SASRecBlock(attentionNorm: (ones(), zeros()),
                        attention: MultiHeadAttention(query: matrix(d, d), key: matrix(d, d), value: matrix(d, d), output: matrix(d, d),
                                                      heads: config.heads, scale: 1 / Float(d / config.heads).squareRoot()),
                        feedForwardNorm: (ones(), zeros()), w1: matrix(d, config.innerDim),
                        b1: Tensor.zeros([config.innerDim], requiresGrad: true), w2: matrix(config.innerDim, d), b2: zeros())
        }
        finalNorm = (ones(), zeros())
    }

    /// Rebuilds a model from named weights (a checkpoint or a fixture); every tensor must be present.
    public init(_ config: SASRecConfig, weights: SafeTensors, requiresGrad: Bool = true) throws {
        self.init(config, seed: 0)
        for (name, tensor) in namedParameters {
            let loaded = try weights.tensor(name)
            guard loaded.shape == tensor.shape else {
                throw SafeTensorsError("tensor '\(name)' has shape \(loaded.shape), config expects \(tensor.shape)")
            }
            tensor.data.update(from: loaded.data, count: tensor.count)
        }
    }

    /// The model a `sasrec` run wrote into `runDirectory`: `sasrec.safetensors`, its config in the metadata.
    public static func load(runDirectory: URL) throws -> SASRec {
        let url = runDirectory.appendingPathComponent("sasrec.safetensors")
        let weights = try SafeTensors.read(contentsOf: url)
        guard let json = weights.metadata["config"] else {
            throw ConfigError("\(url.path) has no config metadata (not written by `mscgrec-trainer sasrec`?)")
        }
        let config: SASRecConfig
        do { config = try JSONDecoder().decode(SASRecConfig.self, from: Data(json.utf8)) } catch {
            throw ConfigError("\(url.path): its config metadata does not decode (\(error))")
        }
        return try SASRec(config, weights: weights, requiresGrad: false)
    }

    /// Every trainable tensor with its checkpoint name.
    public var namedParameters: [(String, Tensor)] {
        [("item_embedding", itemEmbedding), ("position_embedding", positionEmbedding)]
            + blocks.enumerated().flatMap { $1.parameters(prefix: "blocks.\($0)") }
            + [("final_norm.weight", finalNorm.weight), ("final_norm.bias", finalNorm.bias)]
    }

    public var parameters: [Tensor] { namedParameters.map(\.1) }

    /// ids: B·L left-padded item ids (0 = padding). Returns the final hidden states [B, L, d].
    public func hidden(ids: [Int32], batch: Int, dropout: DropoutContext? = nil) -> Tensor {
        let (length, d) = (ids.count / batch, config.dim)
        precondition(length <= config.maxLength && length * batch == ids.count, "ids must be [batch, ≤ maxLength]")
        let nonPadding = Tensor(shape: [batch, length, 1], scalars: ids.map { $0 == 0 ? 0 : 1 })
        let positions = positionEmbedding.slice(axis: 0, start: 0, end: length)
        var x = embedding(itemEmbedding, indices: ids, indexShape: [batch, length], paddingIndex: 0) * Float(d).squareRoot() + positions
        x = dropout.apply(x * nonPadding)
        let mask = AttentionMask.keyPadding(Tensor(shape: [batch, length], scalars: ids.map { $0 == 0 ? 1 : 0 }))
            + AttentionMask.causal(length)
        for block in blocks {
            x = block(x, mask: mask, epsilon: config.normEpsilon, dropout: dropout) * nonPadding
        }
        return x.layerNorm(weight: finalNorm.weight, bias: finalNorm.bias, eps: config.normEpsilon)
    }

    /// Full-softmax cross-entropy: targets are next-item ids (0 = padding, ignored). Only positions with a target
    /// are scored, which skips the (often majority) padded positions before the [N, n] logits product.
    public func crossEntropyLoss(hidden h: Tensor, targets: [Int32]) -> Tensor {
        let valid = targets.indices.filter { targets[$0] != 0 }
        let states = h.reshaped([-1, config.dim]).indexSelect(axis: 0, valid.map(Int32.init))   // [V, d]
        let logits = matmul(states, realItems, transposeB: true)                                 // [V, n]
        return crossEntropy(logits, targets: valid.map { targets[$0] - 1 })
    }

    /// The original loss: BCE on the target (label 1) and one sampled negative (label 0) per valid position, each averaged.
    public func binaryCrossEntropyLoss(hidden h: Tensor, targets: [Int32], negatives: [Int32]) -> Tensor {
        let valid = targets.indices.filter { targets[$0] != 0 }.map(Int32.init)
        let states = h.reshaped([-1, config.dim]).indexSelect(axis: 0, valid)                   // [V, d]
        let positives = embedding(itemEmbedding, indices: valid.map { targets[Int($0)] }, indexShape: [valid.count])
        let sampled = embedding(itemEmbedding, indices: valid.map { negatives[Int($0)] }, indexShape: [valid.count])
        let positiveLogits = (states * positives).sum(axis: 1), negativeLogits = (states * sampled).sum(axis: 1)
        return binaryCrossEntropyWithLogits(positiveLogits, targets: Tensor.filled([valid.count], value: 1))
            + binaryCrossEntropyWithLogits(negativeLogits, targets: Tensor.zeros([valid.count]))
    }

    /// Scores of every real item for the last position of each row: [B, n] (column j is item j+1). `items` [n, d]
    /// replaces the item table on the output side only (e.g. its quantized reconstruction, to measure what codes lose).
    public func lastPositionScores(ids: [Int32], batch: Int, items: Tensor? = nil) -> Tensor {
        withoutGrad {
            let h = hidden(ids: ids, batch: batch)
            let length = ids.count / batch
            let last = h.slice(axis: 1, start: length - 1, end: length).reshaped([batch, config.dim])
            return matmul(last, items ?? realItems, transposeB: true)
        }
    }

    /// Rows 1…n of the item table (a differentiable slice).
    private var realItems: Tensor { itemEmbedding.slice(axis: 0, start: 1, end: config.items + 1) }

    /// The learned item embeddings without the padding row: [n, d], row i is item index i (the collaborative modality).
    public var itemEmbeddings: Tensor { withoutGrad { realItems } }

    public func weights() -> SafeTensors {
        var file = SafeTensors()
        for (name, tensor) in namedParameters { file.add(name, tensor) }
        return file
    }
}
