import BLASRuntime
import CBLAS
import CVectorMath
import Foundation

// Shape legend: a: [batch…, m, k] ([batch…, k, m] when transposeA); b: [batch…, k, n] ([…, n, k] when
// transposeB) or a 2-D [k, n] shared by every batch entry; out: [batch…, m, n].

/// The geometry of one (batched) matrix product, shared by forward and backward.
struct MatmulPlan {
    let transposeA: Bool
    let transposeB: Bool
    let batch: Int, m: Int, n: Int, k: Int
    /// b is one matrix used for every batch entry.
    let sharedB: Bool

    var strideA: Int { m * k }
    var strideB: Int { sharedB ? 0 : k * n }
    var strideC: Int { m * n }
    var lda: Int { transposeA ? m : k }
    var ldb: Int { transposeB ? k : n }
}

/// C = alpha·op(A)·op(B) + beta·C for row-major matrices. Products with alpha 1, beta 0 or 1 and n a multiple of 16
/// go to the bfloat16 kernel when `MatmulPrecision.current` asks for it (and the CPU has it), else to the row kernel
/// when `RowKernel.enabled`.
@inline(__always)
func sgemm(_ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
           _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
           beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    if alpha == 1 && (beta == 0 || beta == 1) && n % 16 == 0 {
        if MatmulPrecision.current == .bfloat16 && m * n * k >= MatmulPrecision.bfloat16MinimumWork
            && vm_sgemm_rows_bf16(transA ? 1 : 0, transB ? 1 : 0, m, n, k, a, lda, b, ldb, c, ldc, beta == 1 ? 1 : 0) == 1 { return }
        if RowKernel.enabled { return vm_sgemm_rows(transA ? 1 : 0, transB ? 1 : 0, m, n, k, a, lda, b, ldb, c, ldc, beta == 1 ? 1 : 0) }
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// CVectorMath's AVX-512 row kernel for matrix products, used when OpenBLAS's loaded kernels are not AVX-512 ones
/// (this workplace pins OpenBLAS to Haswell on AVX-512 CPUs): on Beauty's shapes it ran 1.8–2× OpenBLAS's Haswell
/// kernels and level with its own AVX-512 ones (`mscgrec-bench gemm`), which are therefore kept.
/// `MSCGREC_ROW_KERNEL=0` or `=1` overrides the choice (benchmarks measure both in one run).
public enum RowKernel {
    public static let enabled: Bool = {
        if let forced = ProcessInfo.processInfo.environment["MSCGREC_ROW_KERNEL"] { return forced == "1" && cpuHasIt }
        return cpuHasIt && KernelCore.tier(ofReported: KernelSelection.loadedCore) < 3
    }()
    static var cpuHasIt: Bool { String(cString: vm_selected_width()) == "avx512f" }
    /// For benchmark headers: whether it serves plain products, and why.
    public static var description: String {
        guard cpuHasIt else { return "row kernel off (no AVX-512)" }
        return enabled ? "row kernel on (AVX-512; OpenBLAS core \(KernelSelection.loadedCore))" : "row kernel off (OpenBLAS core \(KernelSelection.loadedCore))"
    }
}

/// Reference kernel: the textbook triple loop, kept to test `sgemm` and the plan's strides against.
func naiveMatmul(_ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int,
                 _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
    for i in 0..<m {
        for j in 0..<n {
            var acc: Float = 0
            for p in 0..<k {
                let av = transA ? a[p * m + i] : a[i * k + p]
                let bv = transB ? b[j * k + p] : b[p * n + j]
                acc += av * bv
            }
            c[i * n + j] = acc
        }
    }
}

public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
    let k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
    let kb = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
    let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
    precondition(k == kb, "matmul inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
    let batchDims = Array(a.shape.dropLast(2))
    let sharedB = b.rank == 2
    precondition(sharedB || Array(b.shape.dropLast(2)) == batchDims,
                 "matmul batch dimensions differ: \(a.shape) × \(b.shape)")
    let batch = Shape.count(batchDims)
    // A shared right-hand side with an untransposed left one is a single tall product.
    let plan = sharedB && !transposeA && batch > 1
        ? MatmulPlan(transposeA: false, transposeB: transposeB, batch: 1, m: m * batch, n: n, k: k, sharedB: true)
        : MatmulPlan(transposeA: transposeA, transposeB: transposeB, batch: batch, m: m, n: n, k: k, sharedB: sharedB)
    let out = Storage(count: batch * m * n)
    for i in 0..<plan.batch {
        sgemm(plan.transposeA, plan.transposeB, m: plan.m, n: plan.n, k: plan.k,
              a.data + i * plan.strideA, lda: plan.lda, b.data + i * plan.strideB, ldb: plan.ldb,
              beta: 0, out.pointer + i * plan.strideC, ldc: plan.n)
    }
    return .result(batchDims + [m, n], out, .matmul(plan), [a, b])
}

extension Tensor {
    /// x @ w (+ bias): the linear layer in our [in, out] weight orientation.
    public func linear(_ weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let y = matmul(self, weight)
        return bias.map { y + $0 } ?? y
    }
}
