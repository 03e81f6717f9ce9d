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
        // Four 16-bit draws per 64-bit output (low lane first; xoshiro256**'s low bits are as good as its high ones),
        // p quantised to 1/65536: drawing the masks was the largest cost after sgemm in SASRec training.
        let threshold = UInt64((p * 65536).rounded()), keep = 1 / (1 - p)
        let mask = Storage(count: Shape.count(shape))
        let out = mask.pointer, count = mask.count, whole = count / 4 * 4
        var i = 0
        while i < whole {
            let r = rng.next()
            out[i] = r & 0xFFFF < threshold ? 0 : keep
            out[i + 1] = (r >> 16) & 0xFFFF < threshold ? 0 : keep
            out[i + 2] = (r >> 32) & 0xFFFF < threshold ? 0 : keep
            out[i + 3] = r >> 48 < threshold ? 0 : keep
            i += 4
        }
        if i < count {
            let r = rng.next()
            for lane in 0..<(count - i) { out[i + lane] = (r >> UInt64(16 * lane)) & 0xFFFF < threshold ? 0 : keep }
        }
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
