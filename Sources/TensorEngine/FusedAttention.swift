import CBLAS
import Dispatch

// Shape legend: B batch, H heads, K head width, Tq/Tk query/key lengths.
//   q: [B, Tq, H·K], k and v: [B, Tk, H·K] (projections, heads side by side: no permutes needed)
//   bias: [H, Tq, Tk] or [B, H, Tq, Tk] (differentiable); mask: additive constant broadcastable to [B, H, Tq, Tk]
//   keep: optional attention dropout, [B, H, Tq, Tk] of 0 or 1/(1−p) (a constant drawn by the caller)
//   out: [B, Tq, H·K] = per head (softmax(scale·q·kᵀ + bias + mask) ⊙ keep)·v
// The composite built from matmul/softmax/permute (Models' reference path) is what this is tested against.

/// What the backward pass of `scaledDotProductAttention` needs besides its inputs.
struct AttentionPlan {
    let batch: Int, heads: Int, headDim: Int, queryLength: Int, keyLength: Int
    let scale: Float
    let biasStrides: [Int]?     // broadcast strides of the bias over [B, H, Tq, Tk]
    let probabilities: Storage  // [B, H, Tq, Tk], before dropout
    let keep: Tensor?           // [B, H, Tq, Tk] dropout scale, or nil
    let dropped: Storage?       // probabilities ⊙ keep, what multiplied v
}

/// Multi-head scaled dot-product attention as one primitive. Work is split across (batch, head) pairs, each
/// running single-threaded BLAS, which beats multi-threaded BLAS on these small per-head matrices.
public func scaledDotProductAttention(query q: Tensor, key k: Tensor, value v: Tensor, heads: Int, scale: Float,
                                      bias: Tensor? = nil, mask: Tensor? = nil, keep: Tensor? = nil) -> Tensor {
    precondition(q.rank == 3 && k.rank == 3 && v.shape == k.shape && q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2],
                 "attention shapes: q \(q.shape), k \(k.shape), v \(v.shape)")
    let (batch, tq, width) = (q.shape[0], q.shape[1], q.shape[2]), tk = k.shape[1]
    precondition(width % heads == 0, "width \(width) not divisible by \(heads) heads")
    let headDim = width / heads
    let full = [batch, heads, tq, tk]
    let biasStrides = bias.map { b -> [Int] in
        precondition(Shape.broadcast(b.shape, full) == full, "bias \(b.shape) does not broadcast to \(full)")
        return Shape.broadcastStrides(b.shape, to: full)
    }
    let maskStrides = mask.map { m -> [Int] in
        precondition(Shape.broadcast(m.shape, full) == full, "mask \(m.shape) does not broadcast to \(full)")
        return Shape.broadcastStrides(m.shape, to: full)
    }
    precondition(keep == nil || keep!.shape == full, "attention dropout keep \(keep!.shape) must be \(full)")
    let probabilities = Storage(count: batch * heads * tq * tk)
    let dropped = keep.map { _ in Storage(count: batch * heads * tq * tk) }
    let out = Storage(count: batch * tq * width)
    let (pKeep, pDropped) = (keep?.data, dropped?.pointer)
    let (pq, pk, pv, pb, pm, pp, po) = (q.data, k.data, v.data, bias?.data, mask?.data, probabilities.pointer, out.pointer)
    let direct = tq * tk * headDim <= directAttentionWork
    Parallelism.forEachHead(batch * heads, work: tq * tk * headDim) { pair in
        let (b, h) = pair.quotientAndRemainder(dividingBy: heads)
        let qs = pq + b * tq * width + h * headDim, ks = pk + b * tk * width + h * headDim, vs = pv + b * tk * width + h * headDim
        let scores = pp + pair * tq * tk
        attentionScores(qs, ks, into: scores, width: width, tq: tq, tk: tk, headDim: headDim, scale: scale, direct: direct)
        for i in 0..<tq {
            let row = scores + i * tk
            if let pb, let s = biasStrides {
                let base = b * s[0] + h * s[1] + i * s[2]
                for j in 0..<tk { row[j] += pb[base + j * s[3]] }
            }
            if let pm, let s = maskStrides {
                let base = b * s[0] + h * s[1] + i * s[2]
                for j in 0..<tk { row[j] += pm[base + j * s[3]] }
            }
            softmaxRow(row, row, tk)
        }
        var used = UnsafePointer(scores)
        if let pKeep, let pDropped {
            let block = pair * tq * tk
            for e in 0..<(tq * tk) { pDropped[block + e] = scores[e] * pKeep[block + e] }
            used = UnsafePointer(pDropped + block)
        }
        attentionMix(used, vs, into: po + b * tq * width + h * headDim, width: width, tq: tq, tk: tk, headDim: headDim, direct: direct)
    }
    let plan = AttentionPlan(batch: batch, heads: heads, headDim: headDim, queryLength: tq, keyLength: tk, scale: scale,
                             biasStrides: biasStrides, probabilities: probabilities, keep: keep, dropped: dropped)
    return .result([batch, tq, width], out, .attention(plan), [q, k, v] + (bias.map { [$0] } ?? []))
}

/// Per (batch, head) pair, up to this many multiply-adds (tq·tk·head width) are done by plain loops: a decoding step's
/// one query against a few cached keys costs BLAS more in call and packing overhead than in arithmetic.
let directAttentionWork = 8192

/// scores[i, j] = scale · q_i · k_j for one pair (rows `width` apart), by BLAS or (`direct`) by plain loops.
@inline(__always)
func attentionScores(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, into scores: UnsafeMutablePointer<Float>,
                     width: Int, tq: Int, tk: Int, headDim: Int, scale: Float, direct: Bool) {
    guard direct else {
        return sgemm(false, true, m: tq, n: tk, k: headDim, alpha: scale, q, lda: width, k, ldb: width, beta: 0, scores, ldc: tk)
    }
    for i in 0..<tq {
        let qi = q + i * width
        for j in 0..<tk { scores[i * tk + j] = scale * rowDot(qi, k + j * width, headDim) }
    }
}

/// out_i = Σ_j p[i, j] · v_j for one pair (out and v rows `width` apart), by BLAS or (`direct`) by plain loops.
@inline(__always)
func attentionMix(_ p: UnsafePointer<Float>, _ v: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                  width: Int, tq: Int, tk: Int, headDim: Int, direct: Bool) {
    guard direct else {
        return sgemm(false, false, m: tq, n: headDim, k: tk, p, lda: tk, v, ldb: width, beta: 0, out, ldc: width)
    }
    for i in 0..<tq {
        let oi = out + i * width
        oi.update(repeating: 0, count: headDim)
        for j in 0..<tk {
            let weight = p[i * tk + j], vj = v + j * width
            for c in 0..<headDim { oi[c] += weight * vj[c] }
        }
    }
}

extension Gradients {
    /// With D = P ⊙ keep (D = P without dropout): dv += Dᵀ·dO; dP = (dO·vᵀ) ⊙ keep; dS = P ⊙ (dP − rowsum(dP ⊙ P));
    /// dq += scale·dS·k; dk += scale·dSᵀ·q; dbias += Σ dS.
    static func attentionBackward(_ p: AttentionPlan, inputs x: [Tensor], g: UnsafePointer<Float>, into d: InputGradients) {
        let (tq, tk, headDim, heads) = (p.queryLength, p.keyLength, p.headDim, p.heads)
        let width = heads * headDim
        let (pq, pk, pv, pp) = (x[0].data, x[1].data, x[2].data, p.probabilities.pointer)
        // every (batch, head) pair writes its own block of dq, dk and dv once: stored into fresh buffers
        let (dq, dk, dv) = (d.target(0), d.target(1), d.target(2))
        let dBias = x.count > 3 ? d[3] : nil
        let scores = Storage(count: p.batch * heads * tq * tk)   // dS per pair, reduced into dBias afterwards
        let ds = scores.pointer
        Parallelism.forEachHead(p.batch * heads, work: tq * tk * headDim) { pair in
            let (b, h) = pair.quotientAndRemainder(dividingBy: heads)
            let offsetQ = b * tq * width + h * headDim, offsetK = b * tk * width + h * headDim
            let probs = pp + pair * tq * tk, dScores = ds + pair * tq * tk, dOut = g + offsetQ
            let used = p.dropped.map { UnsafePointer($0.pointer + pair * tq * tk) } ?? UnsafePointer(probs)
            if let dv { sgemm(true, false, m: tk, n: headDim, k: tq, used, lda: tk, dOut, ldb: width, beta: dv.beta, dv.pointer + offsetK, ldc: width) }
            sgemm(false, true, m: tq, n: tk, k: headDim, dOut, lda: width, pv + offsetK, ldb: width, beta: 0, dScores, ldc: tk)
            if let keep = p.keep?.data {
                for e in 0..<(tq * tk) { dScores[e] *= keep[pair * tq * tk + e] }
            }
            for i in 0..<tq {
                let pr = probs + i * tk, dr = dScores + i * tk
                let dot = rowDot(dr, pr, tk)
                for j in 0..<tk { dr[j] = pr[j] * (dr[j] - dot) }
            }
            if let dq {
                sgemm(false, false, m: tq, n: headDim, k: tk, alpha: p.scale, dScores, lda: tk, pk + offsetK, ldb: width, beta: dq.beta, dq.pointer + offsetQ, ldc: width)
            }
            if let dk {
                sgemm(true, false, m: tk, n: headDim, k: tq, alpha: p.scale, dScores, lda: tk, pq + offsetQ, ldb: width, beta: dk.beta, dk.pointer + offsetK, ldc: width)
            }
        }
        guard let dBias, let s = p.biasStrides else { return }
        for pair in 0..<(p.batch * heads) {
            let (b, h) = pair.quotientAndRemainder(dividingBy: heads)
            for i in 0..<tq {
                let base = b * s[0] + h * s[1] + i * s[2], row = ds + (pair * tq + i) * tk
                for j in 0..<tk { dBias[base + j * s[3]] += row[j] }
            }
        }
    }
}

extension Parallelism {
    /// Runs `body` for every (batch, head) pair across the workers with OpenBLAS held to one thread
    /// meanwhile (OpenBLAS must not run its own threads inside ours).
    /// `work` is the largest m·n·k of the products inside `body`: OpenBLAS runs a product below 65536·4 single-threaded
    /// by itself, so its thread count is only switched (which costs thread wake-ups) when a product could exceed that.
    static func forEachHead(_ pairs: Int, work: Int, _ body: (Int) -> Void) {
        if availableWorkers <= 1 || pairs <= 1 {
            for pair in 0..<pairs { body(pair) }
            return
        }
        if work < 65_536 * 4 {
            forEachChunk(pairs, grain: 1) { range in for pair in range { body(pair) } }
            return
        }
        let previous = Int(openblas_get_num_threads())
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(previous)) }
        forEachChunk(pairs, grain: 1) { range in for pair in range { body(pair) } }
    }
}
