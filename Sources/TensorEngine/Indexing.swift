// Layout and indexing primitives. Reshape is a view; everything else copies into a contiguous result.

extension Tensor {
    /// Same storage, new shape (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[unknown] = count / known
        }
        precondition(Shape.count(resolved) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        return .result(resolved, storage, .reshape, [self])
    }

    /// Reorders axes: result axis i is input axis perm[i].
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.sorted() == Array(0..<rank), "permutation \(perm) does not fit rank \(rank)")
        let out = Storage(count: count)
        permuteCopy(data, shape: shape, perm: perm, into: out.pointer)
        return .result(perm.map { shape[$0] }, out, .permute(perm), [self])
    }

    /// Swaps two axes (a copy; matmul takes transpose flags instead where it can).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var perm = Array(0..<rank)
        perm.swapAt(Shape.axis(a, rank: rank), Shape.axis(b, rank: rank))
        return permuted(perm)
    }

    /// Elements [start, end) along `axis`.
    public func slice(axis: Int, start: Int, end: Int) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        precondition(0 <= start && start <= end && end <= shape[a], "slice \(start)..<\(end) out of range for axis \(a) of \(shape)")
        let outer = Shape.count(Array(shape[..<a])), inner = Shape.count(Array(shape[(a + 1)...]))
        var outShape = shape
        outShape[a] = end - start
        let out = Storage(count: Shape.count(outShape))
        let len = (end - start) * inner
        for o in 0..<outer {
            (out.pointer + o * len).update(from: data + (o * shape[a] + start) * inner, count: len)
        }
        return .result(outShape, out, .slice(axis: a, start: start), [self])
    }

    /// Picks `indices` along `axis` (torch.index_select); repeated indices are allowed.
    public func indexSelect(axis: Int, _ indices: [Int32]) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        let outer = Shape.count(Array(shape[..<a])), inner = Shape.count(Array(shape[(a + 1)...]))
        var outShape = shape
        outShape[a] = indices.count
        let out = Storage(count: Shape.count(outShape))
        for (j, index) in indices.enumerated() {
            precondition(index >= 0 && Int(index) < shape[a], "index \(index) out of range for axis \(a) of \(shape)")
            for o in 0..<outer {
                (out.pointer + (o * indices.count + j) * inner).update(from: data + (o * shape[a] + Int(index)) * inner, count: inner)
            }
        }
        return .result(outShape, out, .indexSelect(axis: a, indices: indices), [self])
    }
}

/// Joins tensors that agree on every axis but `axis`.
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of nothing")
    let first = tensors[0]
    let a = Shape.axis(axis, rank: first.rank)
    for t in tensors {
        precondition(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                     "concat along \(a): \(t.shape) does not match \(first.shape)")
    }
    let outer = Shape.count(Array(first.shape[..<a])), inner = Shape.count(Array(first.shape[(a + 1)...]))
    let total = tensors.reduce(0) { $0 + $1.shape[a] }
    var outShape = first.shape
    outShape[a] = total
    let out = Storage(count: Shape.count(outShape))
    var offset = 0
    for t in tensors {
        let len = t.shape[a] * inner
        for o in 0..<outer { (out.pointer + o * total * inner + offset).update(from: t.data + o * len, count: len) }
        offset += len
    }
    return .result(outShape, out, .concat(axis: a), tensors)
}

/// Rows of `table` ([vocabulary, d]) at `indices` (any index shape), giving [indexShape…, d].
/// Rows at `paddingIndex` receive no gradient (torch's padding_idx).
public func embedding(_ table: Tensor, indices: [Int32], indexShape: [Int], paddingIndex: Int32? = nil) -> Tensor {
    precondition(table.rank == 2, "embedding table must be 2-D, got \(table.shape)")
    precondition(Shape.count(indexShape) == indices.count, "index shape \(indexShape) does not hold \(indices.count) indices")
    let d = table.shape[1]
    let out = Storage(count: indices.count * d)
    for (i, index) in indices.enumerated() {
        precondition(index >= 0 && Int(index) < table.shape[0], "embedding index \(index) out of range 0..<\(table.shape[0])")
        (out.pointer + i * d).update(from: table.data + Int(index) * d, count: d)
    }
    return .result(indexShape + [d], out, .embedding(indices: indices, paddingIndex: paddingIndex), [table])
}

/// dst[permuted position] = src: the strided copy behind `permuted` and its backward.
func permuteCopy(_ src: UnsafePointer<Float>, shape: [Int], perm: [Int], into dst: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
    let outShape = perm.map { shape[$0] }
    let srcStrides = Shape.strides(shape)
    let readStrides = perm.map { srcStrides[$0] }
    let zero = [Int](repeating: 0, count: outShape.count)
    forEachBroadcastRow(outShape, readStrides, zero) { offSrc, _, offDst, n, inc, _ in
        if accumulate { for j in 0..<n { dst[offDst + j] += src[offSrc + j * inc] } }
        else { for j in 0..<n { dst[offDst + j] = src[offSrc + j * inc] } }
    }
}
