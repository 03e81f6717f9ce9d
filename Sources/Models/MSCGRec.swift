import MSCCore
import SafeTensors
import TensorEngine

// Shape legend: B batch, n history items, P codes per item (all modalities), S = n·P + 1 encoder tokens (EOS last),
// Lt target levels (decoder length), D model width, H heads, C output classes (target codes across levels),
// V input vocabulary.

/// MSCGRec's sequence model (paper 3.1, 3.3): a T5 encoder over the stacked multimodal history and a T5 decoder that
/// predicts the next item's codes in the target modality, with its own (untied) output table.
public struct MSCGRec {
    public let config: MSCGRecConfig
    public let layout: TokenLayout
    public var tokenEmbedding: Tensor      // [V, D], shared by encoder and decoder inputs (T5)
    public var prefixEmbedding: Tensor?    // [prefixBuckets + 1, D], encoder inputs (decoder inputs, logits when set); nil without prefixBuckets
    public var encoderBias: Tensor         // [positionBuckets, H]; split: item buckets first, then code buckets
    public var encoderLayers: [T5EncoderLayer]
    public var encoderNorm: Tensor         // [D]
    public var decoderBias: Tensor         // [positionBuckets, H], causal token distance
    public var decoderLayers: [T5DecoderLayer]
    public var decoderNorm: Tensor         // [D]
    public var outputProjection: Tensor    // [D, C]

    /// A fresh model with T5's initialisation (Hugging Face `_init_weights`, factor 1).
    public init(_ config: MSCGRecConfig, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let layout = TokenLayout(config)
        let t = config.transformer
        self.config = config
        self.layout = layout
        tokenEmbedding = Tensor.normal([layout.vocabularySize, t.dModel], std: 1, using: &rng).requiringGrad()
        // Zeros: training starts from the paper's model and adds what the prefixes tell it.
        prefixEmbedding = config.prefixBuckets.map { Tensor.zeros([$0 + 1, t.dModel]).requiringGrad() }
        let biasStd = 1 / Float(t.dModel).squareRoot()
        encoderBias = Tensor.normal([t.positionBuckets, t.heads], std: biasStd, using: &rng).requiringGrad()
        encoderLayers = (0..<t.encoderLayers).map { _ in T5EncoderLayer(t, using: &rng) }
        encoderNorm = Tensor.filled([t.dModel], value: 1).requiringGrad()
        decoderBias = Tensor.normal([t.positionBuckets, t.heads], std: biasStd, using: &rng).requiringGrad()
        decoderLayers = (0..<t.decoderLayers).map { _ in T5DecoderLayer(t, using: &rng) }
        decoderNorm = Tensor.filled([t.dModel], value: 1).requiringGrad()
        outputProjection = Tensor.normal([t.dModel, layout.classCount], std: biasStd, using: &rng).requiringGrad()
    }

    /// The model stored in `weights` (names as `namedParameters`), every shape checked against `config`.
    public init(_ config: MSCGRecConfig, weights: SafeTensors) throws {
        try config.validate()
        self.init(config, seed: 0)
        let stored = Set(weights.names)
        for (name, tensor) in namedParameters {
            guard stored.contains(name) else {
                throw ConfigError("weights lack tensor '\(name)' that the config's model has (config and weights do not match)")
            }
            let loaded = try weights.tensor(name)
            guard loaded.shape == tensor.shape else {
                throw ConfigError("tensor '\(name)' has shape \(loaded.shape), the config expects \(tensor.shape)")
            }
            tensor.data.update(from: loaded.data, count: tensor.count)
        }
    }

    public var namedParameters: [(String, Tensor)] {
        var named: [(String, Tensor)] = [("embedding", tokenEmbedding)]
        if let prefixEmbedding { named.append(("encoder.prefix_embedding", prefixEmbedding)) }
        named.append(("encoder.position_bias", encoderBias))
        for (i, layer) in encoderLayers.enumerated() { named += layer.parameters(prefix: "encoder.\(i)") }
        named += [("encoder.final_norm", encoderNorm), ("decoder.position_bias", decoderBias)]
        for (i, layer) in decoderLayers.enumerated() { named += layer.parameters(prefix: "decoder.\(i)") }
        named += [("decoder.final_norm", decoderNorm), ("output_projection", outputProjection)]
        return named
    }

    public var parameters: [Tensor] { namedParameters.map(\.1) }

    public func weights() -> SafeTensors {
        var file = SafeTensors()
        for (name, tensor) in namedParameters { file.add(name, tensor) }
        return file
    }

    // MARK: Encoder

    /// Bucket of every (query, key) token pair of an encoder input with `items` history items: [S, S] row-major.
    /// Split: (item-distance bucket, itemBuckets + code-offset bucket); standard: one T5 bucket of the token distance.
    public func encoderBuckets(items: Int) -> (first: [Int32], second: [Int32]?) {
        let p = layout.blockLength, s = items * p + 1
        let t = config.transformer
        if config.positionBias == .standard {
            return (RelativePositionBuckets.matrix(queryLength: s, keyLength: s, bidirectional: true,
                                                   buckets: t.positionBuckets, maxDistance: t.maxDistance), nil)
        }
        // EOS sits one item after the last and one offset past the block's codes.
        let item = (0..<s).map { $0 == s - 1 ? items : $0 / p }
        let offset = (0..<s).map { $0 == s - 1 ? p : $0 % p }
        var across = [Int32](repeating: 0, count: s * s), within = across
        for q in 0..<s {
            for k in 0..<s {
                across[q * s + k] = Int32(RelativePositionBuckets.bucket(item[k] - item[q], bidirectional: true,
                                                                         buckets: config.itemBuckets, maxDistance: config.maxHistory + 1))
                within[q * s + k] = Int32(config.itemBuckets + RelativePositionBuckets.bucket(
                    offset[k] - offset[q], bidirectional: true, buckets: config.codeBuckets, maxDistance: p + 1))
            }
        }
        return (across, within)
    }

    /// [H, S, S]: shared by every encoder layer (T5 computes it once per stack) and every row of the batch.
    public func encoderPositionBias(items: Int) -> Tensor {
        let s = items * layout.blockLength + 1
        let (first, second) = encoderBuckets(items: items)
        var bias = embedding(encoderBias, indices: first, indexShape: [s, s])
        if let second { bias = bias + embedding(encoderBias, indices: second, indexShape: [s, s]) }
        return bias.permuted([2, 0, 1])
    }

    /// tokens: [B, S] with S = items·P + 1; padding: [B, S] (1 = padding) or nil when no row is padded.
    /// Returns the encoder output [B, S, D].
    public func encode(tokens: [Int32], batch: Int, items: Int, padding: [Float]?, dropout: DropoutContext? = nil) -> Tensor {
        let s = items * layout.blockLength + 1
        precondition(tokens.count == batch * s, "encoder tokens for \(batch) rows of \(s), got \(tokens.count)")
        let mask = padding.map { AttentionMask.keyPadding(Tensor(shape: [batch, s], scalars: $0)) }
        let bias = encoderPositionBias(items: items)
        var x = embedding(tokenEmbedding, indices: tokens, indexShape: [batch, s])
        if let prefixEmbedding, let buckets = config.prefixBuckets {
            let rows = layout.prefixRows(tokens, rowLength: s, buckets: buckets)
            x = x + embedding(prefixEmbedding, indices: rows.first, indexShape: [batch, s])
                + embedding(prefixEmbedding, indices: rows.second, indexShape: [batch, s])
        }
        x = dropout.apply(x)
        for layer in encoderLayers { x = layer(x, positionBias: bias, mask: mask, dropout: dropout) }
        return dropout.apply(x.rmsNorm(weight: encoderNorm, eps: config.transformer.normEpsilon))
    }

    // MARK: Decoder

    /// [H, T, T] causal token-distance bias of the decoder's self-attention.
    public func decoderPositionBias(length: Int) -> Tensor {
        let t = config.transformer
        let buckets = RelativePositionBuckets.matrix(queryLength: length, keyLength: length, bidirectional: false,
                                                     buckets: t.positionBuckets, maxDistance: t.maxDistance)
        return embedding(decoderBias, indices: buckets, indexShape: [length, length]).permuted([2, 0, 1])
    }

    /// decoderTokens: [B, T] (PAD as the start token, then the target's first T − 1 code tokens); encoded: [B, S, D];
    /// allowed: each of the B·T positions' classes (the children of its prefix), which `prefixLogits` needs.
    /// Returns the logits [B·T, C].
    public func decode(encoded: Tensor, padding: [Float]?, decoderTokens: [Int32], batch: Int, allowed: AllowedClasses? = nil,
                       dropout: DropoutContext? = nil) -> Tensor {
        let length = decoderTokens.count / batch, s = encoded.shape[1]
        let crossMask = padding.map { AttentionMask.keyPadding(Tensor(shape: [batch, s], scalars: $0)) }
        let selfMask = AttentionMask.causal(length)
        let bias = decoderPositionBias(length: length)
        var y = embedding(tokenEmbedding, indices: decoderTokens, indexShape: [batch, length])
        if config.prefixesInDecoder, let prefixEmbedding, let buckets = config.prefixBuckets {
            let rows = layout.decoderPrefixRows(decoderTokens, rowLength: length, buckets: buckets)
            y = y + embedding(prefixEmbedding, indices: rows.first, indexShape: [batch, length])
                + embedding(prefixEmbedding, indices: rows.second, indexShape: [batch, length])
        }
        y = dropout.apply(y)
        for layer in decoderLayers {
            y = layer(y, encoderOutput: encoded, positionBias: bias, selfMask: selfMask, crossMask: crossMask, dropout: dropout)
        }
        y = dropout.apply(y.rmsNorm(weight: decoderNorm, eps: config.transformer.normEpsilon))
        let logits = y.linear(outputProjection).reshaped([batch * length, layout.classCount])
        guard config.prefixesInLogits, let prefixEmbedding, let buckets = config.prefixBuckets else { return logits }
        guard let allowed, allowed.rowCount == batch * length else {
            preconditionFailure("prefixLogits needs the allowed classes of all \(batch * length) decoded positions")
        }
        let pairs = layout.childPrefixRows(decoderTokens, rowLength: length, allowed: allowed, buckets: buckets)
        return logits + prefixLogits(y.reshaped([batch * length, config.transformer.dModel]), pairs: pairs, table: prefixEmbedding)
    }

    /// [R, C]: at each (position, child) pair of `pairs`, the position's state [R, D] dotted with the sum of the child
    /// prefix's two table rows; zero elsewhere. Composed of gathers, so the engine's rules give every gradient.
    func prefixLogits(_ states: Tensor, pairs: TokenLayout.ChildPrefixRows, table: Tensor) -> Tensor {
        let n = pairs.positions.count, (rows, classes) = (states.shape[0], layout.classCount)
        let stated = embedding(states, indices: pairs.positions, indexShape: [n])
        let vectors = embedding(table, indices: pairs.first, indexShape: [n]) + embedding(table, indices: pairs.second, indexShape: [n])
        let dots = (stated * vectors).sum(axis: 1)
        // Placed by a gather from [dots…, 0]: positions that are no pair read the trailing zero.
        var source = [Int32](repeating: Int32(n), count: rows * classes)
        for k in 0..<n { source[Int(pairs.positions[k]) * classes + Int(pairs.classes[k])] = Int32(k) }
        let padded = concat([dots, Tensor.zeros([1])], axis: 0).reshaped([n + 1, 1])
        return embedding(padded, indices: source, indexShape: [rows, classes]).reshaped([rows, classes])
    }

    /// Teacher-forced logits [R·Lt, C] of a batch's R decoded rows (R = B without extra paths); `allowed` as `decode`.
    public func logits(_ batch: MSCGRecBatch, allowed: AllowedClasses? = nil, dropout: DropoutContext? = nil) -> Tensor {
        let encoded = encode(tokens: batch.encoderTokens, batch: batch.size, items: batch.items, padding: batch.padding,
                             dropout: dropout)
        guard let sources = batch.decoderSources else {
            return decode(encoded: encoded, padding: batch.padding, decoderTokens: batch.decoderTokens, batch: batch.size,
                          allowed: allowed, dropout: dropout)
        }
        // Rows gathered (gradients summed back) so a history encoded once serves each of its decoded paths.
        let (s, d) = (encoded.shape[1], encoded.shape[2])
        let rows = embedding(encoded.reshaped([batch.size, s * d]), indices: sources, indexShape: [sources.count]).reshaped([sources.count, s, d])
        let padding = batch.padding.map { p in sources.flatMap { p[Int($0) * s..<(Int($0) + 1) * s] } }
        return decode(encoded: rows, padding: padding, decoderTokens: batch.decoderTokens, batch: sources.count, allowed: allowed,
                      dropout: dropout)
    }

    /// Mean cross-entropy over every target code of the batch: constrained to `allowed` (eq. 6; rows from the target
    /// modality's prefix tree) or over all classes when `allowed` is nil; `soft` blends a teacher's distributions
    /// into the targets (distillation; rows in the order of `labels`).
    public func loss(_ batch: MSCGRecBatch, allowed: AllowedClasses?, soft: SoftTargets? = nil, dropout: DropoutContext? = nil) -> Tensor {
        crossEntropy(logits(batch, allowed: allowed, dropout: dropout), targets: batch.labels, allowed: allowed, soft: soft)
    }
}
