import TensorEngine

// Shape legend as in ViT.swift; R the number of rows asked for.

extension VisionTransformer {
    /// The final-norm tokens at flat rows `rows` of [B·T] (row = image·T + token), [R, D]: the rows of
    /// `callAsFunction`'s output, with the same gradients. Training reads only the CLS tokens and the masked patches
    /// (≈ 15 % of the global crops' rows, 10 % of the local ones'), so the last block's output projection, MLP and
    /// the final norm run on those rows only: its keys and values still see every token, so nothing else changes.
    /// That is about a sixth of a training step's products. `callAsFunction` is the reference it is tested against.
    public func callAsFunction(pixels: [Float], batch: Int, height: Int, width: Int, masked: [Bool]? = nil, rows: [Int32]) -> Tensor {
        let d = config.hiddenSize, p = config.patchSize, tokens = 1 + (height / p) * (width / p)
        var x = embeddings(pixels: pixels, batch: batch, height: height, width: width, masked: masked)
        for b in blocks.dropLast() { x = apply(b, x) }
        func pick(_ t: Tensor) -> Tensor { t.reshaped([batch * tokens, d]).indexSelect(axis: 0, rows) }
        guard let last = blocks.last else { return pick(x).layerNorm(weight: normWeight, bias: normBias, eps: config.layerNormEps) }
        let h = x.layerNorm(weight: last.norm1Weight, bias: last.norm1Bias, eps: config.layerNormEps)
        let y = pick(x) + linearT(pick(attention(last, h)), last.output, last.outputBias) * last.layerScale1
        return mlp(last, y).layerNorm(weight: normWeight, bias: normBias, eps: config.layerNormEps)
    }

    /// The CLS rows of `batch` images of `tokens` tokens each, for `callAsFunction(…, rows:)`.
    public static func clsRows(batch: Int, tokens: Int) -> [Int32] { (0..<batch).map { Int32($0 * tokens) } }
}
