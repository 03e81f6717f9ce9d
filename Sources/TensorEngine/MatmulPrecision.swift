import CBLAS
import CVectorMath
import Foundation

/// The precision of matrix products. Training may ask for bfloat16 inputs with float32 accumulation (as PyTorch's CPU
/// autocast does). Everything else (weights, gradients, optimiser state, elementwise math) stays float32; inference
/// and every test of the engine use float32.
public enum MatmulPrecision: String, Codable, Sendable {
    case float32, bfloat16
    /// bfloat16 where this CPU has AVX512_BF16 **and** its products measure faster than float32's here, else float32.
    /// The instruction's rate differs by CPU: on Zen 5 the bfloat16 kernel ran 1.4–2.2× the float32 one, while an
    /// Emerald Rapids issues vdpbf16ps at half the rate of its two FMA ports (83.9 against 168.6 GFLOP/s of peak, one
    /// core; `mscgrec-bench gemm`) and trained level or faster in float32, unless its AMX tiles are exposed (642 GFLOP/s
    /// of peak on one such core), which the same measurement then finds.
    case auto

    /// What `sgemm` uses now (float32 or bfloat16, never auto); set by a trainer for the length of its run (`using`).
    /// Process-wide, like OpenBLAS's thread count: one training runs at a time in a process.
    nonisolated(unsafe) public private(set) static var current = MatmulPrecision.float32

    /// Whether this CPU runs bfloat16 products (AVX-512 with AVX512_BF16); without it `.bfloat16` means float32.
    public static let bfloat16Available = vm_has_bf16() == 1

    /// Which bfloat16 kernel this process runs: AMX tiles where the CPU has them and Linux grants their state (unless
    /// `MSCGREC_AMX=0`), else AVX512_BF16's vdpbf16ps; nil without either.
    public static var bfloat16Kernel: String? { bfloat16Available ? (vm_amx_enabled() == 1 ? "AMX" : "vdpbf16ps") : nil }

    /// Below this many multiply-adds the packing costs more than bfloat16 saves; such products stay float32.
    static let bfloat16MinimumWork = 1 << 16

    /// The precision that `requested` gives on this CPU.
    public static func effective(_ requested: MatmulPrecision) -> MatmulPrecision {
        switch requested {
        case .float32: return .float32
        case .bfloat16: return bfloat16Available ? .bfloat16 : .float32
        case .auto: return bfloat16Available && autoChoosesBFloat16(speedup: measuredBFloat16Speedup) ? .bfloat16 : .float32
        }
    }

    /// `auto`'s rule: bfloat16 only when it is more than 10% faster (as the OpenBLAS core selection requires), so a
    /// CPU where the two are level keeps the exact products.
    static func autoChoosesBFloat16(speedup: Double?) -> Bool { (speedup ?? 0) > 1.1 }

    /// float32 time / bfloat16 time of training-shaped products (a projection, its input gradient and its weight
    /// gradient, 1,024 token rows, d 128 ↔ 512) on one thread, best of three; nil without AVX512_BF16. Measured once
    /// per process (≈ 50 ms), with the kernels this process has loaded.
    public static let measuredBFloat16Speedup: Double? = {
        guard bfloat16Available else { return nil }
        let saved = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(saved) }
        let (rows, narrow, wide) = (1024, 128, 512)
        var rng = SeededGenerator(seed: 5)
        // Each operand is at most rows × wide (the weight gradient reads both at that size).
        let a = (0..<(rows * wide)).map { _ in rng.normal() }, b = (0..<(rows * wide)).map { _ in rng.normal() }
        var c = [Float](repeating: 0, count: rows * wide)
        // (transA, transB, m, n, k, lda, ldb): y = x·W, dx = dy·Wᵀ, dW = xᵀ·dy
        let shapes = [(false, false, rows, wide, narrow, narrow, wide), (false, true, rows, narrow, wide, wide, wide),
                      (true, false, narrow, wide, rows, narrow, wide)]
        func seconds(_ precision: MatmulPrecision) -> Double {
            let previous = current
            current = precision
            defer { current = previous }
            var best = Double.infinity
            for _ in 0..<3 {
                let start = threadCPUSeconds()
                for (ta, tb, m, n, k, lda, ldb) in shapes { sgemm(ta, tb, m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, beta: 0, &c, ldc: n) }
                best = min(best, threadCPUSeconds() - start)
            }
            return best
        }
        _ = seconds(.bfloat16)   // the packing buffers' first allocation
        return seconds(.float32) / seconds(.bfloat16)
    }()

    /// For start-up lines: what `auto` chose here and why.
    public static var autoDescription: String {
        guard let speedup = measuredBFloat16Speedup else { return "float32 (this CPU has no AVX512_BF16)" }
        let ratio = String(format: "%.2f", speedup)
        return autoChoosesBFloat16(speedup: speedup)
            ? "bfloat16 (\(bfloat16Kernel ?? ""), float32 accumulation; measured \(ratio)× float32 here)"
            : "float32 (bfloat16 by \(bfloat16Kernel ?? "") measured \(ratio)× float32 here, not worth its rounding)"
    }

    /// Runs `body` with products at `precision` (float32 where the CPU lacks bfloat16), then restores the previous one.
    public static func using<T>(_ precision: MatmulPrecision, _ body: () throws -> T) rethrows -> T {
        let previous = current
        current = effective(precision)
        defer { current = previous }
        return try body()
    }
}

/// This thread's CPU time in seconds: timings that other jobs on the machine disturb little (also the benchmarks').
public func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
