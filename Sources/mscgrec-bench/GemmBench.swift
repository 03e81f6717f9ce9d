import ArgumentParser
import BLASRuntime
import CBLAS
import CVectorMath
import Foundation
import TensorEngine

/// Matrix products at the model's shapes: OpenBLAS's loaded kernels against CVectorMath's row kernel, one
/// thread, in one run. Times are the thread's CPU time, so other jobs on the machine disturb them little.
struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gemm",
        abstract: "sgemm at the model's shapes: OpenBLAS vs the row kernel vs the bfloat16 kernel (GFLOP/s, one thread).")

    @Option(help: "Seconds of work per side and shape.") var seconds = 0.5

    /// (A transposed, B transposed, m, k, n): decoding steps' rows and encoder batches against the default model's
    /// projections (plain), then a training batch's input gradient (B transposed) and weight gradient (A transposed),
    /// then TIGER's whole-batch products (20,736 token rows: A far larger than L2).
    static let shapes = [(false, false, 1, 128, 128), (false, false, 20, 128, 128), (false, false, 20, 128, 512),
                         (false, false, 20, 512, 128), (false, false, 40, 128, 512), (false, false, 64, 128, 512),
                         (false, false, 256, 128, 512), (false, false, 1280, 128, 512), (false, false, 1280, 512, 128),
                         (false, false, 1024, 1024, 1024), (false, true, 4096, 512, 128), (true, false, 128, 4096, 512),
                         (false, true, 20736, 384, 128), (false, false, 20736, 1024, 128), (true, false, 384, 20736, 128)]

    func run() throws {
        Parallelism.setBLASThreads(1)
        print(KernelSelection.summaryLine + "; " + RowKernel.description)
        let bf16 = MatmulPrecision.bfloat16Available
        if bf16 {
            let (fma, dot) = (vm_peak_gflops(0, seconds), vm_peak_gflops(1, seconds))
            print(String(format: "peak of one core: 512-bit FMA %.1f GFLOP/s, vdpbf16ps %.1f GFLOP/s (%.2f×); training products (auto): %@",
                         fma, dot, dot / fma, MatmulPrecision.autoDescription))
            if vm_has_amx() == 1 {
                let tiles = vm_amx_peak_gflops(seconds)
                print(String(format: "AMX TDPBF16PS %.1f GFLOP/s (%.2f× FMA); the bfloat16 column runs %@", tiles, tiles / fma,
                             MatmulPrecision.bfloat16Kernel ?? ""))
            }
        }
        print("op    m     k     n | OpenBLAS GFLOP/s | row kernel GFLOP/s | ratio" + (bf16 ? " | bfloat16 kernel GFLOP/s | ratio to row kernel" : ""))
        for (transA, transB, m, k, n) in Self.shapes {
            var rng = SeededGenerator(seed: 3)
            let a = (0..<(m * k)).map { _ in rng.normal() }, b = (0..<(k * n)).map { _ in rng.normal() }
            let (lda, ldb) = (transA ? m : k, transB ? k : n)
            var c = [Float](repeating: 0, count: m * n)
            let flops = 2 * Double(m) * Double(n) * Double(k)
            let blas = rate(flops) {
                cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, &c, Int32(n))
            }
            let rows = rate(flops) { vm_sgemm_rows(transA ? 1 : 0, transB ? 1 : 0, m, n, k, a, lda, b, ldb, &c, n, 0) }
            let op = (transA ? "T" : "N") + (transB ? "T" : "N")
            var line = String(format: "%@ %5d %5d %5d | %16.1f | %18.1f | %.2f", op, m, k, n, blas, rows, rows / blas)
            if bf16 {
                let half = rate(flops) { _ = vm_sgemm_rows_bf16(transA ? 1 : 0, transB ? 1 : 0, m, n, k, a, lda, b, ldb, &c, n, 0) }
                line += String(format: " | %23.1f | %.2f", half, half / rows)
            }
            print(line)
        }
    }

    /// GFLOP/s of `body` over about `seconds` of this thread's CPU time, after one warm-up call.
    private func rate(_ flops: Double, _ body: () -> Void) -> Double {
        body()
        var calls = 0
        let start = threadCPUSeconds()
        while threadCPUSeconds() - start < seconds {
            for _ in 0..<8 { body() }
            calls += 8
        }
        return flops * Double(calls) / (threadCPUSeconds() - start) / 1e9
    }
}
