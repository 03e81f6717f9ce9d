import CVectorMath
import Foundation

/// Every backward rule of the engine, in one switch (the compiler rejects a primitive without one).
/// Rules ADD into the zeroed buffers `d[i]` (nil when input i needs no gradient), or, when they write every element,
/// store or add into `d.target(i)` as it says; `g` is d(loss)/d(output).
enum Gradients {
    static func apply(_ op: Op, inputs x: [Tensor], output y: Tensor, dOut g: UnsafePointer<Float>, into d: InputGradients) {
        let n = y.count
        switch op {
        case .add:
            if let da = d.target(0) { accumulateReduced(g, from: y.shape, into: da, to: x[0].shape) }
            if let db = d.target(1) { accumulateReduced(g, from: y.shape, into: db, to: x[1].shape) }
        case .sub:
            if let da = d.target(0) { accumulateReduced(g, from: y.shape, into: da, to: x[0].shape) }
            if let db = d.target(1) { accumulateReduced(g, from: y.shape, into: db, to: x[1].shape, scale: -1) }
        case .mul:
            if let da = d.target(0) { accumulateReduced(g, from: y.shape, into: da, to: x[0].shape, factor: (UnsafePointer(x[1].data), x[1].shape)) }
            if let db = d.target(1) { accumulateReduced(g, from: y.shape, into: db, to: x[1].shape, factor: (UnsafePointer(x[0].data), x[0].shape)) }
        case .div:
            // d(a/b)/da = 1/b;  d(a/b)/db = -(a/b)/b = -y/b
            let reciprocal = withoutGrad { Tensor.filled(x[1].shape, value: 1) / x[1] }
            if let da = d.target(0) { accumulateReduced(g, from: y.shape, into: da, to: x[0].shape, factor: (UnsafePointer(reciprocal.data), reciprocal.shape)) }
            if let db = d.target(1) {
                let yOverB = withoutGrad { y.detached() / x[1] }
                accumulateReduced(g, from: y.shape, into: db, to: x[1].shape, factor: (UnsafePointer(yOverB.data), yOverB.shape), scale: -1)
            }
        case .affine(let scale, _):
            unaryRule(d, n) { i in scale * g[i] }
        case .exp:
            let o = y.data; unaryRule(d, n) { i in g[i] * o[i] }
        case .log:
            let a = x[0].data; unaryRule(d, n) { i in g[i] / a[i] }
        case .sqrt:
            let o = y.data; unaryRule(d, n) { i in g[i] * 0.5 / o[i] }
        case .rsqrt:
            let o = y.data; unaryRule(d, n) { i in -0.5 * g[i] * o[i] * o[i] * o[i] }
        case .tanh:
            let o = y.data; unaryRule(d, n) { i in g[i] * (1 - o[i] * o[i]) }
        case .relu:
            let a = x[0].data; unaryRule(d, n) { i in a[i] > 0 ? g[i] : 0 }
        case .square:
            let a = x[0].data; unaryRule(d, n) { i in 2 * a[i] * g[i] }
        case .geluTanh:
            let a = x[0].data
            unaryRule(d, n) { i in g[i] * geluTanhWithDerivative(a[i]).derivative }
        case .gatedGELU:
            // Both gradients in one pass; the common case (both required) has no optionals in the loop so it vectorises.
            let a = x[0].data, b = x[1].data
            let targetA = d.target(0), targetB = d.target(1)
            let da = targetA?.pointer ?? UnsafeMutablePointer<Float>.allocate(capacity: n)
            let db = targetB?.pointer ?? UnsafeMutablePointer<Float>.allocate(capacity: n)
            defer {
                if targetA == nil { da.deallocate() }
                if targetB == nil { db.deallocate() }
            }
            let addA: Int32 = targetA?.fresh == false ? 1 : 0, addB: Int32 = targetB?.fresh == false ? 1 : 0
            Parallelism.forEachChunk(n, grain: 1 << 14) { r in
                let i = r.lowerBound
                vm_gated_gelu_tanh_backward(a + i, b + i, g + i, da + i, db + i, r.count, addA, addB)
            }
        case .geluExact:
            let a = x[0].data
            unaryRule(d, n) { i in
                let v = a[i]
                // the vectorisable erf and exp (within 5e-7 and 3 ulp): this rule runs over the ViT's widest activations
                let cdf = 0.5 * (1 + fastErf(v * 0.70710678118654752))
                let pdf = fastExp(-0.5 * v * v) * 0.39894228040143268
                return g[i] * (cdf + v * pdf)
            }
        case .matmul(let plan):
            matmulBackward(plan, a: x[0].data, b: x[1].data, g: g, da: d.target(0), db: d.target(1))
        case .attention(let plan):
            attentionBackward(plan, inputs: x, g: g, into: d)
        case .linear(let plan):
            linearBackward(plan, inputs: x, g: g, into: d)
        case .sum(let outer, let count, let inner), .mean(let outer, let count, let inner):
            guard let da = d[0] else { return }
            var scale: Float = 1
            if case .mean = op { scale = 1 / Float(count) }
            for o in 0..<outer { for j in 0..<count { for i in 0..<inner {
                da[(o * count + j) * inner + i] += scale * g[o * inner + i]
            } } }
        case .max(_, let count, let inner, let argmax):
            guard let da = d[0] else { return }
            for (p, j) in argmax.enumerated() {
                let (o, i) = p.quotientAndRemainder(dividingBy: inner)
                da[(o * count + Int(j)) * inner + i] += g[p]
            }
        case .softmax:
            guard let da = d[0] else { return }
            let o = y.data, dim = y.lastDim
            Parallelism.forEachChunk(y.rows, grain: max(1, 8192 / max(dim, 1))) { rows in
                for r in rows {
                    let dot = rowDot(g + r * dim, o + r * dim, dim)
                    for j in 0..<dim { da[r * dim + j] += o[r * dim + j] * (g[r * dim + j] - dot) }
                }
            }
        case .logSoftmax:
            guard let da = d[0] else { return }
            let o = y.data, dim = y.lastDim
            for r in 0..<y.rows {
                let total = rowSum(g + r * dim, dim)
                for j in 0..<dim { da[r * dim + j] += g[r * dim + j] - Foundation.exp(o[r * dim + j]) * total }
            }
        case .layerNorm(let means, let rstds):
            normBackward(x: x[0], weight: x[1], means: means, rstds: rstds, g: g, dx: d.target(0), dw: d[1], db: d[2])
        case .rmsNorm(let rstds):
            normBackward(x: x[0], weight: x[1], means: nil, rstds: rstds, g: g, dx: d.target(0), dw: d[1], db: nil)
        case .reshape:
            unaryRule(d, n) { i in g[i] }
        case .permute(let perm):
            guard let da = d.target(0) else { return }
            var inverse = perm
            for (i, p) in perm.enumerated() { inverse[p] = i }
            permuteCopy(g, shape: y.shape, perm: inverse, into: da.pointer, accumulate: !da.fresh)
        case .concat(let axis):
            let outer = Shape.count(Array(y.shape[..<axis])), inner = Shape.count(Array(y.shape[(axis + 1)...]))
            var offset = 0
            for (k, input) in x.enumerated() {
                let len = input.shape[axis] * inner
                if let dk = d.target(k) {
                    for o in 0..<outer {
                        let row = g + o * y.shape[axis] * inner + offset
                        dk.write((o * len)..<((o + 1) * len)) { i in row[i - o * len] }
                    }
                }
                offset += len
            }
        case .slice(let axis, let start):
            guard let da = d[0] else { return }
            let outer = Shape.count(Array(y.shape[..<axis])), inner = Shape.count(Array(y.shape[(axis + 1)...]))
            let len = y.shape[axis] * inner, full = x[0].shape[axis] * inner
            for o in 0..<outer { for j in 0..<len { da[o * full + start * inner + j] += g[o * len + j] } }
        case .indexSelect(let axis, let indices):
            guard let da = d[0] else { return }
            let outer = Shape.count(Array(y.shape[..<axis])), inner = Shape.count(Array(y.shape[(axis + 1)...]))
            let size = x[0].shape[axis]
            for o in 0..<outer { for (j, index) in indices.enumerated() { for i in 0..<inner {
                da[(o * size + Int(index)) * inner + i] += g[(o * indices.count + j) * inner + i]
            } } }
        case .embedding(let indices, let paddingIndex):
            guard let dt = d[0] else { return }
            let dim = x[0].shape[1]
            for (p, index) in indices.enumerated() where index != paddingIndex {
                for j in 0..<dim { dt[Int(index) * dim + j] += g[p * dim + j] }
            }
        case .crossEntropy(let probabilities, let targets, let allowed, let soft, let counted):
            guard let dz = d[0], counted > 0 else { return }
            let classes = x[0].shape[1], scale = g[0] / Float(counted), p = probabilities.pointer
            Parallelism.forEachChunk(targets.count, grain: max(1, 16_384 / max(classes, 1))) { rows in
                for r in rows where targets[r] >= 0 {
                    let (row, probs) = (dz + r * classes, p + r * classes)
                    if let allowed {
                        for k in allowed.row(r) { row[Int(k)] += scale * probs[Int(k)] }
                    } else {
                        for k in 0..<classes { row[k] += scale * probs[k] }
                    }
                    let m = soft?.mix(ofRow: r) ?? 0
                    row[Int(targets[r])] -= scale * (1 - m)
                    if let soft, m > 0 {
                        for k in soft.range(r) { row[Int(soft.classes[k])] -= scale * m * soft.weights[k] }
                    }
                }
            }
        case .bceWithLogits(let targets):
            guard let dz = d[0] else { return }
            let a = x[0].data, scale = g[0] / Float(x[0].count)
            for i in 0..<x[0].count { dz[i] += scale * (1 / (1 + Foundation.exp(-a[i])) - targets[i]) }
        }
    }

    /// d[0][i] = or += f(i) for an elementwise rule.
    @inline(__always)
    private static func unaryRule(_ d: InputGradients, _ n: Int, _ f: (Int) -> Float) {
        guard let da = d.target(0) else { return }
        Parallelism.forEachChunk(n, grain: 1 << 16) { r in da.write(r, f) }
    }

    /// Gradients of C = op(A)·op(B): stored by the first product into a fresh buffer, then added (beta 1), so a
    /// shared operand (stride 0) sums over the batch.
    private static func matmulBackward(_ p: MatmulPlan, a: UnsafePointer<Float>, b: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                       da: GradientTarget?, db: GradientTarget?) {
        let (m, n, k) = (p.m, p.n, p.k)
        if p.batch == 0, let db, db.fresh { db.pointer.update(repeating: 0, count: p.sharedB ? k * n : 0) }   // no product writes it
        for i in 0..<p.batch {
            let ai = a + i * p.strideA, bi = b + i * p.strideB, gi = g + i * p.strideC
            if let da {
                let dai = da.pointer + i * p.strideA, beta: Float = i > 0 && p.strideA == 0 ? 1 : da.beta
                switch (p.transposeA, p.transposeB) {
                case (false, false): sgemm(false, true, m: m, n: k, k: n, gi, lda: n, bi, ldb: n, beta: beta, dai, ldc: k)
                case (true, false): sgemm(false, true, m: k, n: m, k: n, bi, lda: n, gi, ldb: n, beta: beta, dai, ldc: m)
                case (false, true): sgemm(false, false, m: m, n: k, k: n, gi, lda: n, bi, ldb: k, beta: beta, dai, ldc: k)
                case (true, true): sgemm(true, true, m: k, n: m, k: n, bi, lda: k, gi, ldb: n, beta: beta, dai, ldc: m)
                }
            }
            if let db {
                let dbi = db.pointer + i * p.strideB, beta: Float = i > 0 && p.strideB == 0 ? 1 : db.beta
                switch (p.transposeA, p.transposeB) {
                case (false, false): sgemm(true, false, m: k, n: n, k: m, ai, lda: k, gi, ldb: n, beta: beta, dbi, ldc: n)
                case (true, false): sgemm(false, false, m: k, n: n, k: m, ai, lda: m, gi, ldb: n, beta: beta, dbi, ldc: n)
                case (false, true): sgemm(true, false, m: n, n: k, k: m, gi, lda: n, ai, ldb: k, beta: beta, dbi, ldc: k)
                case (true, true): sgemm(true, true, m: n, n: k, k: m, gi, lda: n, ai, ldb: m, beta: beta, dbi, ldc: k)
                }
            }
        }
    }

    /// Layer norm (with means) and RMS norm (means nil): x̂ = (x − μ)·rstd, y = x̂·w (+ b).
    /// Rows run in parallel chunks; each chunk sums its own dw/db, added together at the end.
    private static func normBackward(x: Tensor, weight: Tensor, means: [Float]?, rstds: [Float], g: UnsafePointer<Float>,
                                     dx: GradientTarget?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?) {
        let dim = x.lastDim, rows = x.rows, px = x.data, w = weight.data
        let chunks = max(1, min(Parallelism.availableWorkers, rows / 64))
        let partials = Storage(zeros: chunks * 2 * dim)     // per chunk: dw then db
        let chunkSize = (rows + chunks - 1) / chunks
        Parallelism.forEachChunk(chunks, grain: 1) { chunkRange in
            for chunk in chunkRange {
                let pdw = partials.pointer + chunk * 2 * dim, pdb = pdw + dim
                var xhat = [Float](repeating: 0, count: dim), dxhat = [Float](repeating: 0, count: dim)
                for r in (chunk * chunkSize)..<min(rows, (chunk + 1) * chunkSize) {
                    let mean = means?[r] ?? 0, rstd = rstds[r]
                    var sumDxhat: Float = 0, sumDxhatXhat: Float = 0
                    for j in 0..<dim {
                        let gj = g[r * dim + j]
                        xhat[j] = (px[r * dim + j] - mean) * rstd
                        dxhat[j] = gj * w[j]
                        sumDxhat += dxhat[j]
                        sumDxhatXhat += dxhat[j] * xhat[j]
                        pdw[j] += gj * xhat[j]
                        pdb[j] += gj
                    }
                    guard let dx else { continue }
                    let meanDxhat = means == nil ? 0 : sumDxhat / Float(dim), meanDxhatXhat = sumDxhatXhat / Float(dim)
                    dx.write((r * dim)..<((r + 1) * dim)) { i in
                        let j = i - r * dim
                        return rstd * (dxhat[j] - meanDxhat - xhat[j] * meanDxhatXhat)
                    }
                }
            }
        }
        for chunk in 0..<chunks {
            let pdw = partials.pointer + chunk * 2 * dim, pdb = pdw + dim
            for j in 0..<dim { dw?[j] += pdw[j]; db?[j] += pdb[j] }
        }
    }
}
