import CVectorMath
import Foundation

// Shape legend: x: [rows…, d]; every op here works on the last axis d.
// mask: additive, broadcastable to x (0 keeps, a large negative value such as -1e9 removes); it gets no gradient.

extension Tensor {
    var lastDim: Int { shape.last ?? 1 }
    var rows: Int { count / Swift.max(lastDim, 1) }

    /// x + mask computed without recording; the mask is a constant in both softmax ops.
    private func maskedLogits(_ mask: Tensor?) -> Tensor {
        guard let mask else { return self }
        let r = binaryKernel(.add, self, mask)
        precondition(r.shape == shape, "mask \(mask.shape) must broadcast to logits \(shape)")
        return Tensor(shape: shape, storage: r.storage, node: nil)
    }

    /// softmax(x + mask) along the last axis. A row with every entry at -inf gives zeros.
    public func softmax(mask: Tensor? = nil) -> Tensor {
        let z = maskedLogits(mask)
        let out = Storage(count: count)
        let d = lastDim, px = z.data, po = out.pointer
        Parallelism.forEachChunk(rows, grain: Swift.max(1, 8192 / Swift.max(d, 1))) { range in
            for r in range { softmaxRow(px + r * d, po + r * d, d) }
        }
        return .result(shape, out, .softmax, [self])
    }

    /// log softmax(x + mask) along the last axis.
    public func logSoftmax(mask: Tensor? = nil) -> Tensor {
        let z = maskedLogits(mask)
        let out = Storage(count: count)
        let d = lastDim, px = z.data, po = out.pointer
        Parallelism.forEachChunk(rows, grain: Swift.max(1, 8192 / Swift.max(d, 1))) { range in
            for r in range {
                let lse = logSumExp(px + r * d, d)
                for j in 0..<d { po[r * d + j] = px[r * d + j] - lse }
            }
        }
        return .result(shape, out, .logSoftmax, [self])
    }

    /// Layer normalisation over the last axis: (x - mean)/sqrt(var + eps) · weight + bias.
    public func layerNorm(weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
        let d = lastDim
        precondition(weight.shape == [d] && bias.shape == [d], "layerNorm weight/bias must be [\(d)]")
        let out = Storage(count: count)
        var means = [Float](repeating: 0, count: rows), rstds = [Float](repeating: 0, count: rows)
        let px = data, po = out.pointer, w = weight.data, b = bias.data
        means.withUnsafeMutableBufferPointer { ms in
            rstds.withUnsafeMutableBufferPointer { rs in
                Parallelism.forEachChunk(rows, grain: Swift.max(1, 8192 / Swift.max(d, 1))) { range in
                    for r in range {
                        let row = px + r * d
                        let mean = rowSum(row, d) / Float(d)
                        var variance: Float = 0
                        for j in 0..<d { let c = row[j] - mean; variance += c * c }
                        let rstd = 1 / (variance / Float(d) + eps).squareRoot()
                        for j in 0..<d { po[r * d + j] = (row[j] - mean) * rstd * w[j] + b[j] }
                        ms[r] = mean; rs[r] = rstd
                    }
                }
            }
        }
        return .result(shape, out, .layerNorm(mean: means, rstd: rstds), [self, weight, bias])
    }

    /// T5's RMS norm: x / sqrt(mean(x²) + eps) · weight, with no mean subtraction and no bias.
    public func rmsNorm(weight: Tensor, eps: Float = 1e-6) -> Tensor {
        let d = lastDim
        precondition(weight.shape == [d], "rmsNorm weight must be [\(d)], got \(weight.shape)")
        let out = Storage(count: count)
        var rstds = [Float](repeating: 0, count: rows)
        let px = data, po = out.pointer, w = weight.data
        rstds.withUnsafeMutableBufferPointer { rs in
            Parallelism.forEachChunk(rows, grain: Swift.max(1, 8192 / Swift.max(d, 1))) { range in
                for r in range {
                    let row = px + r * d
                    let ss = rowDot(row, row, d)
                    let rstd = 1 / (ss / Float(d) + eps).squareRoot()
                    for j in 0..<d { po[r * d + j] = row[j] * rstd * w[j] }
                    rs[r] = rstd
                }
            }
        }
        return .result(shape, out, .rmsNorm(rstd: rstds), [self, weight])
    }
}

@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ d: Int) { vm_softmax_row(x, y, d) }

/// The Swift reference of `softmaxRow`'s vector kernel.
func softmaxRowReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ d: Int) {
    let maximum = rowMax(x, d)
    if maximum == -.infinity { for j in 0..<d { y[j] = 0 }; return }
    let total = rowExpShifted(x, y, d, shift: maximum)
    rowScale(y, d, 1 / total)
}

@inline(__always)
func logSumExp(_ x: UnsafePointer<Float>, _ d: Int) -> Float {
    let maximum = rowMax(x, d)
    if maximum == -.infinity { return maximum }
    return maximum + log(rowSumExpShifted(x, d, shift: maximum))
}
