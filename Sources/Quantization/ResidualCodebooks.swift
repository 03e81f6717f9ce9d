import TensorEngine

/// The codebooks of a residual quantizer (paper appendix B): level l holds K code vectors; an input is encoded
/// level by level, each time picking the code nearest to what earlier levels left over (eq. 7) and subtracting
/// it (eq. 8). Immutable once trained, so any number of threads may encode with it.
public struct ResidualCodebooks: Sendable {
    public let levels: [FloatMatrix]

    public init(levels: [FloatMatrix]) {
        precondition(!levels.isEmpty, "a residual quantizer needs at least one level")
        precondition(levels.allSatisfy { $0.columns == levels[0].columns }, "codebooks of different dimensions")
        self.levels = levels
    }

    public var levelCount: Int { levels.count }
    public var dimension: Int { levels[0].columns }
    public var codebookSizes: [Int] { levels.map(\.rows) }

    /// Codes of one vector, by plain loops (the reference the batched `encode(_:)` is tested against).
    public func encode(_ x: [Float]) -> [Int32] {
        precondition(x.count == dimension, "vector of \(x.count) values for \(dimension)-d codebooks")
        var residual = x
        var codes: [Int32] = []
        for codebook in levels {
            var best = Double.infinity, bestIndex = 0
            residual.withUnsafeBufferPointer { r in
                for k in 0..<codebook.rows {
                    let distance = naiveSquaredDistance(r.baseAddress!, codebook.row(k), dimension)
                    if distance < best { best = distance; bestIndex = k }
                }
            }
            for j in 0..<dimension { residual[j] -= codebook.row(bestIndex)[j] }
            codes.append(Int32(bestIndex))
        }
        return codes
    }

    /// Σ_l e^l_{c_l}: the vector a code sequence stands for (only the first `codes.count` levels are used).
    public func decode(_ codes: some Collection<Int32>) -> [Float] {
        precondition(codes.count <= levelCount, "\(codes.count) codes for \(levelCount) levels")
        var sum = [Float](repeating: 0, count: dimension)
        for (level, code) in codes.enumerated() {
            let row = levels[level].row(Int(code))
            for j in 0..<dimension { sum[j] += row[j] }
        }
        return sum
    }

    /// Encodes every row of `x` (one sgemm per level and block).
    /// Returns codes row-major `rows × levels` and, per level, Σ‖residual after that level‖² over all rows.
    public func encode(_ x: FloatMatrix) -> (codes: [Int32], squaredErrors: [Double]) {
        precondition(x.columns == dimension, "\(x.columns)-d rows for \(dimension)-d codebooks")
        let n = x.rows, d = dimension, depth = levelCount
        var codes = [Int32](repeating: 0, count: n * depth)
        var levelCodes = [Int32](repeating: 0, count: n)
        var distances = [Float](repeating: 0, count: n)
        var errors: [Double] = []
        for level in 0..<depth {
            codes.withUnsafeBufferPointer { all in
                let previous = UncheckedSendable(all.baseAddress!)
                let source: RowSource = { range, destination in
                    destination.update(from: x.row(range.lowerBound), count: range.count * d)
                    guard level > 0 else { return }
                    Parallelism.forEachFixedChunk(range.count, grain: 256) { rows in
                        for r in rows {
                            let target = destination + r * d
                            for earlier in 0..<level {
                                let code = previous.value[(range.lowerBound + r) * depth + earlier]
                                let vector = self.levels[earlier].row(Int(code))
                                for j in 0..<d { target[j] -= vector[j] }
                            }
                        }
                    }
                }
                levelCodes.withUnsafeMutableBufferPointer { c in
                    distances.withUnsafeMutableBufferPointer { dist in
                        NearestCode.assign(rowCount: n, columns: d, source: source, codebook: levels[level],
                                           codes: c.baseAddress!, distances: dist.baseAddress!)
                    }
                }
            }
            for r in 0..<n { codes[r * depth + level] = levelCodes[r] }
            errors.append(distances.reduce(0.0) { $0 + Double($1) })
        }
        return (codes, errors)
    }
}
