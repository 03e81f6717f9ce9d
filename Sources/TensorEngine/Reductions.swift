// Shape legend: x: [outer…, n, inner…] reduced over the axis of size n; out drops it (or keeps 1).

extension Tensor {
    private func reductionGeometry(_ axis: Int) -> (axis: Int, outer: Int, n: Int, inner: Int) {
        let a = Shape.axis(axis, rank: rank)
        return (a, Shape.count(Array(shape[..<a])), shape[a], Shape.count(Array(shape[(a + 1)...])))
    }

    private func reducedShape(_ axis: Int, keepDim: Bool) -> [Int] {
        var s = shape
        if keepDim { s[axis] = 1 } else { s.remove(at: axis) }
        return s
    }

    public func sum(axis: Int, keepDim: Bool = false) -> Tensor {
        let g = reductionGeometry(axis)
        let out = Storage(zeros: g.outer * g.inner)
        sumKernel(data, out.pointer, g.outer, g.n, g.inner, scale: 1)
        return .result(reducedShape(g.axis, keepDim: keepDim), out, .sum(outer: g.outer, n: g.n, inner: g.inner), [self])
    }

    public func mean(axis: Int, keepDim: Bool = false) -> Tensor {
        let g = reductionGeometry(axis)
        let out = Storage(zeros: g.outer * g.inner)
        sumKernel(data, out.pointer, g.outer, g.n, g.inner, scale: 1 / Float(g.n))
        return .result(reducedShape(g.axis, keepDim: keepDim), out, .mean(outer: g.outer, n: g.n, inner: g.inner), [self])
    }

    /// Maximum over an axis; the gradient flows to the first maximal element.
    public func max(axis: Int, keepDim: Bool = false) -> Tensor {
        let g = reductionGeometry(axis)
        precondition(g.n > 0, "max over an empty axis")
        let out = Storage(count: g.outer * g.inner)
        var argmax = [Int32](repeating: 0, count: g.outer * g.inner)
        let x = data
        for o in 0..<g.outer {
            for i in 0..<g.inner {
                var best = x[o * g.n * g.inner + i], bestIndex = 0
                for j in 1..<g.n where x[(o * g.n + j) * g.inner + i] > best {
                    best = x[(o * g.n + j) * g.inner + i]; bestIndex = j
                }
                out.pointer[o * g.inner + i] = best
                argmax[o * g.inner + i] = Int32(bestIndex)
            }
        }
        return .result(reducedShape(g.axis, keepDim: keepDim), out, .max(outer: g.outer, n: g.n, inner: g.inner, argmax: argmax), [self])
    }

    /// Sum of all elements, as a 0-d tensor.
    public func sum() -> Tensor { reshaped([count]).sum(axis: 0) }
    /// Mean of all elements, as a 0-d tensor.
    public func mean() -> Tensor { reshaped([count]).mean(axis: 0) }
}

/// out[o, i] += scale · Σ_j x[o, j, i]
func sumKernel(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ outer: Int, _ n: Int, _ inner: Int, scale: Float) {
    for o in 0..<outer {
        let row = out + o * inner
        for j in 0..<n {
            let src = x + (o * n + j) * inner
            for i in 0..<inner { row[i] += src[i] }
        }
        if scale != 1 { for i in 0..<inner { row[i] *= scale } }
    }
}
