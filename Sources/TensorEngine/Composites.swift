// Ops built from primitives: they need no backward rule of their own.

/// T5's gated GELU as the composite gelu_tanh(a) ⊙ b: the reference the fused `gatedGELU` is tested against.
public func gatedGELUComposite(_ a: Tensor, _ b: Tensor) -> Tensor { a.geluTanh() * b }

extension Tensor {
    /// x / max(‖x‖₂, eps) along the last axis (torch.nn.functional.normalize).
    public func l2Normalized(eps: Float = 1e-12) -> Tensor {
        let norm = square().sum(axis: -1, keepDim: true).sqrt()
        // max(norm, eps): where the norm is below eps the denominator is the constant eps (no gradient through it).
        let keep = norm.scalars.map { $0 >= eps ? Float(1) : 0 }
        let denominator = norm * Tensor(shape: norm.shape, scalars: keep)
            + Tensor(shape: norm.shape, scalars: keep.map { (1 - $0) * eps })
        return self / denominator
    }

    /// A constant of 0 (probability `p`) or 1/(1−p): what dropout multiplies by (also attention's `keep`).
    public static func dropoutKeep(_ shape: [Int], _ p: Float, using rng: inout SeededGenerator) -> Tensor {
        // Same draws as `rng.uniform() < p`, compared on the 24-bit integer scale (exact: a power-of-two rescale).
        let threshold = p * 0x1p24, keep = 1 / (1 - p)
        let mask = Storage(count: Shape.count(shape))
        for i in 0..<mask.count { mask.pointer[i] = Float(rng.next() >> 40) < threshold ? 0 : keep }
        return Tensor(shape: shape, storage: mask, node: nil)
    }

    /// Inverted dropout: zeroes each element with probability p and scales survivors by 1/(1-p).
    /// Identity when p == 0 or when `training` is false.
    public func dropout(_ p: Float, training: Bool, using rng: inout SeededGenerator) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout probability \(p) must be in [0, 1)")
        guard training && p > 0 else { return self }
        return self * Tensor.dropoutKeep(shape, p, using: &rng)
    }
}

/// Squared Euclidean distances between rows: out[i, j] = ‖x_i − c_j‖². x: [n, d], c: [k, d] → [n, k].
/// Written as ‖x‖² + ‖c‖² − 2·x·cᵀ so the heavy part is one sgemm (quantizer nearest-code search).
public func squaredDistances(_ x: Tensor, _ c: Tensor) -> Tensor {
    precondition(x.rank == 2 && c.rank == 2 && x.shape[1] == c.shape[1], "squaredDistances: \(x.shape) vs \(c.shape)")
    let xx = x.square().sum(axis: 1, keepDim: true)                   // [n, 1]
    let cc = c.square().sum(axis: 1).reshaped([1, c.shape[0]])         // [1, k]
    return xx + cc - 2 * matmul(x, c, transposeB: true)
}
