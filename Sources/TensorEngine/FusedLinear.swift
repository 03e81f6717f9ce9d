import CVectorMath

// Shape legend: x: [rows…, I]; weight: [O, I] (Hugging Face's nn.Linear orientation); bias: [O]; out: [rows…, O].
// The composite it replaces, matmul(x, weight, transposeB: true) + bias (then .geluErf()), is its reference.

/// What the backward pass of `fusedLinear(_:weight:bias:gelu:)` needs besides its inputs.
struct LinearPlan {
    let rows: Int, inputs: Int, outputs: Int
    /// GELU′ at the pre-activation, [rows, O], when the op ends in GELU and a graph is recorded; nil otherwise.
    let derivative: Storage?
}

/// x·Wᵀ + b (then exact GELU when `gelu`) as one primitive. The bias is written into the output before the product,
/// which adds onto it (beta = 1), and GELU runs in place with its derivative stored for backward: the composite's
/// separate bias pass, activation pass, their buffers and, in backward, the zeroed gradient buffers they pass
/// through were a tenth of a ViT training step.
public func fusedLinear(_ x: Tensor, weight: Tensor, bias: Tensor, gelu: Bool = false) -> Tensor {
    precondition(weight.rank == 2 && x.rank >= 1 && x.shape.last == weight.shape[1] && bias.shape == [weight.shape[0]],
                 "linear: x \(x.shape), weight \(weight.shape), bias \(bias.shape)")
    let (outputs, inputs) = (weight.shape[0], weight.shape[1]), rows = x.count / max(inputs, 1)
    let out = Storage(count: rows * outputs)
    let po = out.pointer, pb = bias.data
    for r in 0..<rows { (po + r * outputs).update(from: pb, count: outputs) }
    if rows > 0 && outputs > 0 {
        sgemm(false, true, m: rows, n: outputs, k: inputs, x.data, lda: inputs, weight.data, ldb: inputs, beta: 1, po, ldc: outputs)
    }
    let records = GradMode.isEnabled && (x.requiresGrad || weight.requiresGrad || bias.requiresGrad)
    var derivative: Storage? = nil
    if gelu {
        // in place, by the vector kernels (AVX-512/AVX2 where the CPU has them; Swift's own code is SSE-only)
        if records {
            let pd = Storage(count: rows * outputs), dp = pd.pointer
            Parallelism.forEachChunk(rows * outputs, grain: 1 << 16) { r in vm_gelu_erf_with_derivative(po + r.lowerBound, dp + r.lowerBound, r.count) }
            derivative = pd
        } else {
            Parallelism.forEachChunk(rows * outputs, grain: 1 << 16) { r in vm_gelu_erf(po + r.lowerBound, r.count) }
        }
    }
    return .result(Array(x.shape.dropLast()) + [outputs], out, .linear(LinearPlan(rows: rows, inputs: inputs, outputs: outputs, derivative: derivative)),
                   [x, weight, bias])
}

/// x·Φ(x) and its derivative Φ(x) + x·φ(x), by the same vectorisable erf and exp as `geluErf` and its rule: the
/// scalar reference of `vm_gelu_erf_with_derivative`.
@inline(__always)
func geluErfWithDerivative(_ v: Float) -> (value: Float, derivative: Float) {
    let cdf = 0.5 * (1 + fastErf(v * 0.70710678118654752))
    let pdf = fastExp(-0.5 * v * v) * 0.39894228040143268
    return (v * cdf, cdf + v * pdf)
}

extension Gradients {
    /// With G = g (⊙ GELU′): dx += G·W; dW += Gᵀ·x; db += Σ_rows G.
    static func linearBackward(_ p: LinearPlan, inputs x: [Tensor], g: UnsafePointer<Float>, into d: InputGradients) {
        let (rows, inputs, outputs) = (p.rows, p.inputs, p.outputs)
        guard rows > 0 && outputs > 0 else { return }
        var scaled: Storage? = nil
        if let derivative = p.derivative {
            let s = Storage(count: rows * outputs), ps = s.pointer, pd = derivative.pointer
            Parallelism.forEachChunk(rows * outputs, grain: 1 << 16) { r in for i in r { ps[i] = g[i] * pd[i] } }
            scaled = s
        }
        let G = scaled.map { UnsafePointer($0.pointer) } ?? g
        if let dx = d.target(0) {
            sgemm(false, false, m: rows, n: inputs, k: outputs, G, lda: outputs, x[1].data, ldb: inputs, beta: dx.beta, dx.pointer, ldc: inputs)
        }
        if let dw = d.target(1) {
            sgemm(true, false, m: outputs, n: inputs, k: rows, G, lda: outputs, x[0].data, ldb: inputs, beta: dw.beta, dw.pointer, ldc: inputs)
        }
        if let db = d[2] {
            // row by row: the inner loop over outputs has no carried dependency, so it vectorises
            for r in 0..<rows {
                let row = G + r * outputs
                for j in 0..<outputs { db[j] += row[j] }
            }
        }
    }
}
