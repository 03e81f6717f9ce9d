import CVectorMath
import Foundation

// Shape legend: x, y: any shapes that broadcast (NumPy rules); out: the broadcast shape.

/// Calls `body(offsetA, offsetB, offsetOut, n, incA, incB)` for every innermost row of a broadcast
/// iteration over `shape`, where incA/incB are the inputs' strides along the last axis (0 when broadcast).
@inline(__always)
func forEachBroadcastRow(_ shape: [Int], _ stridesA: [Int], _ stridesB: [Int],
                         _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
    let rank = shape.count
    if rank == 0 { body(0, 0, 0, 1, 0, 0); return }
    let n = shape[rank - 1]
    let rows = Shape.count(shape) / max(n, 1)
    if n == 0 || rows == 0 { return }
    var index = [Int](repeating: 0, count: rank)
    var offA = 0, offB = 0
    for row in 0..<rows {
        body(offA, offB, row * n, n, stridesA[rank - 1], stridesB[rank - 1])
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            offA += stridesA[axis]
            offB += stridesB[axis]
            if index[axis] < shape[axis] { break }
            offA -= stridesA[axis] * shape[axis]
            offB -= stridesB[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

enum BinaryKind { case add, sub, mul, div }

/// out = a (op) b with broadcasting; no graph.
func binaryKernel(_ kind: BinaryKind, _ a: Tensor, _ b: Tensor) -> (shape: [Int], storage: Storage) {
    guard let shape = Shape.broadcast(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Storage(count: Shape.count(shape))
    let pa = a.data, pb = b.data, po = out.pointer
    if a.shape == b.shape {
        Parallelism.forEachChunk(out.count) { r in
            switch kind {
            case .add: for i in r { po[i] = pa[i] + pb[i] }
            case .sub: for i in r { po[i] = pa[i] - pb[i] }
            case .mul: for i in r { po[i] = pa[i] * pb[i] }
            case .div: for i in r { po[i] = pa[i] / pb[i] }
            }
        }
        return (shape, out)
    }
    let sa = Shape.broadcastStrides(a.shape, to: shape), sb = Shape.broadcastStrides(b.shape, to: shape)
    forEachBroadcastRow(shape, sa, sb) { oa, ob, oo, n, ia, ib in
        // Literal strides for the common rows (same shape, a broadcast scalar per row) let the inlined loop vectorise.
        switch (ia, ib) {
        case (1, 1): binaryRow(kind, po + oo, pa + oa, 1, pb + ob, 1, n)
        case (1, 0): binaryRow(kind, po + oo, pa + oa, 1, pb + ob, 0, n)
        case (0, 1): binaryRow(kind, po + oo, pa + oa, 0, pb + ob, 1, n)
        default: binaryRow(kind, po + oo, pa + oa, ia, pb + ob, ib, n)
        }
    }
    return (shape, out)
}

@inline(__always)
private func binaryRow(_ kind: BinaryKind, _ o: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Float>, _ ia: Int,
                       _ b: UnsafeMutablePointer<Float>, _ ib: Int, _ n: Int) {
    switch kind {
    case .add: for j in 0..<n { o[j] = a[j * ia] + b[j * ib] }
    case .sub: for j in 0..<n { o[j] = a[j * ia] - b[j * ib] }
    case .mul: for j in 0..<n { o[j] = a[j * ia] * b[j * ib] }
    case .div: for j in 0..<n { o[j] = a[j * ia] / b[j * ib] }
    }
}

/// Adds `source` (shape `from`) into `gradient` (shape `to`, which broadcasts to `from`; stored if it is fresh),
/// summing over broadcast axes: the backward of broadcasting. `scale` multiplies each term, `factor` (broadcasting
/// to `from`, optional) too.
func accumulateReduced(_ source: UnsafePointer<Float>, from: [Int], into gradient: GradientTarget, to: [Int],
                       factor: (pointer: UnsafePointer<Float>, shape: [Int])? = nil, scale: Float = 1) {
    if from == to {
        if let f = factor?.pointer, factor?.shape == from {
            Parallelism.forEachChunk(Shape.count(from)) { r in gradient.write(r) { i in scale * source[i] * f[i] } }
            return
        }
        if factor == nil {
            Parallelism.forEachChunk(Shape.count(from)) { r in gradient.write(r) { i in scale * source[i] } }
            return
        }
    }
    let target = gradient.pointer
    if gradient.fresh { target.update(repeating: 0, count: Shape.count(to)) }
    let st = Shape.broadcastStrides(to, to: from)
    let sf = factor.map { Shape.broadcastStrides($0.shape, to: from) } ?? [Int](repeating: 0, count: from.count)
    forEachBroadcastRow(from, st, sf) { ot, of, os, n, it, inf in
        // Unit and zero strides get their own loops: the compiler vectorises those, not the general strided one.
        let t = target + ot, src = source + os
        switch (factor?.pointer, it, inf) {
        case (nil, 1, _): for j in 0..<n { t[j] += scale * src[j] }
        case (nil, 0, _):
            var sum: Float = 0
            for j in 0..<n { sum += src[j] }
            t[0] += scale * sum
        case (let f?, 1, 1): for j in 0..<n { t[j] += scale * src[j] * f[of + j] }
        case (let f?, 1, 0):
            let c = scale * f[of]
            for j in 0..<n { t[j] += c * src[j] }
        case (let f?, _, _): for j in 0..<n { t[j * it] += scale * src[j] * f[of + j * inf] }
        case (nil, _, _): for j in 0..<n { t[j * it] += scale * src[j] }
        }
    }
}

public func + (a: Tensor, b: Tensor) -> Tensor { let r = binaryKernel(.add, a, b); return .result(r.shape, r.storage, .add, [a, b]) }
public func - (a: Tensor, b: Tensor) -> Tensor { let r = binaryKernel(.sub, a, b); return .result(r.shape, r.storage, .sub, [a, b]) }
public func * (a: Tensor, b: Tensor) -> Tensor { let r = binaryKernel(.mul, a, b); return .result(r.shape, r.storage, .mul, [a, b]) }
public func / (a: Tensor, b: Tensor) -> Tensor { let r = binaryKernel(.div, a, b); return .result(r.shape, r.storage, .div, [a, b]) }

public func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
public func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
public func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s, shift: 0) }
public func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s, shift: 0) }
public func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s, shift: 0) }
public prefix func - (a: Tensor) -> Tensor { a.affine(scale: -1, shift: 0) }

// MARK: unary

let sqrt2OverPi: Float = 0.7978845608028654
let geluCubic: Float = 0.044715

extension Tensor {
    private func unary(_ op: Op, _ f: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Range<Int>) -> Void) -> Tensor {
        let out = Storage(count: count)
        let px = data, po = out.pointer
        Parallelism.forEachChunk(count, grain: 1 << 16) { r in f(px, po, r) }
        return .result(shape, out, op, [self])
    }

    public func affine(scale: Float, shift: Float) -> Tensor {
        unary(.affine(scale: scale, shift: shift)) { x, o, r in for i in r { o[i] = x[i] * scale + shift } }
    }
    public func exp() -> Tensor { unary(.exp) { x, o, r in for i in r { o[i] = Foundation.exp(x[i]) } } }
    public func log() -> Tensor { unary(.log) { x, o, r in for i in r { o[i] = Foundation.log(x[i]) } } }
    public func sqrt() -> Tensor { unary(.sqrt) { x, o, r in for i in r { o[i] = x[i].squareRoot() } } }
    public func rsqrt() -> Tensor { unary(.rsqrt) { x, o, r in for i in r { o[i] = 1 / x[i].squareRoot() } } }
    public func tanh() -> Tensor { unary(.tanh) { x, o, r in for i in r { o[i] = Foundation.tanh(x[i]) } } }
    public func relu() -> Tensor { unary(.relu) { x, o, r in for i in r { o[i] = Swift.max(x[i], 0) } } }
    public func square() -> Tensor { unary(.square) { x, o, r in for i in r { o[i] = x[i] * x[i] } } }

    /// GELU with the tanh approximation (T5's "gelu_new", torch's approximate="tanh").
    public func geluTanh() -> Tensor {
        unary(.geluTanh) { x, o, r in
            for i in r {
                let v = x[i]
                o[i] = 0.5 * v * (1 + fastTanh(sqrt2OverPi * (v + geluCubic * v * v * v)))
            }
        }
    }

    /// Exact GELU: x·Φ(x).
    public func geluExact() -> Tensor {
        unary(.geluExact) { x, o, r in for i in r { o[i] = 0.5 * x[i] * (1 + erf(x[i] * 0.70710678118654752)) } }
    }

    /// Exact-form GELU through the vectorisable `fastErf` (≤ 5e-7 from libm's erf), with `geluExact`'s gradient rule:
    /// the ViT's MLPs, where libm's scalar erf was a third of a training step. `geluExact` is its reference.
    public func geluErf() -> Tensor {
        unary(.geluExact) { x, o, r in for i in r { o[i] = 0.5 * x[i] * (1 + fastErf(x[i] * 0.70710678118654752)) } }
    }
}

/// T5's gated GELU, gelu_tanh(a) ⊙ b, as one primitive (tested against `gatedGELUComposite`).
public func gatedGELU(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "gatedGELU: \(a.shape) vs \(b.shape)")
    let out = Storage(count: a.count)
    let pa = a.data, pb = b.data, po = out.pointer
    Parallelism.forEachChunk(a.count, grain: 1 << 14) { r in
        vm_gated_gelu_tanh(pa + r.lowerBound, pb + r.lowerBound, po + r.lowerBound, r.count)
    }
    return .result(a.shape, out, .gatedGELU, [a, b])
}

/// The scalar reference of `gatedGELU`'s vector kernel (FastMath's exp and tanh, Swift's baseline-x86 code).
func gatedGELUReference(_ a: [Float], _ b: [Float]) -> [Float] {
    zip(a, b).map { v, w in 0.5 * v * (1 + fastTanh(sqrt2OverPi * (v + geluCubic * v * v * v))) * w }
}
