import TensorEngine

/// Supplies rows to the nearest-code search: writes rows `range` (each `columns` floats) to `destination`.
/// Residual quantization passes x − Σ earlier code vectors here, so residuals never need a matrix of their own.
public typealias RowSource = (_ range: Range<Int>, _ destination: UnsafeMutablePointer<Float>) -> Void

/// The nearest-code search at the heart of k-means and residual quantization.
enum NearestCode {
    /// Rows per sgemm block: big enough for BLAS to run at full speed, small enough that the block and its
    /// distance matrix stay a few MiB however many rows there are.
    static let blockRows = 4096

    /// For every row r: codes[r] = argmin_k ‖x_r − c_k‖² (ties to the lowest k) and distances[r] = that minimum.
    /// The search uses ‖c_k‖² − 2·x·c_k from one sgemm per block; the reported distance is then recomputed
    /// directly, so it carries no cancellation error.
    static func assign(rowCount: Int, columns: Int, source: RowSource, codebook: FloatMatrix,
                       codes: UnsafeMutablePointer<Int32>, distances: UnsafeMutablePointer<Float>) {
        precondition(codebook.columns == columns, "codebook has \(codebook.columns) columns, rows have \(columns)")
        let k = codebook.rows
        guard rowCount > 0, k > 0 else { return }
        let codebookTensor = codebook.tensor
        var codeNorms = [Float](repeating: 0, count: k)
        for j in 0..<k { codeNorms[j] = dot(codebook.row(j), codebook.row(j), columns) }
        var block = Tensor.zeros([min(blockRows, rowCount), columns])
        var start = 0
        while start < rowCount {
            let end = min(rowCount, start + blockRows)
            if end - start != block.shape[0] { block = Tensor.zeros([end - start, columns]) }
            source(start..<end, block.data)
            let products = withoutGrad { matmul(block, codebookTensor, transposeB: true) }
            let x = block.data, p = products.data
            codeNorms.withUnsafeBufferPointer { norms in
                let n = norms.baseAddress!
                Parallelism.forEachFixedChunk(end - start, grain: 512) { rows in
                    for r in rows {
                        let row = p + r * k
                        var best = n[0] - 2 * row[0], bestIndex = 0
                        for j in 1..<k {
                            let score = n[j] - 2 * row[j]
                            if score < best { best = score; bestIndex = j }
                        }
                        codes[start + r] = Int32(bestIndex)
                        distances[start + r] = squaredDistance(x + r * columns, codebook.row(bestIndex), columns)
                    }
                }
            }
            start = end
        }
    }

    /// Reference: exact distances in Float64 by plain loops (what the fast path is tested against).
    static func naiveAssign(rows: FloatMatrix, codebook: FloatMatrix) -> (codes: [Int32], distances: [Double]) {
        var codes = [Int32](repeating: 0, count: rows.rows)
        var distances = [Double](repeating: 0, count: rows.rows)
        for r in 0..<rows.rows {
            var best = Double.infinity, bestIndex = 0
            for j in 0..<codebook.rows {
                let d = naiveSquaredDistance(rows.row(r), codebook.row(j), rows.columns)
                if d < best { best = d; bestIndex = j }
            }
            codes[r] = Int32(bestIndex)
            distances[r] = best
        }
        return (codes, distances)
    }

    /// A source that copies rows of a matrix.
    static func rows(of matrix: FloatMatrix) -> RowSource {
        { range, destination in destination.update(from: matrix.row(range.lowerBound), count: range.count * matrix.columns) }
    }
}

extension FloatMatrix {
    /// For every row of `x`, the index of the nearest row of this matrix (read as a codebook), via sgemm.
    public func nearestCodes(of x: FloatMatrix) -> [Int32] {
        var codes = [Int32](repeating: 0, count: x.rows)
        var distances = [Float](repeating: 0, count: x.rows)
        NearestCode.assign(rowCount: x.rows, columns: x.columns, source: NearestCode.rows(of: x), codebook: self,
                           codes: &codes, distances: &distances)
        return codes
    }

    /// The same by plain loops in Float64: the reference `nearestCodes(of:)` is measured and tested against.
    public func nearestCodesByNaiveLoops(of x: FloatMatrix) -> [Int32] { NearestCode.naiveAssign(rows: x, codebook: self).codes }
}
