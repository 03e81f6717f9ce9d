// Row reductions with explicit 8-wide accumulators. Strict IEEE semantics forbid the compiler from reordering a
// scalar `sum += x` loop, so without these the hot softmax/cross-entropy/norm loops stay scalar.
// (Summation order differs from a left-to-right loop by rounding only.)

typealias Vector8 = SIMD8<Float>

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> Vector8 {
    UnsafeRawPointer(p).loadUnaligned(as: Vector8.self)
}

@inline(__always)
private func store(_ v: Vector8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector8.self)
}

/// Largest of x[0..<n] (−∞ for n = 0).
@inline(__always)
func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vector8(repeating: -.infinity), i = 0
    while i + 8 <= n { let v = load(x + i); acc = acc.replacing(with: v, where: v .> acc); i += 8 }
    var best = acc.max()
    while i < n { best = Swift.max(best, x[i]); i += 1 }
    return best
}

/// Σ x[i]·y[i].
@inline(__always)
func rowDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vector8(), i = 0
    while i + 8 <= n { acc += load(x + i) * load(y + i); i += 8 }
    var total = acc.sum()
    while i < n { total += x[i] * y[i]; i += 1 }
    return total
}

/// Σ x[i].
@inline(__always)
func rowSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vector8(), i = 0
    while i + 8 <= n { acc += load(x + i); i += 8 }
    var total = acc.sum()
    while i < n { total += x[i]; i += 1 }
    return total
}

/// y[i] = exp(x[i] − shift); returns Σ y[i]. x and y may alias.
@inline(__always)
func rowExpShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
    var acc = Vector8(), i = 0
    let s = Vector8(repeating: shift)
    while i + 8 <= n {
        let e = fastExp(load(x + i) - s)
        store(e, y + i)
        acc += e
        i += 8
    }
    var total = acc.sum()
    while i < n { let e = fastExp(x[i] - shift); y[i] = e; total += e; i += 1 }
    return total
}

/// Σ exp(x[i] − shift) without storing.
@inline(__always)
func rowSumExpShifted(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
    var acc = Vector8(), i = 0
    let s = Vector8(repeating: shift)
    while i + 8 <= n { acc += fastExp(load(x + i) - s); i += 8 }
    var total = acc.sum()
    while i < n { total += fastExp(x[i] - shift); i += 1 }
    return total
}

/// x[i] *= factor.
@inline(__always)
func rowScale(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ factor: Float) {
    for i in 0..<n { x[i] *= factor }
}

