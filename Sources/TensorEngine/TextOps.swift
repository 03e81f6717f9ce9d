// Inference-only kernels for the text encoder (no graph, no gradient rule): the two passes that dominate a BERT/MPNet
// forward besides the products themselves. References: `matmul(x, w, transposeB: true) + bias` and `geluExact()`.

/// erf from a rational polynomial in x² (the Eigen/XLA single-precision form): only adds, multiplies and one divide,
/// so loops over it vectorise, unlike libm's scalar erff. Absolute error ≤ 5e-7 (measured against double erf).
@inline(__always)
func fastErf(_ x: Float) -> Float {
    let v = Swift.min(Swift.max(x, -4), 4)
    let v2 = v * v
    var p: Float = -2.726_142_258_013_06e-10
    p = p * v2 + 2.770_681_424_959_02e-08
    p = p * v2 - 2.101_024_020_825_08e-06
    p = p * v2 - 5.692_506_394_623_46e-05
    p = p * v2 - 7.349_906_303_268_55e-04
    p = p * v2 - 2.954_599_808_540_25e-03
    p = p * v2 - 1.609_603_332_624_15e-02
    var q: Float = -1.456_607_184_649_96e-05
    q = q * v2 - 2.133_740_552_789_05e-04
    q = q * v2 - 1.682_826_974_382_03e-03
    q = q * v2 - 7.373_329_167_204_68e-03
    q = q * v2 - 1.426_473_905_141_89e-02
    return v * p / q
}

extension Tensor {
    /// Exact-form GELU x·Φ(x) with the vectorisable erf above (within 1e-6 of `geluExact`), for inference.
    public func geluErfFast() -> Tensor {
        let out = Storage(count: count)
        let px = data, po = out.pointer
        Parallelism.forEachChunk(count, grain: 1 << 15) { r in
            for i in r { let v = px[i]; po[i] = 0.5 * v * (1 + fastErf(v * 0.707_106_77)) }
        }
        return Tensor(shape: shape, storage: out, node: nil)
    }
}

/// x·wᵀ + bias for a weight in [out, in] orientation (Hugging Face's), the bias written first and the product
/// accumulated onto it (sgemm with β = 1): one pass over the output instead of two. Inference only: no graph.
public func linearTransposedWeight(_ x: Tensor, _ weight: Tensor, bias: Tensor) -> Tensor {
    precondition(weight.rank == 2 && x.lastDim == weight.shape[1] && bias.shape == [weight.shape[0]],
                 "linear: x \(x.shape), weight \(weight.shape), bias \(bias.shape)")
    let (rows, inner, outWidth) = (x.rows, weight.shape[1], weight.shape[0])
    let out = Storage(count: rows * outWidth)
    let po = out.pointer, pb = bias.data
    for r in 0..<rows { (po + r * outWidth).update(from: pb, count: outWidth) }
    sgemm(false, true, m: rows, n: outWidth, k: inner, x.data, lda: inner, weight.data, ldb: inner, beta: 1, po, ldc: outWidth)
    return Tensor(shape: Array(x.shape.dropLast()) + [outWidth], storage: out, node: nil)
}
